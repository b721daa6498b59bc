"""Public tests for phase2/leakage: read them, run them with `grade check`."""

import numpy as np
from sklearn.datasets import make_classification

from harness.checks.outputs import check_python_float


def data(seed, missing=True):
    X, y = make_classification(n_samples=240, n_features=20, n_informative=4,
                               n_redundant=2, class_sep=2.0, flip_y=0.0,
                               random_state=seed)
    if missing:
        rng = np.random.default_rng(seed)
        X[rng.random(X.shape) < 0.05] = np.nan
    return X, y


def test_evaluate_returns_sane_accuracy(submission):
    X, y = data(0)
    acc = submission.evaluate(X, y, 0)
    check_python_float(acc, "evaluate")  # float(...): np.float64 is one, np.float32 is not
    assert 0.6 <= acc <= 1.0, f"accuracy {acc} is not plausible for this data"


def test_cv_returns_sane_accuracy(submission):
    X, y = data(1, missing=False)
    acc = submission.cross_validate_selected(X, y, 0)
    check_python_float(acc, "cross_validate_selected")
    assert 0.6 <= acc <= 1.0, f"accuracy {acc} is not plausible for this data"


def test_evaluate_does_not_leak(leakage):
    X, y = data(2)
    leakage.check("evaluate", X, y, 0)


def test_cv_does_not_leak(leakage):
    X, y = data(3, missing=False)
    leakage.check("cross_validate_selected", X, y, 0)
