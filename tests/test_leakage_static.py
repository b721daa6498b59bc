"""The static leakage pass: each kind found at its line, and correct code left alone.

A snippet marks each line where a finding is expected with ``# leak: <kind>``; a snippet with
no mark must produce no finding at all.
"""

from __future__ import annotations

import re
import textwrap

import pytest

from harness.leakage import kinds
from harness.leakage.static import StaticFinding, analyse_cells, analyse_source

HEAD = """\
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.feature_selection import SelectKBest, mutual_info_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (GridSearchCV, KFold, TimeSeriesSplit, cross_val_score,
                                     train_test_split)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
"""
MARK = re.compile(r"#\s*leak:\s*([a-z-]+)")


def expected(source: str) -> list[tuple[str, int]]:
    return sorted((m.group(1), i) for i, line in enumerate(source.splitlines(), 1)
                  for m in [MARK.search(line)] if m)


def found(findings: list[StaticFinding]) -> list[tuple[str, int]]:
    return sorted((f.kind, f.line) for f in findings)


LEAKY = {
    "scaler_fit_transform_before_split": """
        df = pd.read_csv("data.csv")
        X = df.drop(columns="target")
        y = df["target"]
        X = StandardScaler().fit_transform(X)  # leak: preprocessing
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        model = LogisticRegression().fit(X_train, y_train)
        print(model.score(X_test, y_test))
    """,
    "scaler_fitted_on_all_then_applied_to_the_split": """
        X, y = load_data()
        scaler = StandardScaler()
        scaler.fit(X)  # leak: preprocessing
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        model = LogisticRegression().fit(scaler.transform(X_train), y_train)
        print(model.score(scaler.transform(X_test), y_test))
    """,
    "fillna_with_the_mean_of_all_rows": """
        df = pd.read_csv("houses.csv")
        df["area"] = df["area"].fillna(df["area"].mean())  # leak: preprocessing
        X, y = df[["area", "rooms"]], df["price"]
        X_train, X_test, y_train, y_test = train_test_split(X, y)
    """,
    "standardised_by_hand": """
        X, y = load_data()
        X = (X - X.mean(axis=0)) / X.std(axis=0)  # leak: preprocessing
        X_train, X_test, y_train, y_test = train_test_split(X, y)
    """,
    "numpy_mean_and_min_max_scaling": """
        X, y = make_data()
        mu = np.mean(X, axis=0)
        Xc = X - mu  # leak: preprocessing
        Xs = (Xc - Xc.min()) / (Xc.max() - Xc.min())  # leak: preprocessing
        X_train, X_test, y_train, y_test = train_test_split(Xs, y)
    """,
    "pca_before_cross_validation": """
        X, y = load_data()
        X_red = PCA(n_components=5).fit_transform(X)  # leak: preprocessing
        print(cross_val_score(LogisticRegression(), X_red, y, cv=5).mean())
    """,
    "selectkbest_before_cross_validation": """
        X, y = load_data()
        X_sel = SelectKBest(k=10).fit_transform(X, y)  # leak: feature-selection
        scores = cross_val_score(LogisticRegression(), X_sel, y, cv=5)
    """,
    "mutual_information_picks_the_columns": """
        X, y = load_data()
        mi = mutual_info_classif(X, y)  # leak: feature-selection
        top = np.argsort(mi)[-10:]
        X_train, X_test, y_train, y_test = train_test_split(X[:, top], y)
    """,
    "correlation_filter": """
        df = pd.read_csv("data.csv")
        corr = df.corr()["target"].abs()  # leak: feature-selection
        keep = corr[corr > 0.1].index.drop("target")
        X = df[keep]
        y = df["target"]
        X_train, X_test, y_train, y_test = train_test_split(X, y)
    """,
    "correlation_filter_in_a_loop_over_columns": """
        df = pd.read_csv("data.csv")
        X, y = df.drop(columns="target"), df["target"]
        selected = []
        for c in X.columns:
            if abs(X[c].corr(y)) > 0.2:  # leak: feature-selection
                selected.append(c)
        X_train, X_test, y_train, y_test = train_test_split(X[selected], y)
    """,
    "column_transformer_fitted_on_all_rows": """
        from sklearn.preprocessing import OneHotEncoder
        df = pd.read_csv("data.csv")
        X, y = df.drop(columns="target"), df["target"]
        pre = ColumnTransformer([("num", StandardScaler(), ["a"]), ("cat", OneHotEncoder(), ["c"])])
        Xp = pre.fit_transform(X)  # leak: preprocessing
        print(cross_val_score(LogisticRegression(), Xp, y).mean())
    """,
    "correlated_columns_dropped_using_all_rows": """
        df = pd.read_csv("data.csv")
        corr = df.drop(columns="target").corr().abs()  # leak: feature-selection
        upper = corr.where(np.triu(np.ones(corr.shape), k=1).astype(bool))
        to_drop = [c for c in upper.columns if any(upper[c] > 0.95)]
        df = df.drop(columns=to_drop)
        X, y = df.drop(columns="target"), df.target
        X_train, X_test, y_train, y_test = train_test_split(X, y)
    """,
    "feature_computed_from_a_target_named_by_attribute": """
        df = pd.read_csv("data.csv")
        df["double"] = df.price * 2  # leak: target
        X, y = df.drop(columns="price"), df.price
        X_train, X_test, y_train, y_test = train_test_split(X, y)
    """,
    "feature_computed_from_the_target": """
        df = pd.read_csv("data.csv")
        df["double"] = df["target"] * 2  # leak: target
        X = df.drop(columns="target")
        y = df["target"]
        X_train, X_test, y_train, y_test = train_test_split(X, y)
    """,
    "mean_target_encoding_with_groupby_transform": """
        df = pd.read_csv("data.csv")
        df["city_enc"] = df.groupby("city")["target"].transform("mean")  # leak: target
        X = df.drop(columns=["target", "city"])
        y = df["target"]
        scores = cross_val_score(LogisticRegression(), X, y)
    """,
    "mean_target_encoding_with_map": """
        df = pd.read_csv("data.csv")
        means = df.groupby("city")["price"].mean()  # leak: target
        df["city_enc"] = df["city"].map(means)
        X = df.drop(columns=["price", "city"])
        y = df["price"]
        X_train, X_test, y_train, y_test = train_test_split(X, y)
    """,
    "label_copied_into_the_features": """
        X, y = load_data()
        X["f"] = y  # leak: target
        X_train, X_test, y_train, y_test = train_test_split(X, y)
    """,
    "target_encoder_on_all_rows": """
        from sklearn.preprocessing import TargetEncoder
        X, y = load_data()
        X_enc = TargetEncoder().fit_transform(X, y)  # leak: target
        X_train, X_test, y_train, y_test = train_test_split(X_enc, y)
    """,
    "model_fitted_on_all_rows_scored_on_test": """
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        model = LogisticRegression()
        model.fit(X, y)  # leak: overlap
        print(model.score(X_test, y_test))
    """,
    "oversampled_with_concat_before_split": """
        df = pd.read_csv("data.csv")
        df = pd.concat([df, df[df["target"] == 1]])  # leak: overlap
        X, y = df.drop(columns="target"), df["target"]
        X_train, X_test, y_train, y_test = train_test_split(X, y)
    """,
    "smote_before_split": """
        from imblearn.over_sampling import SMOTE
        X, y = load_data()
        X_res, y_res = SMOTE().fit_resample(X, y)  # leak: overlap
        X_train, X_test, y_train, y_test = train_test_split(X_res, y_res)
    """,
    "resample_with_replacement_before_split": """
        from sklearn.utils import resample
        df = pd.read_csv("data.csv")
        minority = df[df["target"] == 1]
        up = resample(minority, replace=True, n_samples=500)  # leak: overlap
        df = pd.concat([df[df["target"] == 0], up])
        X_train, X_test = train_test_split(df)
    """,
    "train_and_test_stacked_to_fit": """
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        model = LogisticRegression()
        model.fit(np.vstack([X_train, X_test]), np.concatenate([y_train, y_test]))  # leak: overlap
        print(accuracy_score(y_test, model.predict(X_test)))
    """,
    "best_k_chosen_on_the_test_set": """
        from sklearn.neighbors import KNeighborsClassifier
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        best, best_k = 0, None
        for k in range(1, 20):
            knn = KNeighborsClassifier(n_neighbors=k).fit(X_train, y_train)
            acc = knn.score(X_test, y_test)  # leak: multi-test
            if acc > best:
                best, best_k = acc, k
        print(best_k, best)
    """,
    "argmax_over_test_scores": """
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        scores = []
        for c in [0.01, 0.1, 1, 10]:
            m = LogisticRegression(C=c).fit(X_train, y_train)
            scores.append(accuracy_score(y_test, m.predict(X_test)))  # leak: multi-test
        print("best C", [0.01, 0.1, 1, 10][int(np.argmax(scores))])
    """,
    "best_score_of_a_search_on_all_rows": """
        X, y = load_data()
        search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression()),
                              {"logisticregression__C": [0.1, 1, 10]}, cv=5)
        search.fit(X, y)
        print("accuracy", search.best_score_)  # leak: multi-test
    """,
    "shuffled_split_of_a_time_series": """
        df = pd.read_csv("sales.csv", parse_dates=["date"], index_col="date")
        df["lag1"] = df["sales"].shift(1)
        df = df.dropna()
        X, y = df[["lag1"]], df["sales"]
        X_train, X_test, y_train, y_test = train_test_split(X, y)  # leak: temporal
    """,
    "shuffled_kfold_on_a_time_series": """
        df = pd.read_csv("sales.csv")
        df = df.set_index(pd.to_datetime(df["date"])).sort_index()
        X, y = df[["temp", "promo"]], df["sales"]
        cv = KFold(5, shuffle=True, random_state=0)  # leak: temporal
        print(cross_val_score(LogisticRegression(), X, y, cv=cv))
    """,
    "future_value_as_a_feature": """
        df = pd.read_csv("prices.csv", index_col="date", parse_dates=True)
        df["target"] = (df["close"].shift(-1) > df["close"]).astype(int)
        df["next_volume"] = df["volume"].shift(-1)  # leak: temporal
        X = df[["close", "next_volume"]]
        y = df["target"]
        print(cross_val_score(LogisticRegression(), X, y, cv=TimeSeriesSplit(5)))
    """,
    "centred_window_as_a_feature": """
        df = pd.read_csv("prices.csv", index_col="date", parse_dates=True)
        df["smooth"] = df["close"].rolling(5, center=True).mean()  # leak: temporal
        df = df.dropna()
        X, y = df[["smooth"]], df["up"]
        print(cross_val_score(LogisticRegression(), X, y, cv=TimeSeriesSplit(5)))
    """,
    "leak_inside_a_function_with_parameters": """
        def evaluate(X, y, seed):
            X = SimpleImputer().fit_transform(X)  # leak: preprocessing
            X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=seed)
            return LogisticRegression().fit(X_train, y_train).score(X_test, y_test)
    """,
    "leak_through_a_helper_called_at_top_level": """
        def prepare(frame):
            return frame.fillna(frame.median())  # leak: preprocessing

        df = prepare(pd.read_csv("data.csv"))
        X_train, X_test = train_test_split(df, test_size=0.2)
    """,
    "refit_on_all_rows_then_scored_on_test": """
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        model = make_pipeline(StandardScaler(), LogisticRegression())
        model.fit(X_train, y_train)
        model.fit(X, y)  # leak: overlap
        print(model.score(X_test, y_test))
    """,
    "manual_cut_after_scaling": """
        X, y = load_data()
        X = StandardScaler().fit_transform(X)  # leak: preprocessing
        X_train, X_test = X[:800], X[800:]
        y_train, y_test = y[:800], y[800:]
    """,
    "depth_chosen_by_cross_validation_and_its_max_reported": """
        from sklearn.tree import DecisionTreeRegressor
        X, y = load_data()
        means = {}
        for depth in range(1, 10):
            tree = DecisionTreeRegressor(max_depth=depth)
            means[depth] = cross_val_score(tree, X, y).mean()  # leak: multi-test
        best = max(means, key=means.get)
        print(best, means[best])
    """,
    "threshold_tuned_on_the_test_rows": """
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        proba = LogisticRegression().fit(X_train, y_train).predict_proba(X_test)[:, 1]
        best_t, best_f1 = 0.5, 0.0
        for t in np.linspace(0.1, 0.9, 17):
            f = f1_score(y_test, proba > t)  # leak: multi-test
            if f > best_f1:
                best_t, best_f1 = t, f
        print("threshold", best_t)
    """,
    "accuracy_by_hand_of_a_model_fitted_on_all_rows": """
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        clf = LogisticRegression().fit(X, y)  # leak: overlap
        pred = clf.predict(X_test)
        print((pred == y_test).mean())
    """,
    "shuffle_split_on_a_time_series": """
        from sklearn.model_selection import ShuffleSplit
        df = pd.read_csv("d.csv", parse_dates=["date"], index_col="date")
        X, y = df[["x"]], df["y"]
        print(cross_val_score(LogisticRegression(), X, y, cv=ShuffleSplit(5)))  # leak: temporal
    """,
    "target_in_the_feature_list": """
        df = pd.read_csv("d.csv")
        features = ["a", "b", "target"]
        X = df[features]  # leak: target
        y = df["target"]
        X_train, X_test, y_train, y_test = train_test_split(X, y)
    """,
    "columns_scaled_in_place": """
        df = pd.read_csv("d.csv")
        num = ["a", "b"]
        df[num] = StandardScaler().fit_transform(df[num])  # leak: preprocessing
        X, y = df.drop(columns="target"), df["target"]
        X_train, X_test, y_train, y_test = train_test_split(X, y)
    """,
    "multi_line_statement_is_reported_at_its_first_line": """
        X, y = load_data()
        scores = cross_val_score(LogisticRegression(),  # leak: preprocessing
                                 StandardScaler().fit_transform(X), y)
    """,
    "selector_applied_inside_the_folds_but_fitted_outside": """
        X, y = load_data()
        sel = SelectKBest(k=5).fit(X, y)  # leak: feature-selection
        for train, test in KFold(5).split(X):
            m = LogisticRegression().fit(sel.transform(X[train]), y[train])
            print(m.score(sel.transform(X[test]), y[test]))
    """,
}

