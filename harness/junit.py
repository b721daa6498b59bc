"""JUnit XML and Markdown renderings of a set of results, for CI systems to display.

One ``<testsuite>`` per grading and one ``<testcase>`` per check. Hidden checks appear
by name with the learner-facing message and hint the grader wrote for them, exactly
what ``grade submit`` shows: never their code or expected values.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from harness.results import CheckResult, Result
from harness.summary import VERDICT_TEXT

#: XML 1.0 forbids most control characters even when escaped; learner text may hold them.
_BAD_XML = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def _text(value: str) -> str:
    return value.translate(_BAD_XML)


def _check_detail(check: CheckResult) -> str:
    lines = [check.message] if check.message else []
    lines += [f"at {w}" for w in check.where[-3:]]
    if check.hint:
        lines.append(f"hint: {check.hint}")
    if check.outcome:
        lines.append(f"stopped by the sandbox: {check.outcome}")
    return _text("\n".join(lines))


def _testcase(suite: ET.Element, classname: str, check: CheckResult) -> None:
    case = ET.SubElement(suite, "testcase", classname=classname, name=_text(check.name),
                         time=f"{check.duration_s:.3f}")
    if check.status in ("fail", "error"):
        first = (check.message.splitlines() or [check.status])[0][:300]
        tag = "failure" if check.status == "fail" else "error"
        node = ET.SubElement(case, tag, message=_text(first), type=check.kind)
        node.text = _check_detail(check)
    elif check.status == "skip":
        ET.SubElement(case, "skipped", message=_text(check.message[:300]))


def testsuite(result: Result, name: str | None = None) -> ET.Element:
    """One grading as a ``<testsuite>``; a submission that never ran is one error case."""
    checks = list(result.checks)
    counts = {s: sum(1 for c in checks if c.status == s) for s in ("fail", "error", "skip")}
    suite = ET.Element("testsuite", name=_text(name or result.task), tests=str(len(checks)),
                       failures=str(counts["fail"]), errors=str(counts["error"]),
                       skipped=str(counts["skip"]), time=f"{result.duration_s:.3f}",
                       timestamp=result.timestamp)
    props = ET.SubElement(suite, "properties")
    for key, value in (("verdict", result.verdict), ("score", f"{result.score:g}"),
                       ("max_score", f"{result.max_score:g}"),
                       ("task_fingerprint", result.task_fingerprint),
                       ("submission_sha256", result.submission_sha256),
                       ("harness_version", result.harness_version)):
        ET.SubElement(props, "property", name=key, value=_text(value))
    base = result.task.replace("/", ".")
    for check in checks:
        _testcase(suite, f"{base}.{check.visibility}", check)
    if result.verdict != "graded":
        case = ET.SubElement(suite, "testcase", classname=base, name="grading")
        node = ET.SubElement(case, "error", message=VERDICT_TEXT.get(result.verdict,
                                                                     result.verdict),
                             type=result.verdict)
        node.text = _text(result.message)
        suite.set("tests", str(len(checks) + 1))
        suite.set("errors", str(counts["error"] + 1))
    return suite


def document(results: Sequence[tuple[str, Result]], problems: Sequence[tuple[str, str]] = (),
             name: str = "grade") -> bytes:
    """A ``<testsuites>`` document: each (suite name, result), then harness problems.

    ``problems`` are (submission, message) pairs for submissions the harness could not
    grade at all (no such task, unreadable submission); each becomes an error case.
    """
    root = ET.Element("testsuites", name=name)
    for suite_name, result in results:
        root.append(testsuite(result, suite_name))
    for where, message in problems:
        suite = ET.SubElement(root, "testsuite", name=_text(where), tests="1", failures="0",
                              errors="1", skipped="0", time="0")
        case = ET.SubElement(suite, "testcase", classname="harness", name="grading")
        node = ET.SubElement(case, "error", message=_text(message.splitlines()[0][:300]),
                             type="harness")
        node.text = _text(message)
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in root)))
    root.set("time", f"{sum(float(s.get('time', '0')) for s in root):.3f}")
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def markdown(results: Sequence[tuple[str, Result]], problems: Sequence[tuple[str, str]] = (),
             title: str = "Grading", notes: Sequence[str] = ()) -> str:
    """A Markdown summary: one table row per grading, then the failing checks of each."""
    lines = [f"## {title}", ""]
    if not results and not problems:
        lines.append("No submissions to grade.")
    if results:
        lines += ["| submission | verdict | score | failing checks |", "|---|---|---|---|"]
        for name, r in results:
            failing = sum(1 for c in r.checks if c.status in ("fail", "error"))
            mark = "✅" if r.verdict == "graded" and not failing else "❌"
            lines.append(f"| {mark} `{_cell(name)}` | {_cell(r.verdict)} | "
                         f"{r.score:g} / {r.max_score:g} ({r.percent:.0f}%) | {failing} |")
    for where, message in problems:
        lines.append(f"| ⚠️ `{_cell(where)}` | not graded | | {_cell(message)[:200]} |")
    for name, r in results:
        bad = [c for c in r.checks if c.status in ("fail", "error")]
        if not bad and r.verdict == "graded":
            continue
        lines += ["", f"### `{_cell(name)}`", ""]
        if r.verdict != "graded":
            lines.append(f"**{VERDICT_TEXT.get(r.verdict, r.verdict)}**: "
                         f"{_cell(r.message)[:500]}")
        for c in bad:
            detail = _cell(c.message.splitlines()[0] if c.message else c.status)[:300]
            hint = f" (hint: {_cell(c.hint)})" if c.hint else ""
            lines.append(f"- `{_cell(c.id)}` [{c.kind}, {c.visibility}]: {detail}{hint}")
    lines += ["", *notes] if notes else []
    return "\n".join(lines) + "\n"
