"""The dynamic leakage check: provenance traces in-process, verdicts, and one sandboxed run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from markupsafe import escape
from sklearn.datasets import make_classification

from harness import grading, report, settings, tasks
from harness.checks import ShownToLearner
from harness.checks.leakage import Leakage, findings, message
from harness.child import provenance
from harness.leakage import kinds
from harness.results import result_from_dict

ROOT = Path(__file__).resolve().parent.parent
CLEAN = sorted((ROOT / "tests" / "fixtures" / "leakage").glob("clean_*.py"))
REFERENCE = ROOT / "reference" / "phase2" / "leakage"
#: mutant -> (function that leaks, fitted type reported, line of the fit, kind)
MUTANTS = {"scaler_before_split": ("evaluate", "StandardScaler", 11, "preprocessing"),
           "imputer_on_all_rows": ("evaluate", "SimpleImputer", 11, "preprocessing"),
           "select_before_cv": ("cross_validate_selected", "SelectKBest", 19,
                                "feature-selection")}
FIXTURES = ROOT / "tests" / "fixtures" / "leakage"
#: leaky fixture -> function -> (type, line) of every fit the check must report
LEAKY = {"leaky_manual": {"evaluate": [("SimpleImputer", 11), ("StandardScaler", 11)],
                          "cross_validate_selected": [("SelectKBest", 18)]}}


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"learner_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def data(name: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=200, n_features=12, n_informative=4,
                               random_state=seed)
    if name == "evaluate":
        X[np.random.default_rng(seed).random(X.shape) < 0.05] = np.nan
    return X, y


def trace(path: Path, name: str, seed: int = 0) -> dict[str, Any]:
    module = load(path)
    X, y = data(name, seed)
    return provenance.trace(getattr(module, name), [X, y, seed], {}, str(path.parent), [module])


@pytest.mark.parametrize("path", [*CLEAN, REFERENCE / "solution.py"], ids=lambda p: p.stem)
@pytest.mark.parametrize("name", ["evaluate", "cross_validate_selected"])
def test_correct_code_is_never_flagged(path: Path, name: str) -> None:
    for seed in (0, 1):
        report = trace(path, name, seed)
        assert report["evaluations"], "the trace saw no evaluation"
        assert findings(report) == []
        assert 0.5 < report["result"] <= 1.0


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_leaks_are_found_with_type_and_line(mutant: str) -> None:
    name, kind, line, leak = MUTANTS[mutant]
    path = REFERENCE / "mutants" / f"{mutant}.py"
    found = findings(trace(path, name))
    assert [(f.kind, f.file, f.line) for f in found] == [(leak, path.name, line)]
    assert kind in found[0].message
    other = "cross_validate_selected" if name == "evaluate" else "evaluate"
    assert findings(trace(path, other)) == []  # the other function is correct


def test_patches_are_undone_after_the_trace() -> None:
    import sklearn.metrics
    from sklearn.preprocessing import StandardScaler

    fit, score = StandardScaler.fit, sklearn.metrics.accuracy_score
    trace(REFERENCE / "mutants" / "scaler_before_split.py", "evaluate")
    assert StandardScaler.fit is fit and sklearn.metrics.accuracy_score is score


def test_fingerprints_tolerate_float_noise_and_order() -> None:
    X = np.random.default_rng(0).normal(size=(50, 4))
    a, b = provenance.fingerprints(X), provenance.fingerprints(X[::-1] + 1e-12)
    assert a is not None and b is not None
    assert set(a.tolist()) == set(b.tolist()) and len(set(a.tolist())) == 50
    import pandas as pd

    frame = provenance.fingerprints(pd.DataFrame(X))
    assert frame is not None and (frame == a).all()
    assert provenance.fingerprints(np.array(["a", "b"])) is None


def test_message_names_the_line_and_the_fix() -> None:
    found = findings(trace(REFERENCE / "mutants" / "select_before_cv.py",
                           "cross_validate_selected"))
    text = message(found)
    assert "SelectKBest chose its features at line 19" in text
    assert "select_before_cv.py:19" in text and "Pipeline" in text
    assert "[feature-selection]" in text


def test_malformed_reports_are_rejected_or_ignored() -> None:
    with pytest.raises(TypeError):
        findings([])
    assert findings({"fits": [{"id": "1"}], "evaluations": [{"behind": "x"}, 3]}) == []


class FakeChannel:
    def __init__(self, report: Any) -> None:
        self.report = report

    def request(self, header: dict[str, Any], values: dict[str, Any]) -> Any:
        assert header == {"op": "trace_leakage", "path": ["evaluate"]}
        return self.report


def test_check_raises_a_learner_facing_failure() -> None:
    report = trace(REFERENCE / "mutants" / "scaler_before_split.py", "evaluate")
    with pytest.raises(ShownToLearner, match="StandardScaler was fitted at line 11"):
        Leakage(FakeChannel(report)).check("evaluate")  # type: ignore[arg-type]
    clean = trace(REFERENCE / "solution.py", "evaluate")
    assert Leakage(FakeChannel(clean)).check("evaluate") == clean["result"]  # type: ignore[arg-type]


def test_sandboxed_grading_reports_the_leak(tmp_path: Path) -> None:
    s = settings.resolve(workspace=str(tmp_path), tasks=str(ROOT / "tasks"),
                         reference=str(ROOT / "reference"))
    task = tasks.load_task(s.tasks.value, "phase2/leakage")
    r = grading.grade(task, REFERENCE / "mutants" / "scaler_before_split.py", s, mode="check")
    leak = next(c for c in r.checks if c.name == "test_evaluate_does_not_leak")
    assert leak.status == "fail" and leak.kind == "leakage"
    assert "StandardScaler was fitted at line 11" in leak.message
    assert leak.where == ("scaler_before_split.py:11",)
    assert all(c.status == "pass" for c in r.checks if c.name != leak.name)
    # issue 12, defect 6: the leak travels as a typed finding in the result document ...
    doc = json.loads(r.to_json())
    [finding] = next(c for c in doc["checks"] if c["name"] == leak.name)["findings"]
    assert {k: finding[k] for k in ("kind", "file", "line", "where")} == {
        "kind": "preprocessing", "file": "scaler_before_split.py", "line": 11,
        "where": "scaler_before_split.py:11"}
    assert "StandardScaler was fitted at line 11" in finding["message"]
    assert finding["fix"] == kinds.fix("preprocessing")
    assert finding["impact"] == kinds.impact("preprocessing")
    assert all(c["findings"] == [] for c in doc["checks"] if c["name"] != leak.name)
    assert result_from_dict(doc).checks == r.checks
    # ... and the scorecard shows it: kind, place, what happened, fix and impact
    html = report.render_scorecard(doc)
    section = html[html.index('id="leakage"'):html.index('id="checks"')]
    for text in ('<span class="badge fail">preprocessing</span>',
                 '<span class="mono">scaler_before_split.py:11</span>',
                 "StandardScaler was fitted at line 11", "found by test_evaluate_does_not_leak",
                 escape(kinds.fix("preprocessing")), escape(kinds.impact("preprocessing"))):
        assert text in section, text


def test_sandboxed_grading_of_the_reference_has_no_findings(tmp_path: Path) -> None:
    s = settings.resolve(workspace=str(tmp_path), tasks=str(ROOT / "tasks"),
                         reference=str(ROOT / "reference"))
    task = tasks.load_task(s.tasks.value, "phase2/leakage")
    r = grading.grade(task, REFERENCE / "solution.py", s, mode="check")
    leaks = [c for c in r.checks if c.kind == "leakage"]
    assert len(leaks) == 2 and all(c.status == "pass" and c.findings == () for c in leaks)
    html = report.render_scorecard(json.loads(r.to_json()))
    assert "no leakage found by 2 checks" in html and 'class="problem leak"' not in html


def test_check_hands_typed_findings_to_its_recorder() -> None:
    recorded: list[Any] = []
    report_ = trace(REFERENCE / "mutants" / "scaler_before_split.py", "evaluate")
    with pytest.raises(ShownToLearner):
        Leakage(FakeChannel(report_), recorded.extend).check("evaluate")  # type: ignore[arg-type]
    assert [(f.kind, f.where(), f.impact) for f in recorded] == [
        ("preprocessing", "scaler_before_split.py:11", kinds.impact("preprocessing"))]
    clean = trace(REFERENCE / "solution.py", "evaluate")
    Leakage(FakeChannel(clean), recorded.extend).check("evaluate")  # type: ignore[arg-type]
    assert len(recorded) == 1  # a clean call records nothing


def test_findings_from_an_untrusted_trace_are_bounded() -> None:
    report_ = trace(REFERENCE / "mutants" / "scaler_before_split.py", "evaluate")
    for fit in report_["fits"]:
        fit["file"] = "x" * 10_000
    [found] = findings(report_)
    assert len(found.file) == 200 and len(found.message) <= 500


class LocalChannel:
    """Runs the trace in this process, as the child would."""

    def __init__(self, path: Path) -> None:
        self.path, self.module = path, load(path)

    def request(self, header: dict[str, Any], values: dict[str, Any]) -> Any:
        fn = getattr(self.module, header["path"][0])
        return provenance.trace(fn, values["args"], values["kwargs"], str(self.path.parent),
                                [self.module])


@pytest.mark.parametrize("path", [*CLEAN, REFERENCE / "solution.py",
                                  *(REFERENCE / "mutants" / f"{m}.py" for m in MUTANTS)],
                         ids=lambda p: p.stem)
@pytest.mark.parametrize("name", ["evaluate", "cross_validate_selected"])
def test_metamorphic_rerun_agrees_with_the_provenance_verdict(path: Path, name: str) -> None:
    X, y = data(name, 4)
    moved = Leakage(LocalChannel(path)).metamorphic(name, X, y, 0)  # type: ignore[arg-type]
    leaky = path.stem in MUTANTS and MUTANTS[path.stem][0] == name
    if leaky:
        _, kind, line, _ = MUTANTS[path.stem]
        assert f"{kind} fitted at {path.name}:{line}" in moved
    else:
        assert moved == []


@pytest.mark.parametrize("name", ["evaluate", "cross_validate_selected"])
def test_leaks_in_hand_written_evaluations(name: str) -> None:
    path = FIXTURES / "leaky_manual.py"
    found = findings(trace(path, name))
    assert sorted((f.message.split()[0], f.line) for f in found) == LEAKY["leaky_manual"][name]
