"""What ``grade leakage`` prints: each finding with its place, its evidence and its fix."""

from __future__ import annotations

from harness.leakage.scan import Scan
from harness.summary import printable as clean

HOW = {"run": "seen in the run", "code": "read in the code (that path did not run)",
       "run+code": "seen in the run"}


def render(scan: Scan) -> str:
    lines = [f"leakage check of {clean(scan.path)} ({scan.format}, sandbox {scan.sandbox or '?'})"]
    if scan.failure:
        lines.append(f"  could not run the program: {clean(scan.failure)}")
    if scan.error:
        lines.append(f"  the program stopped with {clean(scan.error)}; what ran before was "
                     "checked")
    for i, f in enumerate(scan.findings, 1):
        lines.append(f"{i}. [{f.kind}] {f.where()}  ({HOW.get(f.how, f.how)})")
        lines.append(f"   {clean(f.message)}")
        if f.impact:
            lines.append(f"   impact: {f.impact}")
        lines.append(f"   fix: {clean(f.fix)}")
    if not scan.findings and not scan.failure:
        what = f"{scan.evaluations} evaluation(s)" if scan.evaluations else \
            "no evaluation (nothing was scored)"
        lines.append(f"  no leakage found; the run made {what}")
    verdict = {"clean": "clean", "leakage": f"{len(scan.findings)} leak(s) found",
               "failed": "not checked"}[scan.verdict]
    lines.append(f"{verdict} · {scan.runs} run(s) in {scan.seconds:.1f} s")
    return "\n".join(lines)
