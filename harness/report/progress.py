"""The weekly progress card and the cohort table, computed from history rows.

Pure functions of the gradings (``history.timeline`` rows), the task ids of the pack
and the week asked for. Days and weeks are UTC, like the timestamps they come from.
A task counts as passed when a ``submit`` grading (public and hidden tests) scored
full marks; ``check`` gradings count as activity only. A grading with nothing gradable
(every check that scores skipped, e.g. a device task on a machine without its device)
is activity too: it has no percentage, so it is in no best score, trend or cohort cell.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from harness.report.findings import Speedup, is_leakage, speedups
from harness.summary import not_gradable

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
#: How many weeks the score trend covers, ending with the week shown.
TREND_WEEKS = 8


@dataclass(frozen=True)
class MilestoneSpec:
    """A roadmap milestone: by month ``month``, pass tasks matching each pattern."""

    month: int
    label: str
    parts: tuple[tuple[str, str, int], ...]  # (what, task id pattern, how many)


#: The roadmap's milestones, counted on passed tasks of the pack's ``projects`` phase.
MILESTONES = (
    MilestoneSpec(3, "2 end-to-end projects (tabular + image classification)",
                  (("projects passed", "projects/*", 2),)),
    MilestoneSpec(6, "1 research paper reproduced, 1 model deployed",
                  (("paper reproductions", "projects/*paper*", 1),
                   ("deployments", "projects/*deploy*", 1))),
    MilestoneSpec(12, "a portfolio of 6–10 polished projects",
                  (("projects passed", "projects/*", 6),)),
)


@dataclass(frozen=True)
class TaskTrend:
    """One task on the card: this week's activity and its best score per week."""

    task: str
    attempts: int
    best: float | None
    passed: bool
    passed_this_week: bool
    trend: tuple[float | None, ...]
    not_gradable: str = ""  # this week's submits had nothing gradable: why, instead of 0 %


@dataclass(frozen=True)
class PhaseProgress:
    """Tasks of one phase of the pack passed so far."""

    phase: str
    passed: int
    total: int


@dataclass(frozen=True)
class MilestoneProgress:
    """A milestone with its counts so far and when it falls due."""

    month: int
    label: str
    parts: tuple[tuple[str, int, int], ...]  # (what, passed, target)
    due: date | None

    @property
    def fraction(self) -> float:
        return sum(min(n, t) for _, n, t in self.parts) / sum(t for _, _, t in self.parts)

    @property
    def done(self) -> bool:
        return self.fraction >= 1.0


@dataclass(frozen=True)
class BestSpeedup:
    """The best ratio a check has measured so far."""

    task: str
    check: str
    speedup: Speedup
    week: str


@dataclass(frozen=True)
class FixedLeak:
    """A leakage check that failed in one grading and passed in a later one."""

    task: str
    check: str
    fixed_on: str
    this_week: bool


@dataclass(frozen=True)
class WeeklyCard:
    """Everything the weekly scorecard shows for one learner and one week."""

    learner: str
    week: str
    start: date
    end: date
    weeks: tuple[str, ...]
    days: tuple[tuple[date, bool], ...]
    streak: int
    gradings: int
    tasks: tuple[TaskTrend, ...]
    phases: tuple[PhaseProgress, ...]
    milestones: tuple[MilestoneProgress, ...]
    speedups: tuple[BestSpeedup, ...]
    leaks_fixed: tuple[FixedLeak, ...]
    leakage_checked: bool

    @property
    def active_days(self) -> int:
        return sum(1 for _, active in self.days if active)

    @property
    def attempted(self) -> int:
        return sum(1 for t in self.tasks if t.attempts)

    @property
    def passed(self) -> int:
        return sum(1 for t in self.tasks if t.passed_this_week)


@dataclass(frozen=True)
class Cohort:
    """Best score per learner and task: the instructor's view."""

    learners: tuple[str, ...]
    tasks: tuple[str, ...]
    best: Mapping[tuple[str, str], float]
    active: Mapping[str, int]  # gradings in the week shown, per learner
    week: str

    def passed(self, learner: str) -> int:
        return sum(1 for t in self.tasks if self.best.get((learner, t), 0.0) >= 100.0)


def parse_week(text: str) -> date:
    """The Monday of an ISO week written ``2026-W48``; ValueError otherwise."""
    match = WEEK.match(text)
    if not match:
        raise ValueError(f"{text!r} is not an ISO week like 2026-W48")
    return date.fromisocalendar(int(match[1]), int(match[2]), 1)


def week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _day(row: Mapping[str, Any]) -> date:
    return datetime.fromisoformat(str(row["timestamp"])).date()


def _percent(row: Mapping[str, Any]) -> float:
    top = float(row["max_score"])
    return 100.0 * float(row["score"]) / top if top else 0.0


def _scored(row: Mapping[str, Any]) -> bool:
    """A ``submit`` grading with a percentage (not one where every check was skipped)."""
    return row["mode"] == "submit" and float(row["max_score"]) > 0


def _passed(row: Mapping[str, Any]) -> bool:
    return (row["mode"] == "submit" and row["verdict"] == "graded"
            and float(row["max_score"]) > 0 and _percent(row) >= 100.0 - 1e-9)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def streak(active: set[date], ref: date) -> int:
    """Consecutive active days ending at ``ref``, or at the day before if ``ref`` is idle.

    A streak is still alive on a day nothing has been graded yet.
    """
    day = ref if ref in active else ref - timedelta(days=1)
    count = 0
    while day in active:
        count += 1
        day -= timedelta(days=1)
    return count


