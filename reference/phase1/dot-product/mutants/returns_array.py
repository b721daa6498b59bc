"""Mutant: dot_numpy returns a 1-element array instead of a float."""

import numpy as np


def dot_loop(a, b):
    if len(a) != len(b):
        raise ValueError("different lengths")
    total = 0.0
    for x, y in zip(a, b):
        total += float(x) * float(y)
    return total


def dot_numpy(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError("different lengths")
    return np.atleast_1d(np.dot(a, b))
