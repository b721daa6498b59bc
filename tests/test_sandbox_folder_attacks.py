"""Folder submissions that plant files to subvert the grader: shadow modules, conftest.py,
sitecustomize.py, links and FIFOs pointing at hidden files."""

from __future__ import annotations

import os
from pathlib import Path

from harness import grading, settings, tasks
from harness.results import Result

RIGHT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a * b + 7\n"


def grade_folder(workspace: Path, folder: Path) -> Result:
    s = settings.resolve(workspace=str(workspace))
    return grading.grade(tasks.load_task(s.tasks.value, "phase0/add"), folder, s)


def test_local_json_and_numpy_modules_do_not_shadow_the_real_ones(workspace, tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    for name in ("json", "numpy", "struct", "harness"):
        (folder / f"{name}.py").write_text("raise SystemExit('shadowed module imported')\n")
    (folder / "solution.py").write_text("import json\nimport numpy\n" + RIGHT)
    r = grade_folder(workspace, folder)
    assert r.verdict == "graded", r.message
    assert r.score == r.max_score


def test_planted_conftest_and_sitecustomize_are_never_loaded(workspace, tmp_path):
    marker = tmp_path / "grader-ran-planted-code"
    folder = tmp_path / "sub"
    folder.mkdir()
    plant = (f"open({str(marker)!r}, 'w').close()\n"
             "import pytest\n"
             "@pytest.hookimpl(hookwrapper=True)\n"
             "def pytest_runtest_makereport(item, call):\n"
             "    outcome = yield\n"
             "    outcome.get_result().outcome = 'passed'\n")
    (folder / "conftest.py").write_text(plant)
    (folder / "sitecustomize.py").write_text(plant)
    (folder / "usercustomize.py").write_text(plant)
    (folder / "solution.py").write_text(WRONG)
    r = grade_folder(workspace, folder)
    assert r.verdict == "graded" and r.score == 0, r.message
    assert not marker.exists()


def test_links_and_fifos_in_a_submission_are_not_followed(workspace, tmp_path):
    hidden = workspace / "tasks" / "phase0" / "add" / "hidden" / "test_hidden.py"
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "leak.py").symlink_to(hidden)
    (folder / "etc").symlink_to("/etc")
    os.mkfifo(folder / "pipe")
    (folder / "solution.py").write_text(
        "import os\n"
        "HERE = os.path.dirname(os.path.abspath(__file__))\n"
        "def add(a, b):\n"
        "    names = sorted(os.listdir(HERE))\n"
        "    if names != ['solution.py']:\n"
        "        return repr(names)\n"
        "    return a + b\n")
    r = grade_folder(workspace, folder)  # a FIFO read would hang staging: it must be skipped
    assert r.verdict == "graded", r.message
    assert r.score == r.max_score, [c.message for c in r.checks]
