"""Mutant: fit_and_holdout fits the ColumnTransformer on train and hold-out rows together."""
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

C_GRID = [0.01, 0.1, 1.0]


def preprocessor(numeric, categorical):
    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), categorical)])


def build_pipeline(numeric, categorical):
    return Pipeline([("prepare", preprocessor(numeric, categorical)),
                     ("model", LogisticRegression(max_iter=1000))])


def split(df, target):
    X = df.drop(columns=[target])
    numeric = X.select_dtypes("number").columns.tolist()
    return X, df[target], numeric, [c for c in X.columns if c not in numeric]


def nested_cv_score(df, target, seed):
    X, y, numeric, categorical = split(df, target)
    inner = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    search = GridSearchCV(build_pipeline(numeric, categorical), {"model__C": C_GRID}, cv=inner)
    outer = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    return float(cross_val_score(search, X, y, cv=outer).mean())


def fit_and_holdout(df_train, target, df_holdout, seed):
    X, y, numeric, categorical = split(df_train, target)
    holdout = df_holdout[X.columns]
    # every city, including the hold-out's new ones, gets a column
    prepare = preprocessor(numeric, categorical).fit(pd.concat([X, holdout]))
    inner = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    search = GridSearchCV(LogisticRegression(max_iter=1000), {"C": C_GRID}, cv=inner)
    return search.fit(prepare.transform(X), y).predict(prepare.transform(holdout))
