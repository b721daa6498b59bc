"""Public tests for phase2/pipeline-cv: read them, run them with `grade check`.

The data come from `make_churn` in the task's conftest.py; the hidden tests use other
seeds and sizes, and recompute every number in the grader.
"""

import numpy as np

from harness.checks.outputs import check_python_float


def test_build_pipeline_returns_a_pipeline(submission, churn):
    frame = churn.make(0, n=120)
    numeric, categorical = churn.columns(frame)
    X, y = frame.drop(columns=[churn.TARGET]), frame[churn.TARGET]
    pipe = submission.build_pipeline(numeric, categorical)
    assert getattr(pipe, "remote_type", "") == "sklearn.pipeline.Pipeline", \
        f"build_pipeline returned {getattr(pipe, 'remote_type', type(pipe).__name__)}"
    pipe.fit(X, y)
    predicted = np.asarray(pipe.predict(X))
    assert predicted.shape == (len(X),), f"predict gave shape {predicted.shape}"
    assert set(np.unique(predicted).tolist()) <= {0, 1}


def test_nested_cv_score_returns_an_accuracy(submission, churn):
    score = submission.nested_cv_score(churn.make(1, n=150), churn.TARGET, 0)
    check_python_float(score, "nested_cv_score")  # float(...): np.float64 is one too
    assert 0.5 <= score <= 1.0, f"accuracy {score} is not plausible for this data"


def test_fit_and_holdout_returns_predictions(submission, churn):
    train, holdout = churn.make(2, n=150), churn.make(3, n=40)
    features = holdout.drop(columns=[churn.TARGET])
    predicted = np.asarray(submission.fit_and_holdout(train, churn.TARGET, features, 0))
    assert predicted.shape == (len(features),), f"predictions have shape {predicted.shape}"
    assert set(np.unique(predicted).tolist()) <= {0, 1}, "predictions are not 0/1 labels"
