"""Data for the tests of phase2/time-series-split: daily prices, made in the grader.

``make_prices(seed, n)`` returns a frame with a daily ``DatetimeIndex`` (named ``date``)
and one column ``close``: a geometric random walk with a small drift and a weekly pattern
in its returns (some weekdays tend to go up, others down). The same seed gives the same
series; the hidden tests use seeds and lengths of their own.
"""

import numpy as np
import pandas as pd
import pytest

#: mean daily log-return added on each weekday (Monday first)
WEEKDAY_EFFECT = (0.004, -0.002, 0.001, -0.003, 0.003, -0.001, -0.002)


def make_prices(seed, n=400, start="2021-01-04", drift=0.0003, volatility=0.01):
    """Daily closes: exp of a cumulated drift + weekday effect + Gaussian noise, from 100."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=n, freq="D", name="date")
    weekday = np.asarray(WEEKDAY_EFFECT)[dates.dayofweek]
    log_returns = drift + weekday + volatility * rng.standard_normal(n)
    log_returns[0] = 0.0
    return pd.DataFrame({"close": 100.0 * np.exp(np.cumsum(log_returns))}, index=dates)


@pytest.fixture
def prices():
    """``prices.make(seed, n)``: see the module docstring."""
    from types import SimpleNamespace

    return SimpleNamespace(make=make_prices)
