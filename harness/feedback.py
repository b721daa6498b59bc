"""What to fix first: a result's failures grouped by cause and ordered, for every view.

A learner reads one message per cause, not the same traceback once per check: checks that
failed for the same reason (same message, same place, same hint) form one :class:`Cause`,
and causes come in the order they have to be fixed: the module did not load, then the
interface, then correctness, leakage, quality and style, timing last (a timing verdict on
wrong code means nothing). Parametrized cases of one test are one :class:`TestLine`.
The terminal summary and the HTML scorecard both read these; neither groups on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from harness.results import CheckResult

#: Stages in the order a learner should work through them, with their headings.
STAGES = (("load", "did not load"), ("interface", "interface"),
          ("correctness", "correctness"), ("leakage", "leakage"), ("quality", "quality"),
          ("style", "style"), ("timing", "timing"), ("other", "other"))
_ORDER = {name: i for i, (name, _) in enumerate(STAGES)}
HEADINGS = dict(STAGES)


def stage(check: CheckResult) -> str:
    """Which stage a failing check belongs to."""
    if check.outcome == "not_run":
        return "load"
    if check.outcome == "missing":
        return "interface"
    return check.kind if check.kind in _ORDER else "other"


@dataclass
class Cause:
    """One reason, and every check that failed for it."""

    stage: str
    message: str
    hint: str
    where: tuple[str, ...]
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def heading(self) -> str:
        return HEADINGS.get(self.stage, self.stage)

    @property
    def points_lost(self) -> float:
        return sum(c.max_points - c.points for c in self.checks)

    def check_list(self, limit: int = 4) -> str:
        """``a, b, c (+5 more)``: the checks of this cause, parametrized cases folded."""
        names = list(dict.fromkeys(f"{c.visibility}/{base_name(c.name)}" for c in self.checks))
        shown = ", ".join(names[:limit])
        return shown + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


def causes(checks: Iterable[CheckResult]) -> list[Cause]:
    """Failed and errored checks grouped by cause, in the order to fix them."""
    groups: dict[tuple[str, str, str, tuple[str, ...]], Cause] = {}
    for check in checks:
        if check.status not in ("fail", "error"):
            continue
        where = check.where[-1:] if check.where else ()
        at = stage(check)
        # A check that did not run has no use for its hint: the cause is what stopped it.
        hint = "" if at in ("load", "interface") else check.hint
        key = (at, _first_line(check.message), hint, where)
        if key not in groups:
            groups[key] = Cause(at, check.message, hint, where)
        groups[key].checks.append(check)
    return sorted(groups.values(), key=lambda c: (_ORDER.get(c.stage, 99), -c.points_lost))


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def base_name(name: str) -> str:
    """A check's test name without its parametrization: ``test_x[a-b]`` -> ``test_x``."""
    return name.split("[", 1)[0]


@dataclass
class TestLine:
    """One test function of the task: its parametrized cases folded into one line."""

    id: str
    kind: str
    visibility: str
    cases: list[CheckResult]

    @property
    def points(self) -> float:
        return sum(c.points for c in self.cases)

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.cases)

    @property
    def status(self) -> str:
        statuses = {c.status for c in self.cases}
        for s in ("error", "fail", "skip"):
            if statuses == {s}:
                return s
        if statuses <= {"pass", "skip"} and "pass" in statuses:
            return "pass"
        return "partial"

    @property
    def passed(self) -> int:
        return sum(c.status == "pass" for c in self.cases)

    @property
    def counted(self) -> int:
        return sum(c.status != "skip" for c in self.cases)


def test_lines(checks: Sequence[CheckResult]) -> list[TestLine]:
    """The checks folded per test function, in the order they ran."""
    lines: dict[str, TestLine] = {}
    for c in checks:
        key = f"{c.visibility}/{base_name(c.name)}"
        if key not in lines:
            lines[key] = TestLine(key, c.kind, c.visibility, [])
        lines[key].cases.append(c)
    return list(lines.values())


def points(value: float) -> str:
    """Points as a person writes them: ``3``, ``1.5``, ``0.33`` (never ``0.111``)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


_FIELDS = {f.name for f in fields(CheckResult)}


def from_document(check: Mapping[str, Any]) -> CheckResult:
    """A check of a result document (any harness version) as a :class:`CheckResult`:
    unknown fields dropped, missing ones defaulted, so old documents group too."""
    data = {k: v for k, v in check.items() if k in _FIELDS}
    data.setdefault("id", str(check.get("name", "?")))
    data.setdefault("name", str(data["id"]).split("/", 1)[-1])
    data.setdefault("kind", "correctness")
    data.setdefault("visibility", "public")
    data.setdefault("status", "error")
    data.setdefault("points", 0.0)
    data.setdefault("max_points", 0.0)
    for key in ("where", "timing", "uses", "findings"):
        if key in data and isinstance(data[key], list):
            data[key] = tuple(data[key])
    return CheckResult(**data)
