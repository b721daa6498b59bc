"""`grade bench`: table, SVG chart and pytest-benchmark JSON (synthetic), and the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import bench
from harness.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def _report() -> bench.BenchReport:
    rows = []
    for n, loop, vec in ((100, 20e-6, 2e-6), (10_000, 2e-3, 5e-6), (1_000_000, 0.3, 7e-4)):
        data_loop = [loop * f for f in (1.0, 1.1, 0.9, 1.05, 1.2, 0.95, 1.0)]
        data_vec = [vec * f for f in (1.0, 1.3, 0.8, 1.1, 1.0, 0.9, 1.0)]
        ratio = loop / vec
        rows.append(bench.Row(n, {"dot_loop": loop, "dot_numpy": vec},
                              {"dot_loop": data_loop, "dot_numpy": data_vec},
                              {"dot_loop": 1, "dot_numpy": 500},
                              {"dot_numpy": (ratio, ratio * 0.8, ratio * 1.2)}))
    return bench.BenchReport("phase1/dot-product", "abc123", "solution.py",
                             ("dot_loop", "dot_numpy"), tuple(rows), {"load": {"cpu_count": 2}},
                             "2026-01-01T00:00:00+00:00", 1.0)


def test_table_lists_sizes_times_and_speedups():
    table = bench.render_table(_report())
    lines = table.splitlines()
    assert "dot_numpy speed-up (95% CI)" in lines[0]
    assert lines[1].split()[0] == "100" and "10x (8x-12x)" in lines[1]
    assert "1,000,000" in lines[3] and "300 ms" in lines[3] and "429x" in lines[3]
    assert lines[-1] == "(baseline: dot_loop)"


def test_svg_is_well_formed_with_both_panels_and_error_bars():
    svg = bench.render_svg(_report())
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text or "" for t in root.iter(f"{ns}text")]
    assert any("time per call" in t for t in texts)
    assert any("speed-up over dot_loop" in t for t in texts)
    assert len(list(root.iter(f"{ns}path"))) == 3  # two time series, one speed-up series
    assert len(list(root.iter(f"{ns}circle"))) == 9


def test_stats_match_pytest_benchmark():
    stats_mod = pytest.importorskip("pytest_benchmark.stats")
    data = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0, 3.5, 5.8]
    theirs = stats_mod.Stats()
    for x in data:
        theirs.update(x)
    ours = bench.benchmark_stats(data)
    for key in stats_mod.Stats.fields:
        assert ours[key] == pytest.approx(getattr(theirs, key)), key


def test_json_is_readable_by_pytest_benchmark_compare(tmp_path):
    doc = bench.pytest_benchmark_json(_report())
    assert {b["name"] for b in doc["benchmarks"]} >= {"dot_numpy[100]", "dot_loop[1000000]"}
    assert doc["commit_info"]["id"] == "abc123"
    path = tmp_path / "0001_bench.json"
    path.write_text(json.dumps(doc))
    exe = shutil.which("pytest-benchmark", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("pytest-benchmark is not installed")
    out = subprocess.run([exe, "compare", str(path), "--columns", "min,median,rounds"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "dot_numpy[100]" in out.stdout and "dot_loop[1000000]" in out.stdout


def test_grade_bench_cli_writes_table_chart_and_json(tmp_path):
    result = CliRunner().invoke(cli, [
        "--tasks", str(ROOT / "tasks"), "--reference", str(ROOT / "reference"),
        "--workspace", str(tmp_path), "bench", "phase1/dot-product",
        str(ROOT / "reference" / "phase1" / "dot-product" / "solution.py"),
        "--sizes", "100,2000", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "dot_numpy speed-up" in result.output and "2,000" in result.output
    files = sorted(p.suffix for p in (tmp_path / "out").iterdir())
    assert files == [".json", ".svg"]
    doc = json.loads(next((tmp_path / "out").glob("*.json")).read_text())
    assert len(doc["benchmarks"]) == 4


def test_grade_bench_without_a_recipe_says_how_to_add_one(workspace):
    result = CliRunner().invoke(cli, ["--workspace", str(workspace), "bench", "phase0/add"])
    assert result.exit_code == 2 and "no bench.py" in result.output
