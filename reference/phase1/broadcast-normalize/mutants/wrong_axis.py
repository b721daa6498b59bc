"""Mutant: zscore_columns standardizes over rows (axis=1) instead of columns."""

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
    centered = x - x.mean(axis=1, keepdims=True)
    return centered / _safe(x.std(axis=1, keepdims=True))


def minmax_columns(x):
    x = _float(x)
    low = x.min(axis=0, keepdims=True)
    return (x - low) / _safe(x.max(axis=0, keepdims=True) - low)


def normalize_rows(x):
    x = _float(x)
    return x / _safe(np.linalg.norm(x, axis=1, keepdims=True))


def normalize_rows_(x):
    norms = np.linalg.norm(x, axis=1)
    x /= _safe(norms)[:, None]
    return norms

