"""Hidden tests for phase1/gradient-descent (never shown to learners)."""

import numpy as np
import pytest

NAMES = ["fit_gd", "fit_gd_loop"]


def gd(X, y, lr, n_iter):
    """The grader's own gradient descent (no divergence check: used on safe settings)."""
    n, d = X.shape
    w, b = np.zeros(d), 0.0
    losses = [float(np.mean(y ** 2))]
    for _ in range(n_iter):
        r = X @ w + b - y
        w, b = w - lr * 2 / n * (X.T @ r), b - lr * 2 / n * r.sum()
        losses.append(float(np.mean((X @ w + b - y) ** 2)))
    return w, float(b), np.array(losses)


def regression(rng, n, d, noise=0.1):
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 1.5, size=d) + rng.normal(size=d) * 0.5
    w = rng.normal(size=d) * 2
    return X, X @ w + rng.normal() * 3 + noise * rng.normal(size=n)


def safe_lr(X, fraction):
    """A fraction of 2 / L, L the largest curvature of the loss (always converges)."""
    A = np.c_[X, np.ones(len(X))]
    return fraction * 2 / np.linalg.eigvalsh(2 / len(X) * A.T @ A).max()


@pytest.mark.parametrize("name", NAMES)
def test_steps_match(submission, rng, name):
    X, y = regression(rng, 40, 3)
    lr = safe_lr(X, 0.4)
    w, b, losses = submission.call(name, X, y, lr, 7)
    want_w, want_b, want_losses = gd(X, y, lr, 7)
    np.testing.assert_allclose(w, want_w, rtol=1e-9, atol=1e-12)
    assert float(b) == pytest.approx(want_b, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(np.asarray(losses, dtype=float), want_losses, rtol=1e-9)


@pytest.mark.parametrize("name,n,d,n_iter", [("fit_gd", 200, 4, 2000),
                                             ("fit_gd_loop", 30, 2, 600)])
def test_converges_to_least_squares(submission, rng, name, n, d, n_iter):
    X, y = regression(rng, n, d)
    A = np.c_[X, np.ones(n)]
    solution = np.linalg.lstsq(A, y, rcond=None)[0]
    # Enough iterations for the slowest direction (curvature ratio of the problem).
    curvature = np.linalg.eigvalsh(2 / n * A.T @ A)
    steps = int(np.ceil(40 / (0.9 * 2 * curvature.min() / curvature.max())))
    assert steps <= n_iter, "test data too ill-conditioned"  # the test's own sanity check
    w, b, losses = submission.call(name, X, y, safe_lr(X, 0.9), n_iter)
    np.testing.assert_allclose(w, solution[:d], rtol=1e-6, atol=1e-6)
    assert float(b) == pytest.approx(solution[d], rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_loss_never_increases(submission, rng, name):
    X, y = regression(rng, 30, 3, noise=1.0)
    losses = np.asarray(submission.call(name, X, y, safe_lr(X, 0.5), 150)[2], dtype=float)
    assert losses.shape == (151,)
    # Round-off near the minimum may move the last digits; anything more is a wrong step.
    assert np.all(np.diff(losses) <= 1e-12 * losses[0])
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("fraction", [1.5, 20.0])
def test_too_large_lr_raises(submission, rng, name, fraction):
    X, y = regression(rng, 25, 3)
    with pytest.raises(ValueError):
        submission.call(name, X, y, safe_lr(X, fraction), 300)


def test_vectorized_is_faster_than_loop(timing, rng):
    X, y = regression(rng, 1000, 5)
    lr = safe_lr(X, 0.2)  # safe on every window of the data the timing uses, too
    timing.compare(fast=timing.call("fit_gd", X, y, lr, 10, label="your fit_gd"),
                   slow=timing.call("fit_gd_loop", X, y, lr, 10, label="your fit_gd_loop"),
                   at_least=10, expect=lambda X, y, lr, n: gd(X, y, lr, n),
                   rtol=1e-7, atol=1e-9)
