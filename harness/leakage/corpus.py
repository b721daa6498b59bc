"""A labelled corpus of programs, and how well the leakage check does on it.

``labels.toml`` names, for each program, its kind ("clean" or a leakage kind) and, for a
leaky one, the line (and notebook code cell) that causes the leak. A leaky program counts as
found when a finding of its kind is reported; as placed when that finding is at its line.
Any finding on a clean program is a false positive.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.leakage.judge import Finding
from harness.leakage.kinds import KINDS


@dataclass(frozen=True)
class Label:
    name: str
    path: Path
    kind: str  # "clean" or a kind
    line: int | None = None
    cell: int | None = None  # 1-based among the notebook's code cells


@dataclass
class Outcome:
    label: Label
    findings: list[Finding]
    seconds: float
    code_cell_files: dict[int, str] = field(default_factory=dict)  # code cell -> cell[N]

    @property
    def found(self) -> bool:
        return self.label.kind != "clean" and any(f.kind == self.label.kind
                                                  for f in self.findings)

    @property
    def placed(self) -> bool:
        want_file = self.code_cell_files.get(self.label.cell or 0, self.label.path.name) \
            if self.label.cell else self.label.path.name
        return any(f.kind == self.label.kind and f.line == self.label.line
                   and f.file == want_file for f in self.findings)

    @property
    def false_alarm(self) -> bool:
        """A finding that is not the labelled leak (any finding on a clean program)."""
        if self.label.kind == "clean":
            return bool(self.findings)
        return not self.found and bool(self.findings)


def load(folder: Path) -> list[Label]:
    with open(folder / "labels.toml", "rb") as fh:
        raw = tomllib.load(fh)
    labels = []
    for name, entry in sorted(raw.items()):
        kind = str(entry["kind"])
        if kind != "clean" and kind not in KINDS:
            raise ValueError(f"{name}: unknown kind {kind!r}")
        matches = [p for p in (folder / f"{name}.py", folder / f"{name}.ipynb") if p.is_file()]
        if len(matches) != 1:
            raise ValueError(f"{name}: expected one program, found {len(matches)}")
        labels.append(Label(name, matches[0], kind, entry.get("line"), entry.get("cell")))
    return labels


@dataclass(frozen=True)
class Score:
    kind: str
    programs: int
    found: int
    placed: int
    false_alarms: int

    @property
    def recall(self) -> float:
        return self.found / self.programs if self.programs and self.kind != "clean" else 1.0


def score(outcomes: Iterable[Outcome]) -> tuple[list[Score], float, float]:
    """Per kind, then overall precision and recall (program level)."""
    by_kind: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_kind.setdefault(o.label.kind, []).append(o)
    rows = [Score(k, len(v), sum(o.found for o in v), sum(o.placed for o in v),
                  sum(o.false_alarm for o in v)) for k, v in sorted(by_kind.items())]
    leaky = [o for v in by_kind.values() for o in v if o.label.kind != "clean"]
    flagged = [o for v in by_kind.values() for o in v if o.findings]
    true = sum(o.found for o in leaky)
    precision = true / len(flagged) if flagged else 1.0
    recall = true / len(leaky) if leaky else 1.0
    return rows, precision, recall


def run(labels: list[Label], check: Callable[[Path], tuple[list[Finding], dict[int, str]]],
        clock: Callable[[], float]) -> list[Outcome]:
    out = []
    for label in labels:
        start = clock()
        findings, cells = check(label.path)
        out.append(Outcome(label, findings, clock() - start, cells))
    return out
