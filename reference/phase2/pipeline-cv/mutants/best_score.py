"""Mutant: reports best_score_ of a search fitted on every row instead of nested CV."""
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

C_GRID = [0.01, 0.1, 1.0]


def build_pipeline(numeric, categorical):
    prepare = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), categorical)])
    return Pipeline([("prepare", prepare), ("model", LogisticRegression(max_iter=1000))])


def search(df, target, seed):
    X, y = df.drop(columns=[target]), df[target]
    numeric = X.select_dtypes("number").columns.tolist()
    categorical = [c for c in X.columns if c not in numeric]
    inner = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    model = GridSearchCV(build_pipeline(numeric, categorical), {"model__C": C_GRID}, cv=inner)
    return model.fit(X, y)


def nested_cv_score(df, target, seed):
    return float(search(df, target, seed).best_score_)


def fit_and_holdout(df_train, target, df_holdout, seed):
    return search(df_train, target, seed).predict(df_holdout)
