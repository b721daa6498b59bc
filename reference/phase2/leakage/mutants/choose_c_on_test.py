"""Mutant (multi-test): C is chosen by scoring every candidate on the test rows, and the
best test score is returned."""
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
import numpy as np


def evaluate(X, y, seed):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25,
                                                        random_state=seed, stratify=y)
    best = 0.0
    for c in (0.001, 0.01, 0.1, 1.0, 10.0, 100.0):
        model = make_pipeline(SimpleImputer(), StandardScaler(),
                              LogisticRegression(C=c, max_iter=1000))
        model.fit(X_train, y_train)
        best = max(best, model.score(X_test, y_test))
    return float(best)


def cross_validate_selected(X, y, seed):
    model = make_pipeline(SelectKBest(f_classif, k=5), LogisticRegression(max_iter=1000))
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    return float(cross_val_score(model, X, y, cv=cv).mean())

