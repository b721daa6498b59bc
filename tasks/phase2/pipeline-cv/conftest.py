"""Data for the tests of phase2/pipeline-cv: a mixed-type churn table, made in the grader.

``make_churn(seed, n)`` returns a frame with numeric columns holding missing values, two
text columns (``city``, ``plan``; ``city`` also has gaps) and a binary target ``churn``
(0/1). The same seed gives the same frame; the hidden tests use seeds, sizes and
categories of their own.
"""

import numpy as np
import pandas as pd
import pytest

TARGET = "churn"
CITIES = ("Lyon", "Paris", "Nantes", "Lille", "Nice")
PLANS = ("basic", "plus", "pro")
NOISE_LOC = (-40.0, 3.0, 250.0, 0.0, 12.0, -7.5, 1000.0, 0.5)
NOISE_SCALE = (25.0, 0.5, 60.0, 1.0, 8.0, 3.0, 200.0, 0.1)


def make_churn(seed, n=200, cities=CITIES, n_noise=4, missing=0.08, signal=2.0):
    """A churn table: numeric columns with NaN, text columns ``city`` and ``plan``; the
    larger ``signal``, the better the features predict ``churn``."""
    rng = np.random.default_rng(seed)
    numeric = {
        "tenure": rng.gamma(2.0, 12.0, n),
        "monthly": rng.normal(60.0, 20.0, n),
        "support_calls": rng.poisson(2.0, n).astype(float),
        "usage_gb": rng.lognormal(3.0, 0.7, n),
    }
    for i in range(n_noise):  # uninformative, on scales of their own (the same every time)
        numeric[f"noise{i}"] = rng.normal(NOISE_LOC[i % 8], NOISE_SCALE[i % 8], n)
    city = rng.choice(list(cities), n)
    plan = rng.choice(list(PLANS), n, p=[0.5, 0.3, 0.2])
    city_effect = dict(zip(cities, np.linspace(-1.2, 1.2, len(cities)), strict=True))
    logit = signal * (-0.07 * (numeric["tenure"] - 24.0) + 0.03 * (numeric["monthly"] - 60.0)
                      + 0.5 * (numeric["support_calls"] - 2.0)
                      + np.array([city_effect[c] for c in city])
                      + np.where(plan == "basic", 0.6, -0.4))
    churn = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    frame = pd.DataFrame(numeric)
    for column in frame.columns:
        frame.loc[rng.random(n) < missing, column] = np.nan
    frame["city"] = pd.Series(city, dtype="str")
    frame["plan"] = pd.Series(plan, dtype="str")
    frame.loc[rng.random(n) < missing, "city"] = np.nan
    frame[TARGET] = churn
    return frame


def split_columns(frame, target=TARGET):
    """(numeric, categorical) column names of the features, in the frame's order."""
    features = frame.drop(columns=[target]) if target in frame.columns else frame
    numeric = features.select_dtypes("number").columns.tolist()
    return numeric, [c for c in features.columns if c not in numeric]


@pytest.fixture
def churn():
    """The data helpers: ``churn.make(seed, n)``, ``churn.columns(frame)``, ``churn.TARGET``."""
    from types import SimpleNamespace

    return SimpleNamespace(make=make_churn, columns=split_columns, TARGET=TARGET,
                           CITIES=CITIES, PLANS=PLANS)
