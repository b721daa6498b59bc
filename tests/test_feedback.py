"""Verdicts you can trust and feedback that teaches (issue 12).

No credit without working code, one message per cause in the order to fix them, a
missing function that costs only the checks that need it, known mistakes named, and a
status line on long gradings.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pytest

from harness import diagnosis, feedback, grading, report, settings, summary, tasks
from harness.results import CheckResult, credit_working_code, result_from_dict
from harness.ticker import Ticker

ROOT = Path(__file__).resolve().parent.parent

DOT_LOOP_ONLY = """
def dot_loop(a, b):
    if len(a) != len(b):
        raise ValueError("different lengths")
    total = 0.0
    for x, y in zip(a, b):
        total += float(x) * float(y)
    return total
"""


def shipped(task_id: str, source: str, tmp_path: Path, **kwargs: object):
    s = settings.resolve(workspace=str(ROOT))
    path = tmp_path / "solution.py"
    path.write_text(source)
    return grading.grade(tasks.load_task(s.tasks.value, task_id), path, s, **kwargs)


def check(name: str, status: str = "fail", kind: str = "correctness", message: str = "",
          hint: str = "", outcome: str | None = None, uses: tuple[str, ...] = (),
          points: float = 0.0, max_points: float = 1.0,
          visibility: str = "hidden") -> CheckResult:
    return CheckResult(id=f"{visibility}/{name}", name=name, kind=kind,
                       visibility=visibility, status=status,  # type: ignore[arg-type]
                       points=points, max_points=max_points, message=message, hint=hint,
                       outcome=outcome, uses=uses)


# ------------------------------------------------------------ defect 2: one missing name

def test_one_missing_function_costs_only_the_checks_that_need_it(tmp_path: Path) -> None:
    r = shipped("phase1/dot-product", DOT_LOOP_ONLY, tmp_path)
    assert r.verdict == "graded"
    assert 0 < r.score < r.max_score  # was 0/14: the whole grading refused
    loop = [c for c in r.checks if c.uses == ("dot_loop",)]
    assert loop and all(c.status == "pass" for c in loop)
    missing = [c for c in r.checks if c.outcome == "missing"]
    assert missing and all("dot_numpy" in c.message for c in missing)
    assert all(c.points == 0 for c in missing)
    # The missing name is reported once, as one cause.
    causes = [c for c in feedback.causes(r.checks) if c.stage == "interface"]
    assert len(causes) == 1 and "dot_numpy" in causes[0].message
    assert r.message.count("dot_numpy") == 1
    text = click.unstyle(summary.render(r))
    assert text.count("missing function `dot_numpy") == 2  # the cause, and the verdict note


def test_static_check_of_a_missing_function_fails(tmp_path: Path) -> None:
    # Only `fit_gd_loop` exists: the no-loop check of `fit_gd` has nothing to read and
    # must not pass (it used to, as "no loops found").
    source = (ROOT / "reference/phase1/gradient-descent/solution.py").read_text()
    without = source.replace("def fit_gd(", "def _not_fit_gd(")
    r = shipped("phase1/gradient-descent", without, tmp_path)
    static = next(c for c in r.checks if c.name == "test_only_the_iteration_loop")
    assert static.status == "error" and static.outcome == "missing"
    assert static.points == 0


# ------------------------------------------------------------ defects 1 and 3

def test_a_syntax_error_is_one_message_and_no_check_runs(tmp_path: Path) -> None:
    r = shipped("phase1/broadcast-normalize", "import numpy as np\ndef f(:\n", tmp_path)
    assert r.verdict == "submission_error" and r.score == 0
    assert all(c.outcome == "not_run" and c.duration_s == 0 for c in r.checks)
    text = click.unstyle(summary.render(r))
    assert len(text.splitlines()) < 20  # was 94 lines, the same error on all 29 checks
    assert f"{len(r.checks)} checks not run" in text
    assert text.count("syntax error") == 2  # the cause, and the verdict's message
    html = report.render_scorecard(r)
    assert "What to fix first (1 cause)" in html
    assert f"{len(r.checks)} not run" in html and "0 failed" in html


def test_no_credit_for_quality_of_code_that_does_not_work() -> None:
    checks = [check("test_values", uses=("f",)),
              check("test_no_loops", status="pass", kind="quality", uses=("f",), points=2,
                    max_points=2),
              check("test_g_values", status="pass", uses=("g",), points=1),
              check("test_g_style", status="pass", kind="style", uses=("g",), points=1),
              check("test_readme", status="pass", kind="quality", points=1)]
    out = {c.name: c for c in credit_working_code(checks)}
    assert out["test_no_loops"].points == 0 and out["test_no_loops"].status == "fail"
    assert "`f` passes no correctness check" in out["test_no_loops"].message
    assert out["test_g_style"].points == 1  # `g` works
    assert out["test_readme"].points == 1  # used no function of the submission


# ------------------------------------------------------------ what to fix first

def test_causes_are_grouped_and_ordered_load_interface_correctness_quality_timing() -> None:
    checks = [check("test_speed", kind="timing", message="too slow"),
              check("test_style", kind="quality", message="loops"),
              check("test_a[1]", message="hidden check failed", hint="h"),
              check("test_a[2]", message="hidden check failed", hint="h"),
              check("test_b", message="hidden check failed", hint="h"),
              check("test_c", status="error", outcome="missing", message="not run: no `g`"),
              check("test_d", status="error", outcome="not_run", message="not run: no load"),
              check("test_ok", status="pass", points=1)]
    causes = feedback.causes(checks)
    assert [c.stage for c in causes] == ["load", "interface", "correctness", "quality",
                                         "timing"]
    hidden = causes[2]
    assert len(hidden.checks) == 3  # "hidden check failed" with one hint: said once
    assert hidden.check_list() == "hidden/test_a, hidden/test_b"


def test_points_are_rounded_as_a_person_writes_them() -> None:
    assert feedback.points(1 / 9) == "0.11"
    assert feedback.points(3.0) == "3"
    assert feedback.points(2 / 3 + 1) == "1.67"
    assert feedback.points(0.0) == "0"


def test_parametrized_cases_are_one_line_with_their_count() -> None:
    checks = [check(f"test_x[{i}]", status="pass" if i else "fail", points=1 / 9 if i else 0,
                    max_points=1 / 9) for i in range(9)]
    (line,) = feedback.test_lines(checks)
    assert line.status == "partial" and line.passed == 8 and line.counted == 9
    text = click.unstyle("\n".join(summary._test_line(line)))
    assert "0.89/1" in text and "(8/9 cases)" in text and "0.111" not in text


# ------------------------------------------------------------ known mistakes

def test_a_mutant_is_diagnosed_by_its_mistake_and_the_reference_is_not(tmp_path: Path) -> None:
    mutant = ROOT / "reference/phase1/broadcast-normalize/mutants/sample_std.py"
    r = shipped("phase1/broadcast-normalize", mutant.read_text(), tmp_path)
    assert r.diagnosis and r.diagnosis[0]["mutant"] == "sample_std"
    assert "ddof=1" in r.diagnosis[0]["mistake"]
    assert r.diagnosis[0]["evidence"] == "outputs"
    text = click.unstyle(summary.render(r))
    assert text.index("likely mistake") < text.index("what to fix first")
    assert result_from_dict(json.loads(r.to_json())) == r
    html = report.render_scorecard(r)
    assert "Likely mistake" in html and "ddof=1" in html
    assert html.index("Likely mistake") < html.index("What to fix first")
    ref = shipped("phase1/broadcast-normalize",
                  (ROOT / "reference/phase1/broadcast-normalize/solution.py").read_text(),
                  tmp_path)
    assert ref.score == ref.max_score and ref.diagnosis == ()


def test_the_same_output_means_same_type_and_close_values() -> None:
    a = np.linspace(0, 1, 7)
    assert diagnosis.same_value(a, a * (1 + 1e-9))
    assert not diagnosis.same_value(a, a * 1.01)
    assert not diagnosis.same_value(a, a.astype(np.float32))  # the dtype is behaviour
    assert not diagnosis.same_value(1.0, np.array(1.0))
    assert diagnosis.same_value(float("nan"), float("nan"))
    assert diagnosis.same_value({"w": [1.0, 2.0]}, {"w": [1.0, 2.0 + 1e-12]})
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    assert diagnosis.same_value(frame, frame.copy())
    assert not diagnosis.same_value(frame, frame.rename(columns={"x": "y"}))
    error = {"ok": False, "error": {"type": "ValueError"}}
    assert diagnosis.same_reply(error, {"ok": False, "error": {"type": "ValueError"}})
    assert not diagnosis.same_reply(error, {"ok": False, "error": {"type": "TypeError"}})


def test_describe_reads_the_mutants_docstring(tmp_path: Path) -> None:
    path = tmp_path / "half_step.py"
    path.write_text('"""Mutant: the step is half the expected one (1/n, not 2/n)."""\n')
    assert diagnosis.describe(path) == "the step is half the expected one (1/n, not 2/n)."
    (tmp_path / "no_doc.py").write_text("x = 1\n")
    assert diagnosis.describe(tmp_path / "no_doc.py") == "no doc"


# ------------------------------------------------------------ progress

def test_progress_line_shows_the_running_check_after_the_delay() -> None:
    stream = io.StringIO()
    with Ticker(stream, after=0.05, every=0.02, enabled=True) as ticker:
        ticker("test_slow_thing")
        time.sleep(0.3)
    out = stream.getvalue()
    assert "grading: test_slow_thing" in out and " s)" in out
    assert out.endswith("\r\x1b[K")  # the status line is erased at the end


def test_no_progress_line_when_quick_or_not_a_terminal() -> None:
    quick = io.StringIO()
    with Ticker(quick, after=5, enabled=True) as ticker:
        ticker("test_fast")
    assert quick.getvalue() == ""
    piped = io.StringIO()  # not a terminal
    with Ticker(piped, after=0, every=0.01) as ticker:
        ticker("test_x")
        time.sleep(0.05)
    assert piped.getvalue() == ""


def test_grading_reports_each_running_check(grade_source, workspace: Path,
                                            tmp_path: Path) -> None:
    seen: list[str] = []
    s = settings.resolve(workspace=str(workspace))
    path = tmp_path / "solution.py"
    path.write_text("def add(a, b):\n    return a + b\n")
    grading.grade(tasks.load_task(s.tasks.value, "phase0/add"), path, s, progress=seen.append)
    assert seen[0] == "loading your code"
    assert "test_add_public" in seen and "test_add_hidden" in seen


@pytest.mark.parametrize("verdict", ["timeout", "memory_limit"])
def test_not_run_reason_names_what_stopped_the_loading(verdict: str) -> None:
    text = grading.not_run_reason(verdict, "")  # type: ignore[arg-type]
    assert "did not load" in text and {"timeout": "time", "memory_limit": "memory"}[verdict] in text
