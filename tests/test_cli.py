"""The `grade` command end to end, with click's CliRunner and as a real process."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
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
    if importlib.util.find_spec("torch") is not None:
        assert out.exit_code == 0, out.output
        return
    # Without torch the device task runs no check at all: validate must not count it as
    # valid, and it must be the only problem.
    count = len(list((ROOT / "tasks").glob("*/*/task.toml")))
    assert out.exit_code == 1, out.output
    assert f"{count - 1} task(s) valid, 1 problem(s)" in out.output, out.output
    assert "phase3/device-speedup: nothing was validated: every check skipped" in out.output


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


# ---------------------------------------------------------------- bad input: one line, exit code

LONG = "a" * 300  # one name past the 255 bytes a file system takes
DEEP = "/tmp/" + "c/" * 2100 + "x.py"  # every name short, the whole past PATH_MAX


def _one_error(out, code: int, *words: str) -> None:
    """Exit ``code`` with a single ``error:`` line (and its hint), never a traceback."""
    assert out.exit_code == code, out.output
    assert not isinstance(out.exception, OSError | ValueError), out.exception
    errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in out.output, out.output
    assert all(w in errors[0] for w in words), errors[0]
    assert len(errors[0]) < 400  # the bad value is shortened


@pytest.mark.parametrize("command", ["show", "init", "submit", "check", "bench"])
@pytest.mark.parametrize("task_id", [LONG, f"phase0/{LONG}", "../tasks/phase0/add"])
def test_a_bad_task_id_is_an_unknown_task(workspace, command, task_id):
    _one_error(run(workspace, command, task_id), 3, "no task")


@pytest.mark.parametrize("command", ["submit", "check", "bench"])
@pytest.mark.parametrize("path", [f"/tmp/{LONG}.py", f"/tmp/{LONG}/solution.py", DEEP])
def test_a_submission_path_too_long_is_no_submission(workspace, command, path):
    recipe = workspace / "tasks" / "phase0" / "add" / "bench.py"
    recipe.write_text('FUNCTIONS = ["add", "add"]\n\ndef inputs(n, rng):\n    return (n, n)\n')
    out = run(workspace, command, "phase0/add", path)
    _one_error(out, 5, "cannot use", "as a submission")


@pytest.mark.parametrize("sizes", ["0", "-5", "100,0", "1.5", "inf", "nan", "1e400", "x"])
def test_bench_sizes_must_be_whole_numbers_of_at_least_one(workspace, sizes):
    _one_error(run(workspace, "bench", "phase0/add", "--sizes", sizes), 2, "--sizes",
               "whole number of at least 1")


@pytest.mark.parametrize("args", [
    ["validate", f"/tmp/{LONG}"],
    ["report", f"/tmp/{LONG}.json"],
    ["report", "--output", f"/tmp/{LONG}.html", __file__],
    ["leakage", f"/tmp/{LONG}.py"],
    ["scorecard", "--html", f"/tmp/{LONG}.html"],
    ["batch", f"/tmp/{LONG}"],
    ["batch", "--manifest", DEEP],
    ["init-ci", "--repo", f"/tmp/{LONG}"],
    ["ci", "--out", f"/tmp/{LONG}"],
    ["bench", "phase0/add", "--out", f"/tmp/{LONG}"],
])
def test_other_path_arguments_too_long_are_usage_errors(workspace, args):
    _one_error(run(workspace, *args), 2, "bytes")


def test_a_settings_path_too_long_says_where_it_came_from(workspace, monkeypatch):
    _one_error(CliRunner().invoke(cli, ["--workspace", f"/tmp/{LONG}", "list"]), 2,
               "the workspace path", "(from flag)")
    monkeypatch.setenv("HARNESS_TASKS", f"/tmp/{LONG}")
    _one_error(run(workspace, "list"), 2, "the tasks path", "(from environment)")


def test_console_script_prints_one_error_line_for_a_long_task_id(tmp_path):
    grade = Path(sys.executable).with_name("grade")
    proc = subprocess.run([str(grade), "--workspace", str(ROOT), "show", LONG],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin",
                               "HARNESS_HISTORY": str(tmp_path / "h.sqlite")})
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("error: no task") and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 2  # the error and its hint
