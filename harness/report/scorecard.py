"""The submission scorecard's content: a result document turned into what the page shows.

Works on the document (the JSON form) rather than the dataclass, so a saved report
written by an older or newer harness still renders; unknown fields are ignored and
missing optional ones hide their section.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from harness import feedback
from harness.report import charts
from harness.report.findings import CodeLine, Speedup, is_leakage, leakage_findings, speedups
from harness.summary import VERDICT_TEXT, not_gradable

#: Sandbox fields in the order a reader wants them, and the values that mean "weaker".
SANDBOX_FIELDS = ("level", "detail", "network", "pid_namespace", "hidden_files", "filesystem",
                  "environment", "process_limit", "rlimits", "memory_bytes", "cpu_seconds",
                  "call_seconds", "output_bytes", "no_survivors")
WEAK = {("level", "minimal"), ("hidden_files", "readable"), ("network", "host"),
        ("pid_namespace", False), ("no_survivors", False)}
DEVICE_FIELDS = ("requested", "used", "name", "machine", "processor", "python", "numpy",
                 "torch", "child_threads")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_shown(v) for v in value) or "none"
    if value is None:
        return "—"
    return str(value)


def _sandbox_rows(sandbox: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    keys = [k for k in SANDBOX_FIELDS if k in sandbox]
    keys += sorted(k for k in sandbox if k not in SANDBOX_FIELDS and k != "backend")
    rows = []
    for key in keys:
        value = sandbox[key]
        if key.endswith("_bytes") and isinstance(value, int) and not isinstance(value, bool):
            text = f"{value / 2**20:g} MiB"
        else:
            text = _shown(value)
        weak = any(key == k and value == v for k, v in WEAK)
        rows.append((key.replace("_", " "), text, weak))
    return rows


def _device_rows(device: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = [(k.replace("_", " "), _shown(device[k])) for k in DEVICE_FIELDS if k in device]
    for lib in device.get("blas") or []:
        if isinstance(lib, Mapping):
            rows.append(("BLAS", f"{lib.get('internal_api', '?')} {lib.get('version', '')}, "
                                 f"{lib.get('num_threads', '?')} thread(s), "
                                 f"{lib.get('architecture', '')}".strip(", ")))
    return rows


_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]+$")


def _outputs(cell: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A cell's fresh outputs as ``("text", ...)`` or ``("png", base64)`` items."""
    shown: list[tuple[str, str]] = []
    for out in cell.get("outputs") or []:
        if not isinstance(out, Mapping):
            continue
        data = out.get("data")
        if out.get("type") == "stream" or "text" in out:
            shown.append(("text", str(out.get("text", ""))))
        elif isinstance(data, Mapping):
            png = data.get("image/png")
            if isinstance(png, str) and _BASE64.match(png):
                shown.append(("png", "".join(png.split())))
            elif "text/plain" in data:
                shown.append(("text", str(data["text/plain"])))
    return shown


def _notebook_view(nb: Any) -> dict[str, Any] | None:
    """The failing cell of an executed notebook, its error and the output before it."""
    if not isinstance(nb, Mapping) or not isinstance(nb.get("cells"), list):
        return None
    failed = nb.get("failed_cell")
    cells = [c for c in nb["cells"] if isinstance(c, Mapping)]
    cell = next((c for c in cells if c.get("index") == failed), None)
    if cell is None or isinstance(failed, bool) or not isinstance(failed, int):
        return None
    raw_error = cell.get("error")
    error: Mapping[str, Any] = raw_error if isinstance(raw_error, Mapping) else {}
    bad_line = error.get("line")
    source = str(cell.get("source", "")).splitlines()
    before = [c for c in cells if c.get("cell_type") == "code" and _outputs(c)
              and isinstance(c.get("index"), int) and c["index"] < failed]
    frames = [f"{f.get('file')}:{f.get('line')} in {f.get('name')}" +
              (f"\n    {f.get('code')}" if f.get("code") else "")
              for f in error.get("frames") or [] if isinstance(f, Mapping)]
    return {
        "number": failed + 1,
        "status": str(cell.get("status", "error")),
        "code": [CodeLine(i, text, i == bad_line) for i, text in enumerate(source, 1)],
        "error": (f"{error.get('type', 'Exception')}: {error.get('message', '')}"
                  if error else ""),
        "frames": frames,
        "outputs": _outputs(cell),
        "before": (before[-1]["index"] + 1, _outputs(before[-1])) if before else None,
    }


def _check_view(check: Mapping[str, Any]) -> dict[str, Any]:
    view = {"id": "", "name": "", "kind": "", "visibility": "", "status": "error",
            "points": 0.0, "max_points": 0.0, "message": "", "hint": "", "outcome": None,
            **check}
    view["speedups"] = speedups(check)
    view["leaks"] = leakage_findings([check])
    view["where"] = [str(w) for w in check.get("where", ())]
    cell = check.get("cell")
    view["cell"] = cell if isinstance(cell, Mapping) else None
    return view


