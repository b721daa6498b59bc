"""What does grading a notebook cost, against the floor and against the same module?

Measures, interleaved round by round on the same machine, on a trivial notebook (one
import cell, one cell defining ``add``, one cell calling it) and a throwaway task
``phase0/add`` (one public and one hidden test):

* ``grade-notebook``   harness.grading.grade() of the notebook, end to end, in this process;
* ``grade-module``     the same code as ``solution.py``, graded the same way;
* ``nbclient-floor``   nbclient executing the notebook alone (fresh ipykernel, no sandbox,
                       no grading): what "just running the notebook" costs;
* ``sandbox-nbclient`` kernel and nbclient both inside ``unshare`` namespaces (user,
                       mount, PID, network; IPC transport, as loopback is down there);
* ``sandbox-shell``    an in-process IPython ``InteractiveShell`` running the same cells
                       inside the same namespaces (what the harness child does).

Usage: python benchmarks/bench_notebook.py [--rounds N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import harness  # noqa: E402
from harness import grading, notebooks, settings, tasks  # noqa: E402
from harness.sandbox import capabilities  # noqa: E402
from harness.sandbox.platform import UNSHARE_ARGS  # noqa: E402

SOURCE = "import math\n\n\ndef add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n"
TASK = """
title = "Add two numbers"
phase = "phase0"
description = "Return a + b."
formats = ["module", "notebook"]

[[interface]]
name = "add"
signature = "(a, b)"
"""

NBCLIENT = textwrap.dedent("""
    import sys, nbformat, nbclient
    from jupyter_client import KernelManager
    nb = nbformat.read(sys.argv[1], 4)
    km = KernelManager(kernel_name="python3", transport=sys.argv[2], ip=sys.argv[3])
    nbclient.NotebookClient(nb, km=km).execute()
    assert "3" in nb.cells[-1].outputs[0]["text"]
""")

SHELL = textwrap.dedent("""
    import json, sys, types
    from traitlets.config import Config
    from IPython.core.interactiveshell import InteractiveShell
    c = Config(); c.HistoryManager.enabled = False
    mod = types.ModuleType("submission"); sys.modules["submission"] = mod
    shell = InteractiveShell.instance(config=c, user_module=mod)
    for cell in json.load(open(sys.argv[1]))["cells"]:
        if cell["cell_type"] == "code":
            assert shell.run_cell(cell["source"]).success
""")


def workspace(root: Path) -> settings.Settings:
    task = root / "tasks" / "phase0" / "add"
    for sub in ("public", "hidden"):
        (task / sub).mkdir(parents=True)
    (task / "task.toml").write_text(TASK)
    (task / "public" / "test_public.py").write_text(
        "def test_public(submission):\n    assert submission.add(1, 2) == 3\n")
    (task / "hidden" / "test_hidden.py").write_text(
        "def test_hidden(submission):\n    assert submission.add(40, 2) == 42\n")
    return settings.resolve(workspace=str(root))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-notebook-"))
    try:
        s = workspace(tmp / "ws")
        task = tasks.load_task(s.tasks.value, "phase0/add")
        module = tmp / "solution.py"
        module.write_text(SOURCE)
        nb = tmp / "solution.ipynb"
        nb.write_text(json.dumps(notebooks.module_to_notebook(SOURCE)))
        caps = capabilities()
        unshare = [caps.unshare, *UNSHARE_ARGS] if caps.namespaces and caps.unshare else None

        def graded(path: Path) -> Callable[[], None]:
            def run() -> None:
                r = grading.grade(task, path, s)
                assert r.verdict == "graded" and r.score == r.max_score, r.message
            return run

        def process(argv: list[str]) -> Callable[[], None]:
            def run() -> None:
                subprocess.run(argv, check=True, capture_output=True, cwd=tmp, timeout=120)
            return run

        py = sys.executable
        variants: dict[str, Callable[[], None]] = {
            "grade-notebook": graded(nb),
            "grade-module": graded(module),
            "nbclient-floor": process([py, "-c", NBCLIENT, str(nb), "tcp", "127.0.0.1"]),
        }
        if unshare:
            variants["sandbox-nbclient"] = process([*unshare, py, "-c", NBCLIENT, str(nb), "ipc",
                                                    str(tmp / "kernel-ipc")])
            variants["sandbox-shell"] = process([*unshare, py, "-I", "-c", SHELL, str(nb)])
        samples: dict[str, list[float]] = {k: [] for k in variants}
        names = list(variants)
        for rnd in range(args.rounds + 1):  # round 0 warms caches and is not counted
            for name in names if rnd % 2 else reversed(names):
                start = time.perf_counter()
                variants[name]()
                if rnd:
                    samples[name].append(time.perf_counter() - start)
            print(f"round {rnd} done", file=sys.stderr)
        print(f"harness {harness.__version__}, Python {platform.python_version()}, "
              f"{platform.machine()}, sandbox {caps.reason}, {args.rounds} rounds\n")
        print("| variant | median s | min s | max s |\n|---|---|---|---|")
        for name, xs in samples.items():
            print(f"| {name} | {statistics.median(xs):.3f} | {min(xs):.3f} | {max(xs):.3f} |")
        if args.json:
            Path(args.json).write_text(json.dumps({"samples": samples, "rounds": args.rounds,
                                                   "sandbox": caps.reason}, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