def weekly_card(gradings: Sequence[Mapping[str, Any]], pack: Sequence[str], week: str,
                learner: str, today: date) -> WeeklyCard:
    """The weekly card of ``learner`` for ``week`` from their gradings (oldest first).

    Parameters
    ----------
    gradings
        ``history.timeline`` rows (with ``result`` documents for speedups and leakage);
        rows of other learners are ignored, rows with no learner are taken as theirs.
    pack
        Task ids of the task pack, for phase totals.
    today
        The current UTC date: the streak is counted up to it (or to the week's end).
    """
    start = parse_week(week)
    end = start + timedelta(days=6)
    seen = [g for g in gradings if g.get("mode") != "validate" and _day(g) <= end
            and g.get("learner", "") in (learner, "")]
    weeks = tuple(week_label(start - timedelta(weeks=n)) for n in range(TREND_WEEKS - 1, -1, -1))
    this_week = [g for g in seen if _day(g) >= start]
    active = {_day(g) for g in seen}
    days = tuple((start + timedelta(days=i), start + timedelta(days=i) in active)
                 for i in range(7))

    passed_ever = {g["task"] for g in seen if _passed(g)}
    trends = []
    for task in sorted({g["task"] for g in seen if week_label(_day(g)) in weeks}):
        mine = [g for g in seen if g["task"] == task]
        best_by_week: dict[str, float] = {}
        for g in mine:
            if _scored(g):
                label = week_label(_day(g))
                best_by_week[label] = max(best_by_week.get(label, 0.0), _percent(g))
        current = [g for g in mine if _day(g) >= start]
        unscored = [g for g in current if g["mode"] == "submit" and not _scored(g)]
        trends.append(TaskTrend(
            task=task, attempts=len(current), best=best_by_week.get(week),
            passed=task in passed_ever, passed_this_week=any(_passed(g) for g in current),
            trend=tuple(best_by_week.get(w) for w in weeks),
            not_gradable=not_gradable(0.0, _checks(unscored[-1]))
            if unscored and week not in best_by_week else ""))

    phases = tuple(PhaseProgress(phase, sum(1 for t in pack if t.startswith(phase + "/")
                                            and t in passed_ever),
                                 sum(1 for t in pack if t.startswith(phase + "/")))
                   for phase in sorted({t.split("/")[0] for t in pack}))
    first = min(active) if active else None
    milestones = tuple(MilestoneProgress(
        m.month, m.label,
        tuple((what, sum(1 for t in passed_ever if fnmatch.fnmatch(t, pattern)), need)
              for what, pattern, need in m.parts),
        _add_months(first, m.month) if first else None) for m in MILESTONES)
    leaks, checked = _leaks_fixed(seen, start)
    return WeeklyCard(
        learner=learner, week=week, start=start, end=end, weeks=weeks, days=days,
        streak=streak(active, min(today, end)), gradings=len(this_week), tasks=tuple(trends),
        phases=phases, milestones=milestones, speedups=_best_speedups(seen),
        leaks_fixed=leaks, leakage_checked=checked)


def _checks(row: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    doc = row.get("result")
    checks = doc.get("checks", []) if isinstance(doc, Mapping) else []
    return [c for c in checks if isinstance(c, Mapping)]


def _best_speedups(seen: Sequence[Mapping[str, Any]], limit: int = 8) -> tuple[BestSpeedup, ...]:
    best: dict[tuple[str, str, str], BestSpeedup] = {}
    for row in seen:
        for check in _checks(row):
            for s in speedups(check):
                key = (row["task"], str(check.get("name", "")), s.label)
                if key not in best or s.ratio > best[key].speedup.ratio:
                    best[key] = BestSpeedup(row["task"], key[1], s, week_label(_day(row)))
    return tuple(sorted(best.values(), key=lambda b: -b.speedup.ratio)[:limit])


def _leaks_fixed(seen: Sequence[Mapping[str, Any]],
                 start: date) -> tuple[tuple[FixedLeak, ...], bool]:
    last: dict[tuple[str, str], str] = {}
    fixed: list[FixedLeak] = []
    checked = False
    for row in seen:
        if row["mode"] != "submit":
            continue
        for check in _checks(row):
            if not is_leakage(check):
                continue
            checked = True
            key = (row["task"], str(check.get("name", "")))
            status = str(check.get("status", ""))
            if status == "pass" and last.get(key) in ("fail", "error"):
                fixed.append(FixedLeak(key[0], key[1], str(row["timestamp"]),
                                       _day(row) >= start))
            last[key] = status
    return tuple(fixed), checked


def cohort(gradings: Sequence[Mapping[str, Any]], pack: Sequence[str], week: str) -> Cohort:
    """Best submit score per learner and task up to the end of ``week``."""
    start = parse_week(week)
    end = start + timedelta(days=6)
    best: dict[tuple[str, str], float] = {}
    active: dict[str, int] = {}
    learners: set[str] = set()
    for row in gradings:
        day = _day(row)
        if day > end or row.get("mode") == "validate":
            continue
        who = str(row.get("learner", ""))
        learners.add(who)
        if day >= start:
            active[who] = active.get(who, 0) + 1
        if _scored(row):
            key = (who, str(row["task"]))
            best[key] = max(best.get(key, 0.0), _percent(row))
    tasks = sorted(set(pack) | {t for _, t in best})
    return Cohort(tuple(sorted(learners)), tuple(tasks), best, active, week)
