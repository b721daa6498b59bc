"""The kinds of leakage the harness reports, each with the fix a learner should apply and
why it makes the reported score better than the model is."""

from __future__ import annotations

#: kind -> (what it is, in one line; the usual fix; why it inflates the score)
KINDS: dict[str, tuple[str, str, str]] = {
    "preprocessing": (
        "a scaler, imputer, encoder or PCA was fitted on rows that include the evaluation rows",
        "fit it on the training rows only: put it in a Pipeline with the model and fit the "
        "Pipeline on the training rows (or pass the Pipeline to cross_val_score)",
        "the statistics it learned (means, variances, fill values, components) include the "
        "test rows, so the test rows are no longer unseen and the score is optimistic"),
    "feature-selection": (
        "features were chosen using rows that include the evaluation rows",
        "choose the features inside each fold: put the selector in a Pipeline with the model "
        "and pass the Pipeline to cross_val_score",
        "the features were picked because they separate the classes on the very rows they are "
        "scored on: even pure-noise features look predictive, and the score is inflated"),
    "target": (
        "a feature was computed from the target (the label in disguise, or a target encoding "
        "fitted outside the fold)",
        "drop features derived from the label, and compute target encodings on the training "
        "rows only (sklearn's TargetEncoder inside a Pipeline)",
        "the model reads the answer from its inputs: the score measures the copy of the label, "
        "which new data will not carry"),
    "overlap": (
        "the same rows (or duplicates of them) were used both to train and to evaluate",
        "split first, then train only on the training rows; oversample or augment after the "
        "split and only the training rows; split by group when rows share an entity",
        "the model is scored on rows (or entities) it was trained on, so the score measures "
        "memory, not generalisation to new data"),
    "multi-test": (
        "a model or hyperparameters were chosen by repeated scoring on the evaluation rows",
        "choose with cross-validation on the training rows (GridSearchCV), then score the "
        "chosen model once on the test rows; report a nested-CV score, not best_score_",
        "the test score picked the winner, so it is the best of many tries rather than an "
        "estimate for new data; it is biased upwards"),
    "temporal": (
        "a time series was evaluated with information from the future (a shuffled split, "
        "shift(-k) or centred windows as features, statistics over the whole series)",
        "split by time (TimeSeriesSplit or a cut-off date, shuffle=False) and build features "
        "from past values only (shift(k) with k > 0, rolling windows without center=True)",
        "the model uses information that is not available at prediction time, so the score is "
        "better than any forecast made in real time can be"),
}


def describe(kind: str) -> str:
    return KINDS[kind][0]


def fix(kind: str) -> str:
    return KINDS[kind][1]


def impact(kind: str) -> str:
    """Why a leak of this kind makes the reported score better than the model is."""
    return KINDS[kind][2]
