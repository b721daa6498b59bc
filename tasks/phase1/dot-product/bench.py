"""`grade bench phase1/dot-product`: the loop against NumPy from 100 to 1,000,000 elements."""

import numpy as np

FUNCTIONS = ["dot_loop", "dot_numpy"]
SIZES = [10**2, 10**3, 10**4, 10**5, 10**6]


def inputs(n, rng):
    return rng.normal(size=n), rng.normal(size=n)


def expect(a, b):
    return float(np.dot(a, b))