CLEAN = {
    "pipeline_fitted_on_the_training_rows": """
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression())
        model.fit(X_train, y_train)
        print(model.score(X_test, y_test))
    """,
    "nested_cross_validation": """
        X, y = load_data()
        search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression()),
                              {"logisticregression__C": [0.1, 1]})
        print(cross_val_score(search, X, y, cv=5).mean())
        search.fit(X, y)
        print(search.best_params_, search.best_score_)
    """,
    "final_refit_after_the_evaluation": """
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        scaler = StandardScaler().fit(X_train)
        model = LogisticRegression().fit(scaler.transform(X_train), y_train)
        print(model.score(scaler.transform(X_test), y_test))
        final = LogisticRegression().fit(StandardScaler().fit_transform(X), y)
        joblib.dump(final, "model.joblib")
    """,
    "shift_minus_one_as_the_target_with_time_series_split": """
        df = pd.read_csv("prices.csv", index_col="date", parse_dates=True)
        df["lag1"] = df["close"].shift(1)
        df["ma5"] = df["close"].rolling(5).mean()
        df["target"] = df["close"].shift(-1)
        df = df.dropna()
        X, y = df[["lag1", "ma5"]], df["target"]
        print(cross_val_score(LogisticRegression(), X, y, cv=TimeSeriesSplit(5)))
        X_train, X_test, y_train, y_test = train_test_split(X, y, shuffle=False)
    """,
    "statistics_of_the_training_rows_only": """
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        mu, sd = X_train.mean(axis=0), X_train.std(axis=0)
        X_train = (X_train - mu) / sd
        X_test = (X_test - mu) / sd
        X_test = X_test.fillna(X_train.median())
        model = LogisticRegression().fit(X_train, y_train)
        print(model.score(X_test, y_test))
    """,
    "copies_and_permutations_of_the_training_rows": """
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        idx = np.random.default_rng(0).permutation(len(X_train))
        X_aug = np.concatenate([X_train, X_train[idx]])
        y_aug = np.concatenate([y_train, y_train[idx]])
        Xc = X_train.copy()
        model = LogisticRegression().fit(X_aug, y_aug)
        model2 = LogisticRegression().fit(Xc[idx], y_train[idx])
        print(model.score(X_test, y_test), model2.score(X_test, y_test))
    """,
    "stateless_transforms_before_the_split": """
        from sklearn.preprocessing import (FunctionTransformer, LabelEncoder, Normalizer,
                                           PolynomialFeatures)
        df = pd.read_csv("data.csv").dropna()
        X = np.log1p(df.drop(columns="label").to_numpy())
        X = PolynomialFeatures(2).fit_transform(X)
        X = Normalizer().fit_transform(FunctionTransformer(np.sqrt).fit_transform(X))
        y = LabelEncoder().fit_transform(df["label"])
        X = X / 255.0
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        print(LogisticRegression().fit(X_train, y_train).score(X_test, y_test))
    """,
    "transform_the_test_rows_with_a_train_fitted_scaler": """
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        sc = StandardScaler()
        X_train = sc.fit_transform(X_train)
        X_test = sc.transform(X_test)
        print(LogisticRegression().fit(X_train, y_train).score(X_test, y_test))
    """,
    "column_transformer_in_a_pipeline_under_cross_validation": """
        df = pd.read_csv("data.csv")
        X, y = df.drop(columns="target"), df["target"]
        pre = ColumnTransformer([("num", StandardScaler(), ["a", "b"]),
                                 ("cat", OneHotEncoder(), ["c"])])
        print(cross_val_score(make_pipeline(pre, LogisticRegression()), X, y).mean())
    """,
    "exploration_on_all_rows_without_effect": """
        df = pd.read_csv("data.csv")
        print(df.corr())
        print(df.describe(), df.mean())
        print("means", SimpleImputer().fit_transform(df).mean(axis=0))
        PCA(2).fit(df)
        X, y = df.drop(columns="target"), df["target"]
        model = make_pipeline(SimpleImputer(), LogisticRegression())
        print(cross_val_score(model, X, y).mean())
    """,
    "models_compared_by_cross_validation_then_tested_once": """
        from sklearn.ensemble import RandomForestClassifier
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        results = {}
        for name, m in {"lr": LogisticRegression(), "rf": RandomForestClassifier()}.items():
            results[name] = cross_val_score(m, X_train, y_train).mean()
        best = max(results, key=results.get)
        final = {"lr": LogisticRegression(), "rf": RandomForestClassifier()}[best]
        print(final.fit(X_train, y_train).score(X_test, y_test))
    """,
    "test_scores_reported_for_every_model_without_choosing": """
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        for c in [0.1, 1, 10]:
            m = LogisticRegression(C=c).fit(X_train, y_train)
            print(c, m.score(X_test, y_test))
    """,
    "hyperparameter_chosen_on_a_validation_set": """
        X, y = load_data()
        X_tmp, X_test, y_tmp, y_test = train_test_split(X, y, test_size=0.2)
        X_train, X_val, y_train, y_val = train_test_split(X_tmp, y_tmp, test_size=0.25)
        best, best_c = -1, None
        for c in [0.1, 1, 10]:
            s = LogisticRegression(C=c).fit(X_train, y_train).score(X_val, y_val)
            if s > best:
                best, best_c = s, c
        print(LogisticRegression(C=best_c).fit(X_train, y_train).score(X_test, y_test))
    """,
    "pipeline_of_steps_searched_on_the_training_rows": """
        from sklearn.pipeline import Pipeline
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y)
        pipe = Pipeline([("imp", SimpleImputer()), ("sel", SelectKBest()),
                         ("pca", PCA()), ("clf", LogisticRegression())])
        search = GridSearchCV(pipe, {"sel__k": [5, 10]}, cv=KFold(5, shuffle=True))
        search.fit(X_train, y_train)
        print(search.best_params_, search.score(X_test, y_test))
    """,
    "search_on_the_training_rows_scored_on_test": """
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression()),
                              {"logisticregression__C": [0.1, 1]})
        search.fit(X_train, y_train)
        print(search.best_score_, search.score(X_test, y_test))
    """,
    "date_column_in_iid_data": """
        df = pd.read_csv("customers.csv")
        df["signup"] = pd.to_datetime(df["signup"])
        df["signup_year"] = df["signup"].dt.year
        X, y = df[["signup_year", "age"]], df["churn"]
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        print(LogisticRegression().fit(X_train, y_train).score(X_test, y_test))
    """,
    "manual_kfold_loop_fitted_inside_the_folds": """
        X, y = load_data()
        scores = []
        for train, test in KFold(5, shuffle=True).split(X):
            sel = SelectKBest(k=5).fit(X[train], y[train])
            m = LogisticRegression().fit(sel.transform(X[train]), y[train])
            scores.append(m.score(sel.transform(X[test]), y[test]))
        print(np.mean(scores), max(scores))
    """,
    "oversampling_after_the_split": """
        from imblearn.over_sampling import SMOTE
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y)
        X_res, y_res = SMOTE().fit_resample(X_train, y_train)
        print(LogisticRegression().fit(X_res, y_res).score(X_test, y_test))
    """,
    "train_and_test_concatenated_only_to_look": """
        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        everything = pd.concat([X_train, X_test])
        print(everything.describe())
        print(LogisticRegression().fit(X_train, y_train).score(X_test, y_test))
    """,
    "target_column_recoded_and_ratio_features": """
        df = pd.read_csv("data.csv")
        df["target"] = df["target"].map({"yes": 1, "no": 0})
        df["ratio"] = df["a"] / df["b"]
        df["row_mean"] = df[["a", "b"]].mean(axis=1)
        X, y = df.drop(columns="target"), df["target"]
        X_train, X_test, y_train, y_test = train_test_split(X, y)
    """,
    "separate_test_file_and_final_predictions": """
        train = pd.read_csv("train.csv")
        test = pd.read_csv("test.csv")
        X, y = train.drop(columns="target"), train["target"]
        scaler = StandardScaler().fit(X)
        model = LogisticRegression().fit(scaler.transform(X), y)
        print(cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()), X, y))
        pd.DataFrame({"pred": model.predict(scaler.transform(test))}).to_csv("sub.csv")
    """,
    "target_encoding_learned_on_the_training_rows": """
        df = pd.read_csv("data.csv")
        train, test = train_test_split(df, random_state=0)
        means = train.groupby("city")["target"].mean()
        train["city_enc"] = train["city"].map(means)
        test["city_enc"] = test["city"].map(means).fillna(train["target"].mean())
    """,
    "unsupervised_reduction_without_evaluation": """
        from sklearn.cluster import KMeans
        X, y = load_data()
        X_2d = PCA(2).fit_transform(StandardScaler().fit_transform(X))
        labels = KMeans(3).fit_predict(X_2d)
        print(np.bincount(labels))
    """,
    "hyperparameter_chosen_by_cross_validation_then_deployed": """
        from sklearn.tree import DecisionTreeClassifier
        X, y = load_data()
        best, best_s = None, -1.0
        for d in range(1, 10):
            s = cross_val_score(DecisionTreeClassifier(max_depth=d), X, y).mean()
            if s > best_s:
                best, best_s = d, s
        model = DecisionTreeClassifier(max_depth=best).fit(X, y)
    """,
    "helpers_and_a_main_guard": """
        def preprocess(X_train, X_test):
            scaler = StandardScaler()
            return scaler.fit_transform(X_train), scaler.transform(X_test)

        def train_and_evaluate(model, X_train, y_train, X_test, y_test):
            model.fit(X_train, y_train)
            return accuracy_score(y_test, model.predict(X_test))

        def main():
            X, y = load_data()
            X_train, X_test, y_train, y_test = train_test_split(X, y)
            X_train_s, X_test_s = preprocess(X_train, X_test)
            print(train_and_evaluate(LogisticRegression(), X_train_s, y_train, X_test_s, y_test))

        if __name__ == "__main__":
            main()
    """,
    "time_series_with_a_positional_cut_and_past_features": """
        df = pd.read_csv("d.csv", parse_dates=["date"], index_col="date")
        df["lag1"] = df["y"].shift(1)
        df["roll"] = df["y"].shift(1).rolling(7).mean()
        df["month"] = df.index.month
        df = df.dropna()
        X, y = df[["lag1", "roll", "month"]], df["y"]
        cut = int(len(df) * 0.8)
        X_train, X_test = X.iloc[:cut], X.iloc[cut:]
        y_train, y_test = y.iloc[:cut], y.iloc[cut:]
        print(mean_absolute_error(y_test, Ridge().fit(X_train, y_train).predict(X_test)))
    """,
    "exploration_statistics_and_a_target_defined_by_its_median": """
        df = pd.read_csv("d.csv")
        print(df.groupby("city")["price"].mean().sort_values())
        print((df - df.mean()).abs().max())
        y = (df["price"] > df["price"].median()).astype(int)
        X = df.drop(columns=["price"])
        print(cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()), X, y))
    """,
    "a_scaler_written_by_the_learner": """
        class Scaler:
            def fit(self, X):
                self.mu = X.mean(0)
                return self

            def transform(self, X):
                return X - self.mu

        X, y = load_data()
        X_train, X_test, y_train, y_test = train_test_split(X, y)
        sc = Scaler().fit(X_train)
        m = LogisticRegression().fit(sc.transform(X_train), y_train)
        print(m.score(sc.transform(X_test), y_test))
    """,
    "deployment_and_evaluation_on_separate_branches": """
        X, y = load_data()
        if FINAL:
            X = StandardScaler().fit_transform(X)
            model = LogisticRegression().fit(X, y)
        else:
            X_train, X_test, y_train, y_test = train_test_split(X, y)
            model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_train, y_train)
            print(model.score(X_test, y_test))
    """,
    "manual_split_by_position_then_train_statistics": """
        df = pd.read_csv("data.csv")
        n = int(len(df) * 0.8)
        train, test = df.iloc[:n], df.iloc[n:]
        train = train.fillna(train.mean())
        test = test.fillna(train.mean())
    """,
}


