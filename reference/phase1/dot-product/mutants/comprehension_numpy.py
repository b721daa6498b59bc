"""Mutant: the "NumPy" version is a Python loop in disguise (too slow)."""

import numpy as np


def dot_loop(a, b):
    if len(a) != len(b):
        raise ValueError("different lengths")
    total = 0.0
    for x, y in zip(a, b):
        total += float(x) * float(y)
    return total


def dot_numpy(a, b):
    if len(a) != len(b):
        raise ValueError("different lengths")
    return float(np.sum([float(x) * float(y) for x, y in zip(a, b)]))
