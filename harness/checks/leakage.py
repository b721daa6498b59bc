"""Grader side of the dynamic leakage check: ask the child for a trace, judge it here.

``leakage.check("evaluate", X, y, 0)`` runs the learner function once under the child's
instrumentation (:mod:`harness.child.provenance`) and fails with a learner-facing message
when a fitted object had seen the rows it was later evaluated on. The trace is a claim from
an untrusted process: it is validated as data, and honest code is what it serves; a
submission that forges it gains nothing it could not get by not using scikit-learn.

The leaks found are also handed, as typed :class:`~harness.leakage.judge.Finding` records
(kind, place, message, fix, impact), to the plugin, which carries them in the check's
result so that the scorecard can show each one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from harness.checks import ShownToLearner
from harness.leakage.judge import Finding, judge, repeated_test_scoring
from harness.leakage.kinds import fix, impact
from harness.remote import Channel

#: at most this many leaks of one call are reported (and named in the message)
MAX_FINDINGS = 5


def findings(report: Any) -> list[Finding]:
    """The leaks a trace report shows (the rules of :mod:`harness.leakage.judge`)."""
    if not isinstance(report, dict):
        raise TypeError("the leakage trace is not well-formed")
    try:
        found = judge(report)
        # A task asks for one evaluation: several models scored on the same test rows from
        # one line is choosing on the test set (a whole program may compare and report all,
        # which is why `grade leakage` also wants the source to show the best one kept).
        for file, line in sorted(repeated_test_scoring(report)):
            found.append(Finding("multi-test", file, line, f"line {line} scores several "
                                 "differently fitted models on the same test rows, so the "
                                 "best of them is chosen by the test set", fix("multi-test")))
        # the text comes from an untrusted trace (file names, type names): bounded here
        return [replace(f, file=f.file[:200], message=f.message[:500],
                        impact=f.impact or impact(f.kind)) for f in found]
    except (TypeError, ValueError, AttributeError, KeyError):
        raise TypeError("the leakage trace is not well-formed") from None


def message(found: list[Finding]) -> str:
    """The learner-facing text for the leaks of one call."""
    parts = [f"{i + 1}) [{f.kind}] {f.message} ({f.where()}): {f.fix}."
             for i, f in enumerate(found[:MAX_FINDINGS])]
    return "data leakage: test rows reached training. " + " ".join(parts)


def _int(v: Any) -> int:
    if type(v) is not int:
        raise TypeError("the leakage trace is not well-formed")
    return v


def first_evaluation(report: dict[str, Any]) -> dict[str, Any] | None:
    """The first evaluation of held-out rows (not a training score) in a trace report."""
    for ev in report.get("evaluations", []):
        if isinstance(ev, dict) and ev.get("training") is not True and ev.get("input_rows"):
            return ev
    return None


def _states(report: dict[str, Any], ev: dict[str, Any]) -> dict[tuple[str, str, int, int], str]:
    fits = {f.get("id"): f for f in report.get("fits", []) if isinstance(f, dict)}
    out: dict[tuple[str, str, int, int], str] = {}
    for b in ev.get("behind", []):
        fit = fits.get(b.get("fit")) if isinstance(b, dict) else None
        if fit is not None:
            key = (str(fit.get("type"))[:80], str(fit.get("file"))[:200],
                   _int(fit.get("line")), _int(b.get("seq")))
            out[key] = str(b.get("state"))
    return out


def changed_by_perturbation(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Fitted objects behind the first evaluation whose state moved when only the evaluated
    rows' features were perturbed (matched by type, line and order of fitting)."""
    ev0, ev1 = first_evaluation(before), first_evaluation(after)
    if ev0 is None or ev1 is None:
        return []
    s0, s1 = _states(before, ev0), _states(after, ev1)
    return [f"{t} fitted at {f}:{ln}" for (t, f, ln, q), d in sorted(s0.items(),
                                                                    key=lambda kv: kv[0][2])
            if (t, f, ln, q) in s1 and s1[(t, f, ln, q)] != d]


class Leakage:
    """The ``leakage`` fixture: run a learner function under the provenance trace.

    ``record`` receives the findings of each :meth:`check` that finds a leak, before the
    check fails (the plugin keeps them for the check's result).
    """

    def __init__(self, channel: Channel,
                 record: Callable[[list[Finding]], None] | None = None) -> None:
        self._channel = channel
        self._record = record

    def trace(self, name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The child's trace report of one call (a claim; ``result`` is the call's value)."""
        report = self._channel.request({"op": "trace_leakage", "path": [name]},
                                       {"args": list(args), "kwargs": kwargs})
        if not isinstance(report, dict):
            raise TypeError("the leakage trace is not well-formed")
        return report

    def check(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``name`` traced; fail (learner-facing) on leakage; return the call's value."""
        report = self.trace(name, *args, **kwargs)
        found = findings(report)
        if found:
            if self._record is not None:
                self._record(found[:MAX_FINDINGS])
            raise ShownToLearner(message(found),
                                 tuple(f.where() for f in found[:MAX_FINDINGS]))
        return report.get("result")

    def metamorphic(self, name: str, X: Any, *rest: Any, **kwargs: Any) -> list[str]:
        """Re-run ``name(X, *rest)`` with only the first evaluation's rows of ``X`` changed.

        The rows come from the first trace (a claim); the comparison of fitted states is
        made here. Whatever was fitted on training rows only must not move; the fitted
        objects that did are returned (an empty list when nothing leaked or nothing was
        evaluated). ``X`` must be a 2-D NumPy array.
        """
        import numpy as np

        before = self.trace(name, X, *rest, **kwargs)
        ev = first_evaluation(before)
        if ev is None:
            return []
        rows = np.asarray([_int(i) for i in ev["input_rows"]], dtype=np.int64)
        rows = rows[(rows >= 0) & (rows < len(X))]
        X2 = np.array(X, dtype=np.float64, copy=True)
        scale = np.nanstd(X2, axis=0) + 1.0
        X2[rows] = X2[rows] * 1.5 + 2.0 * scale
        after = self.trace(name, X2, *rest, **kwargs)
        return changed_by_perturbation(before, after)