def _dedent(body: str) -> str:
    return HEAD + textwrap.dedent(body).lstrip("\n")


@pytest.mark.parametrize("name", sorted(LEAKY))
def test_each_leak_is_found_at_its_line(name: str) -> None:
    source = _dedent(LEAKY[name])
    assert expected(source), "a leaky snippet must mark its leak"
    assert found(analyse_source(source)) == expected(source)


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_correct_code_has_no_finding(name: str) -> None:
    assert analyse_source(_dedent(CLEAN[name])) == []


def test_findings_name_the_variables_and_lines() -> None:
    source = _dedent(LEAKY["scaler_fit_transform_before_split"])
    [finding] = analyse_source(source)
    line = expected(source)[0][1]
    assert finding.cell is None
    assert f"StandardScaler is fitted on X (all rows) at line {line}" in finding.message
    assert f"line {line + 1} that makes X_test" in finding.message
    assert "StandardScaler" in finding.fix and "Pipeline" in finding.fix


def test_every_finding_uses_the_shared_vocabulary() -> None:
    for body in LEAKY.values():
        for f in analyse_source(_dedent(body)):
            assert f.kind in kinds.KINDS
            assert f.message and f.fix


def test_a_syntax_error_gives_no_finding() -> None:
    assert analyse_source("X = StandardScaler().fit_transform(X\ntrain_test_split(X)") == []


