"""How much does grading cost on top of just running the tests?

Measures, interleaved on the same machine in the same run:

* ``harness``        harness.grading.grade() end to end, in this process (stage, sandbox
                     start, load, all public + hidden tests through the channel, teardown);
* ``harness-cli``    ``grade submit <task> <solution> --json`` as a fresh process (skipped
                     when the console script or ``harness.cli`` is missing);
* ``floor``          plain pytest on the same test files in a fresh interpreter, the
                     submission imported in-process (benchmarks/floor_plugin.py);
* ``floor-inproc``   the same pytest run via pytest.main() in this process (no interpreter
                     start-up, no imports: the tests' own cost).

Usage: python benchmarks/bench_grade.py [--rounds N] [--warmup N] [--json OUT]
                                         [--no-breakdown] [--profile OUT.prof]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib.util
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from floor_plugin import FloorPlugin, load_module  # noqa: E402

import harness  # noqa: E402
from harness import grading, settings, tasks  # noqa: E402
from harness.sandbox import capabilities  # noqa: E402
from harness.sandbox.platform import UNSHARE_ARGS  # noqa: E402

# The sandbox child runs with these set to 1 (harness.sandbox.process.child_environment);
# the floor does the same, or multi-threaded BLAS makes np.dot erratic on small machines.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def pytest_args(task: tasks.Task) -> list[str]:
    """The arguments harness.grading.run_tests gives pytest (kept identical on purpose)."""
    pack = task.root.parent.parent
    return [str(t) for t in task.public_tests + task.hidden_tests] + [
        "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:randomly",
        "-p", "no:benchmark", "--import-mode=importlib", "-c", os.devnull,
        "--rootdir", str(pack), "--confcutdir", str(task.root),
        "-W", "ignore::DeprecationWarning", "-W", "ignore::pytest.PytestAssertRewriteWarning",
    ]


class Skip(Exception):
    """A variant that cannot run here (reported, not fatal)."""


@dataclass
class Variant:
    name: str
    what: str
    run: Callable[[], float]
    times: list[float] = field(default_factory=list)
    skipped: str | None = None


class Bench:
    def __init__(self, task_id: str, solution: Path) -> None:
        self.settings = settings.resolve(workspace=str(ROOT))
        self.task = tasks.load_task(self.settings.tasks.value, task_id)
        self.solution = solution.resolve()
        self.expected_checks: int | None = None
        self.scratch = Path(tempfile.mkdtemp(prefix="bench-grade-"))
        self.floor_env = {**os.environ, **{k: "1" for k in THREAD_VARS},
                          "PYTHONPATH": os.pathsep.join(
                              [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])}

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    def _expect(self, n: int, who: str) -> None:
        if self.expected_checks is None:
            self.expected_checks = n
        assert n == self.expected_checks, f"{who} ran {n} tests, expected {self.expected_checks}"

    # ------------------------------------------------------------------ variants

    def harness(self) -> float:
        start = time.perf_counter()
        result = grading.grade(self.task, self.solution, self.settings)
        elapsed = time.perf_counter() - start
        bad = [f"{c.id}: {c.status} {c.message}" for c in result.checks if c.status != "pass"]
        assert result.verdict == "graded" and not bad and result.score == result.max_score, \
            f"harness did not give the reference full marks: {result.verdict} " \
            f"{result.message} {bad}"
        self._expect(len(result.checks), "harness")
        return elapsed

    def floor(self) -> float:
        report = self.scratch / "floor-report.json"
        report.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "pytest", *pytest_args(self.task), "-p", "floor_plugin",
               "--floor-solution", str(self.solution), "--floor-task", self.task.id,
               "--floor-task-root", str(self.task.root), "--floor-report", str(report)]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=self.floor_env, capture_output=True,
                              stdin=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        assert report.exists(), f"floor wrote no report (rc {proc.returncode}):\n" \
            f"{proc.stdout.decode()[-2000:]}{proc.stderr.decode()[-2000:]}"
        data = json.loads(report.read_text())
        self._check_floor(data["outcomes"], data["failures"], "floor")
        assert proc.returncode == 0, f"floor pytest exited {proc.returncode}"
        return elapsed

    def floor_inproc(self) -> float:
        plugin = FloorPlugin(self.solution, self.task.id, self.task.root)
        args = pytest_args(self.task)
        pack = str(self.task.root.parent.parent)
        sink = io.StringIO()
        with threadpool_limits(1):  # same as the child's (and the floor's) thread variables
            start = time.perf_counter()
            before = set(sys.modules)
            try:
                with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                    code = pytest.main(args, plugins=[plugin])
            finally:  # the same clean-up harness.grading.run_tests does
                for name in set(sys.modules) - before:
                    file = getattr(sys.modules[name], "__file__", None) or ""
                    if file.startswith(pack):
                        del sys.modules[name]
            elapsed = time.perf_counter() - start
        self._check_floor(plugin.outcomes, plugin.failures, "floor-inproc")
        assert code == 0, f"in-process floor pytest exited {code}"
        return elapsed

    def _check_floor(self, outcomes: dict[str, int], failures: list[str], who: str) -> None:
        assert not failures and outcomes["failed"] == outcomes["error"] == 0, \
            f"{who}: not every test passed: {outcomes}\n" + "\n".join(failures)[-4000:]
        assert outcomes["skipped"] == 0, f"{who}: skipped tests: {outcomes}"
        self._expect(outcomes["passed"], who)

    def cli_available(self) -> str | None:
        """Why the CLI variant cannot run, or None."""
        script = Path(sys.executable).parent / "grade"
        if not script.exists():
            return f"no console script at {script}"
        if importlib.util.find_spec("harness.cli") is None:
            return "the `grade` console script exists but harness.cli does not (yet)"
        return None

    def cli(self) -> float:
        # A throwaway workspace: the CLI may write history and reports; keep them out of
        # the repository. Tasks and references still come from the repository.
        ws = self.scratch / "cli-workspace"
        ws.mkdir(exist_ok=True)
        env = {**os.environ, "HARNESS_WORKSPACE": str(ws),
               "HARNESS_TASKS": str(self.settings.tasks.value),
               "HARNESS_REFERENCE": str(self.settings.reference.value),
               "HARNESS_HISTORY": str(ws / "history.sqlite")}
        cmd = [str(Path(sys.executable).parent / "grade"), "submit", self.task.id,
               str(self.solution), "--json"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ws, env=env, capture_output=True,
                              stdin=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise Skip(f"`grade submit` exited {proc.returncode}: "
                       f"{(proc.stderr or proc.stdout).decode(errors='replace')[-500:]}")
        with contextlib.suppress(ValueError):
            data = json.loads(proc.stdout)
            if isinstance(data, dict) and "score" in data and "max_score" in data:
                assert data["score"] == data["max_score"], f"CLI gave {data['score']}"
        return elapsed


# ---------------------------------------------------------------------- environment


def git_state() -> dict[str, Any]:
    def out(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    return {"commit": out("rev-parse", "HEAD"),
            "dirty_files": [line[3:] for line in out("status", "--porcelain").splitlines()]}


def environment(probe_s: float) -> dict[str, Any]:
    caps = capabilities()
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu_count": os.cpu_count(), "cpu_affinity": affinity,
        "machine": platform.machine(), "platform": platform.platform(),
        "python": platform.python_version(), "numpy": np.__version__,
        "pytest": pytest.__version__, "harness": harness.__version__,
        "sandbox": {"backend": "namespaces" if caps.namespaces else "process",
                    "reason": caps.reason, "pids_cgroup": str(caps.pids_cgroup or ""),
                    "is_root": caps.is_root, "probe_s": round(probe_s, 4)},
        "loadavg_at_start": load, "git": git_state(),
        "environ": {k: os.environ[k] for k in ("PYTHONDONTWRITEBYTECODE", "HARNESS_SANDBOX",
                                               *THREAD_VARS) if k in os.environ},
    }


def reference_points(with_cli: bool, reps: int = 5) -> dict[str, float]:
    """Start-up costs the variants are made of, each a median of ``reps`` fresh processes."""
    py = sys.executable
    cmds = {
        "python -I -c pass": [py, "-I", "-c", "pass"],
        "python -I -c 'import numpy'": [py, "-I", "-c", "import numpy"],
        "python -c 'import numpy, pytest'": [py, "-c", "import numpy, pytest"],
        "python -I -c 'import harness.grading'": [py, "-I", "-c", "import harness.grading"],
    }
    script = Path(py).parent / "grade"
    if with_cli:
        cmds["grade --version"] = [str(script), "--version"]
    caps = capabilities()
    if caps.namespaces and caps.unshare:
        cmds["unshare <box namespaces> python -I -c pass"] = \
            [caps.unshare, *UNSHARE_ARGS, py, "-I", "-c", "pass"]
    out = {}
    for label, cmd in cmds.items():
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - start)
        out[label] = statistics.median(times)
    return out


# ---------------------------------------------------------------------- breakdown


class Timers:
    """Wraps functions and methods in timers for one instrumented grading, then restores."""

    def __init__(self) -> None:
        self.total: dict[str, float] = {}
        self.count: dict[str, int] = {}
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attr: str, label: str | Callable[..., str]) -> None:
        original = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            name = label(*args, **kwargs) if callable(label) else label
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.total[name] = self.total.get(name, 0.0) + time.perf_counter() - start
                self.count[name] = self.count.get(name, 0) + 1

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, original))

    @contextlib.contextmanager
    def installed(self) -> Iterator[Timers]:
        try:
            yield self
        finally:
            for owner, attr, original in reversed(self._undo):
                setattr(owner, attr, original)
            self._undo.clear()


TOP = ("locate", "stage", "static", "hidden_paths", "box_start", "run_tests", "box_close",
       "digest", "device")


def breakdown(bench: Bench) -> dict[str, Any]:
    """One grading with the orchestrator's phases timed (functions wrapped, not edited)."""
    from harness import device, submissions
    from harness.sandbox import box, cgroups, process

    t = Timers()
    t.wrap(submissions, "locate", "locate")
    t.wrap(submissions, "stage", "stage")
    t.wrap(submissions, "static_problems", "static")
    t.wrap(grading, "hidden_paths", "hidden_paths")
    t.wrap(box.Box, "start", "box_start")
    t.wrap(process.ChildProcess, "__init__", "spawn")
    t.wrap(box.Box, "_receive",
           lambda self, limit, doing: "wait_ready" if doing == "loading" else "receive")
    t.wrap(grading, "run_tests", "run_tests")
    t.wrap(box.Box, "request",
           lambda self, header, values, timeout=None: f"request:{header.get('op')}")
    t.wrap(box.Box, "close", "box_close")
    t.wrap(process.ChildProcess, "teardown", "teardown")
    t.wrap(process, "remove_tree", "remove_scratch")
    t.wrap(cgroups.BoxCgroup, "destroy", "cgroup_destroy")
    t.wrap(subprocess.Popen, "wait", "popen_wait")
    t.wrap(threading.Thread, "join", "thread_join")
    t.wrap(grading, "digest", "digest")
    t.wrap(device, "describe", "device")
    with t.installed():
        start = time.perf_counter()
        result = grading.grade(bench.task, bench.solution, bench.settings)
        total = time.perf_counter() - start
    assert result.score == result.max_score
    requests = {k.split(":", 1)[1]: (t.total[k], t.count[k]) for k in t.total
                if k.startswith("request:")}
    in_requests = sum(v for v, _ in requests.values())
    top = sum(t.total.get(k, 0.0) for k in TOP)
    return {
        "total_s": total,
        "phases_s": {k: t.total.get(k, 0.0) for k in TOP},
        "box_start_s": {"spawn": t.total.get("spawn", 0.0),
                        "wait_ready": t.total.get("wait_ready", 0.0)},
        "requests": {op: {"s": s, "n": n} for op, (s, n) in sorted(requests.items())},
        "run_tests_outside_requests_s": t.total.get("run_tests", 0.0) - in_requests,
        "teardown_s": {k: t.total.get(k, 0.0) for k in
                       ("teardown", "popen_wait", "thread_join", "cgroup_destroy",
                        "remove_scratch")},
        "other_s": total - top,
    }


