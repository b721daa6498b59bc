"""``grade bench``: a submission's implementations timed across input sizes.

A task opts in with ``bench.py`` beside its ``task.toml`` (task-pack code, run in the
grader)::

    FUNCTIONS = ["dot_loop", "dot_numpy"]   # the first is the baseline
    SIZES = [10**2, 10**3, 10**4, 10**5, 10**6]

    def inputs(n, rng):                     # the arguments for size n
        return rng.normal(size=n), rng.normal(size=n)

    def expect(a, b):                       # optional: the right output, in the grader
        return float(np.dot(a, b))

Each size compares every other function with the baseline through the harness's timing
protocol (:mod:`harness.timing`, lighter settings), in the sandbox. Outputs: a table, a
log-log SVG chart of time per call and speed-up against size, and a JSON file in
pytest-benchmark's format (``pytest-benchmark compare`` reads it).
"""

from __future__ import annotations

import importlib.util
import json
import math
import platform
import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from harness import clock, device, submissions, timing
from harness.checks.speed import Timing
from harness.errors import SpecError, UsageError
from harness.sandbox import BoxFailure, BoxSpec, Budget
from harness.sandbox.box import boxes_root
from harness.settings import Settings
from harness.tasks import Task

SCHEMA_VERSION = 1
DEFAULT_SIZES = (10**2, 10**3, 10**4, 10**5, 10**6)
PLAN = timing.Plan(rounds=7, min_rounds=6, max_rounds=7, budget_s=60.0, overhead_samples=7)


@dataclass(frozen=True)
class Row:
    """One size: seconds per call of each function, speed-ups over the baseline."""

    size: int
    per_call_s: dict[str, float]
    samples_s: dict[str, list[float]]
    iterations: dict[str, int]
    speedup: dict[str, tuple[float, float, float]]  # name -> (median, ci low, ci high)
    error: str = ""


@dataclass(frozen=True)
class BenchReport:
    """A whole ``grade bench`` run, stamped with the task and the environment."""

    task: str
    task_fingerprint: str
    submission: str
    functions: tuple[str, ...]
    rows: tuple[Row, ...]
    environment: dict[str, Any]
    timestamp: str
    duration_s: float
    schema_version: int = SCHEMA_VERSION
    files: dict[str, str] = field(default_factory=dict)


def load_recipe(task: Task) -> ModuleType:
    """The task's ``bench.py`` (FUNCTIONS, SIZES, inputs, optional expect)."""
    path = task.root / "bench.py"
    if not path.is_file():
        raise UsageError(f"task {task.id} has no bench.py",
                         hint="a task opts in to `grade bench` with a bench.py beside task.toml")
    spec = importlib.util.spec_from_file_location(f"harness_bench_{task.id.replace('/', '_')}",
                                                  path)
    if spec is None or spec.loader is None:
        raise SpecError(str(path), "(file)", "cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    functions = getattr(module, "FUNCTIONS", None)
    if not (isinstance(functions, list | tuple) and len(functions) >= 2 and
            all(isinstance(f, str) for f in functions)) or not callable(
                getattr(module, "inputs", None)):
        raise SpecError(str(path), "FUNCTIONS/inputs", "needs FUNCTIONS (two names or more, the "
                        "first is the baseline) and inputs(n, rng)")
    return module


def parse_sizes(text: str) -> tuple[int, ...]:
    """The input sizes of ``--sizes 100,1e4,...``: whole numbers, each at least 1.

    Checked here, before anything runs: a size of 0 or below reached the recipe's
    ``inputs`` and the log-scale chart as a ``ValueError`` traceback.
    """
    sizes = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= 1 and value == int(value)):
            raise UsageError(f"--sizes {text[:60]!r}: {part.strip()[:30]!r} is not a whole "
                             "number of at least 1",
                             hint="pass input sizes such as --sizes 100,1000,10000")
        sizes.append(int(value))
    return tuple(sizes)


