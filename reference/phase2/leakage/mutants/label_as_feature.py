"""Mutant (target): the label is appended to the features (a column that is the label in
disguise)."""
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
import numpy as np


def evaluate(X, y, seed):
    X = np.column_stack([X, 2.0 * y + 1.0])
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25,
                                                        random_state=seed, stratify=y)
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(X_train, y_train)
    return float(model.score(X_test, y_test))


def cross_validate_selected(X, y, seed):
    model = make_pipeline(SelectKBest(f_classif, k=5), LogisticRegression(max_iter=1000))
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    return float(cross_val_score(model, X, y, cv=cv).mean())

