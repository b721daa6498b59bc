"""Hidden tests for phase2/time-series-split.

Expected values are computed in the grader (conftest.py in this folder) from what the
learner's functions return: features, splits and scores cross as data only.
"""

import numpy as np
import pandas as pd
import pytest

from harness.checks import ShownToLearner
from harness.checks.outputs import check_python_float


def features_of(submission, prices, what):
    features = submission.make_features(prices)
    if not isinstance(features, pd.DataFrame) or not features.index.equals(prices.index):
        raise ShownToLearner(f"{what}: make_features must return a DataFrame with the same "
                             "index as prices")
    return features


def test_features_ignore_the_future(submission, prices, oracle, rng):
    series = prices.make(211, n=300)
    base = features_of(submission, series, "make_features(prices)")
    for t in (40, 150, 260):
        day = series.index[t].date()
        changed = features_of(submission, oracle.other_future(series, t, rng),
                              "make_features on another future")
        where = oracle.first_difference(changed, base, t + 1)
        if where is not None:
            raise ShownToLearner(
                f"make_features: the value of {where[1]!r} on {where[0].date()} changed when "
                f"only the prices after {day} changed, so it is computed from later prices "
                "(shift(-k), rolling(center=True), bfill, or a statistic of the whole series)")
        short = features_of(submission, series.iloc[:t + 1], "make_features on a shorter series")
        where = oracle.first_difference(short, base, t + 1)
        if where is not None:
            raise ShownToLearner(
                f"make_features: the value of {where[1]!r} on {where[0].date()} changed when "
                f"the series ended on {day} instead of later, so it depends on later rows")


CASES = [(100, 4, 30), (251, 5, 100), (50, 1, 10), (37, 3, 20)]


def test_walk_forward_splits_properties(submission, oracle):
    for n, n_splits, min_train in CASES:
        splits = submission.walk_forward_splits(n, n_splits, min_train)
        problems = oracle.split_problems(splits, n, n_splits, min_train)
        if problems:
            raise ShownToLearner("; ".join(problems[:3]))


def test_walk_forward_splits_match_the_description(submission, oracle):
    for case in CASES:
        got = submission.walk_forward_splits(*case)
        want = oracle.spec_splits(*case)
        assert len(got) == len(want)
        for (train, test), (train_w, test_w) in zip(got, want, strict=True):
            assert np.array_equal(np.asarray(train), train_w)
            assert np.array_equal(np.asarray(test), test_w)


def test_walk_forward_score_matches(submission, prices, oracle):
    series = prices.make(212, n=420)
    want = oracle.walk_forward_mae(features_of(submission, series, "make_features"), series, 5)
    got = submission.walk_forward_score(series, 5)
    check_python_float(got, "walk_forward_score")  # fixed by the public tests
    assert got == pytest.approx(want, rel=1e-6)


def test_walk_forward_score_does_not_leak(submission, leakage, oracle):
    # The returns' dependence on the day before flips sign halfway through the series: a
    # model trained on the past cannot know, one that saw later rows can.
    series = oracle.regime_prices(213)
    got = leakage.check("walk_forward_score", series, 4)
    honest = oracle.walk_forward_mae(features_of(submission, series, "make_features"), series, 4)
    check_python_float(got, "walk_forward_score")
    if not got >= 0.99 * honest:
        raise ShownToLearner(
            "walk_forward_score scores better than an honest walk-forward can with your own "
            "features on a series whose behaviour changes halfway: the models were trained on "
            "rows that come after the rows they were scored on")