def test_findings_are_sorted_and_unique() -> None:
    source = _dedent(LEAKY["numpy_mean_and_min_max_scaling"] + LEAKY["smote_before_split"])
    out = analyse_source(source)
    assert out == sorted(set(out), key=lambda f: (f.line, f.kind))


CELLS = [
    "%matplotlib inline\nimport pandas as pd\nfiles = !ls\n"
    "from sklearn.preprocessing import StandardScaler",
    "!pip install imbalanced-learn\ndf = pd.read_csv('data.csv')\n"
    "X, y = df.drop(columns='target'), df['target']",
    "%%time\nthis is not python",
    "  %timeit X = StandardScaler().fit_transform(X)\nX = StandardScaler().fit_transform(X)",
    "def broken(:\n    pass",
    "X_train, X_test, y_train, y_test = train_test_split(X, y)\n"
    "model = LogisticRegression().fit(X_train, y_train)\nmodel.score(X_test, y_test)",
]


def test_notebook_findings_are_located_by_cell_and_line() -> None:
    [finding] = analyse_cells(CELLS)
    assert (finding.kind, finding.cell, finding.line) == ("preprocessing", 4, 2)
    assert "cell 4, line 2" in finding.message and "cell 6, line 1" in finding.message


def test_a_clean_notebook_with_magics_has_no_finding() -> None:
    cells = [*CELLS[:3], "?train_test_split", *CELLS[5:]]
    assert analyse_cells(cells) == []


