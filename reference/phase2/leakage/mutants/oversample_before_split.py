"""Mutant (overlap): minority rows are duplicated before the split, so copies land on both
sides."""
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
import numpy as np


def evaluate(X, y, seed):
    minority = np.flatnonzero(y == np.argmin(np.bincount(y)))
    X = np.concatenate([X, X[minority], X[minority]])
    y = np.concatenate([y, y[minority], y[minority]])
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25,
                                                        random_state=seed, stratify=y)
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(X_train, y_train)
    return float(model.score(X_test, y_test))


def cross_validate_selected(X, y, seed):
    model = make_pipeline(SelectKBest(f_classif, k=5), LogisticRegression(max_iter=1000))
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    return float(cross_val_score(model, X, y, cv=cv).mean())

