"""The static loop check on modules, folders and notebooks: names resolved as the code binds
them (aliases, lambdas, imports), helpers followed, and a task's rule of which loops go where."""

from __future__ import annotations

import ast
import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import grading, notebooks, settings, submissions, tasks
from harness.checks import ShownToLearner
from harness.checks.loops import (
    LoopRule,
    LoopsFound,
    assert_loops_allowed,
    assert_no_loops,
    find_loops,
    loop_rule,
    loops_reached,
)
from harness.definitions import Code, Namespace, resolve
from harness.results import CheckResult

ROOT = Path(__file__).resolve().parent.parent

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


# ------------------------------------------------- names as the code binds them (issue 12)

ALIASES = textwrap.dedent("""
    import functools
    import numpy as np

    def plain_loop(a, b):
        total = 0.0
        for x, y in zip(a, b):
            total += x * y
        return total

    def numpy_dot(a, b):
        return float(np.dot(a, b))

    dot_loop = plain_loop
    first = second
    second = third
    third = lambda xs: [x for x in xs]
    partial_loop = functools.partial(plain_loop)
    cycle_a = cycle_b
    cycle_b = cycle_a
""")


def _code(source: str, filename: str = "solution.py") -> Code:
    return Code(Namespace(((filename, ast.parse(textwrap.dedent(source))),)))


def test_an_alias_is_judged_by_the_function_it_names():
    (loop,) = find_loops(ALIASES, "solution.py", ["dot_loop"])
    assert (loop.function, loop.line, loop.kind) == ("plain_loop", 7, "for loop")
    node = resolve(_code(ALIASES), "dot_loop")
    assert isinstance(node, ast.FunctionDef) and node.name == "plain_loop"
    assert node.alias_note() == "`dot_loop` is `plain_loop`, defined at solution.py:5"
    assert resolve(_code(ALIASES), "plain_loop").alias_note() == ""


def test_alias_chains_and_lambdas_resolve_and_other_bindings_are_unreadable():
    (comp,) = find_loops(ALIASES, "solution.py", ["first"])
    assert comp.kind == "list comprehension" and comp.line == 17
    assert resolve(_code(ALIASES), "first").aliases == ("second", "third")
    for unreadable in ("partial_loop", "cycle_a", "np", "nope"):
        assert resolve(_code(ALIASES), unreadable) is None
        with pytest.raises(LookupError, match="read"):
            find_loops(ALIASES, "solution.py", [unreadable])


def test_the_last_top_level_binding_wins():
    source = """
        def f(X):
            return X
        def g(X):
            for _ in X:
                pass
        f = g
    """
    (loop,) = find_loops(textwrap.dedent(source), "solution.py", ["f"])
    assert loop.function == "g"


GD = """
    import numpy as np

    def _grad(X, r):
        return X.T @ r
{helper}
    def fit_gd(X, y, lr, n_iter):
        w, b = np.zeros(X.shape[1]), 0.0
        return {body}
"""
HELD_OUTER = """
    def _run(X, y, w, b, lr, n_iter):
        for _ in range(n_iter):
            r = X @ w + b - y
            w, b = w - lr * _grad(X, r), b - lr * r.sum()
        return w, b
"""
NESTED_IN_HELPER = """
    def _grad(X, r):
        g = np.zeros(X.shape[1])
        for i in range(len(r)):
            g += X[i] * r[i]
        return g

    def _run(X, y, w, b, lr, n_iter):
        for _ in range(n_iter):
            r = X @ w + b - y
            w, b = w - lr * _grad(X, r), b - lr * r.sum()
        return w, b
"""
RULE = LoopRule(("fit_gd",), 1, ("for", "while"))


def _lookup(source: str) -> Callable[[str], ast.FunctionDef | None]:
    code = _code(source)
    return lambda name: resolve(code, name)


def test_the_iteration_loop_may_sit_in_a_helper():
    source = GD.format(helper=HELD_OUTER, body="_run(X, y, w, b, lr, n_iter)")
    assert_loops_allowed(_lookup(source), RULE)  # failed before: only fit_gd's own loop
    (loop,) = find_loops(textwrap.dedent(source), "solution.py", ["fit_gd"])
    assert loop.function == "_run" and loop.caller == "fit_gd"


