"""Known mistakes, diagnosed by name: failing checks re-run against the task's mutants.

Every task ships mutants: whole submissions with one known mistake and a one-line
description of it (the module docstring). When a learner's check fails, the same check
(same test, same seeded inputs) runs again against each mutant, each in its own box on
the reference side: nothing of a mutant reaches the learner's child, and only data comes
back. A mutant *explains* a failing check when

* the check made calls (a correctness check): every call the learner's run made got the
  same reply from the mutant, within tolerance and of the same type, or the same
  exception type; this is the strong evidence ("your outputs match the mistake");
* the check made no calls (a static or timing check, used only when no correctness check
  failed): the mutant fails it as well.

The diagnosis lists the mutants that explain the most failing checks, strong evidence
first. A submission that passes every check gets none.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import hashlib
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness import submissions, wire
from harness.plugin import BoxSession, CheckLog, GraderPlugin, SideBox, start_side_box
from harness.results import CheckResult
from harness.sandbox import BoxFailure, BoxSpec
from harness.tasks import Task

#: Tolerances of "the same output": loose enough for a different summation order,
#: tight enough that 1/n against 2/n or ddof=0 against ddof=1 differ.
RTOL, ATOL = 1e-6, 1e-9
MAX_SHOWN = 3


@dataclass(frozen=True)
class Mutant:
    """A known mistake: the submission that makes it and its description in words."""

    path: Path
    name: str
    mistake: str


def mutants_of(folder: Path) -> list[Mutant]:
    """The mutants in ``folder`` (``reference/<task>/mutants``), with their descriptions."""
    out = []
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        out.append(Mutant(path, path.stem, describe(path)))
    return out


def describe(path: Path) -> str:
    """The mutant's docstring's first line, without its ``Mutant:`` label."""
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (SyntaxError, OSError, ValueError, UnicodeDecodeError):
        doc = None
    first = doc.strip().splitlines()[0] if doc and doc.strip() else path.stem.replace("_", " ")
    return re.sub(r"^Mutant\s*(\([^)]*\))?\s*:\s*", "", first).strip()


@dataclass
class Learner:
    """What the diagnosis needs from the learner's grading."""

    checks: Sequence[CheckResult]
    logs: dict[str, CheckLog]  # by check id
    selectors: dict[str, str]  # check id -> pytest node selector


RunTests = Callable[[list[str], GraderPlugin], None]


def diagnose(task: Task, learner: Learner, mutants: Sequence[Mutant], plugin_for: Callable[
        [BoxSession, dict[str, Any], Callable[[str], Any]], GraderPlugin],
        run_tests: RunTests, base: BoxSpec) -> list[dict[str, Any]]:
    """Diagnosis entries for the learner's failing checks (empty when none failed)."""
    failing = [c for c in learner.checks if c.status == "fail" and c.outcome != "no_credit"
               and c.id in learner.selectors]
    # Output by output (or finding by finding); a check that stopped at a stub is not a
    # mistake yet. Static and timing failures count only when every output was right.
    comparable = [c for c in failing if c.findings or (
        c.kind != "timing" and (log := learner.logs.get(c.id)) is not None and log.calls
        and not _unfinished(log))]
    if comparable or any(c.kind == "correctness" for c in failing):
        strong = chosen = comparable
    else:
        strong, chosen = [], failing
    if not chosen or not mutants:
        return []
    found = []
    try:
        for mutant in mutants:
            explained = _explained(task, mutant, chosen, learner, plugin_for, run_tests,
                                   base)
            if explained:
                found.append((mutant, explained))
    finally:
        if not _KEEP[0]:
            close_boxes()
    return [{"mutant": m.name, "mistake": m.mistake,
             "evidence": ("findings" if all(c.findings for c in strong) else "outputs")
             if strong else "failure",
             "checks": explained} for m, explained in cover(found)[:MAX_SHOWN]]


