"""The weekly progress card and the cohort table: computed from fixture histories, rendered."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from harness import history, report
from harness.cli import cli
from harness.report import progress, terminal
from harness.results import CheckResult, Result

PACK = ["phase1/dot-product", "phase1/broadcast-normalize", "phase1/gradient-descent",
        "phase2/leakage", "projects/titanic", "projects/cifar10", "projects/paper-resnet"]
TODAY = date(2026, 11, 26)  # a Thursday of 2026-W48 (Mon 23 – Sun 29 November)
_ids = itertools.count(1)

TIMING = {"fast": "dot_numpy", "slow": "dot_loop", "threshold": 20.0, "outcome": "pass",
          "ratio": 142.0, "ci": [131.0, 150.0], "rounds": 15}


def row(task: str, day: int, percent: float = 100.0, mode: str = "submit",
        learner: str = "ana", checks: tuple[dict[str, object], ...] = (),
        month: int = 11) -> dict[str, object]:
    """One history row as ``history.timeline`` returns it."""
    stamp = f"2026-{month:02d}-{day:02d}T10:00:00+00:00"
    return {"id": next(_ids), "timestamp": stamp, "task": task, "mode": mode,
            "verdict": "graded", "score": 4.0 * percent / 100, "max_score": 4.0,
            "learner": learner, "machine": "laptop", "device": "cpu",
            "week": history.week_of(stamp), "result": {"checks": list(checks)}}


def leak(status: str) -> dict[str, object]:
    return {"name": "test_scaler_inside_the_fold", "kind": "leakage", "status": status}


def fixture_history() -> list[dict[str, object]]:
    """Ana over three weeks (W46–W48), oldest first."""
    return [
        row("phase1/dot-product", 10, 50.0),
        row("phase1/dot-product", 17, 80.0),
        row("phase1/broadcast-normalize", 18, 40.0, mode="check"),
        row("phase1/dot-product", 23, 100.0,
            checks=({"name": "test_numpy_is_faster_than_loop", "kind": "timing",
                     "status": "pass", "timing": [TIMING]},)),
        row("phase1/broadcast-normalize", 24, 60.0),
        row("phase2/leakage", 24, 50.0, checks=(leak("fail"),)),
        row("phase2/leakage", 25, 100.0, checks=(leak("pass"),)),
        row("projects/titanic", 25, 100.0),
    ]


def card(week: str = "2026-W48", today: date = TODAY) -> progress.WeeklyCard:
    return progress.weekly_card(fixture_history(), PACK, week, "ana", today)


def test_weekly_counts_attempts_passes_days_and_streak():
    c = card()
    assert (c.start, c.end) == (date(2026, 11, 23), date(2026, 11, 29))
    assert c.attempted == 4 and c.passed == 3  # broadcast-normalize attempted, not passed
    assert [d.day for d, active in c.days if active] == [23, 24, 25]
    assert c.active_days == 3 and c.gradings == 5
    assert c.streak == 3  # today (26th) idle yet: the streak is still alive


def test_streak_counts_back_from_the_reference_day():
    active = {date(2026, 11, d) for d in (20, 21, 22, 24)}
    assert progress.streak(active, date(2026, 11, 24)) == 1
    assert progress.streak(active, date(2026, 11, 23)) == 3  # 23 idle: count from the 22nd
    assert progress.streak(active, date(2026, 11, 26)) == 0


def test_score_trend_is_the_best_submit_per_week():
    trends = {t.task: t for t in card().tasks}
    dot = trends["phase1/dot-product"]
    assert dot.trend[-3:] == (50.0, 80.0, 100.0) and dot.trend[0] is None
    assert dot.best == 100.0 and dot.passed_this_week
    normalize = trends["phase1/broadcast-normalize"]
    assert normalize.trend[-2:] == (None, 60.0)  # a `check` grading is not a score
    assert not normalize.passed
    assert card().weeks[0] == "2026-W41" and card().weeks[-1] == "2026-W48"


def test_an_earlier_week_ignores_later_gradings():
    c = card("2026-W47")
    assert c.attempted == 2 and c.passed == 0
    assert c.active_days == 2 and c.streak == 0  # as of that Sunday, idle since the 18th
    assert {p.phase: (p.passed, p.total) for p in c.phases}["phase1"] == (0, 3)
    assert not c.leakage_checked and not c.speedups


def test_phase_completion_and_milestones():
    c = card()
    assert {p.phase: (p.passed, p.total) for p in c.phases} == {
        "phase1": (1, 3), "phase2": (1, 1), "projects": (1, 3)}
    month3, month6, month12 = c.milestones
    assert month3.parts == (("projects passed", 1, 2),) and month3.fraction == 0.5
    assert month3.due == date(2027, 2, 10)  # three months after the first grading
    assert month6.parts == (("paper reproductions", 0, 1), ("deployments", 0, 1))
    assert month12.parts == (("projects passed", 1, 6),) and not month12.done


def test_best_speedups_and_leakage_fixed():
    c = card()
    (best,) = c.speedups
    assert best.task == "phase1/dot-product" and best.speedup.ratio == 142.0
    assert (best.speedup.low, best.speedup.high, best.speedup.required) == (131.0, 150.0, 20.0)
    assert best.speedup.label == "dot_numpy vs dot_loop" and best.speedup.passed
    assert c.leakage_checked
    (fixed,) = c.leaks_fixed
    assert fixed.task == "phase2/leakage" and fixed.this_week


def test_cohort_has_one_row_per_learner_and_the_best_score_per_task():
    rows = fixture_history() + [row("phase1/dot-product", 24, 75.0, learner="ben"),
                                row("phase1/dot-product", 25, 50.0, learner="ben"),
                                row("phase1/dot-product", 2, 100.0, learner="cy", month=12)]
    table = progress.cohort(rows, PACK, "2026-W48")
    assert table.learners == ("ana", "ben")  # cy graded after the week shown
    assert table.best[("ben", "phase1/dot-product")] == 75.0
    assert table.passed("ana") == 3 and table.passed("ben") == 0
    assert table.active == {"ana": 5, "ben": 2}
    assert set(PACK) <= set(table.tasks)


def test_week_parsing_rejects_nonsense():
    assert progress.parse_week("2026-W01") == date(2025, 12, 29)
    for bad in ("2026-48", "2026-W99", "W48", ""):
        with pytest.raises(ValueError):
            progress.parse_week(bad)


def test_weekly_page_shows_every_section():
    html = report.render_weekly(card())
    for text in ("Week 2026-W48", "tasks attempted", "day streak", "phase1/dot-product",
                 "Phase completion", "Month 3", "projects passed", "due 2027-02-10",
                 "Best speedups measured", "142× faster", "Leakage findings fixed",
                 "test_scaler_inside_the_fold"):
        assert text in html, text
    assert html.count("<svg") >= 1 + 4 + 3 + 4 + 1  # days, trends, phases, milestones, speedups
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_weekly_page_hides_what_was_never_measured():
    html = report.render_weekly(progress.weekly_card([], PACK, "2026-W48", "ana", TODAY))
    assert "Best speedups" not in html and "Leakage findings" not in html
    assert "Nothing graded" in html


def test_learner_names_are_escaped_everywhere():
    rows = [row("phase1/dot-product", 24, learner="<b>mallory</b>")]
    html = report.render_cohort(progress.cohort(rows, PACK, "2026-W48"))
    assert "<b>mallory</b>" not in html and "&lt;b&gt;mallory&lt;/b&gt;" in html
    weekly = report.render_weekly(progress.weekly_card(rows, PACK, "2026-W48",
                                                       "<i>x</i>", TODAY))
    assert "<i>x</i>" not in weekly


def test_terminal_text_of_the_card_and_the_cohort():
    text = click.unstyle(terminal.weekly_text(card()))
    assert "Week 2026-W48" in text and "streak 3 days" in text
    assert "phase1/dot-product" in text and "passed" in text
    assert "month  3" in text and "projects passed 1/2" in text
    assert "142× faster" in text and "leakage findings fixed  1 (1 this week)" in text
    table = click.unstyle(terminal.cohort_text(progress.cohort(fixture_history(), PACK,
                                                               "2026-W48")))
    assert table.splitlines()[1].startswith("ana") and "100%" in table
    assert terminal.sparkline((None, 0.0, 50.0, 100.0)) == "·▁▅█"


def _record(db: Path, task: str, stamp: str, score: float, learner: str) -> None:
    result = Result(task=task, task_version="1", task_fingerprint="f", submission="/tmp/s.py",
                    submission_sha256="0" * 64, verdict="graded", score=score, max_score=2.0,
                    checks=(CheckResult("hidden/test_a", "test_a", "correctness", "hidden",
                                        "pass" if score == 2.0 else "fail", score, 2.0),),
                    message="", duration_s=0.1, device={"used": "cpu"}, sandbox={},
                    harness_version="0", timestamp=stamp)
    history.record(db, result, learner=learner)


def test_scorecard_command_reads_the_history(workspace, tmp_path, monkeypatch):
    db = tmp_path / "h.sqlite"
    monkeypatch.setenv("HARNESS_HISTORY", str(db))
    _record(db, "phase0/add", "2026-11-17T09:00:00+00:00", 1.0, "ana")
    _record(db, "phase0/add", "2026-11-24T09:00:00+00:00", 2.0, "ana")
    _record(db, "phase0/add", "2026-11-24T10:00:00+00:00", 1.0, "ben")

    def grade(*args: str):
        return CliRunner().invoke(cli, ["--workspace", str(workspace), "--learner", "ana",
                                        *args])

    out = grade("scorecard", "--week", "2026-W48")
    assert out.exit_code == 0, out.output
    assert "Week 2026-W48  ana" in out.output and "phase0/add" in out.output
    assert "phase0  ████████████████████  1/1" in out.output
    page = tmp_path / "week.html"
    out = grade("scorecard", "--week", "2026-W48", "--html", str(page))
    assert out.exit_code == 0 and str(page) in out.output
    assert "Week 2026-W48" in page.read_text() and "ana" in page.read_text()
    cohort = grade("scorecard", "--week", "2026-W48", "--cohort")
    assert [line.split()[0] for line in cohort.output.splitlines()[1:3]] == ["ana", "ben"]
    assert grade("scorecard", "--week", "2026-48").exit_code == 2
