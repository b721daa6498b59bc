"""phase2/time-series-split: features from the past only, evaluated walking forward.

Run `grade check phase2/time-series-split` for the public tests and
`grade submit phase2/time-series-split` for the full grading.
"""

import numpy as np  # noqa: F401
import pandas as pd  # noqa: F401
from sklearn.linear_model import Ridge  # noqa: F401
from sklearn.pipeline import make_pipeline  # noqa: F401
from sklearn.preprocessing import StandardScaler  # noqa: F401


def make_features(prices):
    """Features at each date from the closes up to that date only (same index as prices)."""
    raise NotImplementedError


def walk_forward_splits(n, n_splits, min_train):
    """[(train_idx, test_idx), ...]: expanding training window, contiguous test blocks."""
    raise NotImplementedError


def walk_forward_score(prices, n_splits):
    """Mean absolute error of a Ridge forecast of tomorrow's return, walking forward."""
    raise NotImplementedError
