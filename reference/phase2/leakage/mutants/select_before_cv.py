"""Mutant: SelectKBest chooses the features on all rows before cross_val_score."""
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def evaluate(X, y, seed):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25,
                                                        random_state=seed, stratify=y)
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(X_train, y_train)
    return float(model.score(X_test, y_test))


def cross_validate_selected(X, y, seed):
    X_selected = SelectKBest(f_classif, k=5).fit_transform(X, y)
    return float(cross_val_score(LogisticRegression(max_iter=1000), X_selected, y, cv=5).mean())
