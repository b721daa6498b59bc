"""phase2/leakage: evaluate a model without letting the test rows reach training."""

from sklearn.feature_selection import SelectKBest, f_classif  # noqa: F401
from sklearn.impute import SimpleImputer  # noqa: F401
from sklearn.linear_model import LogisticRegression  # noqa: F401
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split  # noqa: F401
from sklearn.pipeline import make_pipeline  # noqa: F401
from sklearn.preprocessing import StandardScaler  # noqa: F401


def evaluate(X, y, seed):
    """Split, impute, scale, fit a LogisticRegression; return test accuracy as a float."""
    raise NotImplementedError


def cross_validate_selected(X, y, seed):
    """SelectKBest(k=5) + LogisticRegression under 5-fold stratified CV; mean accuracy."""
    raise NotImplementedError
