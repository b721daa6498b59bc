"""phase1/broadcast-normalize: scale rows and columns with broadcasting, no loops.

Run `grade check phase1/broadcast-normalize` for the public tests and
`grade submit phase1/broadcast-normalize` for the full grading.
"""

import numpy as np


def zscore_columns(x):
    """Standardize each column to mean 0 and population std 1; constant columns become 0."""
    raise NotImplementedError("x.mean(axis=0, keepdims=True), x.std(axis=0, keepdims=True)")


def minmax_columns(x):
    """Scale each column onto [0, 1]; constant columns become 0."""
    raise NotImplementedError("x.min(axis=0, keepdims=True) and x.max(axis=0, keepdims=True)")


def normalize_rows(x):
    """A new array whose rows have L2 norm 1; all-zero rows stay zero."""
    raise NotImplementedError("np.linalg.norm(x, axis=1, keepdims=True)")


def normalize_rows_(x):
    """Normalize the rows of x in place; return the row norms divided by (before dividing)."""
    raise NotImplementedError("write into x itself: x /= ... or np.divide(x, ..., out=x)")
