"""Public tests for phase1/gradient-descent: read them, run them with `grade check`."""

import numpy as np
import pytest

from harness.checks.loops import assert_loops_allowed

NAMES = ["fit_gd", "fit_gd_loop"]

X = np.array([[1.0, 2.0],
              [3.0, -1.0],
              [0.0, 1.0],
              [2.0, 2.0]])
Y = np.array([3.0, 1.0, -1.0, 4.0])


@pytest.mark.parametrize("name", NAMES)
def test_one_step_by_hand(submission, name):
    w, b, losses = submission.call(name, X, Y, 0.05, 1)
    # The conventions the grader's own steps use: start from zeros, gradients with 2/n.
    assert losses[0] == pytest.approx(np.mean(Y ** 2), rel=1e-12), (
        f"losses[0] is {losses[0]}, but the loss at w = 0, b = 0 is {np.mean(Y ** 2)}: "
        "start from w = np.zeros(d) and b = 0.0, not random weights")
    # From w = 0, b = 0 the residual is -Y, so one step adds lr * (2/n) * X.T @ Y to w.
    step = 0.05 * (2 / 4) * (X.T @ Y)
    assert not np.allclose(w, step / 2, rtol=1e-12), (
        f"{name}'s first step is half the expected one: the gradients of the mean squared "
        "error are (2/n) * X.T @ r and (2/n) * sum(r), not (1/n) * ...")
    np.testing.assert_allclose(w, step, rtol=1e-12)
    assert b == pytest.approx(0.05 * (2 / 4) * Y.sum(), rel=1e-12)
    assert losses[1] == pytest.approx(np.mean((X @ w + b - Y) ** 2), rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_return_shapes(submission, name):
    result = submission.call(name, X, Y, 0.01, 5)
    assert isinstance(result, tuple | list) and len(result) == 3, \
        f"{name} must return a tuple (w, b, losses)"
    w, b, losses = result
    assert np.shape(w) == (2,), f"w has shape {np.shape(w)}, not (d,) = (2,)"
    assert np.ndim(b) == 0, "b must be a single number"
    assert np.shape(losses) == (6,), \
        f"losses has shape {np.shape(losses)}, not (n_iter + 1,) = (6,)"


def test_only_the_iteration_loop(submission, task_spec):
    """`fit_gd` and the functions of yours it calls hold one loop, over the iterations: the
    rule is this check's `loops` in task.toml. The grader reads your source (aliases and
    helpers resolved) and never runs it for this check."""
    rule = task_spec.checks["test_only_the_iteration_loop"].loops
    assert_loops_allowed(submission.function_ast, rule)