def round_trips(bench: Bench, n: int = 200) -> dict[str, float]:
    """Per-request costs on one box, medians of ``n``: the channel's fixed price."""
    from harness import submissions
    from harness.sandbox import Box, BoxSpec, Budget
    from harness.sandbox.box import boxes_root

    task = bench.task
    sub = submissions.locate(task, bench.solution, bench.settings.submissions_dir)
    staged = submissions.stage(sub, boxes_root())
    spec = BoxSpec(staged, sub.entry, sub.format == "folder",
                   tuple(i.name for i in task.interface),
                   tuple(grading.hidden_paths(bench.settings, task)), task.limits, task.preload)
    box = Box(spec, Budget(3600.0))
    out: dict[str, float] = {}
    try:
        assert box.start().ok

        def median_of(fn: Callable[[], Any]) -> float:
            times = []
            for _ in range(n):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            return statistics.median(times)

        small = {"args": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], "kwargs": {}}
        out["ping round trip"] = median_of(lambda: box.request({"op": "ping"}, {}))
        out["call dot_numpy(3 floats) round trip"] = median_of(
            lambda: box.request({"op": "call", "path": ["dot_numpy"]}, small))
        local = load_module(bench.solution)
        out["call dot_numpy(3 floats) locally"] = median_of(
            lambda: local.dot_numpy([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]))
    finally:
        box.close()
        shutil.rmtree(staged, ignore_errors=True)
        sys.modules.pop("submission", None)
    return out


