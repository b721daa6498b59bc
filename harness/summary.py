"""The terminal summary of a result: one line per check, then the verdict and score."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click

from harness import feedback
from harness.results import CheckResult, Result

#: Characters a terminal acts on rather than prints (C0 but tab, DEL, C1) and the bidi
#: overrides that reorder what is shown; learner text must not reach the terminal raw.
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

MARK = {"pass": ("PASS", "green"), "fail": ("FAIL", "red"), "error": ("ERR ", "red"),
        "skip": ("SKIP", "yellow")}
VERDICT_TEXT = {
    "graded": "graded",
    "submission_error": "submission error: the submission could not be graded as it is",
    "timeout": "time limit reached",
    "memory_limit": "memory limit reached",
    "output_limit": "output limit reached",
    "disk_limit": "disk limit reached: too much written to the scratch folder",
    "crashed": "the submission's process crashed",
}


def not_gradable(max_score: float, checks: Iterable[CheckResult | Mapping[str, Any]]) -> str:
    """"" for a result with a score; else "not gradable on this machine: <why>".

    Every check that scores was skipped (a device task without its device or torch), so
    there is nothing to show as a percentage: the summary, the scorecard and the weekly
    card say this instead of 0 %, and leave the result out of best scores and averages.
    Works on results and on their documents (check dicts)."""
    if max_score > 0:
        return ""
    for c in checks:
        status, why = ((c.get("status"), c.get("message")) if isinstance(c, Mapping)
                       else (c.status, c.message))
        if status == "skip" and why:
            return f"not gradable on this machine: {why}"
    return "not gradable on this machine: no check that scores could run here"


def printable(text: str) -> str:
    """One line of learner-derived text, safe to print: control characters escaped."""
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], text)


def _test_line(line: feedback.TestLine) -> list[str]:
    label, colour = MARK.get(line.status, ("PART", "yellow"))
    score = f"{feedback.points(line.points)}/{feedback.points(line.max_points)}"
    cases = f"  ({line.passed}/{line.counted} cases)" if len(line.cases) > 1 and \
        line.counted else ""
    out = [f"  {click.style(label, fg=colour, bold=True)} {score:>9}  "
           f"[{line.kind}, {line.visibility}] {line.id}{cases}"]
    skipped = next((c.message for c in line.cases if c.status == "skip" and c.message), "")
    if line.status == "skip" and skipped:
        out.append(f"      {printable(skipped)}")
    return out


def _cause_lines(number: int, cause: feedback.Cause) -> list[str]:
    """One cause: its message once, where, the hint, and the checks it cost."""
    text = cause.message.splitlines() or [""]
    out = [f"  {number}. [{cause.heading}] {printable(text[0])}"]
    out += [f"      {printable(t)}" for t in text[1:8]]
    out += [f"      at {printable(w)}" for w in cause.where]
    if cause.hint:
        out.append(f"      hint: {printable(cause.hint)}")
    n = len(cause.checks)
    what = "not run" if cause.stage in ("load", "interface") else "failed"
    out.append(f"      {n} check{'s' if n != 1 else ''} {what} "
               f"(-{feedback.points(cause.points_lost)} points): {cause.check_list()}")
    return out


def render_diagnosis(diagnosis: Sequence[Mapping[str, Any]]) -> list[str]:
    """Known mistakes the failing outputs match, most telling first."""
    out = []
    for d in diagnosis[:3]:
        out.append(f"  - {printable(str(d.get('mistake', '')))}")
        checks = list(dict.fromkeys(feedback.base_name(str(c)) for c in d.get("checks") or []))
        if checks:
            out.append(f"      seen in: {', '.join(checks[:4])}"
                       + (f" (+{len(checks) - 4} more)" if len(checks) > 4 else ""))
    return out


def render(result: Result, report_path: str | None = None) -> str:
    """Human-readable summary (colour codes are removed by click when not a terminal)."""
    lines = [click.style(f"{result.task}", bold=True) + f"  ({printable(result.submission)})"]
    for line in feedback.test_lines([c for c in result.checks if c.outcome != "not_run"]):
        lines.extend(_test_line(line))
    if result.diagnosis:
        lines.append("")
        lines.append(click.style("likely mistake (your outputs match a known one):", bold=True))
        lines.extend(render_diagnosis(result.diagnosis))
    groups = feedback.causes(result.checks)
    if groups:
        lines.append("")
        lines.append(click.style("what to fix first:", bold=True))
        for number, cause in enumerate(groups, 1):
            lines.extend(_cause_lines(number, cause))
    ok = result.verdict == "graded" and result.gradable and result.score == result.max_score
    colour = "green" if ok else "yellow" if result.verdict == "graded" else "red"
    lines.append("")
    lines.append(click.style(f"verdict: {VERDICT_TEXT.get(result.verdict, result.verdict)}",
                             fg=colour, bold=True))
    if result.message:
        lines.extend(f"  {printable(line)}" for line in result.message.splitlines()[:12])
    unscored = not_gradable(result.max_score, result.checks)
    score = click.style(printable(unscored), fg="yellow") if unscored else \
        f"score: {result.score:g} / {result.max_score:g} ({result.percent:.0f}%)"
    lines.append(f"{score}   in {result.duration_s:.2f} s")
    sandbox = result.sandbox
    if sandbox.get("level"):
        lines.append(f"sandbox: {sandbox.get('level')} (network {sandbox.get('network')}, "
                     f"hidden files {sandbox.get('hidden_files')}, "
                     f"processes {sandbox.get('process_limit')}"
                     + (f", uid {sandbox['uid']}" if sandbox.get("uid") else "") + ")")
    if result.output.get("stdout"):
        lines.append(f"your code printed {len(result.output['stdout'])} characters "
                     "(see the JSON result)")
    if report_path:
        lines.append(f"result saved to {report_path}")
    return "\n".join(lines)
