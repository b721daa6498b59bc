"""The names the analysis knows: library classes and functions by role, and naming habits."""

from __future__ import annotations

import re

# ---------------------------------------------------------------- library names by role

TRANSFORMERS = {
    "StandardScaler", "MinMaxScaler", "RobustScaler", "MaxAbsScaler", "SimpleImputer",
    "KNNImputer", "IterativeImputer", "OneHotEncoder", "OrdinalEncoder", "PCA", "TruncatedSVD",
    "QuantileTransformer", "PowerTransformer", "KBinsDiscretizer", "TfidfVectorizer",
    "CountVectorizer", "TfidfTransformer", "KernelPCA", "IncrementalPCA", "FastICA", "NMF",
    "FactorAnalysis", "Nystroem"}
SELECTORS = {
    "SelectKBest", "SelectPercentile", "VarianceThreshold", "RFE", "RFECV", "SelectFromModel",
    "SequentialFeatureSelector", "GenericUnivariateSelect", "SelectFpr", "SelectFdr",
    "SelectFwe"}
TARGET_ENCODERS = {
    "TargetEncoder", "MEstimateEncoder", "LeaveOneOutEncoder", "CatBoostEncoder",
    "WOEEncoder", "JamesSteinEncoder", "GLMMEncoder"}
OVERSAMPLERS = {
    "SMOTE", "RandomOverSampler", "ADASYN", "BorderlineSMOTE", "SVMSMOTE", "SMOTENC",
    "SMOTEN", "KMeansSMOTE", "SMOTETomek", "SMOTEENN"}
#: Fitted only in name: what they learn does not depend on which rows they saw.
STATELESS = {
    "FunctionTransformer", "Normalizer", "PolynomialFeatures", "Binarizer", "SplineTransformer",
    "LabelEncoder", "LabelBinarizer", "MultiLabelBinarizer", "HashingVectorizer",
    "RandomUnderSampler"}
PIPELINES = {
    "Pipeline", "make_pipeline", "ColumnTransformer", "make_column_transformer",
    "FeatureUnion", "make_union", "TransformedTargetRegressor"}
SEARCHES = {
    "GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV",
    "BayesSearchCV"}
SPLITTERS = {
    "KFold", "StratifiedKFold", "GroupKFold", "ShuffleSplit", "StratifiedShuffleSplit",
    "RepeatedKFold", "RepeatedStratifiedKFold", "TimeSeriesSplit", "LeaveOneOut",
    "GroupShuffleSplit", "StratifiedGroupKFold", "LeaveOneGroupOut", "LeavePGroupsOut",
    "PredefinedSplit"}
ALWAYS_SHUFFLED = {"ShuffleSplit", "StratifiedShuffleSplit", "RepeatedKFold",
                   "RepeatedStratifiedKFold", "GroupShuffleSplit"}
CV_CONSUMERS = {"cross_val_score", "cross_validate", "cross_val_predict", "learning_curve",
                "validation_curve", "permutation_test_score"}
SCORE_FUNCS = {"mutual_info_classif", "mutual_info_regression", "f_classif", "f_regression",
               "chi2", "r_regression", "f_oneway"}
FRAME_CONSTRUCTORS = {"DataFrame", "Series", "array", "asarray", "Index", "matrix"}
STATS = {"mean", "std", "var", "median", "min", "max", "quantile", "sem", "mad", "nanmean",
         "nanstd", "nanvar", "nanmedian", "percentile", "nanpercentile", "nanquantile",
         "amin", "amax", "nanmin", "nanmax", "ptp", "average"}
APPLY_STAT = {"fillna", "clip", "sub", "subtract", "div", "divide", "truediv", "add", "mul",
              "multiply", "where", "mask", "replace", "combine_first"}
KEEP_COLUMNS = {"copy", "reset_index", "sort_values", "sort_index", "dropna", "astype",
                "rename", "infer_objects", "convert_dtypes", "set_index", "ffill",
                "bfill", "drop_duplicates"}
ROW_METHODS = {"head", "tail", "sample", "query", "nlargest", "nsmallest", "take"}
PREDICT = {"predict", "predict_proba", "predict_log_proba", "decision_function"}
METRIC = re.compile(r".*(_score|_error|_loss)$|accuracy|^f1|^precision|^recall|^roc_auc|"
                    r"^r2|^confusion_matrix$|^classification_report$|^matthews")
NOT_METRIC = {"make_scorer", "get_scorer", "check_scoring", "cross_val_score"}
RANDOM = {"rand", "randn", "normal", "uniform", "random", "random_sample", "standard_normal",
          "randint", "integers", "multivariate_normal", "poisson", "binomial", "exponential"}
MODULES = {"np", "numpy", "pd", "pandas", "sklearn", "scipy", "stats", "plt", "sns",
           "math", "torch", "tf", "random", "os", "sys", "json", "pickle", "joblib",
           "imblearn", "xgb", "lgb", "datasets", "metrics"}
SELECTING = {"max", "min", "argmax", "argmin", "nanargmax", "nanargmin", "idxmax", "idxmin",
             "sorted", "sort_values", "nlargest", "nsmallest", "sort", "argsort"}
#: Calls that return where the best value is, not the value itself.
POSITIONS = {"argmax", "argmin", "nanargmax", "nanargmin", "idxmax", "idxmin", "index"}
# ---------------------------------------------------------------- naming habits

TARGET_NAME = re.compile(r"y|y_?(tr|te|train|test|val|valid|all|full|\d+)\w*|"
                         r"(target|label|labels)(_\w*)?", re.IGNORECASE)
TARGET_COL = re.compile(r"y|target|label|labels|class|outcome", re.IGNORECASE)
DATE_LIKE = re.compile(r"date|time|day|month|year|week|hour|period|^ds$", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def name_side(name: str) -> str | None:
    """The side of a split a variable's name claims ("X_train", "Xte", "df_val")."""
    tokens = [t.lower() for t in _TOKEN.findall(name.rsplit(".", 1)[-1])]
    if any(re.fullmatch(r"[xy]?(train\w*|training|trn|tr)", t) for t in tokens):
        return "train"
    if any(re.fullmatch(r"[xy]?(test\w*|tst|te|holdout|heldout)", t) for t in tokens):
        return "test"
    if any(re.fullmatch(r"[xy]?(val|valid|validation|va)", t) for t in tokens):
        return "val"
    return None