# ---------------------------------------------------------------------- report


def ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.0f}"


def fmt_load(load: Any) -> str:
    return "n/a" if not load else " ".join(f"{x:.2f}" for x in load)


def summarize(variants: list[Variant]) -> dict[str, Any]:
    med = {v.name: statistics.median(v.times) for v in variants if v.times}
    out: dict[str, Any] = {}
    for v in variants:
        entry: dict[str, Any] = {"what": v.what, "skipped": v.skipped,
                                 "times_s": [round(x, 5) for x in v.times]}
        if v.times:
            entry.update(median_s=med[v.name], min_s=min(v.times), max_s=max(v.times))
            for floor in ("floor", "floor-inproc"):
                if floor in med:
                    entry[f"ratio_to_{floor}"] = med[v.name] / med[floor]
        out[v.name] = entry
    return out


def markdown(env: dict[str, Any], rounds: int, summary: dict[str, Any],
             refs: dict[str, float] | None, bd: dict[str, Any] | None,
             trips: dict[str, float] | None, floor_inproc: float | None) -> str:
    sb = env["sandbox"]
    lines = [
        f"Task `{env['task']}`, reference solution; {rounds} rounds (order alternating), "
        f"{env['warmup']} warm-up round(s) not counted.",
        f"{env['cpu_count']} CPUs ({env['cpu_affinity']} usable), Python {env['python']}, "
        f"NumPy {env['numpy']}, pytest {env['pytest']}; sandbox backend `{sb['backend']}` "
        f"({sb['reason']}; capability probe {ms(sb['probe_s'])} ms once per grader process).",
        f"Load average (1, 5, 15 min) at start {fmt_load(env.get('loadavg_at_start'))}, "
        f"at end {fmt_load(env.get('loadavg_at_end'))}: other work on the machine shows up "
        "as noise in every variant.",
        "",
        "| variant | what | median ms | min ms | max ms | × floor | × floor-inproc |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, e in summary.items():
        if e.get("skipped"):
            lines.append(f"| {name} | {e['what']} | skipped: {e['skipped']} | | | | |")
            continue

        def ratio(key: str, e: dict[str, Any] = e) -> str:
            return f"{e[key]:.2f}" if key in e else "-"
        lines.append(f"| {name} | {e['what']} | {ms(e['median_s'])} | {ms(e['min_s'])} | "
                     f"{ms(e['max_s'])} | {ratio('ratio_to_floor')} | "
                     f"{ratio('ratio_to_floor-inproc')} |")
    if bd:
        p, req = bd["phases_s"], bd["requests"]
        n_req = sum(r["n"] for r in req.values())
        req_s = sum(r["s"] for r in req.values())
        ping = req.get("ping")
        lines += [
            "", f"One instrumented `grade()` (total {ms(bd['total_s'])} ms):", "",
            "| phase | ms |", "|---|---:|",
            f"| locate + stage + static checks + hidden paths | "
            f"{ms(p['locate'] + p['stage'] + p['static'] + p['hidden_paths'])} |",
            f"| Box.start (sandbox start + load) | {ms(p['box_start'])} |",
            f"| · spawn child (Popen, reader threads) | {ms(bd['box_start_s']['spawn'])} |",
            f"| · wait for ready (unshare, lockdown, interpreter, preload numpy, import) "
            f"| {ms(bd['box_start_s']['wait_ready'])} |",
            f"| pytest run (run_tests) | {ms(p['run_tests'])} |",
            f"| · {n_req} round trips to the child (incl. the child's compute) | {ms(req_s)} |",
        ]
        for op, r in req.items():
            lines.append(f"| ·· `{op}` × {r['n']} | {ms(r['s'])} |")
        lines.append(f"| · pytest + test code in the grader | "
                     f"{ms(bd['run_tests_outside_requests_s'])} |")
        if floor_inproc is not None:
            lines.append(f"| · (for comparison: floor-inproc median, whole run) "
                         f"| {ms(floor_inproc)} |")
        lines += [
            f"| teardown (Box.close) | {ms(p['box_close'])} |",
            f"| · wait for the killed child to exit | {ms(bd['teardown_s']['popen_wait'])} |",
            f"| · join output reader threads | {ms(bd['teardown_s']['thread_join'])} |",
            f"| · destroy pids cgroup | {ms(bd['teardown_s']['cgroup_destroy'])} |",
            f"| · remove scratch | {ms(bd['teardown_s']['remove_scratch'])} |",
            f"| device.describe (threadpoolctl) | {ms(p['device'])} |",
            f"| digest | {ms(p['digest'])} |",
            f"| other (result, rmtree of stage, ...) | {ms(bd['other_s'])} |",
        ]
        if ping:
            lines.append(f"\nThe {ping['n']} `ping`s of `timed()` averaged "
                         f"{ping['s'] / ping['n'] * 1e6:.0f} µs each.")
    if trips:
        lines += ["", "Per-request costs on one box (median of 200):", "",
                  "| request | µs |", "|---|---:|"]
        lines += [f"| {k} | {v * 1e6:.0f} |" for k, v in trips.items()]
    if refs:
        lines += ["", "Start-up reference points (median of 5 fresh processes):", "",
                  "| command | ms |", "|---|---:|"]
        lines += [f"| `{k}` | {ms(v)} |" for k, v in refs.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1, help="uncounted rounds first (default 1)")
    ap.add_argument("--task", default="phase1/dot-product")
    ap.add_argument("--solution", type=Path, default=None,
                    help="default: reference/<task>/solution.py")
    ap.add_argument("--json", type=Path, default=None, help="write all numbers here")
    ap.add_argument("--no-breakdown", action="store_true",
                    help="skip the instrumented grading and the start-up reference points")
    ap.add_argument("--profile", type=Path, default=None,
                    help="also cProfile one grading into this file (pstats format)")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")

    start = time.perf_counter()
    capabilities()  # probed once per grader process; paid up front, outside the rounds
    probe_s = time.perf_counter() - start
    solution = args.solution or ROOT / "reference" / args.task / "solution.py"
    bench = Bench(args.task, solution)
    env = {**environment(probe_s), "task": args.task, "solution": str(bench.solution),
           "warmup": args.warmup}
    variants = [
        Variant("harness", "`grade()` in this process", bench.harness),
        Variant("harness-cli", "`grade submit --json`, fresh process", bench.cli),
        Variant("floor", "plain pytest, fresh process", bench.floor),
        Variant("floor-inproc", "plain pytest, `pytest.main()` here", bench.floor_inproc),
    ]
    variants[1].skipped = bench.cli_available()
    try:
        for r in range(-args.warmup, args.rounds):
            order = variants if r % 2 == 0 else variants[::-1]
            for v in order:
                if v.skipped:
                    continue
                try:
                    elapsed = v.run()
                except Skip as why:
                    v.skipped = str(why)
                    v.times.clear()
                    continue
                if r >= 0:
                    v.times.append(elapsed)
            if r >= 0:
                print(f"round {r + 1}/{args.rounds}: " + ", ".join(
                    f"{v.name} {ms(v.times[-1])} ms" for v in order if v.times),
                    file=sys.stderr, flush=True)
        summary = summarize(variants)
        refs = bd = trips = None
        if not args.no_breakdown:
            bd = breakdown(bench)
            trips = round_trips(bench)
            refs = reference_points(with_cli=not variants[1].skipped)
        if args.profile:
            cProfile.runctx("grading.grade(bench.task, bench.solution, bench.settings)",
                            globals(), {"bench": bench}, filename=str(args.profile))
    finally:
        bench.close()
    if hasattr(os, "getloadavg"):
        env["loadavg_at_end"] = os.getloadavg()
    inproc = summary["floor-inproc"].get("median_s")
    print(markdown(env, args.rounds, summary, refs, bd, trips, inproc))
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "rounds": args.rounds,
                                         "variants": summary, "breakdown": bd,
                                         "round_trips_s": trips, "reference_points_s": refs},
                                        indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
