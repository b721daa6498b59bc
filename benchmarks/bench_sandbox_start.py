"""Start-up cost of one sandboxed child at each sandbox level, identity and cgroup setting.

Measures, per variant, the wall time from launching a child to its "ready" reply with a
trivial submission loaded (numpy preloaded, as for every task), and the teardown. A
variant is a level (strong, namespaces, landlock, minimal) crossed, when the grader is
root, with the child's identity (a dedicated uid, or ``HARNESS_BOX_UIDS=off``: root in a
user namespace, or plain root without one) and with per-box cgroups on or off
(``HARNESS_CGROUPS=off``). Each variant's capabilities are probed once, before timing;
variants are interleaved round by round so machine noise spreads evenly.

    python benchmarks/bench_sandbox_start.py [--rounds 20] [--preload numpy|nothing]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

from harness.sandbox import Box, BoxSpec, Budget, capabilities
from harness.sandbox.platform import Capabilities

LEVELS = {"strong": "auto", "namespaces": "namespaces", "landlock": "landlock",
          "minimal": "process"}


def probe(level_env: str, uid: bool, cgroups: bool) -> Capabilities:
    """The capabilities a grader started with these settings would use."""
    os.environ["HARNESS_SANDBOX"] = level_env
    os.environ["HARNESS_BOX_UIDS"] = "" if uid else "off"
    os.environ["HARNESS_CGROUPS"] = "" if cgroups else "off"
    capabilities.cache_clear()
    try:
        return capabilities()
    finally:
        capabilities.cache_clear()


def one(caps: Capabilities, source: Path, preload: tuple[str, ...]) -> tuple[float, float]:
    box = Box(BoxSpec(source, "solution.py", False, ("add",), (), preload=preload), Budget(60),
              caps=caps)
    t0 = time.perf_counter()
    report = box.start()
    t1 = time.perf_counter()
    assert report.ok, (report, box.output())
    assert box.close(), "a process survived the teardown"
    return t1 - t0, time.perf_counter() - t1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--preload", choices=("numpy", "nothing"), default="numpy")
    args = parser.parse_args()
    preload = () if args.preload == "nothing" else ("numpy",)
    source = Path(tempfile.mkdtemp())
    (source / "solution.py").write_text("def add(a, b):\n    return a + b\n")
    root = os.geteuid() == 0
    variants: dict[tuple[str, str, str], Capabilities] = {}
    for (level, env), uid, cg in itertools.product(LEVELS.items(), (True, False),
                                                    (True, False)):
        if not root and (not uid or not cg):
            uid, cg = False, True  # one variant per level: no uid drop, cgroups as probed
        caps = probe(env, uid, cg)
        if caps.level != level:
            continue
        identity = "dedicated uid" if caps.box_uids and caps.is_root else \
            ("root in userns" if caps.namespaces else "root") if caps.is_root \
            else "grader's uid"
        groups = "+".join(f for f in ("pids", "kill", "cpu", "memory")
                          if caps.cgroups.has(f)) or "none"
        variants.setdefault((level, identity, groups), caps)
    samples: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for _ in range(args.rounds):
        for key, caps in variants.items():
            samples.setdefault(key, []).append(one(caps, source, preload))
    print(f"load average: {os.getloadavg()}, rounds: {args.rounds}, preloaded: "
          f"{args.preload}")
    print("| level | identity | cgroups | start median ms | start p90 ms | "
          "teardown median ms |")
    print("|---|---|---|---:|---:|---:|")
    for (level, identity, groups), values in samples.items():
        starts = sorted(v[0] * 1000 for v in values)
        downs = [v[1] * 1000 for v in values]
        p90 = starts[int(0.9 * (len(starts) - 1))]
        print(f"| {level} | {identity} | {groups} | {statistics.median(starts):.0f} | "
              f"{p90:.0f} | {statistics.median(downs):.0f} |")


if __name__ == "__main__":
    main()
