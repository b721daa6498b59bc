"""Reference for phase2/pipeline-cv: one Pipeline, tuned inside each outer fold."""
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

C_GRID = [0.01, 0.1, 1.0]


def build_pipeline(numeric, categorical):
    numeric_steps = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical_steps = make_pipeline(SimpleImputer(strategy="most_frequent"),
                                      OneHotEncoder(handle_unknown="ignore"))
    prepare = ColumnTransformer([("num", numeric_steps, list(numeric)),
                                 ("cat", categorical_steps, list(categorical))])
    return Pipeline([("prepare", prepare), ("model", LogisticRegression(max_iter=1000))])


def features_and_target(df, target):
    X = df.drop(columns=[target])
    numeric = X.select_dtypes("number").columns.tolist()
    categorical = [c for c in X.columns if c not in numeric]
    return X, df[target], numeric, categorical


def tuned_model(numeric, categorical, seed):
    inner = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    return GridSearchCV(build_pipeline(numeric, categorical), {"model__C": C_GRID}, cv=inner)


def nested_cv_score(df, target, seed):
    X, y, numeric, categorical = features_and_target(df, target)
    outer = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    return float(cross_val_score(tuned_model(numeric, categorical, seed), X, y, cv=outer).mean())


def fit_and_holdout(df_train, target, df_holdout, seed):
    X, y, numeric, categorical = features_and_target(df_train, target)
    model = tuned_model(numeric, categorical, seed).fit(X, y)
    return model.predict(df_holdout[X.columns])
