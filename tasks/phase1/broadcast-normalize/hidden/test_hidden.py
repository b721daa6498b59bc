"""Hidden tests for phase1/broadcast-normalize (never shown to learners).

Memory layout: a Fortran-order array crosses into the sandbox in Fortran order (other
strided views arrive laid out in C order), so the learner's code is tested on both
layouts; in-place writes are observed on an array kept in the sandbox
(`submission.store`).
"""

import numpy as np
import pytest

NEW_ARRAY = ["zscore_columns", "minmax_columns", "normalize_rows"]


def zscore(x):
    x = np.asarray(x, dtype=np.float64)
    std = x.std(axis=0, keepdims=True)
    return np.where(std == 0, 0.0, (x - x.mean(axis=0, keepdims=True)) / np.where(std == 0, 1, std))


def minmax(x):
    x = np.asarray(x, dtype=np.float64)
    low, span = x.min(axis=0, keepdims=True), np.ptp(x, axis=0, keepdims=True)
    return np.where(span == 0, 0.0, (x - low) / np.where(span == 0, 1, span))


def row_norms(x):
    return np.linalg.norm(np.asarray(x, dtype=np.float64), axis=1)


def rows(x):
    norms = row_norms(x)[:, None]
    return np.asarray(x, dtype=np.float64) / np.where(norms == 0, 1, norms)


EXPECTED = {"zscore_columns": zscore, "minmax_columns": minmax, "normalize_rows": rows}


def tolerance(dtype):
    return {"rtol": 1e-4, "atol": 1e-4} if dtype == "float32" else {"rtol": 1e-9, "atol": 1e-9}


def matrix(rng, shape, dtype):
    if dtype == "int64":
        return rng.integers(-50, 50, size=shape).astype(dtype)
    return (rng.normal(size=shape) * rng.uniform(0.1, 100, size=shape[1])
            + rng.normal(size=shape[1]) * 10).astype(dtype)


@pytest.mark.parametrize("shape,dtype", [((17, 3), "float64"), ((200, 30), "float64"),
                                         ((64, 9), "float32"), ((31, 5), "int64"),
                                         ((1, 4), "float64"), ((6, 1), "float64")])
def test_random_matrices(submission, rng, shape, dtype):
    x = matrix(rng, shape, dtype)
    for name, expected in EXPECTED.items():
        got = submission.call(name, x)
        assert got.shape == x.shape
        np.testing.assert_allclose(got, expected(x), **tolerance(dtype), err_msg=name)
    if dtype != "int64":
        (ref,) = submission.store(x.copy())
        np.testing.assert_allclose(submission.normalize_rows_(ref), row_norms(x),
                                   **tolerance(dtype))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_constant_columns_and_zero_rows(submission, rng, dtype):
    x = rng.normal(size=(12, 5)).astype(dtype)
    x[:, 1] = 7.0
    x[:, 3] = 0.0
    for name in ("zscore_columns", "minmax_columns"):
        got = submission.call(name, x)
        assert np.all(np.isfinite(got)), f"{name} produced NaN or inf"
        np.testing.assert_array_equal(got[:, [1, 3]], 0.0)
        np.testing.assert_allclose(got, EXPECTED[name](x), **tolerance(dtype))
    y = rng.normal(size=(8, 4)).astype(dtype)
    y[[2, 5]] = 0.0
    got = submission.normalize_rows(y)
    assert np.all(np.isfinite(got)), "normalize_rows produced NaN or inf"
    np.testing.assert_allclose(got, rows(y), **tolerance(dtype))
    (ref,) = submission.store(y.copy())
    norms = submission.normalize_rows_(ref)
    np.testing.assert_allclose(norms, row_norms(y), **tolerance(dtype))
    again = submission.normalize_rows_(ref)  # the norms of the rows as left in place
    assert np.all(np.isfinite(again))
    np.testing.assert_allclose(again, [0.0 if i in (2, 5) else 1.0 for i in range(8)],
                               **tolerance(dtype))


#: A function of the submission that reads an array back: one whose output changes under
#: what the checked function would do to its input if it wrote into it (per-column affine
#: maps for the column functions, per-row scaling for normalize_rows).
READER = {"zscore_columns": "normalize_rows", "minmax_columns": "normalize_rows",
          "normalize_rows": "zscore_columns"}


@pytest.mark.parametrize("name", NEW_ARRAY)
def test_input_left_unchanged(submission, rng, name):
    x = matrix(rng, (20, 4), "float64")
    (ref,) = submission.store(x.copy())
    submission.call(name, ref)
    # The learner's own reader on the stored array and on a fresh copy of x: equal outputs
    # unless the call above wrote into its argument.
    reader = READER[name]
    np.testing.assert_allclose(submission.call(reader, ref), submission.call(reader, x),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_in_place_really_writes_into_x(submission, rng, dtype):
    x = matrix(rng, (50, 7), dtype)
    (ref,) = submission.store(x.copy())
    np.testing.assert_allclose(submission.normalize_rows_(ref), row_norms(x),
                               **tolerance(dtype))
    np.testing.assert_allclose(submission.normalize_rows_(ref), np.ones(50),
                               **tolerance(dtype))
    # And what is left in x is the normalized matrix, in x's own dtype.
    got = submission.normalize_rows(ref)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, rows(x), **tolerance(dtype))


def test_broadcast_is_faster_than_loop(timing, rng):
    x = matrix(rng, (400, 50), "float64")
    timing.compare(fast=timing.call("zscore_columns", x, label="your zscore_columns"),
                   slow=timing.reference("looped_zscore", x, label="a looped z-score"),
                   at_least=10, expect=zscore, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("name", NEW_ARRAY)
def test_fortran_order_input(submission, rng, name):
    x = rng.normal(size=(60, 7))
    expected = submission.call(name, np.ascontiguousarray(x))
    got = submission.call(name, np.asfortranarray(x))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
