"""Mutant: the loop skips the last element (range(len(a) - 1))."""

import numpy as np


def dot_loop(a, b):
    if len(a) != len(b):
        raise ValueError("different lengths")
    total = 0.0
    for i in range(len(a) - 1):
        total += float(a[i]) * float(b[i])
    return total


def dot_numpy(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError("different lengths")
    return float(np.dot(a, b))
