"""Mutant: np.sum(a * b) with no length check silently broadcasts a length-1 vector."""

import numpy as np


def dot_loop(a, b):
    if len(a) != len(b):
        raise ValueError("different lengths")
    total = 0.0
    for x, y in zip(a, b):
        total += float(x) * float(y)
    return total


def dot_numpy(a, b):
    return float(np.sum(np.asarray(a, dtype=float) * np.asarray(b, dtype=float)))
