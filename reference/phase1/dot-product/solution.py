"""Reference solution for phase1/dot-product."""

import numpy as np


def dot_loop(a, b):
    if len(a) != len(b):
        raise ValueError(f"vectors have different lengths: {len(a)} and {len(b)}")
    total = 0.0
    for x, y in zip(a, b):
        total += float(x) * float(y)
    return total


def dot_numpy(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"vectors must be 1-D and of equal length, got {a.shape} and {b.shape}")
    return float(np.dot(a, b))
