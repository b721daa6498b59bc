"""Public tests for phase3/device-speedup: they run on the accelerator, or on the CPU without one."""

import numpy as np
import pytest


def test_matmul_small(submission, device):
    a = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    b = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -2.0]], dtype=np.float32)
    got = submission.matmul(a, b, device)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == (2, 3)
    np.testing.assert_allclose(got, a @ b, rtol=1e-6)


def test_fit_linear_small(submission, device):
    X = np.array([[1.0], [2.0], [3.0], [4.0]], dtype=np.float32)
    y = np.array([3.0, 5.0, 7.0, 9.0], dtype=np.float32)  # y = 2x + 1
    w, b = submission.fit_linear(X, y, 0.05, 2000, device)
    assert isinstance(w, np.ndarray) and np.shape(w) == (1,), (
        f"w is {type(w).__name__} of shape {np.shape(w)}: return a NumPy array of d values "
        "(w.detach().cpu().numpy())")
    assert float(w[0]) == pytest.approx(2.0, abs=1e-3)
    assert float(b) == pytest.approx(1.0, abs=1e-3)
