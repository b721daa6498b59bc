"""The static no-loops check on modules (and on source text, as notebooks arrive)."""

from __future__ import annotations

import textwrap

import pytest

from harness.checks import ShownToLearner
from harness.checks.loops import LoopsFound, assert_no_loops, find_loops

MODULE = textwrap.dedent("""
    import numpy as np
    from functools import reduce

    def vectorized(X):
        return (X - X.mean(axis=0)) / X.std(axis=0)

    def looped(X):
        out = X.copy()
        for j in range(X.shape[1]):
            out[:, j] = X[:, j] - X[:, j].mean()
        return out

    def comprehended(X):
        return np.array([row / row.sum() for row in X])

    def _helper(X):
        i = 0
        while i < len(X):
            i += 1
        return X

    def hides_it(X):
        return _helper(X) * 2

    def sneaky(X):
        return np.apply_along_axis(lambda r: r / r.sum(), 1, X) + sum(x for x in [1])

    class Scaler:
        def fit(self, X):
            self.mean_ = {j: X[:, j].mean() for j in range(X.shape[1])}
            return self
""")


def test_vectorized_function_has_no_loops():
    assert find_loops(MODULE, "solution.py", ["vectorized"]) == []
    assert_no_loops(MODULE, "solution.py", ["vectorized"])


def test_loops_are_reported_with_file_and_line():
    (loop,) = find_loops(MODULE, "solution.py", ["looped"])
    assert str(loop) == "solution.py:10: for loop in looped()"
    (comp,) = find_loops(MODULE, "solution.py", ["comprehended"])
    assert comp.kind == "list comprehension" and comp.line == 15


def test_a_loop_moved_into_a_helper_is_still_found():
    (loop,) = find_loops(MODULE, "solution.py", ["hides_it"])
    assert loop.function == "_helper" and loop.kind == "while loop" and loop.line == 19
    assert find_loops(MODULE, "solution.py", ["hides_it"], follow_calls=False) == []


def test_python_loops_under_numpy_names_and_methods():
    kinds = {x.kind for x in find_loops(MODULE, "solution.py", ["sneaky"])}
    assert "generator expression" in kinds
    assert any(k.startswith("apply_along_axis()") for k in kinds)
    (method,) = find_loops(MODULE, "solution.py", ["Scaler.fit"])
    assert method.kind == "dict comprehension"


def test_assert_no_loops_message_is_for_the_learner():
    with pytest.raises(LoopsFound) as info:
        assert_no_loops(MODULE, "analysis.ipynb", ["looped", "comprehended"])
    assert isinstance(info.value, ShownToLearner)
    text = str(info.value)
    assert "found 2 Python loop(s)" in text and "analysis.ipynb:10" in text


def test_unknown_function_is_a_lookup_error():
    with pytest.raises(LookupError):
        find_loops(MODULE, "solution.py", ["nope"])