def test_a_loop_in_the_gradient_helper_still_fails_with_its_file_and_line():
    source = GD.format(helper=NESTED_IN_HELPER, body="_run(X, y, w, b, lr, n_iter)")
    with pytest.raises(LoopsFound) as info:
        assert_loops_allowed(_lookup(source), RULE)
    text = str(info.value)
    assert "found 2" in text
    assert "solution.py:14: for loop in _run() (called from fit_gd)  (allowed)" in text
    assert "solution.py:9: for loop in _grad() (called from _run)" in text
    assert info.value.where == ("solution.py:9",)


def test_a_comprehension_is_never_the_allowed_loop_and_zero_allowed_means_none():
    source = GD.format(helper="", body="[_grad(X, y) for _ in range(n_iter)]")
    with pytest.raises(LoopsFound, match="list comprehension in fit_gd"):
        assert_loops_allowed(_lookup(source), RULE)
    source = GD.format(helper=HELD_OUTER, body="_run(X, y, w, b, lr, n_iter)")
    with pytest.raises(LoopsFound, match="may hold no Python loop"):
        assert_loops_allowed(_lookup(source), LoopRule(("fit_gd",)))


def test_an_aliased_or_unreadable_function_under_a_rule():
    source = textwrap.dedent(GD.format(helper=HELD_OUTER, body="_run(X, y, w, b, lr, n_iter)")) \
        + "\nimport functools\nfit = fit_gd\nstep = functools.partial(fit_gd)\n"
    assert_loops_allowed(_lookup(source), LoopRule(("fit",), 1))
    with pytest.raises(LoopsFound, match="`fit` is `fit_gd`, defined at solution.py"):
        assert_loops_allowed(_lookup(source), LoopRule(("fit",), 0))
    with pytest.raises(LoopsFound, match="`step` cannot be read statically"):
        assert_loops_allowed(_lookup(source), LoopRule(("step",), 1))


def test_loop_rules_are_read_from_the_spec_and_checked():
    assert loop_rule({"in": ["fit_gd"], "allowed": 1}) == RULE
    for bad in ({"allowed": 1}, {"in": ["f"], "allowed": -1}, {"in": ["f"], "kinds": ["do"]},
                {"in": ["f"], "where": 1}, ["f"], {"in": ["f"], "allowed": True}):
        with pytest.raises(ValueError):
            loop_rule(bad)
    s = settings.resolve(workspace=str(ROOT))
    spec = tasks.load_task(s.tasks.value, "phase1/gradient-descent")
    assert spec.checks["test_only_the_iteration_loop"].loops == RULE
    assert "helper" in spec.description  # the learner reads the rule in `grade show`


def test_a_folder_import_and_a_later_notebook_cell_resolve(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "solution.py").write_text("from pkg.loops import plain_loop as dot_loop\n"
                                          "import pkg.loops as loops\n")
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "loops.py").write_text(textwrap.dedent("""
        from .steps import step

        def plain_loop(a, b):
            return sum(step(x, y) for x, y in zip(a, b))
    """))
    (tmp_path / "pkg" / "steps.py").write_text("def step(x, y):\n    while False:\n"
                                               "        pass\n    return x * y\n")
    sub = submissions.Submission(tmp_path, "folder", "solution.py")
    node = submissions.function_source(tmp_path, sub, "dot_loop")
    assert node.alias_note() == "`dot_loop` is `plain_loop`, defined at pkg/loops.py:4"
    assert [(h.name, h.file, h.caller) for h in node.helpers] == \
        [("step", "pkg/steps.py", "plain_loop")]
    assert [str(loop) for loop in loops_reached([node])] == [
        "pkg/loops.py:5: generator expression in plain_loop()",
        "pkg/steps.py:2: while loop in step() (called from plain_loop)"]
    # A module submission has no other files to import from.
    assert submissions.function_source(
        tmp_path, submissions.Submission(tmp_path / "solution.py", "module", "solution.py"),
        "dot_loop") is None
    nb = notebooks.parse(json.dumps(notebooks.new_notebook([
        ("code", "def plain_loop(a, b):\n    return sum(x * y for x, y in zip(a, b))"),
        ("code", "dot_loop = np.dot"),
        ("code", "dot_loop = plain_loop")])).encode()).notebook
    node = notebooks.function_source(nb, "dot_loop")
    assert node.alias_note() == "`dot_loop` is `plain_loop`, defined at cell[1]:1"


