"""Mutant: flattens in memory order (ravel order='K', to avoid a copy) and reshapes in C
order, which scrambles Fortran-order input."""

import numpy as np


def _float(x):
    """x as a float array: float32/float64 kept as they are (no copy), integers as float64."""
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _safe(denominator):
    """The denominator with zeros replaced by 1, so 0 / 0 gives 0 without a warning."""
    return np.where(denominator == 0, 1, denominator)


def zscore_columns(x):
    x = _float(x)
    centered = x - x.mean(axis=0, keepdims=True)
    return centered / _safe(x.std(axis=0, keepdims=True))


def minmax_columns(x):
    x = _float(x)
    low = x.min(axis=0, keepdims=True)
    return (x - low) / _safe(x.max(axis=0, keepdims=True) - low)


def normalize_rows(x):
    x = _float(x).ravel(order="K").reshape(np.shape(x))
    return x / _safe(np.linalg.norm(x, axis=1, keepdims=True))


def normalize_rows_(x):
    norms = np.linalg.norm(x, axis=1)
    x /= _safe(norms)[:, None]
    return norms


def looped_zscore(x):
    """The looped baseline the timing check compares with (not part of the interface)."""
    n, d = x.shape
    out = np.empty((n, d), dtype=np.float64)
    for j in range(d):
        total = 0.0
        for i in range(n):
            total += float(x[i, j])
        mean = total / n
        squares = 0.0
        for i in range(n):
            squares += (float(x[i, j]) - mean) ** 2
        std = (squares / n) ** 0.5
        for i in range(n):
            out[i, j] = (float(x[i, j]) - mean) / std if std > 0 else 0.0
    return out
