"""Grader side: turn the child's trace report of a whole program into leakage findings.

The report is data from the child (a claim, see :mod:`harness.child.provenance`); the rules
that make a finding of it live here, one function per kind of leakage.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from harness.leakage.kinds import KINDS, fix

SELECTORS = ("sklearn.feature_selection",)
#: a fitted step counts as having seen the evaluated rows when it saw at least this share
#: of them (a model: half, since a model trained on the test rows saw them all)
STEP_SHARE = 0.1
MODEL_SHARE = 0.5


@dataclass(frozen=True)
class Finding:
    """One leak: its kind, where it is caused, what happened, and how to fix it."""

    kind: str
    file: str  # the program's file name, or ``cell[N]`` (notebook position, 1-based)
    line: int
    message: str
    fix: str
    how: str = "run"  # "run" (seen happening), "code" (read in the source) or "run+code"
    #: why it inflates the score: how far the score moved once the leak was removed, when
    #: ``grade leakage`` measured it, or the kind's reason (the ``leakage`` fixture)
    impact: str = ""

    def where(self) -> str:
        if self.file.startswith("cell["):
            return f"{self.file.replace('[', ' ').rstrip(']')}, line {self.line}"
        return f"{self.file}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": self.file, "line": self.line, "where": self.where(),
                "message": self.message, "fix": self.fix, "how": self.how,
                "impact": self.impact}


def dicts(report: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = report.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _int(v: Any, default: int = 0) -> int:
    return v if type(v) is int else default


def outer_evaluations(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Evaluations of held-out rows made by the program itself (not inside a search)."""
    return [e for e in dicts(report, "evaluations")
            if e.get("training") is not True and e.get("searching") is not True
            and _int(e.get("rows")) > 0]


