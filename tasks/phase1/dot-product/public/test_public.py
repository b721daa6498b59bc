"""Public tests for phase1/dot-product: read them, run them with `grade check`."""

import numpy as np
import pytest


@pytest.mark.parametrize("name", ["dot_loop", "dot_numpy"])
def test_small_example(submission, name):
    assert submission.call(name, [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == pytest.approx(32.0)


@pytest.mark.parametrize("name", ["dot_loop", "dot_numpy"])
def test_returns_python_float(submission, name):
    result = submission.call(name, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    assert isinstance(result, float), f"{name} returned {type(result).__name__}, not float"
    assert np.ndim(result) == 0
