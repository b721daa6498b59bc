"""Start-up cost of one sandboxed child at each sandbox level.

Measures, per level, the wall time from launching a child to its "ready" reply with a
trivial submission loaded (numpy preloaded, as for every task), and the teardown.
Levels are interleaved round by round so machine noise spreads evenly.

    python benchmarks/bench_sandbox_start.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from harness.sandbox import Box, BoxSpec, Budget, capabilities

LEVELS = {"strong": "auto", "namespaces": "namespaces", "minimal": "process"}


def one(source: Path, preload: tuple[str, ...]) -> tuple[float, float]:
    box = Box(BoxSpec(source, "solution.py", False, ("add",), (), preload=preload), Budget(60))
    t0 = time.perf_counter()
    report = box.start()
    t1 = time.perf_counter()
    assert report.ok, report
    box.close()
    return t1 - t0, time.perf_counter() - t1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    source = Path(tempfile.mkdtemp())
    (source / "solution.py").write_text("def add(a, b):\n    return a + b\n")
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(args.rounds):
        for level, env in LEVELS.items():
            os.environ["HARNESS_SANDBOX"] = env
            capabilities.cache_clear()
            if capabilities().level != level:
                continue
            for preload in ((), ("numpy",)):
                key = (level, "+".join(preload) or "nothing")
                samples.setdefault(key, []).append(one(source, preload))
    print(f"load average: {os.getloadavg()}")
    print("| level | preloaded | start median ms | start p90 ms | teardown median ms |")
    print("|---|---|---:|---:|---:|")
    for (level, preload), values in samples.items():
        starts = sorted(v[0] * 1000 for v in values)
        downs = [v[1] * 1000 for v in values]
        p90 = starts[int(0.9 * (len(starts) - 1))]
        print(f"| {level} | {preload} | {statistics.median(starts):.0f} | {p90:.0f} | "
              f"{statistics.median(downs):.0f} |")


if __name__ == "__main__":
    main()
