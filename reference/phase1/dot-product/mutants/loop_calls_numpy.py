"""Mutant: the "loop" version secretly calls NumPy through a helper."""

import numpy as np


def _accumulate(a, b):
    return np.dot(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


def dot_loop(a, b):
    if len(a) != len(b):
        raise ValueError("different lengths")
    for _ in range(1):
        total = float(_accumulate(a, b))
    return total


def dot_numpy(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError("different lengths")
    return float(np.dot(a, b))
