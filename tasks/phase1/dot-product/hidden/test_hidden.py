"""Hidden tests for phase1/dot-product (never shown to learners)."""

import ast

import numpy as np
import pytest

from harness.checks import ShownToLearner
from harness.checks.outputs import check_python_float

NAMES = ["dot_loop", "dot_numpy"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size,dtype", [(7, "float64"), (1000, "float64"), (513, "float32"),
                                        (300, "int64")])
def test_random_vectors(submission, rng, name, size, dtype):
    if dtype == "int64":
        a = rng.integers(-1000, 1000, size=size).astype(dtype)
        b = rng.integers(-1000, 1000, size=size).astype(dtype)
    else:
        a = rng.normal(size=size).astype(dtype)
        b = rng.normal(size=size).astype(dtype)
    expected = float(np.dot(a.astype(np.float64), b.astype(np.float64)))
    got = submission.call(name, a, b)
    check_python_float(got, name)  # fixed by the public test_returns_python_float
    assert got == pytest.approx(expected, rel=1e-4 if dtype == "float32" else 1e-9, abs=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_empty_and_single(submission, name):
    assert submission.call(name, [], []) == 0.0
    check_python_float(submission.call(name, np.array([]), np.array([])), name)
    assert submission.call(name, [3.0], [-2.5]) == pytest.approx(-7.5)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("a,b", [([1.0, 2.0, 3.0], [1.0]), ([1.0], [1.0, 2.0]),
                                 ([1.0, 2.0], [1.0, 2.0, 3.0])])
def test_mismatched_lengths(submission, name, a, b):
    with pytest.raises(ValueError):
        submission.call(name, np.array(a), np.array(b))


def _numpy_names(tree):
    """NumPy uses in a function body, each with its line."""
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in ("np", "numpy"):
            bad.append((node.lineno, f"{node.value.id}.{node.attr}"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            bad.append((node.lineno, "@"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("dot", "sum", "inner", "vdot", "matmul", "einsum"):
            bad.append((node.lineno, f".{node.func.attr}()"))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bad.append((node.lineno, "import"))
    return bad


def test_loop_uses_no_numpy(submission, rng):
    # `dot_loop` as the code binds it (`dot_loop = plain_loop` is plain_loop), and the
    # functions of the learner's it uses: the message names each NumPy use by file:line.
    tree = submission.function_ast("dot_loop")
    if tree is None:
        raise ShownToLearner("`dot_loop` cannot be read statically: the grader finds no "
                             "`def` (nor an alias of one) bound to it; define it with `def`")
    found = [f"  {f.file}:{line}: {what} in {f.name}()"
             + (f" (called from {f.caller})" if f.caller else "")
             for f in (tree, *tree.helpers) for line, what in _numpy_names(f)]
    if found:
        note = f"\n{tree.alias_note()}" if tree.alias_note() else ""
        raise ShownToLearner("dot_loop must be a plain Python loop, but it uses NumPy:\n"
                             + "\n".join(found[:20]) + note)
    # The static check can be dodged (getattr, a module attribute); the probe sees what
    # really ran.
    a, b = rng.normal(size=50).tolist(), rng.normal(size=50).tolist()
    assert "numpy" not in submission.modules_used("dot_loop", a, b)


def test_numpy_is_faster_than_loop(timing, rng):
    # The harness measures: calibrated samples, interleaved rounds, median ratio with a 95%
    # interval, every call on its own window of the inputs and every output checked.
    n = 100_000
    a, b = rng.normal(size=n), rng.normal(size=n)

    def expect(x, y):
        return float(np.dot(x, y))

    timing.compare(fast=timing.call("dot_numpy", a, b, label="your NumPy version"),
                   slow=timing.call("dot_loop", a, b, label="your loop"),
                   at_least=20, expect=expect, rtol=1e-9, atol=1e-9)
    # Against the reference loop too: slowing down your own loop does not help.
    timing.compare(fast=timing.call("dot_numpy", a, b, label="your NumPy version"),
                   slow=timing.reference("dot_loop", a, b, label="a plain Python loop"),
                   at_least=20, expect=expect, rtol=1e-9, atol=1e-9)
