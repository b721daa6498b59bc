"""An example learner submission for phase1/dot-product (shipped with the harness).

It is almost right: run `grade submit phase1/dot-product` to see what the grader says.
"""

import numpy as np


def dot_loop(a, b):
    """Dot product with a plain Python loop."""
    if len(a) != len(b):
        raise ValueError(f"lengths differ: {len(a)} != {len(b)}")
    total = 0.0
    for x, y in zip(a, b):
        total += x * y
    return float(total)


def dot_numpy(a, b):
    """Dot product with NumPy."""
    return float(np.sum(np.asarray(a) * np.asarray(b)))
