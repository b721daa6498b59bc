"""Code that never ran, or never did anything, earns nothing, on every shipped task.

Parametrized over the shipped pack, so a new task is covered the day it lands: in each
of its formats, the empty file, the untouched starter, a syntax error and an infinite
loop at import score 0, and the ones that never loaded say so once, with every check
recorded as not run (issue 12, defects 1 and 3).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness import grading, notebooks, settings, tasks
from harness.results import Result

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT / "tasks"
TASK_IDS = [tasks.task_id_of(p, PACK) for p in tasks.discover(PACK)]
CASES = ("empty", "starter", "syntax_error", "loop_at_import")
FORMS = [(t, f) for t in TASK_IDS for f in tasks.load_task(PACK, t).formats
         if f in ("module", "notebook")]


def _module(task: tasks.Task, case: str) -> str:
    return {"empty": "",
            "starter": (task.root / "starter" / "solution.py").read_text(),
            "syntax_error": "import numpy as np\n\ndef f(x:\n    return x\n",
            "loop_at_import": "while True:\n    pass\n"}[case]


def _notebook(task: tasks.Task, case: str) -> dict:
    if case == "starter":
        return notebooks.starter_notebook(task, _module(task, case), f"check {task.id}")
    return notebooks.new_notebook([("code", _module(task, case))] if _module(task, case)
                                  else [])


def _grade(tmp_path: Path, task_id: str, form: str, case: str) -> Result:
    s = settings.resolve(workspace=str(ROOT))
    task = tasks.load_task(s.tasks.value, task_id)
    # An import that never ends is stopped by the load limit; one second proves the point.
    task = dataclasses.replace(task, limits=dataclasses.replace(task.limits, load_seconds=1.0))
    if form == "module":
        path = tmp_path / "solution.py"
        path.write_text(_module(task, case))
    else:
        path = tmp_path / "solution.ipynb"
        path.write_text(json.dumps(_notebook(task, case)))
    return grading.grade(task, path, s)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("task_id", "form"), FORMS)
def test_code_that_never_ran_scores_zero(tmp_path: Path, task_id: str, form: str,
                                         case: str) -> None:
    r = _grade(tmp_path, task_id, form, case)
    assert r.score == 0, [(c.id, c.points) for c in r.checks if c.points]
    if not r.gradable:
        pytest.skip(f"{task_id} has nothing gradable on this machine")
    if case == "starter":
        return  # it loads and runs: every check says what the stub did
    assert r.verdict != "graded", r.verdict
    scored = [c for c in r.checks if c.max_points > 0]
    assert scored and all(c.outcome == "not_run" for c in scored), \
        [(c.id, c.status, c.outcome) for c in scored]
    assert len({c.message for c in scored}) == 1  # one cause, said once
    assert "did not load" in scored[0].message
    assert not r.diagnosis
