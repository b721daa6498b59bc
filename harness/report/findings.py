"""What scorecards read from a check beyond its fixed fields: speedups and leakage findings.

Both come from optional parts of a check in the result document, read tolerantly so
that documents written before (or after) those parts existed still render.

A check's ``timing`` (issue 4) is one comparison or a list of them, each a mapping
with a ratio under ``ratio`` (or ``speedup``, ``median_ratio``), an interval as
``ci``/``interval`` (``[low, high]``) or ``ci_low``/``ci_high``, the pass threshold as
``required`` (or ``threshold``, ``min_ratio``), and optional ``label`` (or ``fast``
and ``slow``), ``rounds`` and ``outcome`` (``pass``, ``fail``, ``inconclusive``): the
shape of ``harness.timing.Measurement.to_dict()``. A mapping holding ``comparisons`` is
a list of them.

A check of kind ``leakage`` carries the leaks it found under ``findings`` (issue 12): a
list of mappings with ``kind`` (one of :data:`harness.leakage.kinds.KINDS`), ``where``
(``file:line`` or ``cell N, line M``; else built from ``file`` and ``line``), ``message``,
``fix`` and ``impact``: the shape of ``harness.leakage.judge.Finding.to_dict()``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Speedup:
    """One measured ratio: how many times faster the candidate ran than its baseline."""

    label: str
    ratio: float
    low: float | None = None
    high: float | None = None
    required: float | None = None
    rounds: int | None = None
    outcome: str = ""

    @property
    def passed(self) -> bool:
        if self.outcome in ("pass", "fail", "inconclusive"):
            return self.outcome == "pass"
        return self.required is None or self.ratio >= self.required

    def describe(self) -> str:
        """One line for a learner: ratio, interval, threshold."""
        text = (f"{self.label}: {_fmt(self.ratio)}× faster" if self.ratio >= 1 else
                f"{self.label}: {_fmt(1 / self.ratio)}× slower")
        if self.low is not None and self.high is not None:
            text += f" (95% CI {_fmt(self.low)}–{_fmt(self.high)}×"
            text += f", {self.rounds} rounds)" if self.rounds else ")"
        if self.required is not None:
            text += f"; needed ≥ {_fmt(self.required)}×"
        if self.outcome == "inconclusive":
            text += "; inconclusive (too noisy to decide, not counted)"
        return text


@dataclass(frozen=True)
class CodeLine:
    """A line of the learner's code shown with a finding."""

    number: int | None
    text: str
    offending: bool


@dataclass(frozen=True)
class LeakageFinding:
    """One leak a leakage check found, in learner terms: what, where, why it matters, and
    what to do instead."""

    check: str
    kind: str
    where: str
    message: str
    fix: str
    impact: str


def _positive(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


def _first(entry: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if entry.get(key) is not None:
            return entry[key]
    return None


def _speedup(entry: Mapping[str, Any], default_label: str) -> Speedup | None:
    ratio = _positive(_first(entry, "ratio", "speedup", "median_ratio"))
    if ratio is None:
        return None
    interval = _first(entry, "ci", "interval", "ci95")
    low = high = None
    if isinstance(interval, Sequence) and not isinstance(interval, str) and len(interval) == 2:
        low, high = _positive(interval[0]), _positive(interval[1])
    else:
        low, high = _positive(entry.get("ci_low")), _positive(entry.get("ci_high"))
    if low is None or high is None or low > high:
        low = high = None
    label = entry.get("label")
    if not isinstance(label, str) or not label:
        cand = _first(entry, "candidate", "fast")
        base = _first(entry, "baseline", "slow")
        label = f"{cand} vs {base}" if isinstance(cand, str) and isinstance(base, str) \
            else default_label
    rounds = entry.get("rounds")
    outcome = entry.get("outcome")
    return Speedup(label=label, ratio=ratio, low=low, high=high,
                   required=_positive(_first(entry, "required", "threshold", "min_ratio")),
                   rounds=rounds if isinstance(rounds, int) and not isinstance(rounds, bool)
                   else None, outcome=outcome if isinstance(outcome, str) else "")


def speedups(check: Mapping[str, Any]) -> list[Speedup]:
    """The speedups one check measured; empty when it carries no timing data."""
    timing = check.get("timing")
    if isinstance(timing, Mapping) and timing.get("comparisons") is not None:
        timing = timing["comparisons"]
    entries = timing if isinstance(timing, list | tuple) else [timing]
    name = str(check.get("name", "speedup"))
    found = [_speedup(e, name) for e in entries if isinstance(e, Mapping)]
    return [s for s in found if s is not None]


def is_leakage(check: Mapping[str, Any]) -> bool:
    return check.get("kind") == "leakage"


def _where(entry: Mapping[str, Any]) -> str:
    where = entry.get("where")
    if isinstance(where, str) and where:
        return where
    file, line = entry.get("file"), entry.get("line")
    if isinstance(file, str) and file:
        return f"{file}:{line}" if isinstance(line, int) and not isinstance(line, bool) \
            else file
    return ""


def leakage_findings(checks: Sequence[Mapping[str, Any]]) -> list[LeakageFinding]:
    """Every leak the leakage checks found, in check order; empty when none found one."""
    found = []
    for check in checks:
        entries = check.get("findings") if is_leakage(check) else None
        if not isinstance(entries, list | tuple):
            continue
        name = str(check.get("name", ""))
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            found.append(LeakageFinding(
                check=name, kind=str(entry.get("kind") or "leakage"), where=_where(entry),
                message=str(entry.get("message", "")),
                fix=str(entry.get("fix") or check.get("hint", "")),
                impact=str(entry.get("impact", ""))))
    return found


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"
