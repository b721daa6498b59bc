"""How fast does a cohort batch grade: cold processes vs a warm pool vs a Dask LocalCluster?

A cohort of N gradings of one task (default 100 of ``phase1/dot-product``), cycling
through the reference solution and every mutant in ``reference/<task>/``, one learner
each. Every variant goes through :func:`harness.batch.run` (history, ledger, result
documents, gradebook) into its own throwaway workspace, with W parallel slots. The N
gradings are split into ``--rounds`` chunks (default 2); each chunk is graded by every
variant, in alternating order (forward, then reversed), so load drift from other work
on the machine hits all variants alike; pool and cluster start-up is paid per chunk.

* ``cold``   each grading is ``grade submit TASK PATH --json`` in a new Python process
             (interpreter start, harness/pytest/NumPy imports, sandbox probe), W at a
             time, each slot pinned to its own core like the pool's workers;
* ``warm``   :class:`harness.pool.WarmPool` with W workers (pinned);
* ``dask``   :class:`harness.cluster.DaskCluster` on a LocalCluster with W one-thread
             workers (pinned), task pack and submissions shipped as bytes.

Reported per variant: wall time, gradings per minute, the mean grading time as the
grader measured it (``duration_s``: staging, sandbox, tests, teardown), the slot
time per submission = wall x W / N, and the overhead outside grading = slot time -
mean duration (what the way of running adds around each grading: process start and
imports, scheduling, shipping, recording). A cold process also pays first-use costs
inside ``grade()`` (lazy imports, the first pytest session), so compare slot times,
not only the overheads. Also
start-up reference points (a bare interpreter, one importing NumPy, one inside the
sandbox's namespaces) and the load average before and after each variant.

Usage: python benchmarks/bench_batch.py [--n 100] [--workers W] [--rounds 2]
                                        [--variants cold,warm,dask] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import batch, settings  # noqa: E402
from harness.batch import Executor, Outcome, Work  # noqa: E402
from harness.pool import usable_cores  # noqa: E402
from harness.results import result_from_dict  # noqa: E402


class ColdProcesses:
    """Each grading is a fresh ``grade submit`` process; ``workers`` at a time, pinned."""

    def __init__(self, workers: int, scratch: Path) -> None:
        self.workers = workers
        self.scratch = scratch
        self.cores = usable_cores()

    def _one(self, item: Work, slot: int) -> Outcome:
        core = self.cores[slot % len(self.cores)]
        grade = Path(sys.executable).with_name("grade")
        ws = self.scratch / f"cold-{slot}"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HARNESS_HISTORY": str(ws / "history.sqlite")}
        proc = subprocess.run(
            [str(grade), "--workspace", str(ws), "--tasks", str(item.settings.tasks.value),
             "--reference", str(item.settings.reference.value), "submit", item.task.id,
             str(item.job.path), "--json"], capture_output=True, text=True, env=env,
            preexec_fn=lambda: os.sched_setaffinity(0, {core}), timeout=600)
        if proc.returncode != 0:
            return Outcome(item.job, None, proc.stderr[-500:])
        return Outcome(item.job, result_from_dict(json.loads(proc.stdout)),
                       worker=f"cold, core {core}")

    def grade(self, work: Sequence[Work]) -> Iterator[Outcome]:
        free = list(range(self.workers))
        with ThreadPoolExecutor(self.workers) as pool:
            pending = {}
            queue = list(work)
            while queue or pending:
                while queue and free:
                    slot = free.pop()
                    pending[pool.submit(self._one, queue.pop(0), slot)] = slot
                done = next(as_completed(pending))
                free.append(pending.pop(done))
                yield done.result()

    def close(self) -> None:
        pass


def make_cohort(root: Path, task_id: str, n: int, first: int = 0) -> list[batch.Job]:
    ref = ROOT / "reference" / task_id
    sources = [ref / "solution.py", *sorted((ref / "mutants").glob("*.py"))]
    jobs = []
    for i in range(first, first + n):
        src = sources[i % len(sources)]
        dest = root / f"learner{i:03d}" / task_id.split("/")[0] / f"{task_id.split('/')[1]}.py"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        jobs.append(batch.Job(f"learner{i:03d}", task_id, dest))
    return jobs


def startup_points(reps: int = 5) -> dict[str, float]:
    """Median seconds of a bare interpreter, one importing NumPy, and the sandbox's."""
    from harness.sandbox.platform import UNSHARE_ARGS, capabilities

    caps = capabilities()
    cases = {"python -I -c pass": [sys.executable, "-I", "-c", "pass"],
             "python -I -c 'import numpy'": [sys.executable, "-I", "-c", "import numpy"],
             "python -c 'import harness.grading'": [sys.executable, "-c",
                                                    "import harness.grading"]}
    if caps.namespaces and caps.unshare:
        cases["unshare ... python -I -c 'import numpy'"] = [
            caps.unshare, *UNSHARE_ARGS, sys.executable, "-I", "-c", "import numpy"]
    out = {}
    for name, argv in cases.items():
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
            times.append(time.perf_counter() - t)
        out[name] = statistics.median(times)
    return out


