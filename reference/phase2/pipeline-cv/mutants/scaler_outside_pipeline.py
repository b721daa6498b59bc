"""Mutant: the numeric columns are standardised once, on all the rows, outside the pipeline."""
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

C_GRID = [0.01, 0.1, 1.0]


def build_pipeline(numeric, categorical):
    prepare = ColumnTransformer([
        ("num", SimpleImputer(strategy="median"), list(numeric)),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), list(categorical))])
    return Pipeline([("prepare", prepare), ("model", LogisticRegression(max_iter=1000))])


def columns(X):
    numeric = X.select_dtypes("number").columns.tolist()
    return numeric, [c for c in X.columns if c not in numeric]


def tuned_model(numeric, categorical, seed):
    inner = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    return GridSearchCV(build_pipeline(numeric, categorical), {"model__C": C_GRID}, cv=inner)


def nested_cv_score(df, target, seed):
    X, y = df.drop(columns=[target]), df[target]
    numeric, categorical = columns(X)
    X[numeric] = StandardScaler().fit_transform(X[numeric])
    outer = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    return float(cross_val_score(tuned_model(numeric, categorical, seed), X, y, cv=outer).mean())


def fit_and_holdout(df_train, target, df_holdout, seed):
    X, y = df_train.drop(columns=[target]), df_train[target]
    numeric, categorical = columns(X)
    holdout = df_holdout[X.columns].copy()
    scaler = StandardScaler().fit(pd.concat([X[numeric], holdout[numeric]]))
    X[numeric] = scaler.transform(X[numeric])
    holdout[numeric] = scaler.transform(holdout[numeric])
    return tuned_model(numeric, categorical, seed).fit(X, y).predict(holdout)
