"""The grader's side of phase2/time-series-split: the evaluation of the description written
again (run with one BLAS thread), a property check of walk-forward splits, and series made
to expose a look at the future.
"""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits


def spec_splits(n, n_splits, min_train):
    """The splits of the description: equal test blocks, the last one ending at row n-1."""
    size = (n - min_train) // n_splits
    start = n - n_splits * size
    return [(np.arange(0, start + k * size), np.arange(start + k * size, start + (k + 1) * size))
            for k in range(n_splits)]


def walk_forward_mae(features, prices, n_splits):
    """The description's walk_forward_score, on features the learner's make_features gave."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    target = prices["close"].pct_change().shift(-1)
    data = features.assign(__target=target.to_numpy()).dropna()
    X, y = data.drop(columns=["__target"]).to_numpy(float), data["__target"].to_numpy()
    errors = []
    with threadpool_limits(1):
        for train, test in spec_splits(len(X), n_splits, len(X) // 2):
            model = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X[train], y[train])
            errors.append(np.abs(model.predict(X[test]) - y[test]))
    return float(np.concatenate(errors).mean())


def _ints(a):
    a = np.asarray(a)
    return a.ndim == 1 and a.size > 0 and a.dtype.kind in "iu"


def split_problems(splits, n, n_splits, min_train):
    """What is wrong with the splits a learner returned, in words (empty when sound)."""
    call = f"walk_forward_splits({n}, {n_splits}, {min_train})"
    if not isinstance(splits, list | tuple) or len(splits) != n_splits:
        count = len(splits) if isinstance(splits, list | tuple) else type(splits).__name__
        return [f"{call} returned {count} folds, not a list of {n_splits} (train, test) pairs"]
    problems, last_test_end, last_train = [], None, 0
    for k, pair in enumerate(splits):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            return [f"{call}: fold {k} is not a (train_idx, test_idx) pair"]
        train, test = (np.asarray(a) for a in pair)
        if not (_ints(train) and _ints(test)):
            return [f"{call}: fold {k} does not hold two non-empty 1-D integer arrays"]
        if train.min() < 0 or test.max() >= n:
            problems.append(f"{call}: fold {k} has indices outside 0..{n - 1}")
        if not np.array_equal(train, np.arange(train.size)):
            problems.append(f"{call}: fold {k}'s training rows are not 0, 1, ..., "
                            f"{train.size - 1} (an expanding window starts at the first row)")
        if not np.array_equal(test, np.arange(test[0], test[0] + test.size)):
            problems.append(f"{call}: fold {k}'s test rows are not one contiguous block")
        if train.max() >= test.min():
            problems.append(f"{call}: fold {k} trains on row {int(train.max())} but tests from "
                            f"row {int(test.min())}: every test row must come after every "
                            "training row")
        elif train.max() + 1 != test.min():
            problems.append(f"{call}: fold {k} leaves rows {int(train.max()) + 1}.."
                            f"{int(test.min()) - 1} between training and test unused")
        if k == 0 and train.size < min_train:
            problems.append(f"{call}: the first fold trains on {train.size} rows, fewer than "
                            f"min_train={min_train}")
        if last_test_end is not None and test.min() <= last_test_end:
            problems.append(f"{call}: fold {k}'s test block overlaps or precedes fold {k - 1}'s")
        if train.size < last_train:
            problems.append(f"{call}: fold {k} trains on fewer rows than fold {k - 1}")
        last_test_end, last_train = int(test.max()), train.size
    return problems


def regime_prices(seed, n=360, phi=0.7, volatility=0.01):
    """Daily closes whose returns follow today's return with slope +phi in the first half
    and -phi in the second: only a look at the future helps in the second half."""
    rng = np.random.default_rng(seed)
    r = np.zeros(n)
    for t in range(1, n):
        slope = phi if t < n // 2 else -phi
        r[t] = slope * r[t - 1] + volatility * rng.standard_normal()
    dates = pd.date_range("2022-03-01", periods=n, freq="D", name="date")
    return pd.DataFrame({"close": 100.0 * np.exp(np.cumsum(r))}, index=dates)


def other_future(prices, t, rng):
    """A copy with every close after position ``t`` replaced by a different random walk."""
    out = prices.copy()
    n = len(out)
    steps = 0.02 * rng.standard_normal(n - t - 1)
    out.iloc[t + 1:, 0] = out["close"].iloc[t] * np.exp(np.cumsum(steps))
    return out


def first_difference(got, want, upto):
    """(date, column) of the first feature value that differs in the first ``upto`` rows."""
    a, b = got.iloc[:upto], want.iloc[:upto]
    for column in want.columns:
        x, y = a[column].to_numpy(dtype=float), b[column].to_numpy(dtype=float)
        same = np.isclose(x, y, rtol=1e-9, atol=1e-12) | (np.isnan(x) & np.isnan(y))
        if not same.all():
            return a.index[int(np.flatnonzero(~same)[0])], column
    return None


@pytest.fixture
def oracle():
    """The grader-side helpers (see the module docstring)."""
    return SimpleNamespace(spec_splits=spec_splits, walk_forward_mae=walk_forward_mae,
                           split_problems=split_problems, regime_prices=regime_prices,
                           other_future=other_future, first_difference=first_difference)