def run_bench(task: Task, path: Path | None, settings: Settings,
              sizes: Sequence[int] | None = None,
              progress: Callable[[str], None] = lambda _: None) -> BenchReport:
    """Time the submission's functions at each size, in the sandbox."""
    started = clock.monotonic()
    recipe = load_recipe(task)
    functions = tuple(recipe.FUNCTIONS)
    chosen: Any = sizes or getattr(recipe, "SIZES", DEFAULT_SIZES)
    sizes = tuple(int(n) for n in chosen)
    if any(n < 1 for n in sizes):
        raise UsageError(f"input sizes must be at least 1; got {min(sizes)}")
    expect = getattr(recipe, "expect", None)
    from harness import grading
    from harness.plugin import BoxSession

    sub = submissions.locate(task, path, settings.submissions_dir)
    staged = submissions.stage(sub, boxes_root())
    spec = BoxSpec(staged, sub.entry, sub.format == "folder",
                   tuple(i.name for i in task.interface),
                   tuple(grading.hidden_paths(settings, task)), task.limits, task.preload)
    session = BoxSession(spec, Budget(max(task.limits.total_seconds, 600.0)))
    rows: list[Row] = []
    try:
        report = session.start()
        if not report.ok:
            raise UsageError(f"the submission does not load: "
                             f"{grading.load_error_message(report.error or {})}")
        for n in sizes:
            rows.append(_row(session.current, recipe, functions, int(n), expect))
            progress(f"n={n}")
    finally:
        session.close()
        submissions.unstage(staged)
    env = {"machine": platform.machine(), "python": platform.python_version(),
           "numpy": np.__version__, "grader_blas": device.blas_pools(), "child_threads": 1,
           "load": timing.machine_load(), "sandbox": session.protections.get("level")}
    return BenchReport(task.id, task.fingerprint(), str(sub.path), functions, tuple(rows), env,
                       clock.now_iso(), round(clock.monotonic() - started, 3))


def _row(box: Callable[[], Any], recipe: ModuleType, functions: tuple[str, ...], n: int,
         expect: Callable[..., Any] | None) -> Row:
    rng = np.random.default_rng(n)
    args = tuple(recipe.inputs(n, rng))
    base = functions[0]
    per_call: dict[str, float] = {}
    samples: dict[str, list[float]] = {}
    iterations: dict[str, int] = {}
    speedup: dict[str, tuple[float, float, float]] = {}
    timer = Timing(box, None, seed=n, record=lambda m: None, plan=PLAN)
    try:
        for name in functions[1:]:
            m = timer.measure(timer.call(name, *args), timer.call(base, *args), expect=expect,
                              rtol=1e-6, atol=1e-9)
            for side, fn in (("fast", name), ("slow", base)):
                data = [s.per_call_s for s in m.samples if s.side == side]
                if fn not in samples or side == "fast":
                    samples[fn], iterations[fn] = data, m.numbers[side]
                    per_call[fn] = statistics.median(data)
            speedup[name] = (m.ratio, m.ci[0], m.ci[1])
    except (BoxFailure, timing.TimingFailure) as exc:
        return Row(n, per_call, samples, iterations, speedup, error=str(exc)[:300])
    except Exception as exc:  # learner code raised: show it in the row, go on
        return Row(n, per_call, samples, iterations, speedup,
                   error=f"{type(exc).__name__}: {str(exc)[:300]}")
    return Row(n, per_call, samples, iterations, speedup)


# ------------------------------------------------------------------ outputs


def render_table(report: BenchReport) -> str:
    """A plain-text table: size, time per call of each function, speed-ups with CIs."""
    base, others = report.functions[0], report.functions[1:]
    head = ["n", *[f"{f} /call" for f in report.functions],
            *[f"{f} speed-up (95% CI)" for f in others]]
    lines = [head]
    for row in report.rows:
        cells = [f"{row.size:,}"]
        cells += [_seconds(row.per_call_s.get(f)) for f in report.functions]
        for f in others:
            if f in row.speedup:
                mid, lo, hi = row.speedup[f]
                cells.append(f"{_x(mid)} ({_x(lo)}-{_x(hi)})")
            else:
                cells.append("-")
        if row.error:
            cells.append(f"error: {row.error}")
        lines.append(cells)
    widths = [max(len(r[i]) for r in lines if i < len(r)) for i in range(len(head))]
    out = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=False)) + "  " +
           "  ".join(r[len(widths):]) for r in lines]
    return "\n".join(s.rstrip() for s in out) + f"\n(baseline: {base})"


