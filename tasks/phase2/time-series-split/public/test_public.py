"""Public tests for phase2/time-series-split: read them, run them with `grade check`.

The prices come from `make_prices` in the task's conftest.py; the hidden tests use other
seeds and lengths.
"""

import numpy as np
import pandas as pd

from harness.checks.outputs import check_python_float


def test_make_features_shape(submission, prices):
    series = prices.make(0, n=120)
    features = submission.make_features(series)
    assert isinstance(features, pd.DataFrame), f"returned {type(features).__name__}"
    assert features.index.equals(series.index), "the index must be the index of prices"
    assert features.shape[1] >= 1, "no feature columns"
    assert all(pd.api.types.is_numeric_dtype(t) for t in features.dtypes), "non-numeric column"
    late = [c for c in features.columns if features[c].iloc[30:].isna().any()]
    assert not late, f"missing values after the 30th row in {late} (a window reaching ahead?)"


def test_walk_forward_splits_shape(submission):
    splits = submission.walk_forward_splits(20, 3, 8)
    assert isinstance(splits, list) and len(splits) == 3, "expected a list of 3 folds"
    for train, test in splits:
        for idx in (np.asarray(train), np.asarray(test)):
            assert idx.ndim == 1 and idx.dtype.kind in "iu", "indices are 1-D integer arrays"


def test_walk_forward_score_returns_a_float(submission, prices):
    score = submission.walk_forward_score(prices.make(1, n=200), 3)
    check_python_float(score, "walk_forward_score")  # float(...): np.float64 is one too
    assert 0.0 < score < 0.1, f"a mean absolute error of {score} is not plausible here"
