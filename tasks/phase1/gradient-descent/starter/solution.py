"""phase1/gradient-descent: linear regression by batch gradient descent, two ways.

Run `grade check phase1/gradient-descent` for the public tests and
`grade submit phase1/gradient-descent` for the full grading.
"""

import numpy as np


def fit_gd(X, y, lr, n_iter):
    """Batch gradient descent for linear regression, vectorized; returns (w, b, losses)."""
    raise NotImplementedError("one loop over the iterations; X @ w and X.T @ r inside it")


def fit_gd_loop(X, y, lr, n_iter):
    """The same with Python loops over samples and features; returns (w, b, losses)."""
    raise NotImplementedError("loops over samples i and features j for r, the gradients, the loss")
