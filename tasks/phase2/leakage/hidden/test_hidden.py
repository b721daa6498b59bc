"""Hidden tests for phase2/leakage."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from harness.checks.outputs import check_python_float


def data(rng, n=300, missing=True):
    X, y = make_classification(n_samples=n, n_features=15, n_informative=5, class_sep=2.0,
                               random_state=int(rng.integers(1 << 30)))
    X = X * rng.uniform(0.5, 50, size=X.shape[1]) + rng.normal(0, 10, size=X.shape[1])
    if missing:
        X[rng.random(X.shape) < 0.08] = np.nan
    return X, y


def test_evaluate_hidden(submission, rng):
    X, y = data(rng)
    seed = 7
    tr, te, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    want = make_pipeline(SimpleImputer(), StandardScaler(),
                         LogisticRegression(max_iter=1000)).fit(tr, ytr).score(te, yte)
    assert submission.evaluate(X, y, seed) == pytest.approx(want, abs=0.08)


@pytest.mark.parametrize("which", ["evaluate", "cross_validate_selected"])
def test_no_leak_on_other_data(leakage, rng, which):
    X, y = data(rng, n=400, missing=which == "evaluate")
    result = leakage.check(which, X, y, 3)
    check_python_float(result, which)  # fixed by the public tests
    assert 0.0 <= result <= 1.0
