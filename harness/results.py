"""Result records: one per grading, with a schema version, round-tripping through JSON."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

SCHEMA_VERSION = 1
Verdict = Literal["graded", "submission_error", "timeout", "memory_limit", "output_limit",
                  "disk_limit", "crashed"]
Status = Literal["pass", "fail", "error", "skip"]
VERDICTS = ("graded", "submission_error", "timeout", "memory_limit", "output_limit",
            "disk_limit", "crashed")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one test of the task."""

    id: str
    name: str
    kind: str
    visibility: Literal["public", "hidden"]
    status: Status
    points: float
    max_points: float
    message: str = ""
    hint: str = ""
    where: tuple[str, ...] = ()
    outcome: str | None = None
    duration_s: float = 0.0
    timing: tuple[dict[str, Any], ...] = ()
    uses: tuple[str, ...] = ()  # the submission's names this check used
    #: the leaks a leakage check found, each ``harness.leakage.judge.Finding.to_dict()``
    findings: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Result:
    """Everything one grading established; scores are computed here, in the grader."""

    task: str
    task_version: str
    task_fingerprint: str
    submission: str
    submission_sha256: str
    verdict: Verdict
    score: float
    max_score: float
    checks: tuple[CheckResult, ...]
    message: str
    duration_s: float
    device: dict[str, Any]
    sandbox: dict[str, Any]
    harness_version: str
    timestamp: str
    mode: Literal["submit", "check", "validate"] = "submit"
    output: dict[str, str] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    submission_format: str = ""  # module, folder or notebook ("" in older documents)
    notebook: dict[str, Any] = field(default_factory=dict)  # the executed notebook, if one
    #: Known mistakes (the task's mutants) whose outputs the failing checks match.
    diagnosis: tuple[dict[str, Any], ...] = ()
    schema_version: int = SCHEMA_VERSION

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0

    @property
    def gradable(self) -> bool:
        """False when every check that scores was skipped (a device task where its device
        or torch is absent): there is no percentage, the result counts in no average, and
        it reads "not gradable on this machine" (:func:`harness.summary.not_gradable`)."""
        return self.max_score > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)


def score_checks(checks: list[CheckResult]) -> tuple[float, float]:
    """Points earned and points possible; skipped checks count for neither."""
    counted = [c for c in checks if c.status != "skip"]
    return (round(sum(c.points for c in counted), 3), round(sum(c.max_points for c in counted), 3))


def credit_working_code(checks: list[CheckResult]) -> list[CheckResult]:
    """Checks of how code is written (quality, style, timing, leakage) earn their points
    only for functions that pass a correctness check: an untouched stub has no loops and
    must not score for that. A name counts as working once a passing correctness check
    used it; names no correctness check uses, and checks that used no name of the
    submission, are left as they are (there is nothing to judge them against)."""
    tested = {name for c in checks if c.kind == "correctness" for name in c.uses}
    working = {name for c in checks if c.kind == "correctness" and c.status == "pass"
               for name in c.uses}
    out = []
    for c in checks:
        idle = [n for n in c.uses if n in tested and n not in working]
        if c.kind != "correctness" and c.status == "pass" and idle:
            names = ", ".join(f"`{n}`" for n in idle)
            c = replace(c, status="fail", points=0.0, outcome="no_credit",
                        message=f"no credit yet: {names} passes no correctness check, and "
                        f"{c.kind} is scored only for code that works")
        out.append(c)
    return out


def result_from_dict(data: dict[str, Any]) -> Result:
    """Rebuild a result from its JSON form (migrating older schema versions first)."""
    data = dict(data)
    version = data.get("schema_version", 1)
    if version != SCHEMA_VERSION:
        raise ValueError(f"result schema version {version} is not supported")
    data["checks"] = tuple(CheckResult(**{**c, "where": tuple(c.get("where", ())),
                                          "timing": tuple(c.get("timing", ())),
                                          "uses": tuple(c.get("uses", ())),
                                          "findings": tuple(c.get("findings", ()))})
                           for c in data["checks"])
    data["diagnosis"] = tuple(data.get("diagnosis", ()))
    return Result(**data)


def save(result: Result, reports_dir: Path) -> Path:
    """Write the result document under ``reports/<task>/`` atomically; return its path."""
    folder = reports_dir / result.task
    folder.mkdir(parents=True, exist_ok=True)
    stamp = result.timestamp.replace(":", "").replace("-", "").replace("+0000", "Z")
    path = folder / f"{stamp}-{result.mode}-{result.submission_sha256[:8]}.json"
    return write_atomically(path, result.to_json())


def write_atomically(path: Path, text: str) -> Path:
    """Write a file so that a reader never sees half of it (temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