def leaky_steps(report: dict[str, Any], ev: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """The fitted objects behind one evaluation that had seen its rows, with the kind."""
    fits = {_int(f.get("id"), -1): f for f in dicts(report, "fits")}
    rows = _int(ev.get("rows"))
    out = []
    for b in ev.get("behind", []) if isinstance(ev.get("behind"), list) else []:
        if not isinstance(b, dict):
            continue
        fit = fits.get(_int(b.get("fit"), -1))
        if fit is None or fit.get("stateless") is True or fit.get("searching") is True:
            continue
        seen, copies = _int(b.get("seen")), _int(b.get("copies"))
        if fit.get("model") is True:
            if _int(b.get("fit"), -1) != ev.get("model"):
                continue  # a model inside another step (SelectFromModel): the step counts
            if copies >= max(2, 0.02 * rows) and copies >= 0.9 * seen:
                at = b.get("copied_at")
                if isinstance(at, list) and len(at) == 2:  # point at the duplication
                    fit = {**fit, "file": str(at[0]), "line": _int(at[1]), "fit_line": fit.get(
                        "line")}
                out.append((fit, "overlap-copies"))
            elif ev.get("held_out") is True and seen >= MODEL_SHARE * rows:
                out.append((fit, "overlap"))
        elif seen >= max(1.0, STEP_SHARE * rows):
            module = str(fit.get("module"))
            out.append((fit, "feature-selection" if module.startswith(SELECTORS)
                        else "preprocessing"))
    # the steps fitted together with a model that saw the rows (a Pipeline) add nothing
    models = {(f.get("file"), f.get("fit_line", f.get("line"))) for f, k in out
              if k.startswith("overlap")}
    return [(f, k) for f, k in out if k.startswith("overlap")
            or (f.get("file"), f.get("line")) not in models]


def _fitted_on_evaluated(report: dict[str, Any]) -> list[Finding]:
    found: dict[tuple[str, str, int, str], tuple[dict[str, Any], int, int]] = {}
    for ev in outer_evaluations(report):
        for fit, kind in leaky_steps(report, ev):
            key = (kind, str(fit.get("file")), _int(fit.get("line")), str(fit.get("type")))
            _, n, rows = found.get(key, (fit, 0, 0))
            found[key] = (fit, n + 1, rows + _int(ev.get("rows")))
    out = []
    for (kind, file, line, _), (fit, n, rows) in found.items():
        name = str(fit.get("type"))[:80]
        times = "" if n == 1 else f" ({n} evaluations)"
        if kind == "overlap":
            text = (f"{name} was trained at line {line} on rows that were then used to "
                    f"evaluate it{times}: the test rows are part of its training data")
        elif kind == "overlap-copies":
            kind = "overlap"
            text = (f"rows duplicated at line {line}, before the split, landed on both sides:"
                    f" {name} (trained at line {fit.get('fit_line', line)}) was evaluated on "
                    f"copies of its training rows{times}")
        else:
            what = "chose its features" if kind == "feature-selection" else "was fitted"
            text = (f"{name} {what} at line {line} on rows that include the {rows} rows it "
                    f"later helped to evaluate{times}")
        out.append(Finding(kind, file, line, text, fix(kind)))
    return out


def _target(report: dict[str, Any]) -> list[Finding]:
    evaluated_models = {e.get("model") for e in outer_evaluations(report)}
    out = []
    for fit in dicts(report, "fits"):
        cols = [str(c)[:60] for c in fit.get("target_columns", []) or []][:3]
        if cols and fit.get("id") in evaluated_models:
            out.append(Finding("target", str(fit.get("file")), _int(fit.get("line")),
                               f"{fit.get('type')} was trained at line {fit.get('line')} with "
                               f"{', '.join(cols)} among its features, a copy of the label",
                               fix("target")))
    return out


def _temporal(report: dict[str, Any]) -> list[Finding]:
    out = []
    for s in dicts(report, "splits"):
        if s.get("temporal") is True and s.get("shuffled") is True:
            out.append(Finding("temporal", str(s.get("file")), _int(s.get("line")),
                               f"{s.get('how')} at line {s.get('line')} shuffles a time series:"
                               " rows from the future end up in training, rows from the past "
                               "in the test set", fix("temporal")))
    evaluated_models = {e.get("model") for e in outer_evaluations(report)}
    for fit in dicts(report, "fits"):
        if fit.get("id") not in evaluated_models:
            continue
        for site in fit.get("future_sites", []) or []:
            if isinstance(site, list) and len(site) == 2:
                out.append(Finding("temporal", str(site[0]), _int(site[1]),
                                   f"the feature built at line {site[1]} uses values from the "
                                   f"future (shift(-k) or a centred window), and "
                                   f"{fit.get('type')} was trained and evaluated on it",
                                   fix("temporal")))
    return out


def _groups(report: dict[str, Any]) -> list[Finding]:
    """Splits that put the same entity (patient, user, match) on both sides."""
    out: list[Finding] = []
    seen: set[tuple[str, int]] = set()
    for s in dicts(report, "splits"):
        g = s.get("groups")
        place = (str(s.get("file")), _int(s.get("line")))
        if isinstance(g, list) and len(g) == 3 and place not in seen:
            seen.add(place)
            out.append(Finding("overlap", str(s.get("file")), _int(s.get("line")),
                               f"{s.get('how')} at line {s.get('line')} puts rows of the same "
                               f"{g[0]} on both sides ({g[1]} of the {g[2]} {g[0]} values in the "
                               "test rows are also in the training rows): the model is tested "
                               "on entities it has already seen",
                               "split by entity: GroupKFold / GroupShuffleSplit with groups="
                               f"the {g[0]} column"))
    return out


def _best_score(report: dict[str, Any]) -> list[Finding]:
    outer = outer_evaluations(report)
    out = []
    for read in dicts(report, "best_score_reads"):
        if read.get("searched_in_fold") is True:
            continue
        after = [e for e in outer if _int(e.get("seq")) > _int(read.get("fit_seq"))]
        if not after:
            out.append(Finding("multi-test", str(read.get("file")), _int(read.get("line")),
                               f"{read.get('search')}.best_score_ read at line "
                               f"{read.get('line')} is the best of many cross-validated scores,"
                               " and nothing else evaluates the chosen model: it is an "
                               "optimistic estimate", fix("multi-test")))
    return out


def repeated_test_scoring(report: dict[str, Any]) -> set[tuple[str, int]]:
    """Lines that scored three or more different fitted models on the same held-out rows."""
    groups: dict[tuple[str, str, int], set[tuple[Any, str]]] = {}
    for e in outer_evaluations(report):
        if e.get("held_out") is not True:
            continue
        key = (str(e.get("group")), str(e.get("file")), _int(e.get("line")))
        state = next((str(b.get("state")) for b in e.get("behind", [])
                      if isinstance(b, dict) and b.get("fit") == e.get("model")), "")
        groups.setdefault(key, set()).add((e.get("model"), state))
    return {(f, ln) for (_, f, ln), models in groups.items() if len(models) >= 3}


def judge(report: dict[str, Any]) -> list[Finding]:
    """Every finding the run shows, one per (kind, place)."""
    if not isinstance(report, dict):
        raise TypeError("the leakage trace is not well-formed")
    found: dict[tuple[str, str, int, str], Finding] = {}
    for f in (_fitted_on_evaluated(report) + _target(report) + _temporal(report)
              + _groups(report) + _best_score(report)):
        if f.kind in KINDS:
            found.setdefault((f.kind, f.file, f.line, f.message), f)
    return sorted(found.values(), key=lambda f: (f.file, f.line, f.kind))


def with_impact(finding: Finding, impact: str) -> Finding:
    return replace(finding, impact=impact)
