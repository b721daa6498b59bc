"""Mutant: no grid search; C keeps its default of 1.0."""
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def build_pipeline(numeric, categorical):
    prepare = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), categorical)])
    return Pipeline([("prepare", prepare), ("model", LogisticRegression(max_iter=1000))])


def split(df, target):
    X = df.drop(columns=[target])
    numeric = X.select_dtypes("number").columns.tolist()
    return X, df[target], numeric, [c for c in X.columns if c not in numeric]


def nested_cv_score(df, target, seed):
    X, y, numeric, categorical = split(df, target)
    outer = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    return float(cross_val_score(build_pipeline(numeric, categorical), X, y, cv=outer).mean())


def fit_and_holdout(df_train, target, df_holdout, seed):
    X, y, numeric, categorical = split(df_train, target)
    return build_pipeline(numeric, categorical).fit(X, y).predict(df_holdout)
