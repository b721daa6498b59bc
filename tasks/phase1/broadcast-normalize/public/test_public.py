"""Public tests for phase1/broadcast-normalize: read them, run them with `grade check`."""

import ast

import numpy as np
import pytest

from harness.checks.loops import LoopsFound, loops_in

NEW_ARRAY = ["zscore_columns", "minmax_columns", "normalize_rows"]
ALL = [*NEW_ARRAY, "normalize_rows_"]

X = np.array([[1.0, 10.0],
              [2.0, 10.0],
              [3.0, 10.0]])


def test_small_example(submission):
    s = np.sqrt(2 / 3)  # population std of [1, 2, 3]
    np.testing.assert_allclose(submission.zscore_columns(X),
                               [[-1 / s, 0.0], [0.0, 0.0], [1 / s, 0.0]], atol=1e-12)
    np.testing.assert_allclose(submission.minmax_columns(X),
                               [[0.0, 0.0], [0.5, 0.0], [1.0, 0.0]], atol=1e-12)
    norms = np.sqrt([101.0, 104.0, 109.0])
    np.testing.assert_allclose(submission.normalize_rows(X), X / norms[:, None], atol=1e-12)


@pytest.mark.parametrize("dtype,want", [("float64", "float64"), ("float32", "float32"),
                                        ("int64", "float64")])
@pytest.mark.parametrize("name", NEW_ARRAY)
def test_shape_and_dtype(submission, name, dtype, want):
    x = (np.arange(12).reshape(4, 3) % 5).astype(dtype)
    got = submission.call(name, x)
    assert isinstance(got, np.ndarray), f"{name} returned {type(got).__name__}, not an array"
    assert got.shape == x.shape, f"{name} returned shape {got.shape} for input {x.shape}"
    assert got.dtype == np.dtype(want), f"{name} turned {dtype} into {got.dtype}, not {want}"


def test_in_place_contract(submission):
    # Arguments reach your code as copies, so "in place" is checked on an array that stays
    # in the sandbox: `store` sends it once, and every call with the ref gets that same
    # array. The second call returns the norms of whatever the first call left in it.
    x = X.copy()
    (ref,) = submission.store(x)
    norms = submission.normalize_rows_(ref)
    assert isinstance(norms, np.ndarray) and norms.shape == (3,), \
        "normalize_rows_ must return the 1-D array of row norms (not x, not None)"
    np.testing.assert_allclose(norms, np.linalg.norm(X, axis=1), rtol=1e-12)
    again = submission.normalize_rows_(ref)
    np.testing.assert_allclose(again, np.ones(3), rtol=1e-12, err_msg=(
        "after one call of normalize_rows_(x), the rows of x should have norm 1: "
        "x was not modified in place"))


def loops_of(submission, names):
    """Python loops in the named functions and in the submission's functions they call.

    The grader parses your code (`function_ast`), so this sees your source, never runs it.
    """
    found, seen, queue = [], set(), list(names)
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        node = submission.function_ast(name)
        if node is None:  # not a top-level function of yours (np, float, a builtin...)
            continue
        found += loops_in(node, "", name)
        queue += [c.func.id for c in ast.walk(node)
                  if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)]
    return found


def test_no_python_loops(submission):
    loops = loops_of(submission, ALL)
    if loops:
        lines = "\n".join(f"  line {loop.line}: {loop.kind} in {loop.function}()"
                          for loop in loops[:20])
        raise LoopsFound(f"this task asks for broadcasting, but found {len(loops)} Python "
                         f"loop(s):\n{lines}")