def test_notebook_cells_form_one_flow() -> None:
    cells = ["X, y = load_data()\nmodel = LogisticRegression()",
             "X_train, X_test, y_train, y_test = train_test_split(X, y)",
             "model.fit(X, y)",
             "acc = model.score(X_test, y_test)"]
    assert [(f.kind, f.cell, f.line) for f in analyse_cells(cells)] == [("overlap", 3, 1)]


@pytest.mark.parametrize("cells", [
    ["X, y = load_data()", "%%time\nX = StandardScaler().fit_transform(X)",
     "%time X_train, X_test, y_train, y_test = train_test_split(X, y)"],
    # the same cells as IPython's input transformer hands them over
    ["X, y = load_data()",
     "get_ipython().run_cell_magic('time', '', 'X = StandardScaler().fit_transform(X)\\n')",
     "get_ipython().run_line_magic('time', "
     "'X_train, X_test, y_train, y_test = train_test_split(X, y)')"],
], ids=["raw", "transformed"])
def test_code_under_time_magics_is_read(cells: list[str]) -> None:
    [finding] = analyse_cells(cells)
    assert (finding.kind, finding.cell, finding.line) == ("preprocessing", 2, 2)
    assert "cell 3, line 1" in finding.message


def test_an_empty_notebook_has_no_finding() -> None:
    assert analyse_cells([]) == [] and analyse_cells(["", "%%bash\nls"]) == []
