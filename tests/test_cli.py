"""The `grade` command end to end, with click's CliRunner and as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from harness.cli import cli
from tests.conftest import ROOT, SECRET


def run(workspace: Path, *args: str):
    return CliRunner().invoke(cli, ["--workspace", str(workspace), *args])


def test_list_and_show_never_print_hidden_tests(workspace):
    out = run(workspace, "list")
    assert out.exit_code == 0 and "phase0/add" in out.output
    assert "phase0/add" not in run(workspace, "list", "--phase", "phase9").output
    shown = run(workspace, "show", "phase0/add")
    assert shown.exit_code == 0
    assert "test_add_public" in shown.output and "add(a, b)" in shown.output
    assert SECRET not in shown.output and "test_add_hidden" not in shown.output


def test_init_then_submit_records_result_and_history(workspace):
    assert run(workspace, "init", "phase0/add").exit_code == 0
    sub = workspace / "submissions" / "phase0" / "add.py"
    assert sub.exists()
    assert run(workspace, "init", "phase0/add").exit_code == 2  # no silent overwrite
    sub.write_text("def add(a, b):\n    return a + b\n")
    out = run(workspace, "submit", "phase0/add", "--json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["verdict"] == "graded" and doc["score"] == doc["max_score"] == 3
    assert list((workspace / "reports" / "phase0" / "add").glob("*.json"))
    hist = run(workspace, "history", "--format", "json")
    assert json.loads(hist.output)[0]["task"] == "phase0/add"
    csv_out = run(workspace, "history", "--format", "csv").output
    assert csv_out.splitlines()[0].startswith("id,")


def test_submit_exit_status_is_zero_for_a_failing_submission(workspace, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def add(a, b):\n    return a * b\n")
    out = run(workspace, "submit", "phase0/add", str(bad))
    assert out.exit_code == 0
    assert "FAIL" in out.output and "hint: add the two numbers" in out.output


def test_check_runs_public_tests_only(workspace, tmp_path):
    good = tmp_path / "good.py"
    good.write_text("def add(a, b):\n    return a + b\n")
    doc = json.loads(run(workspace, "check", "phase0/add", str(good), "--json").output)
    assert [c["visibility"] for c in doc["checks"]] == ["public"]


def test_usage_errors_have_exit_codes(workspace):
    assert run(workspace, "submit", "phase0/nope").exit_code == 3
    assert run(workspace, "submit", "phase0/add").exit_code == 5  # no submission yet


def test_validate_accepts_sound_pack_and_rejects_a_mutant_that_passes(workspace):
    out = run(workspace, "validate")
    assert out.exit_code == 0, out.output
    mutant = workspace / "reference" / "phase0" / "add" / "mutants" / "same.py"
    mutant.write_text('"""Mutant that is actually right."""\ndef add(a, b):\n    return b + a\n')
    out = run(workspace, "validate")
    assert out.exit_code == 1 and "same.py passes every check" in out.output


def test_validate_names_file_and_field_of_a_broken_spec(workspace):
    spec = workspace / "tasks" / "phase0" / "add" / "task.toml"
    spec.write_text(spec.read_text().replace('title = "Add two numbers"', "title = 3"))
    out = run(workspace, "validate")
    assert out.exit_code == 1
    assert "task.toml" in out.output and "'title'" in out.output


def test_shipped_tasks_validate():
    out = CliRunner().invoke(cli, ["--workspace", str(ROOT), "validate"])
    assert out.exit_code == 0, out.output


def test_console_script_grades_the_shipped_example(tmp_path):
    grade = Path(sys.executable).with_name("grade")
    proc = subprocess.run([str(grade), "--workspace", str(ROOT), "submit", "phase1/dot-product",
                           "--json"], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HARNESS_HISTORY":
                               str(tmp_path / "h.sqlite")})
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    summary = {k: doc[k] for k in ("verdict", "message", "score", "max_score")}
    assert doc["task"] == "phase1/dot-product" and doc["verdict"] == "graded", summary
    assert 0 < doc["score"] < doc["max_score"], summary  # almost right, on purpose
    failing = {c["name"] for c in doc["checks"] if c["status"] == "fail"}
    assert any(n.startswith("test_mismatched_lengths") for n in failing)


def test_import_of_cli_does_not_load_heavy_modules():
    code = ("import sys, harness.cli; heavy = [m for m in ('numpy', 'pandas', 'pytest', "
            "'sklearn', 'torch') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