def pytest_benchmark_json(report: BenchReport) -> dict[str, Any]:
    """The run in pytest-benchmark's JSON format (one benchmark per function and size)."""
    benches = []
    for row in report.rows:
        for fn in report.functions:
            data = row.samples_s.get(fn)
            if not data:
                continue
            benches.append({
                "group": report.task, "name": f"{fn}[{row.size}]",
                "fullname": f"{report.task}::{fn}[{row.size}]",
                "params": {"n": row.size}, "param": str(row.size),
                "extra_info": {"speedup": list(row.speedup[fn]) if fn in row.speedup else None,
                               "baseline": report.functions[0]},
                "options": {"disable_gc": True, "timer": "harness.clock.monotonic",
                            "min_rounds": PLAN.min_rounds, "max_time": PLAN.budget_s,
                            "min_time": PLAN.target_sample_s, "warmup": True},
                "stats": {**benchmark_stats(data), "iterations": row.iterations.get(fn, 1)},
            })
    return {
        "machine_info": {"node": platform.node(), "processor": platform.processor(),
                         "machine": platform.machine(),
                         "python_implementation": platform.python_implementation(),
                         "python_version": platform.python_version(),
                         "release": platform.release(), "system": platform.system(),
                         "cpu": {"count": report.environment.get("load", {}).get("cpu_count")},
                         "harness": report.environment},
        "commit_info": {"id": report.task_fingerprint, "dirty": False, "project": report.task,
                        "branch": "", "time": report.timestamp},
        "benchmarks": benches,
        "datetime": report.timestamp,
        "version": "5.3.1",
        "harness_schema_version": report.schema_version,
    }


