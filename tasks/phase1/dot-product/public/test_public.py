"""Public tests for phase1/dot-product: read them, run them with `grade check`."""

import numpy as np
import pytest

from harness.checks.outputs import check_python_float


@pytest.mark.parametrize("name", ["dot_loop", "dot_numpy"])
def test_small_example(submission, name):
    assert submission.call(name, [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == pytest.approx(32.0)


@pytest.mark.parametrize("name", ["dot_loop", "dot_numpy"])
@pytest.mark.parametrize("a,b", [([1.0, 2.0], [3.0, 4.0]), ([1, 2], [3, 4]), ([], [])],
                         ids=["numbers", "integers", "empty"])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "list"])
def test_returns_python_float(submission, name, a, b, dtype):
    # Whatever the inputs (float32 or integer arrays, lists, empty vectors), the result is a
    # Python float: np.dot of float32 arrays gives np.float32, of int64 arrays np.int64, and
    # a loop starting from `total = 0` gives int 0 on empty vectors. np.float64 is a float.
    if dtype != "list":
        a, b = np.array(a, dtype=dtype), np.array(b, dtype=dtype)
    check_python_float(submission.call(name, a, b), name)
