"""How fast does a submission that fails fail? Against the reference, on the same task.

A submission that never loads (a crash at import, a syntax error) should be the fastest
grading there is: nothing runs, one cause is reported for every check. A wrong submission
pays for its diagnosis (its failing checks re-run against the task's mutants). Measured,
interleaved on the same machine in the same run, per task:

* ``reference``     the task's reference (full marks);
* ``import-crash``  ``import numpy`` then ``raise RuntimeError`` at import;
* ``syntax-error``  a module that does not parse;
* ``mutant``        the task's first mutant (a wrong answer, diagnosed).

Usage: python benchmarks/bench_failures.py [--rounds N] [--task ID ...] [--json OUT]
The target of issue 12: ``import-crash`` at most a quarter of ``reference``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import grading, settings, tasks  # noqa: E402

DEFAULT_TASKS = ["phase1/dot-product", "phase1/broadcast-normalize", "phase1/pandas-cleaning",
                 "phase2/pipeline-cv"]


def variants(task: tasks.Task, s: settings.Settings, folder: Path) -> dict[str, Path]:
    ref = grading.reference_of(s, task)
    assert ref is not None, f"{task.id} has no reference"
    crash = folder / "crash" / "solution.py"
    crash.parent.mkdir()
    crash.write_text("import numpy\nraise RuntimeError('broken at import')\n")
    syntax = folder / "syntax" / "solution.py"
    syntax.parent.mkdir()
    syntax.write_text("import numpy as np\ndef f(x:\n    return x\n")
    out = {"reference": ref, "import-crash": crash, "syntax-error": syntax}
    mutants = sorted((s.reference.value / task.id / "mutants").glob("*.py"))
    if mutants:
        out["mutant"] = mutants[0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--task", action="append")
    ap.add_argument("--json")
    args = ap.parse_args()
    s = settings.resolve(workspace=str(ROOT))
    report: dict[str, dict[str, float]] = {}
    for task_id in args.task or DEFAULT_TASKS:
        task = tasks.load_task(s.tasks.value, task_id)
        with tempfile.TemporaryDirectory() as tmp:
            paths = variants(task, s, Path(tmp))
            times: dict[str, list[float]] = {name: [] for name in paths}
            grading.grade(task, paths["reference"], s)  # warm-up: capability probe, imports
            for r in range(args.rounds):
                order = list(paths) if r % 2 == 0 else list(reversed(paths))
                for name in order:
                    start = time.perf_counter()
                    result = grading.grade(task, paths[name], s)
                    times[name].append(time.perf_counter() - start)
                    if name == "reference":
                        assert result.score == result.max_score, result.message
                    elif name != "mutant":
                        assert result.score == 0 and result.verdict != "graded"
                print(f"{task_id} round {r + 1}/{args.rounds}", file=sys.stderr)
        med = {name: statistics.median(v) for name, v in times.items()}
        report[task_id] = med
    print("| task | reference | import-crash | syntax-error | mutant (diagnosed) "
          "| crash / reference |")
    print("|---|---|---|---|---|---|")
    for task_id, med in report.items():
        print(f"| {task_id} | {med['reference']:.2f} s | {med['import-crash']:.2f} s "
              f"| {med['syntax-error']:.2f} s | {med.get('mutant', float('nan')):.2f} s "
              f"| {med['import-crash'] / med['reference']:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
