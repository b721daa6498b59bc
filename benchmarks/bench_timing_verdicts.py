"""Do timing verdicts flip? Grade the reference and a looped mutant N times, idle and loaded.

For ``phase1/dot-product``: the reference (must pass the timing check every time) and
``mutants/comprehension_numpy.py`` (its "NumPy" version is a loop: must fail every time),
each graded N times end to end (``harness.grading.grade``, sandbox included), first with
no load added, then with one busy-loop process (``python -c "while True: pass"``, started
here and stopped by its pid) keeping another core busy.

Reported per condition and submission: the timing check's statuses (pass / fail / skip =
inconclusive), verdict flips (gradings whose timing status differs from the intended
one), the median and coefficient of variation of the measured ratios (learner loop over
learner NumPy; and reference loop over learner NumPy), the median channel overhead, and
the median wall time of a grading.

Usage: python benchmarks/bench_timing_verdicts.py [--n 100] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from harness import grading, settings, tasks  # noqa: E402

TASK = "phase1/dot-product"
CHECK = "test_numpy_is_faster_than_loop"
SUBJECTS = {"reference": (ROOT / "reference" / TASK / "solution.py", "pass"),
            "looped mutant": (ROOT / "reference" / TASK / "mutants" / "comprehension_numpy.py",
                              "fail")}


def grade_once(path: Path) -> dict[str, Any]:
    s = settings.resolve(workspace=str(ROOT))
    task = tasks.load_task(s.tasks.value, TASK)
    start = time.perf_counter()
    result = grading.grade(task, path, s, mode="validate")
    wall = time.perf_counter() - start
    check = next(c for c in result.checks if c.name == CHECK)
    return {"status": check.status, "message": check.message, "wall_s": wall,
            "measurements": [{k: m[k] for k in ("fast", "slow", "outcome", "ratio", "ci",
                                                "rounds", "numbers", "overhead_s",
                                                "duration_s", "noisy")}
                             for m in check.timing],
            "load": [m["environment"]["after"].get("load") for m in check.timing][:1]}


def summarise(runs: list[dict[str, Any]], intended: str) -> dict[str, Any]:
    statuses = [r["status"] for r in runs]
    out: dict[str, Any] = {"n": len(runs),
                           "statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
                           "flips": sum(1 for s in statuses if s != intended),
                           "wall_median_s": statistics.median(r["wall_s"] for r in runs)}
    by_pair: dict[str, list[float]] = {}
    overheads: list[float] = []
    for r in runs:
        for m in r["measurements"]:
            by_pair.setdefault(f"{m['slow']} / {m['fast']}", []).append(m["ratio"])
            overheads.extend(m["overhead_s"].values())
    out["ratios"] = {k: {"median": statistics.median(v), "min": min(v), "max": max(v),
                         "cv": statistics.stdev(v) / statistics.mean(v) if len(v) > 1 else 0.0,
                         "count": len(v)} for k, v in by_pair.items()}
    out["overhead_median_us"] = statistics.median(overheads) * 1e6 if overheads else None
    return out


def run_condition(name: str, n: int) -> dict[str, Any]:
    busy = None
    if name == "loaded":
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        results: dict[str, Any] = {}
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in SUBJECTS}
        for i in range(n):
            for subject, (path, _) in SUBJECTS.items():  # interleaved: same noise for both
                runs[subject].append(grade_once(path))
            print(f"  {name}: {i + 1}/{n}", file=sys.stderr, flush=True)
        for subject, (_, intended) in SUBJECTS.items():
            results[subject] = summarise(runs[subject], intended)
            results[subject]["runs"] = runs[subject]
        results["loadavg_end"] = list(os.getloadavg())
        return results
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()


def report(data: dict[str, Any]) -> str:
    lines = ["| condition | submission | n | statuses | flips | ratio (median, CV, min-max) "
             "| overhead | wall |", "|---|---|---|---|---|---|---|---|"]
    for cond, res in data["conditions"].items():
        for subject in SUBJECTS:
            s = res[subject]
            ratios = "; ".join(f"{k}: {v['median']:.1f}x, CV {v['cv']:.0%}, "
                               f"{v['min']:.1f}-{v['max']:.1f}" for k, v in s["ratios"].items())
            lines.append(f"| {cond} | {subject} | {s['n']} | {s['statuses']} | {s['flips']} | "
                         f"{ratios} | {s['overhead_median_us']:.0f} us | "
                         f"{s['wall_median_s']:.1f} s |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="gradings per submission and "
                        "condition (default 100)")
    parser.add_argument("--conditions", default="idle,loaded")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    data: dict[str, Any] = {"task": TASK, "n": args.n, "cpu_count": os.cpu_count(),
                            "loadavg_start": list(os.getloadavg()), "conditions": {}}
    for cond in args.conditions.split(","):
        data["conditions"][cond] = run_condition(cond, args.n)
    print(report(data))
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