def cover(found: list[tuple[Mutant, list[str]]]) -> list[tuple[Mutant, list[str]]]:
    """The mutants worth naming: the one that explains most failing checks, then any
    that explains checks it leaves unexplained (a second mistake), greedily. A mutant
    that explains only a subset of what a named one explains is left out."""
    chosen: list[tuple[Mutant, list[str]]] = []
    covered: set[str] = set()
    remaining = list(found)
    while remaining:
        remaining.sort(key=lambda item: (-len(set(item[1]) - covered), -len(item[1]),
                                         item[0].name))
        mutant, explained = remaining.pop(0)
        if not set(explained) - covered:
            break
        chosen.append((mutant, explained))
        # Mutants that explain exactly the same checks are as likely: name them together.
        twins = [item for item in remaining if set(item[1]) == set(explained)]
        chosen += twins
        remaining = [item for item in remaining if item not in twins]
        covered |= set(explained)
    return chosen


#: What each mutant did in each check, per (task fingerprint, mutant file hash): the
#: checks' inputs are seeded by task and test, so a mutant's run does not depend on whose
#: failure is being diagnosed. Filled on demand; bounded.
Outcome = tuple[str, CheckLog | None, tuple[str, ...]]  # status, log, leakage kinds
_MEMO: dict[tuple[str, str], dict[str, Outcome]] = {}
MEMO_ENTRIES = 64


def _explained(task: Task, mutant: Mutant, chosen: list[CheckResult], learner: Learner,
               plugin_for: Callable[[BoxSession, dict[str, Any], Callable[[str], Any]],
                                    GraderPlugin],
               run_tests: RunTests, base: BoxSpec) -> list[str]:
    """The chosen checks this mutant explains."""
    theirs = _outcomes(task, mutant, [c.id for c in chosen], learner, plugin_for, run_tests,
                       base)
    out = []
    for check in chosen:
        status, log, kinds = theirs.get(check.id, ("missing", None, ()))
        if status not in ("fail", "error"):
            continue
        if check.findings:  # leakage: the same kinds of leak (lines differ between files)
            if kinds != finding_kinds(check):
                continue
            out.append(check.id)
            continue
        mine = learner.logs.get(check.id)
        if mine is not None and mine.calls:
            if log is None or not same_calls(mine, log):
                continue
        out.append(check.id)
    return out


def _outcomes(task: Task, mutant: Mutant, wanted: list[str], learner: Learner,
              plugin_for: Callable[[BoxSession, dict[str, Any], Callable[[str], Any]],
                                   GraderPlugin],
              run_tests: RunTests, base: BoxSpec) -> dict[str, Outcome]:
    """The mutant's status and log in the ``wanted`` checks, run in its box when not known
    yet (a batch or `grade validate` diagnoses the same checks again and again)."""
    key = (task.fingerprint(), hashlib.sha256(mutant.path.read_bytes()).hexdigest())
    if key not in _MEMO and len(_MEMO) >= MEMO_ENTRIES:
        _MEMO.clear()
    memo = _MEMO.setdefault(key, {})
    todo = [i for i in wanted if i not in memo]
    if todo:
        memo.update(_run(task, mutant, key, todo, learner, plugin_for, run_tests, base))
    return {i: memo[i] for i in wanted if i in memo}


#: The mutants' boxes, kept for the next diagnosis of the same task in this process.
_LIVE: dict[tuple[str, str], SideBox] = {}


def close_boxes(keep: str = "") -> None:
    """Close the mutants' boxes (those of task fingerprint ``keep`` stay)."""
    for key in [k for k in _LIVE if k[0] != keep]:
        _LIVE.pop(key).close()


atexit.register(close_boxes)
_KEEP = [False]


@contextlib.contextmanager
def keeping_boxes() -> Iterator[None]:
    """Keep the mutants' boxes running between gradings inside this block (`grade
    validate`, a batch worker: many gradings of one task); closed when it ends. Outside
    it every grading closes them, so no process outlives the grading that started it."""
    _KEEP[0] = True
    try:
        yield
    finally:
        _KEEP[0] = False
        close_boxes()


def _box(task: Task, mutant: Mutant, key: tuple[str, str], base: BoxSpec) -> SideBox | None:
    """The mutant's running box: started once per task and process (a box start with its
    imports costs more than most checks), restarted if it died; None if it cannot load."""
    close_boxes(keep=key[0])  # one task's mutants at a time
    live = _LIVE.get(key)
    if live is not None:
        live.session.budget.spent = 0.0  # each diagnosis gets the task's time again
        return live
    try:
        live = start_side_box(task, mutant.path, base)
    except BoxFailure:
        return None
    if not live.report.ok:
        live.close()
        return None
    _LIVE[key] = live
    return live


