"""The kinds of leakage the harness reports, each with the fix a learner should apply."""

from __future__ import annotations

#: kind -> (what it is, in one line; the usual fix)
KINDS: dict[str, tuple[str, str]] = {
    "preprocessing": (
        "a scaler, imputer, encoder or PCA was fitted on rows that include the evaluation rows",
        "fit it on the training rows only: put it in a Pipeline with the model and fit the "
        "Pipeline on the training rows (or pass the Pipeline to cross_val_score)"),
    "feature-selection": (
        "features were chosen using rows that include the evaluation rows",
        "choose the features inside each fold: put the selector in a Pipeline with the model "
        "and pass the Pipeline to cross_val_score"),
    "target": (
        "a feature was computed from the target (the label in disguise, or a target encoding "
        "fitted outside the fold)",
        "drop features derived from the label, and compute target encodings on the training "
        "rows only (sklearn's TargetEncoder inside a Pipeline)"),
    "overlap": (
        "the same rows (or duplicates of them) were used both to train and to evaluate",
        "split first, then train only on the training rows; oversample or augment after the "
        "split and only the training rows; split by group when rows share an entity"),
    "multi-test": (
        "a model or hyperparameters were chosen by repeated scoring on the evaluation rows",
        "choose with cross-validation on the training rows (GridSearchCV), then score the "
        "chosen model once on the test rows; report a nested-CV score, not best_score_"),
    "temporal": (
        "a time series was evaluated with information from the future (a shuffled split, "
        "shift(-k) or centred windows as features, statistics over the whole series)",
        "split by time (TimeSeriesSplit or a cut-off date, shuffle=False) and build features "
        "from past values only (shift(k) with k > 0, rolling windows without center=True)"),
}


def describe(kind: str) -> str:
    return KINDS[kind][0]


def fix(kind: str) -> str:
    return KINDS[kind][1]