# ------------------------------------------------- graded end to end (issue 12, defect 4)

def _grade(task_id: str, source: str, tmp_path: Path, mode: str) -> dict[str, CheckResult]:
    s = settings.resolve(workspace=str(ROOT))
    path = tmp_path / "solution.py"
    path.write_text(textwrap.dedent(source))
    result = grading.grade(tasks.load_task(s.tasks.value, task_id), path, s, mode=mode)
    assert result.verdict == "graded", result.message
    return {c.id.split("/", 1)[-1]: c for c in result.checks}


GD_SUBMISSION = """
    import numpy as np

    def _mse(X, y, w, b):
        r = X @ w + b - y
        return float(r @ r) / len(y)
{helper}
    def fit_gd(X, y, lr, n_iter):
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        w, b = np.zeros(X.shape[1]), 0.0
        losses = [_mse(X, y, w, b)]
        w, b = _descend(X, y, w, b, lr, n_iter, losses)
        return w, b, np.array(losses)

    def fit_gd_loop(X, y, lr, n_iter):
        return fit_gd(X, y, lr, n_iter)
"""
GD_HELPER = """
    def _gradient(X, r):
        return 2 / len(r) * (X.T @ r), 2 / len(r) * r.sum()
"""
GD_LOOPED_HELPER = """
    def _gradient(X, r):
        g = np.zeros(X.shape[1])
        for i in range(len(r)):
            g += X[i] * r[i]
        return 2 / len(r) * g, 2 / len(r) * r.sum()
"""
DESCEND = """
    def _descend(X, y, w, b, lr, n_iter, losses):
        for _ in range(n_iter):
            gw, gb = _gradient(X, X @ w + b - y)
            w, b = w - lr * gw, b - lr * gb
            losses.append(_mse(X, y, w, b))
            if not np.isfinite(losses[-1]) or losses[-1] > losses[0]:
                raise ValueError("the learning rate is too large")
        return w, b
"""


def test_grading_gradient_descent_with_the_iteration_loop_in_a_helper(tmp_path):
    checks = _grade("phase1/gradient-descent",
                    GD_SUBMISSION.format(helper=GD_HELPER + DESCEND), tmp_path, "check")
    assert checks["test_only_the_iteration_loop"].status == "pass"
    assert checks["test_one_step_by_hand[fit_gd]"].status == "pass"
    checks = _grade("phase1/gradient-descent",
                    GD_SUBMISSION.format(helper=GD_LOOPED_HELPER + DESCEND), tmp_path, "check")
    failed = checks["test_only_the_iteration_loop"]
    assert failed.status == "fail"
    assert "solution.py:10: for loop in _gradient() (called from _descend)" in failed.message


DOT = """
    import numpy as np

    def plain_loop(a, b):
        if len(a) != len(b):
            raise ValueError("different lengths")
        total = 0.0
        for x, y in zip(a, b):
            total += float(x) * float(y)
        return total

    def with_numpy(a, b):
        if len(a) != len(b):
            raise ValueError("different lengths")
        return float(np.dot(np.asarray(a, dtype=float), np.asarray(b, dtype=float)))

    dot_loop = {aliased}

    def dot_numpy(a, b):
        return with_numpy(a, b)
"""


def test_grading_dot_product_with_dot_loop_an_alias(tmp_path):
    checks = _grade("phase1/dot-product", DOT.format(aliased="plain_loop"), tmp_path, "submit")
    assert checks["test_loop_uses_no_numpy"].status == "pass"  # failed before: no `def`
    checks = _grade("phase1/dot-product", DOT.format(aliased="with_numpy"), tmp_path, "submit")
    failed = checks["test_loop_uses_no_numpy"]
    assert failed.status == "fail"
    assert "solution.py:15: np.dot in with_numpy()" in failed.message
    assert "`dot_loop` is `with_numpy`, defined at solution.py:12" in failed.message