def _run(task: Task, mutant: Mutant, key: tuple[str, str], ids: list[str], learner: Learner,
         plugin_for: Callable[[BoxSession, dict[str, Any], Callable[[str], Any]],
                              GraderPlugin],
         run_tests: RunTests, base: BoxSpec) -> dict[str, Outcome]:
    """Run the checks ``ids`` against the mutant, in its own box."""
    failed: dict[str, Outcome] = {i: ("missing", None, ()) for i in ids}
    live = _box(task, mutant, key, base)
    if live is None:
        return failed

    def static(name: str) -> Any:
        return submissions.function_source(live.staged, live.sub, name)

    plugin = plugin_for(live.session, live.report.names, static)
    try:
        run_tests([learner.selectors[i] for i in ids], plugin)
    finally:
        if live.session.failures:  # it crashed or ran out of something: start afresh next time
            _LIVE.pop(key, None)
            live.close()
    for c in plugin.checks:
        failed[c.id] = (c.status, plugin.logs.get(c.id), finding_kinds(c))
    return failed


def finding_kinds(check: CheckResult) -> tuple[str, ...]:
    """The kinds of leakage a check found, as a sorted set."""
    return tuple(sorted({str(f.get("kind")) for f in check.findings if isinstance(f, dict)}))


def _unfinished(log: CheckLog | None) -> bool:
    """A check that stopped at a stub (``raise NotImplementedError``): not a mistake yet."""
    if log is None or not log.calls:
        return False
    reply = log.calls[-1][2]
    error = reply.get("error")
    return not reply.get("ok") and isinstance(error, dict) and \
        error.get("type") == "NotImplementedError"


def same_calls(mine: CheckLog, theirs: CheckLog) -> bool:
    """Every call of the learner's run answered the same way by the mutant."""
    if len(theirs.calls) < len(mine.calls):
        return False
    for (h1, _, r1), (h2, _, r2) in zip(mine.calls, theirs.calls, strict=False):
        if h1.get("op") != h2.get("op") or h1.get("path") != h2.get("path"):
            return False
        if h1.get("op") == "store":
            continue  # object ids, numbered by what the box stored before: not behaviour
        if not same_reply(r1, r2):
            return False
    return True


def same_reply(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two replies of the child: the same value, or the same exception type."""
    if bool(a.get("ok")) != bool(b.get("ok")):
        return False
    if not a.get("ok"):
        ea, eb = a.get("error"), b.get("error")
        return isinstance(ea, dict) and isinstance(eb, dict) and ea.get("type") == eb.get("type")
    return same_value(a.get("value"), b.get("value"))


def same_value(a: Any, b: Any, depth: int = 0) -> bool:
    """Equal within tolerance, and of the same type (a float32 result is not a float64
    one, a NumPy array is not a float): the observable behaviour, as a test sees it."""
    if depth > 20:
        return False
    if isinstance(a, wire.Handle) or isinstance(b, wire.Handle):
        return isinstance(a, wire.Handle) and isinstance(b, wire.Handle) and a.type == b.type
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.dtype.kind in "fc":
            return bool(np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True))
        if a.dtype.kind in "iub":
            return bool(np.array_equal(a, b))
        try:
            return bool(np.array_equal(a, b))
        except (TypeError, ValueError):
            return False
    if isinstance(a, float | np.floating):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same_value(x, y, depth + 1)
                                        for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k], depth + 1) for k in a)
    if _is_pandas(a):
        return _same_pandas(a, b)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - an odd __eq__ on decoded data: not the same
        return False


def _is_pandas(value: Any) -> bool:
    return type(value).__module__.startswith("pandas")


def _same_pandas(a: Any, b: Any) -> bool:
    import pandas as pd

    try:
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=RTOL, atol=ATOL)
        elif isinstance(a, pd.Series):
            pd.testing.assert_series_equal(a, b, check_exact=False, rtol=RTOL, atol=ATOL)
        elif isinstance(a, pd.Index):
            pd.testing.assert_index_equal(a, b)
        else:
            return bool(a == b)
    except (AssertionError, TypeError, ValueError):
        return False
    return True
