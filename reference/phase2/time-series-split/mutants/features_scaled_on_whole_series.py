"""Mutant: make_features standardises each feature with the mean and std of the whole series."""
import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def make_features(prices):
    close = prices["close"]
    returns = close.pct_change()
    features = {f"return_lag{k}": returns.shift(k) for k in range(7)}
    features["mean_return_5"] = returns.rolling(5).mean()
    features["volatility_10"] = returns.rolling(10).std()
    features["momentum_20"] = close / close.rolling(20).mean() - 1.0
    frame = pd.DataFrame(features, index=prices.index)
    return (frame - frame.mean()) / frame.std()


def walk_forward_splits(n, n_splits, min_train):
    size = (n - min_train) // n_splits
    if size < 1:
        raise ValueError(f"{n} rows cannot give {n_splits} test blocks after {min_train}")
    start = n - n_splits * size
    return [(np.arange(0, start + k * size), np.arange(start + k * size, start + (k + 1) * size))
            for k in range(n_splits)]


def walk_forward_score(prices, n_splits):
    features = make_features(prices)
    target = prices["close"].pct_change().shift(-1)  # tomorrow's return: the label
    data = features.assign(target=target).dropna()
    X, y = data[features.columns], data["target"]
    errors = []
    for train, test in walk_forward_splits(len(X), n_splits, len(X) // 2):
        model = make_pipeline(StandardScaler(), Ridge(alpha=1.0))
        model.fit(X.iloc[train], y.iloc[train])
        errors.append(np.abs(model.predict(X.iloc[test]) - y.iloc[test].to_numpy()))
    return float(np.concatenate(errors).mean())
