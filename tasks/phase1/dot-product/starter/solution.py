"""phase1/dot-product: the dot product with and without NumPy.

Run `grade check phase1/dot-product` for the public tests and
`grade submit phase1/dot-product` for the full grading.
"""

import numpy as np


def dot_loop(a, b):
    """Dot product of two equal-length vectors with a plain Python loop; returns a float."""
    raise NotImplementedError("write a for loop over the pairs of elements")


def dot_numpy(a, b):
    """Dot product of two equal-length vectors with NumPy; returns a float."""
    raise NotImplementedError("use one vectorized NumPy call")