def benchmark_stats(data: Sequence[float]) -> dict[str, Any]:
    """pytest-benchmark's statistics of one series (same quartile method, same fields)."""
    xs = sorted(data)
    n = len(xs)
    mean = statistics.mean(xs)
    std = statistics.stdev(xs) if n > 1 else 0.0
    if n == 1:
        q1 = q3 = xs[0]
    elif n % 2:
        k, r = n // 4, n % 4
        q1 = 0.25 * xs[k - 1] + 0.75 * xs[k] if r == 1 else 0.75 * xs[k] + 0.25 * xs[k + 1]
        q3 = 0.75 * xs[3 * k] + 0.25 * xs[3 * k + 1] if r == 1 else \
            0.25 * xs[3 * k + 1] + 0.75 * xs[3 * k + 2]
    else:
        q1, q3 = statistics.median(xs[:n // 2]), statistics.median(xs[n // 2:])
    iqr = q3 - q1
    iqr_out = sum(1 for x in xs if x < q1 - 1.5 * iqr or x > q3 + 1.5 * iqr)
    std_out = sum(1 for x in xs if x < mean - std or x > mean + std)
    return {
        "min": xs[0], "max": xs[-1], "mean": mean, "stddev": std, "rounds": n,
        "median": statistics.median(xs), "iqr": iqr, "q1": q1, "q3": q3,
        "iqr_outliers": iqr_out, "stddev_outliers": std_out, "outliers": f"{std_out};{iqr_out}",
        "ld15iqr": xs[bisect_left(xs, q1 - 1.5 * iqr)] if n > 1 else xs[0],
        "hd15iqr": xs[bisect_right(xs, q3 + 1.5 * iqr) - 1],
        "ops": n / sum(xs) if sum(xs) else 0.0, "total": sum(xs), "data": list(xs),
    }


PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def render_svg(report: BenchReport, width: int = 760, height: int = 330) -> str:
    """Two log-log panels, hand-written SVG: time per call, and speed-up over the baseline."""
    panel_w, top, left, bottom = (width - 40) // 2 - 60, 40, 70, 50
    plot_h = height - top - bottom
    sizes = [r.size for r in report.rows]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14">'
             f'{_esc(report.task)}: {_esc(", ".join(report.functions))}</text>']
    times = {f: [(r.size, r.per_call_s[f]) for r in report.rows if f in r.per_call_s]
             for f in report.functions}
    ups = {f: [(r.size, *r.speedup[f]) for r in report.rows if f in r.speedup]
           for f in report.functions[1:]}
    panels = [("time per call (s)", left, {f: [(x, y, y, y) for x, y in v]
                                           for f, v in times.items()}),
              (f"speed-up over {report.functions[0]} (95% CI)", left + panel_w + 100,
               {f: [(x, m, lo, hi) for x, m, lo, hi in v] for f, v in ups.items()})]
    for title, x0, series in panels:
        ys = [y for pts in series.values() for _, m, lo, hi in pts for y in (m, lo, hi)
              if y > 0 and math.isfinite(y)]
        if not sizes or not ys:
            continue
        xlo, xhi = math.floor(math.log10(min(sizes))), math.ceil(math.log10(max(sizes)))
        ylo, yhi = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
        xhi, yhi = max(xhi, xlo + 1), max(yhi, ylo + 1)

        def px(v: float, x0: int = x0, xlo: int = xlo, xhi: int = xhi) -> float:
            return x0 + (math.log10(v) - xlo) / (xhi - xlo) * panel_w

        def py(v: float, ylo: int = ylo, yhi: int = yhi) -> float:
            return top + plot_h - (math.log10(max(v, 10.0 ** ylo)) - ylo) / (yhi - ylo) * plot_h

        parts.append(f'<rect x="{x0}" y="{top}" width="{panel_w}" height="{plot_h}" '
                     'fill="none" stroke="#444"/>')
        parts.append(f'<text x="{x0 + panel_w / 2}" y="{top - 6}" text-anchor="middle">'
                     f'{_esc(title)}</text>')
        for e in range(xlo, xhi + 1):
            x = px(10.0 ** e)
            parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
                         'stroke="#ddd"/>')
            parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="middle">'
                         f'1e{e}</text>')
        for e in range(ylo, yhi + 1):
            y = py(10.0 ** e)
            parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + panel_w}" y2="{y:.1f}" '
                         'stroke="#ddd"/>')
            parts.append(f'<text x="{x0 - 4}" y="{y + 4:.1f}" text-anchor="end">1e{e}</text>')
        parts.append(f'<text x="{x0 + panel_w / 2}" y="{top + plot_h + 30}" '
                     'text-anchor="middle">input size n</text>')
        for i, (name, pts) in enumerate(series.items()):
            color = PALETTE[report.functions.index(name) % len(PALETTE)]
            if not pts:
                continue
            path = " ".join(f"{'M' if j == 0 else 'L'}{px(x):.1f},{py(m):.1f}"
                            for j, (x, m, _, _) in enumerate(pts))
            parts.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
            for x, m, lo, hi in pts:
                if hi > lo:
                    parts.append(f'<line x1="{px(x):.1f}" y1="{py(lo):.1f}" x2="{px(x):.1f}" '
                                 f'y2="{py(hi):.1f}" stroke="{color}"/>')
                parts.append(f'<circle cx="{px(x):.1f}" cy="{py(m):.1f}" r="3" '
                             f'fill="{color}"><title>{_esc(name)} n={x}: {m:.3g}</title>'
                             '</circle>')
            parts.append(f'<text x="{x0 + 6}" y="{top + 14 + 13 * i}" fill="{color}">'
                         f'{_esc(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_outputs(report: BenchReport, folder: Path) -> dict[str, Path]:
    """Write the JSON (pytest-benchmark format) and the SVG chart; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = report.timestamp.replace(":", "").replace("-", "").replace("+0000", "Z")
    stem = f"{stamp}-bench"
    paths = {"json": folder / f"{stem}.json", "svg": folder / f"{stem}.svg"}
    paths["json"].write_text(json.dumps(pytest_benchmark_json(report), indent=2))
    paths["svg"].write_text(render_svg(report))
    return paths


def _seconds(v: float | None) -> str:
    if v is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if v >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v / 1e-9:.3g} ns"


def _x(v: float) -> str:
    return f"{v:,.0f}x" if v >= 100 else f"{v:.3g}x"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
