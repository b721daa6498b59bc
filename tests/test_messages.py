"""Messages a learner reads: wrong return types, first differences, unsubmitted siblings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness import grading, submissions, tasks
from harness.checks import ShownToLearner
from harness.checks.outputs import (
    WrongType,
    check_python_float,
    difference_words,
    first_difference,
    show,
)

# ------------------------------------------------------------------ return types


@pytest.mark.parametrize("value", [1.5, np.float64(1.5)])
def test_a_python_float_and_numpy_float64_pass_the_type_check(value):
    check_python_float(value, "dot_numpy")


@pytest.mark.parametrize("value,name", [(np.float32(1.5), "numpy.float32"),
                                        (np.int64(2), "numpy.int64"), (2, "int"),
                                        (np.array(1.5), "numpy.ndarray")])
def test_other_numbers_fail_the_type_check_naming_both_types(value, name):
    with pytest.raises(WrongType) as info:
        check_python_float(value, "dot_numpy")
    assert str(info.value) == (f"dot_numpy returned {name}, expected a Python float: "
                               "return float(x)")
    assert isinstance(info.value, ShownToLearner)  # the learner's own type: shown if hidden


# ------------------------------------------------------------------ first differences


def test_first_difference_goes_into_containers_and_arrays():
    want = (np.zeros(3), 0.5, np.ones((2, 2)))
    got = [np.zeros(3), 0.5, np.array([[1.0, 1.0], [1.0, 1.5]])]
    diff = first_difference(got, want, 1e-9, 0.0)
    assert difference_words(diff) == "first difference at [2][1, 1]: expected 1.0, got 1.5"
    assert difference_words(diff, "got", None) == ("first difference at [2][1, 1]: got 1.5, "
                                                   "which is not the expected value")
    assert first_difference(got[:2], want[:2], 1e-9, 0.0) is None


@pytest.mark.parametrize("got,want,public,hidden", [
    (np.zeros((3, 2)), np.zeros((3, 3)), "expected shape (3, 3), got shape (3, 2)",
     "got shape (3, 2), not the expected shape"),
    ([1.0], [1.0, 2.0], "expected length 2, got length 1", "got length 1, not the expected length"),
    ("1.0", 1.0, "expected a float, got a str", "got a str, not the expected type"),
    (np.float32(31.5), 32.0, "expected 32.0, got 31.5",
     "got 31.5, which is not the expected value"),
])
def test_each_kind_of_difference_in_words(got, want, public, hidden):
    diff = first_difference(got, want, 1e-9, 0.0)
    assert difference_words(diff) == public
    assert difference_words(diff, "got", None) == hidden
    assert show(want) not in hidden or show(want) == show(got)


# ------------------------------------------------------------------ unsubmitted siblings


def _task(tmp_path: Path) -> tasks.Task:
    spec = tmp_path / "tasks" / "phase0" / "add"
    spec.mkdir(parents=True)
    (spec / "task.toml").write_text('title = "Add"\nphase = "phase0"\ndescription = "add"\n'
                                    '[[interface]]\nname = "add"\nsignature = "(a, b)"\n')
    return tasks.load_task(tmp_path / "tasks", "phase0/add")


def _error(module: str) -> dict[str, object]:
    return {"type": "ModuleNotFoundError", "message": f"No module named {module!r}",
            "missing_module": module, "frames": [{"file": "solution.py", "line": 1}]}


def test_import_of_a_file_next_to_the_submitted_module_suggests_the_folder(tmp_path):
    task = _task(tmp_path)
    work = tmp_path / "work"
    (work / "pkg").mkdir(parents=True)
    for name in ("solution.py", "helpers.py", "pkg/__init__.py", "dot-product.py"):
        (work / name).write_text("")
    sub = submissions.Submission(work / "solution.py", "module", "solution.py")
    assert grading.load_error_message(_error("helpers"), sub, task) == (
        "your code imports 'helpers' at solution.py:1, which is a file next to solution.py "
        f"that was not submitted: submit the folder (grade submit phase0/add {work})")
    assert "submit the folder" in grading.load_error_message(_error("pkg.sub"), sub, task)
    other = submissions.Submission(work / "dot-product.py", "module", "dot-product.py")
    assert grading.load_error_message(_error("helpers"), other, task).endswith(
        "submit a folder holding both, your file named solution.py "
        "(grade submit phase0/add FOLDER)")
    assert grading.load_error_message(_error("scipy"), sub, task) == (
        "your code imports 'scipy' at solution.py:1, which is not installed in the grading "
        "environment")


def test_grading_a_module_that_imports_its_unsubmitted_sibling(grade_source, tmp_path):
    (tmp_path / "learner").mkdir()
    (tmp_path / "learner" / "helpers.py").write_text("def plus(a, b):\n    return a + b\n")
    r = grade_source("from helpers import plus\n\ndef add(a, b):\n    return plus(a, b)\n")
    assert r.verdict == "submission_error"
    assert "your code imports 'helpers'" in r.message
    assert (f"not submitted: submit the folder (grade submit phase0/add "
            f"{tmp_path / 'learner'})") in r.message
