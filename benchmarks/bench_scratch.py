"""What scratch limits cost: the tmpfs set-up per box, the watchdog's walk, and teardown.

    .venv/bin/python benchmarks/bench_scratch.py [--boxes 20]

1. Box start + close on a one-line module, ``--boxes`` times, at this machine's level and
   at ``landlock`` (no mount namespace: scratch on the grader's disk, watched by a walk):
   median wall time, and at the tmpfs levels the child's own measure of mounting the
   tmpfs and copying the staged submission into it (``scratch_setup_s``).
2. :func:`harness.sandbox.scratch.usage` (the watchdog's walk) on 100 and 10 000 files.
3. :func:`harness.sandbox.scratch.remove_tree` on the attack trees: a 5 000-level chain,
   60 levels of 255-byte names, 10 000 and 100 000 empty files, a locked folder.

Prints a Markdown table. Scratch goes to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.limits import Limits  # noqa: E402
from harness.sandbox import Box, BoxSpec, Budget, capabilities, scratch  # noqa: E402


def boxes(n: int, level: str) -> tuple[float, float | None, str]:
    os.environ["HARNESS_SANDBOX"] = level
    capabilities.cache_clear()
    src = Path(tempfile.mkdtemp())
    (src / "solution.py").write_text("def add(a, b):\n    return a + b\n")
    walls, setups = [], []
    try:
        for _ in range(n):
            t = time.perf_counter()
            box = Box(BoxSpec(src, "solution.py", False, ("add",), (), Limits(), preload=()),
                      Budget(60))
            try:
                report = box.start()
            finally:
                box.close()
            walls.append(time.perf_counter() - t)
            setup = report.lockdown.get("scratch_setup_s")
            if isinstance(setup, float):
                setups.append(setup)
        return (statistics.median(walls), statistics.median(setups) if setups else None,
                capabilities().level)
    finally:
        scratch.remove_tree(src)
        del os.environ["HARNESS_SANDBOX"]
        capabilities.cache_clear()


def chain(base: Path, levels: int, name: str = "d") -> None:
    fd = os.open(base, os.O_RDONLY)
    for _ in range(levels):
        os.mkdir(name, dir_fd=fd)
        nxt = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    os.close(fd)


def files(base: Path, n: int) -> None:
    for i in range(n):
        if i % 1000 == 0:
            folder = base / f"f{i // 1000}"
            folder.mkdir()
        os.close(os.open(folder / str(i), os.O_CREAT | os.O_WRONLY, 0o600))


def locked(base: Path) -> None:
    (base / "l" / "inner").mkdir(parents=True)
    for p in (base / "l" / "a", base / "l" / "inner" / "b"):
        p.write_text("x")
        p.chmod(0o400)
    (base / "l" / "inner").chmod(0o500)
    (base / "l").chmod(0)


def timed(make: Callable[[Path], None], work: Callable[[Path], object]) -> tuple[float, object]:
    base = Path(tempfile.mkdtemp(prefix="bench-scratch-"))
    make(base)
    t = time.perf_counter()
    out = work(base)
    seconds = time.perf_counter() - t
    scratch.remove_tree(base)
    return seconds, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--boxes", type=int, default=20)
    args = parser.parse_args()
    print("| what | time | note |\n|---|---|---|")
    for level in ("auto", "landlock"):
        wall, setup, got = boxes(args.boxes, level)
        note = f"tmpfs set-up in the child {setup * 1000:.2f} ms (median)" if setup \
            else "scratch on the grader's disk, watchdog walk"
        print(f"| box start + close, level {got} (median of {args.boxes}) | "
              f"{wall * 1000:.0f} ms | {note} |")
    for n in (100, 10_000):
        sec, _ = timed(lambda b, n=n: files(b, n),
                       lambda b: scratch.usage(b, 1 << 40, 1 << 30))
        print(f"| watchdog walk, {n} files | {sec * 1000:.1f} ms | scratch.usage |")
    cases: list[tuple[str, Callable[[Path], None]]] = [
        ("5 000-level chain", lambda b: chain(b, 5000)),
        ("60 levels of 255-byte names", lambda b: chain(b, 60, "n" * 255)),
        ("10 000 empty files", lambda b: files(b, 10_000)),
        ("100 000 empty files", lambda b: files(b, 100_000)),
        ("locked folder, read-only files", locked),
    ]
    for label, make in cases:
        sec, left = timed(make, scratch.remove_tree)
        print(f"| remove_tree: {label} | {sec * 1000:.0f} ms | left: {left or 'nothing'} |")


if __name__ == "__main__":
    main()