def _cause_views(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The failures grouped by cause, in the order to fix them (:mod:`harness.feedback`),
    each with what the page shows of its first check (cell, speedups, leakage)."""
    by_id = {str(c.get("id")): c for c in checks}
    out = []
    for number, cause in enumerate(feedback.causes(
            feedback.from_document(c) for c in checks), 1):
        first = by_id.get(cause.checks[0].id, {})
        lines = cause.message.strip().splitlines() or [""]
        out.append({
            "number": number, "stage": cause.stage, "heading": cause.heading,
            "title": lines[0], "body": "\n".join(lines[1:40]), "where": list(cause.where),
            "hint": cause.hint, "count": len(cause.checks),
            "what": "not run" if cause.stage in ("load", "interface") else "failed",
            "lost": cause.points_lost, "check_list": cause.check_list(6),
            "status": cause.checks[0].status,
            "leaks": [f for c in cause.checks for f in by_id.get(c.id, {}).get("leaks", [])],
            "speedups": first.get("speedups", []), "cell": first.get("cell")})
    return out


def _test_views(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The "All checks" list: one line per test, its parametrized cases folded."""
    by_id = {str(c.get("id")): c for c in checks}
    out = []
    for line in feedback.test_lines([feedback.from_document(c) for c in checks]):
        views = [by_id.get(c.id, {}) for c in line.cases]
        not_run = all(c.outcome == "not_run" for c in line.cases)
        skipped = next((c.message for c in line.cases if c.status == "skip" and c.message), "")
        out.append({"id": line.id, "kind": line.kind, "points": line.points,
                    "max_points": line.max_points,
                    "status": "not run" if not_run else line.status,
                    "badge": "error" if not_run else line.status,
                    "cases": f"{line.passed}/{line.counted} cases" if len(line.cases) > 1
                    and line.counted else "",
                    "skip": skipped if line.status == "skip" else "",
                    "speedups": [s for v in views for s in v.get("speedups", [])]
                    if line.status == "pass" else []})
    return out


def _diagnosis_views(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for d in doc.get("diagnosis") or ():
        if not isinstance(d, Mapping):
            continue
        checks = list(dict.fromkeys(feedback.base_name(str(c)) for c in d.get("checks") or ()))
        out.append({"mistake": str(d.get("mistake", "")), "checks": checks,
                    "evidence": str(d.get("evidence", ""))})
    return out


def context(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the scorecard template shows, computed from one result document."""
    checks = [_check_view(c) for c in doc.get("checks", ()) if isinstance(c, Mapping)]
    score, max_score = float(doc.get("score", 0)), float(doc.get("max_score", 0))
    percent = 100.0 * score / max_score if max_score else 0.0
    verdict = str(doc.get("verdict", ""))
    measured: list[tuple[str, Speedup]] = [(c["name"], s) for c in checks
                                           for s in c["speedups"]]
    output = doc.get("output") or {}
    counts = {s: sum(1 for c in checks if c.get("status") == s)
              for s in ("pass", "fail", "error", "skip")}
    counts["not_run"] = sum(1 for c in checks if c.get("outcome") in ("not_run", "missing"))
    counts["error"] -= counts["not_run"]
    unscored = not_gradable(max_score, checks)  # no percentage at all, rather than 0 %
    state = ("partial" if unscored and verdict == "graded" else
             "perfect" if verdict == "graded" and percent >= 100 else
             "partial" if verdict == "graded" else "broken")
    return {
        "doc": doc,
        "title": f"{doc.get('task', '?')} — scorecard",
        "verdict": verdict,
        "verdict_text": VERDICT_TEXT.get(verdict, verdict),
        "state": state,
        "score": score,
        "max_score": max_score,
        "percent": percent,
        "not_gradable": unscored,
        "score_bar": None if unscored else charts.progress_bar(
            score, max_score if max_score else 1.0, f"score {percent:.0f}%"),
        "checks": checks,
        "problems": [c for c in checks if c.get("status") in ("fail", "error")],
        "causes": _cause_views(checks),
        "tests": _test_views(checks),
        "diagnosis": _diagnosis_views(doc),
        "counts": counts,
        "speedups": measured,
        "speedup_chart": charts.speedup_bars(
            [(s.label, s.ratio, s.low, s.high, s.required) for _, s in measured],
            "measured speedups") if measured else None,
        "has_leakage_checks": any(is_leakage(c) for c in checks),
        "leakage": [f for c in checks for f in c["leaks"]],
        "leakage_checks": sum(1 for c in checks if is_leakage(c) and c.get("status") != "skip"),
        "leakage_passed": sum(1 for c in checks if is_leakage(c) and c.get("status") == "pass"),
        "notebook": _notebook_view(doc.get("notebook")),
        "device_rows": _device_rows(doc.get("device") or {}),
        "sandbox_rows": _sandbox_rows(doc.get("sandbox") or {}),
        "stdout": str(output.get("stdout", "")) if isinstance(output, Mapping) else "",
        "stderr": str(output.get("stderr", "")) if isinstance(output, Mapping) else "",
    }
