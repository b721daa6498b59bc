"""Mutant: preprocessing and SelectKBest are fitted on all the rows before the nested CV."""
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

C_GRID = [0.01, 0.1, 1.0]


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
    prepared = build_pipeline(numeric, categorical).named_steps["prepare"].fit_transform(X)
    selected = SelectKBest(f_classif, k=8).fit_transform(prepared, y)
    inner = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    search = GridSearchCV(LogisticRegression(max_iter=1000), {"C": C_GRID}, cv=inner)
    outer = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    return float(cross_val_score(search, selected, y, cv=outer).mean())


def fit_and_holdout(df_train, target, df_holdout, seed):
    X, y, numeric, categorical = split(df_train, target)
    inner = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    search = GridSearchCV(build_pipeline(numeric, categorical), {"model__C": C_GRID}, cv=inner)
    return search.fit(X, y).predict(df_holdout)
