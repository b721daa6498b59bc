"""phase2/pipeline-cv: one Pipeline, tuned with GridSearchCV, scored with nested CV.

Run `grade check phase2/pipeline-cv` for the public tests and
`grade submit phase2/pipeline-cv` for the full grading.
"""

from sklearn.compose import ColumnTransformer  # noqa: F401
from sklearn.impute import SimpleImputer  # noqa: F401
from sklearn.linear_model import LogisticRegression  # noqa: F401
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score  # noqa: F401
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: F401
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: F401

C_GRID = [0.01, 0.1, 1.0]


def build_pipeline(numeric, categorical):
    """Unfitted Pipeline: ColumnTransformer (impute+scale, impute+one-hot), LogisticRegression."""
    raise NotImplementedError


def nested_cv_score(df, target, seed):
    """Mean outer-fold accuracy of GridSearchCV(pipeline, C grid) under 3-fold outer CV."""
    raise NotImplementedError


def fit_and_holdout(df_train, target, df_holdout, seed):
    """Fit the GridSearchCV on df_train; return its 0/1 predictions for df_holdout."""
    raise NotImplementedError
