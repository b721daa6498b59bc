"""Shared fixtures: a throwaway workspace with a tiny task pack, and a way to grade source."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import grading, settings, tasks
from harness.results import Result

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: A string that appears only in the throwaway task's hidden test and expected values.
SECRET = "HIDDEN-MARKER-7f3a9c"

TASK_TOML = """
title = "Add two numbers"
phase = "phase0"
kind = "exercise"
description = "Return a + b."

[[interface]]
name = "add"
signature = "(a, b)"
doc = "Sum of a and b."

[limits]
call_seconds = 3
total_seconds = 20
load_seconds = 10
cpu_seconds = 20
memory_mb = 1024
output_kb = 256
processes = 16

[checks.test_add_hidden]
points = 2
hint = "add the two numbers"
"""

PUBLIC = """
def test_add_public(submission):
    assert submission.add(1, 2) == 3
"""

HIDDEN = f"""
EXPECTED = {{"{SECRET}": 42}}

def test_add_hidden(submission):
    assert submission.add(40, 2) == EXPECTED["{SECRET}"]
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace with ``tasks/phase0/add`` (public + hidden tests) and a reference."""
    root = tmp_path / "ws"
    task = root / "tasks" / "phase0" / "add"
    for sub in ("public", "hidden", "starter"):
        (task / sub).mkdir(parents=True)
    (task / "task.toml").write_text(TASK_TOML)
    (task / "public" / "test_public.py").write_text(PUBLIC)
    (task / "hidden" / "test_hidden.py").write_text(HIDDEN)
    (task / "starter" / "solution.py").write_text("def add(a, b):\n    return 0\n")
    ref = root / "reference" / "phase0" / "add"
    (ref / "mutants").mkdir(parents=True)
    (ref / "solution.py").write_text("def add(a, b):\n    return a + b\n")
    (ref / "mutants" / "subtracts.py").write_text('"""Mutant: subtracts."""\n'
                                                  "def add(a, b):\n    return a - b\n")
    (root / "submissions").mkdir()
    return root


@pytest.fixture
def grade_source(workspace: Path, tmp_path: Path) -> Callable[..., Result]:
    """Grade a submission given as source text against ``phase0/add``."""

    def run(source: str, task_id: str = "phase0/add", mode: grading.Mode = "submit") -> Result:
        path = tmp_path / "learner" / "solution.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(source))
        s = settings.resolve(workspace=str(workspace))
        return grading.grade(tasks.load_task(s.tasks.value, task_id), path, s, mode=mode)

    return run


def marked_processes(markers: list[str]) -> dict[int, str]:
    """Processes whose working folder or command line holds one of ``markers``."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            cwd = ""
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmdline = ""
        if any(m in cwd or m in cmdline for m in markers):
            found[int(entry)] = f"cwd={cwd} cmdline={cmdline[:160]}"
    return found
