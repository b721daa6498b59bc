"""Precision and recall of the leakage check on the labelled corpus.

    python benchmarks/leakage_corpus.py              # in-process trace (fast)
    python benchmarks/leakage_corpus.py --sandbox    # through the sandbox, like `grade leakage`
    python benchmarks/leakage_corpus.py --impact     # also measure each leak's impact

Prints one line per program (kind, found, placed, seconds, findings) and a table per kind.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.leakage import corpus, scan  # noqa: E402

CORPUS = ROOT / "tests" / "fixtures" / "leakage" / "corpus"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sandbox", action="store_true")
    ap.add_argument("--impact", action="store_true")
    ap.add_argument("--only", help="substring of program names to run")
    ap.add_argument("--overhead", action="store_true",
                    help="time each program plain and traced (in-process), report the ratio")
    ap.add_argument("--parts", default="run,code",
                    help="which findings count: run (the trace), code (the source), or both")
    args = ap.parse_args()
    labels = [lb for lb in corpus.load(CORPUS) if not args.only or args.only in lb.name]
    if args.overhead:
        return overhead(labels)
    runner = scan.run_in_box if args.sandbox else scan.run_in_process

    def check(path: Path) -> tuple[list, dict[int, str]]:
        result = scan.scan(path, impact=args.impact, runner=runner,
                           parts=tuple(args.parts.split(",")))
        cells = {}
        if path.suffix == ".ipynb":
            program = scan.stage(path, Path(scan.tempfile.mkdtemp()))
            assert program.notebook is not None
            cells = {i: f"cell[{c.number}]"
                     for i, c in enumerate(program.notebook.code_cells, 1)}
        if result.failure or result.error:
            print(f"   ! {path.name}: {result.failure or result.error}")
        return result.findings, cells

    outcomes = corpus.run(labels, check, time.perf_counter)
    for o in outcomes:
        mark = "ok " if (o.found or (o.label.kind == "clean" and not o.findings)) else "BAD"
        print(f"{mark} {o.label.name:40s} {o.label.kind:18s} found={int(o.found)} "
              f"placed={int(o.placed)} {o.seconds:5.1f}s  "
              + "; ".join(f"{f.kind}@{f.where()}[{f.how}]"
                          + (f" impact: {f.impact}" if f.impact else "") for f in o.findings))
    rows, precision, recall = corpus.score(outcomes)
    print(f"\n{'kind':18s} programs found placed false-alarms")
    for r in rows:
        print(f"{r.kind:18s} {r.programs:8d} {r.found:5d} {r.placed:6d} {r.false_alarms:12d}")
    total = sum(o.seconds for o in outcomes)
    print(f"\nprecision {precision:.3f}  recall {recall:.3f}  programs {len(outcomes)}  "
          f"time {total:.1f} s ({total / max(1, len(outcomes)):.2f} s/program)")
    return 0


def run_plain(program: scan.Program) -> None:
    """The program as `python file.py` would run it, in this process, untraced."""
    import contextlib
    import io
    import os
    import random

    import numpy as np

    random.seed(0)
    np.random.seed(0)
    here = os.getcwd()
    os.chdir(program.staged)
    namespace = {"__name__": "__main__"}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            if program.notebook is not None:
                for c in program.notebook.code_cells:
                    exec(compile(scan.notebooks.python_source(c.source), "cell", "exec"),
                         namespace)
            else:
                path = program.staged / program.entry
                exec(compile(path.read_text(), str(path), "exec"), namespace)
    finally:
        os.chdir(here)


def overhead(labels: list[corpus.Label], repeats: int = 3) -> int:
    """Median wall time of each program plain and traced (interleaved), and the ratios."""
    import statistics
    import tempfile
    import warnings

    warnings.simplefilter("ignore")
    ratios, plain_total, traced_total = [], 0.0, 0.0
    for label in labels:
        program = scan.stage(label.path, Path(tempfile.mkdtemp()))
        plain, traced = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            run_plain(program)
            plain.append(time.perf_counter() - t)
            t = time.perf_counter()
            scan.run_in_process(program, [], scan.DEFAULT_LIMITS)
            traced.append(time.perf_counter() - t)
        p, q = statistics.median(plain), statistics.median(traced)
        plain_total, traced_total = plain_total + p, traced_total + q
        ratios.append(q / p)
        print(f"{label.name:40s} plain {p:6.3f} s  traced {q:6.3f} s  x{q / p:5.2f}")
    print(f"\ntotal plain {plain_total:.1f} s, traced {traced_total:.1f} s "
          f"(x{traced_total / plain_total:.2f}); median per-program ratio "
          f"x{statistics.median(ratios):.2f}, max x{max(ratios):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
