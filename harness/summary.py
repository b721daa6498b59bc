"""The terminal summary of a result: one line per check, then the verdict and score."""

from __future__ import annotations

import re

import click

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


def printable(text: str) -> str:
    """One line of learner-derived text, safe to print: control characters escaped."""
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], text)


def _check_lines(check: CheckResult) -> list[str]:
    label, colour = MARK[check.status]
    points = f"{check.points:.3g}/{check.max_points:.3g}"
    lines = [f"  {click.style(label, fg=colour, bold=True)} {points:>9}  "
             f"[{check.kind}, {check.visibility}] {check.id}"]
    if check.status in ("fail", "error"):
        for text in check.message.splitlines()[:8]:
            lines.append(f"      {printable(text)}")
        for where in check.where[-3:]:
            lines.append(f"      at {printable(where)}")
        if check.hint:
            lines.append(f"      hint: {check.hint}")
    elif check.status == "skip" and check.message:
        lines.append(f"      {printable(check.message)}")
    return lines


def render(result: Result, report_path: str | None = None) -> str:
    """Human-readable summary (colour codes are removed by click when not a terminal)."""
    lines = [click.style(f"{result.task}", bold=True) + f"  ({printable(result.submission)})"]
    for check in result.checks:
        lines.extend(_check_lines(check))
    ok = result.verdict == "graded" and result.score == result.max_score
    colour = "green" if ok else "yellow" if result.verdict == "graded" else "red"
    lines.append("")
    lines.append(click.style(f"verdict: {VERDICT_TEXT.get(result.verdict, result.verdict)}",
                             fg=colour, bold=True))
    if result.message:
        lines.extend(f"  {printable(line)}" for line in result.message.splitlines()[:12])
    lines.append(f"score: {result.score:g} / {result.max_score:g} ({result.percent:.0f}%)"
                 f"   in {result.duration_s:.2f} s")
    sandbox = result.sandbox
    if sandbox:
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