def executor_for(name: str, workers: int, scratch: Path) -> Executor:
    if name == "cold":
        return ColdProcesses(workers, scratch)
    if name == "warm":
        from harness.pool import WarmPool

        return WarmPool(workers)
    from harness.cluster import DaskCluster

    return DaskCluster(workers=workers)


def run_chunk(name: str, task_id: str, first: int, n: int, workers: int,
              scratch: Path) -> dict[str, Any]:
    """One variant on learners ``first .. first+n-1``: wall time, durations, load."""
    ws = scratch / f"{name}-{first}"
    (ws / "submissions").mkdir(parents=True)
    jobs = make_cohort(ws / "cohort", task_id, n, first)
    s = settings.resolve(workspace=str(ws), tasks=str(ROOT / "tasks"),
                         reference=str(ROOT / "reference"))
    load_before = os.getloadavg()
    started = time.perf_counter()
    executor = executor_for(name, workers, scratch)  # pool/cluster start-up is counted
    done = 0

    def tick(_: Outcome) -> None:
        nonlocal done
        done += 1
        print(f"\r  {name}: {done}/{n}", end="", file=sys.stderr, flush=True)

    report = batch.run(jobs, s, ws / "out", executor, on_outcome=tick)
    wall = time.perf_counter() - started
    print(file=sys.stderr)
    graded = [o.result for o in report.outcomes if o.result is not None]
    return {"wall_s": wall, "n": n, "durations_s": [r.duration_s for r in graded],
            "verdicts": [r.verdict for r in graded], "percents": [r.percent for r in graded],
            "loadavg_before": load_before, "loadavg_after": os.getloadavg()}


def combine(name: str, chunks: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    """One row per variant from its chunks (walls add up; durations pool)."""
    wall = sum(c["wall_s"] for c in chunks)
    n = sum(c["n"] for c in chunks)
    durations = [d for c in chunks for d in c["durations_s"]]
    mean_duration = statistics.fmean(durations) if durations else 0.0
    verdicts: dict[str, int] = {}
    for c in chunks:
        for v in c["verdicts"]:
            verdicts[v] = verdicts.get(v, 0) + 1
    percents = [p for c in chunks for p in c["percents"]]
    loads = [c["loadavg_before"][0] for c in chunks] + [c["loadavg_after"][0] for c in chunks]
    return {
        "variant": name, "n": n, "workers": workers, "wall_s": wall, "chunks": chunks,
        "gradings_per_minute": 60.0 * len(durations) / wall,
        "mean_grading_s": mean_duration,
        "cost_per_submission_s": wall * workers / n,
        "overhead_per_submission_s": wall * workers / n - mean_duration,
        "not_graded": n - len(durations), "verdicts": verdicts,
        "mean_percent": statistics.fmean(percents) if percents else 0.0,
        "loadavg_min": min(loads), "loadavg_max": max(loads),
    }


def markdown(rows: list[dict[str, Any]], points: dict[str, float], env: dict[str, Any]) -> str:
    lines = [f"Machine: {env['cpus']} usable cores, Python {env['python']}, "
             f"sandbox {env['sandbox']}; {rows[0]['n'] if rows else 0} gradings of "
             f"{env['task']} per variant.", "",
             "| variant | workers | wall s | gradings/min | slot-s per submission | mean grading s"
             " | overhead outside grading s | load 1 min (min–max) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['workers']} | {r['wall_s']:.1f} | "
                     f"{r['gradings_per_minute']:.1f} | {r['cost_per_submission_s']:.3f} | "
                     f"{r['mean_grading_s']:.3f} | "
                     f"{r['overhead_per_submission_s']:.3f} | "
                     f"{r['loadavg_min']:.2f}–{r['loadavg_max']:.2f} |")
    lines += ["", "| start-up reference point | median s |", "|---|---|"]
    lines += [f"| `{k}` | {v:.3f} |" for k, v in points.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--workers", type=int, default=len(usable_cores()))
    parser.add_argument("--task", default="phase1/dot-product")
    parser.add_argument("--variants", default="cold,warm,dask")
    parser.add_argument("--rounds", type=int, default=2,
                        help="split the N gradings into this many chunks and run the "
                        "variants on each chunk in alternating order, so load drift on a "
                        "shared machine hits every variant alike")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args(argv)
    from harness.sandbox.platform import capabilities

    caps = capabilities()
    env = {"cpus": len(usable_cores()), "python": sys.version.split()[0], "task": args.task,
           "sandbox": caps.reason, "loadavg_at_start": os.getloadavg()}
    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        names = args.variants.split(",")
        chunks: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        sizes = [args.n // args.rounds + (r < args.n % args.rounds) for r in range(args.rounds)]
        first = 0
        for r, size in enumerate(sizes):
            for name in names if r % 2 == 0 else names[::-1]:
                print(f"round {r + 1}/{args.rounds}, variant {name}", file=sys.stderr)
                chunks[name].append(run_chunk(name, args.task, first, size, args.workers,
                                              scratch))
            first += size
        rows = [combine(name, chunks[name], args.workers) for name in names]
        points = startup_points()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    env["loadavg_at_end"] = os.getloadavg()
    print(markdown(rows, points, env))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"environment": env, "variants": rows,
                                                   "startup_s": points}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
