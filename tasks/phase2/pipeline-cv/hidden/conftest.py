"""The grader's own computation for phase2/pipeline-cv: the recipe of the description,
written again here and run in the grader (one BLAS thread, so that a busy grading machine
is not oversubscribed), plus data made to expose particular mistakes.
"""

from types import SimpleNamespace

import pytest
from threadpoolctl import threadpool_limits

C_GRID = (0.01, 0.1, 1.0)
OUTER_FOLDS, INNER_FOLDS = 3, 2


def recipe(numeric, categorical):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prepare = ColumnTransformer([
        ("num", Pipeline([("fill", SimpleImputer(strategy="median")),
                          ("scale", StandardScaler())]), list(numeric)),
        ("cat", Pipeline([("fill", SimpleImputer(strategy="most_frequent")),
                          ("encode", OneHotEncoder(handle_unknown="ignore"))]),
         list(categorical)),
    ])
    return Pipeline([("prepare", prepare), ("model", LogisticRegression(max_iter=1000))])


def folds(seed, n_splits=OUTER_FOLDS):
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)


def split(frame, target):
    X = frame.drop(columns=[target])
    numeric = X.select_dtypes("number").columns.tolist()
    return X, frame[target], numeric, [c for c in X.columns if c not in numeric]


def search(numeric, categorical, seed):
    from sklearn.model_selection import GridSearchCV

    return GridSearchCV(recipe(numeric, categorical), {"model__C": list(C_GRID)},
                        cv=folds(seed, INNER_FOLDS))


def nested_score(frame, target, seed):
    """Mean outer-fold accuracy of the tuned recipe (the value nested_cv_score returns)."""
    from sklearn.model_selection import cross_val_score

    X, y, numeric, categorical = split(frame, target)
    with threadpool_limits(1):
        return float(cross_val_score(search(numeric, categorical, seed), X, y,
                                     cv=folds(seed)).mean())


def holdout_predictions(train, target, holdout, seed):
    X, y, numeric, categorical = split(train, target)
    with threadpool_limits(1):
        return search(numeric, categorical, seed).fit(X, y).predict(holdout[X.columns])


def fitted_recipe_predictions(train, target, rows):
    X, y, numeric, categorical = split(train, target)
    with threadpool_limits(1):
        return recipe(numeric, categorical).fit(X, y).predict(rows[X.columns])


def outer_test_rows(frame, target, seed, fold=0):
    """Positions of the rows the outer loop scores in its ``fold``-th fold."""
    X, y, _, _ = split(frame, target)
    return list(folds(seed).split(X, y))[fold][1]


def with_unseen_city(frame, rng, share=0.15, city="Marseille"):
    """A copy where a share of the rows moved to a city no training frame has."""
    out = frame.copy()
    out.loc[rng.random(len(out)) < share, "city"] = city
    return out


@pytest.fixture
def oracle():
    """The grader-side recipe and data makers (see the module docstring)."""
    return SimpleNamespace(nested_score=nested_score, holdout_predictions=holdout_predictions,
                           fitted_recipe_predictions=fitted_recipe_predictions,
                           outer_test_rows=outer_test_rows, with_unseen_city=with_unseen_city)
