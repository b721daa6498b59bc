"""Hidden tests for phase3/device-speedup: correctness on whatever device the grader has (the
CPU where there is no accelerator); the speed-up check is marked ``accelerator`` and skipped
without one."""

import numpy as np
import pytest


@pytest.mark.parametrize("m,k,n", [(7, 5, 3), (300, 129, 65), (1, 64, 1)])
def test_matmul_values(submission, rng, device, m, k, n):
    a = rng.normal(size=(m, k)).astype(np.float32)
    b = rng.normal(size=(k, n)).astype(np.float32)
    got = submission.matmul(a, b, device)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == (m, n)
    want = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.sqrt(k))


def gd(X, y, lr, n_steps):
    """The grader's own gradient descent, in float64 (same steps as the spec)."""
    n, d = X.shape
    w, b = np.zeros(d), 0.0
    for _ in range(n_steps):
        r = X @ w + b - y
        w, b = w - lr * 2 / n * (X.T @ r), b - lr * 2 / n * r.sum()
    return w, b


def test_fit_linear_matches_gradient_descent(submission, rng, device):
    X = rng.normal(size=(256, 4)).astype(np.float32)
    y = (X @ rng.normal(size=4) + 0.5 + 0.1 * rng.normal(size=256)).astype(np.float32)
    w, b = submission.fit_linear(X, y, 0.05, 25, device)
    want_w, want_b = gd(X.astype(np.float64), y.astype(np.float64), 0.05, 25)
    assert isinstance(w, np.ndarray) and w.shape == (4,)
    np.testing.assert_allclose(w, want_w, rtol=1e-4, atol=1e-4)
    assert float(b) == pytest.approx(want_b, rel=1e-4, abs=1e-4)


@pytest.mark.accelerator
def test_accelerator_is_faster(timing, rng, device):
    a = rng.normal(size=(1024, 1024)).astype(np.float32)
    b = rng.normal(size=(1024, 1024)).astype(np.float32)
    timing.compare(fast=timing.call("matmul", a, b, device=device, label=f"matmul on {device}"),
                   slow=timing.call("matmul", a, b, device="cpu", label="matmul on the CPU"),
                   at_least=5, expect=lambda a, b: a.astype(np.float64) @ b.astype(np.float64),
                   rtol=1e-3, atol=1e-2)
