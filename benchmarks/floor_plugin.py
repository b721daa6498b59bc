"""The benchmark's floor: a task's tests run by plain pytest against a local module.

This is what grading would cost with no sandbox at all. It offers the fixtures of
:mod:`harness.plugin` (``submission``, ``rng``, ``task_data``, ``task_spec``), but the
submission is the module imported into the test process and wrapped in
:class:`LocalSubmission`, which has the methods of :class:`harness.remote.SubmissionProxy`
without any channel: ``call`` is a plain call, ``store`` returns the values themselves,
``timed`` uses ``time.perf_counter``, ``modules_used`` uses ``sys.setprofile`` in this
process and ``function_ast`` parses the file with :mod:`ast`.

Two ways to use it:

* in a fresh interpreter: ``python -m pytest ... -p floor_plugin --floor-solution PATH
  --floor-task ID --floor-task-root DIR [--floor-report OUT.json]`` with this folder on
  ``PYTHONPATH``; the module-level hooks register a :class:`FloorPlugin`;
* in-process: ``pytest.main(args, plugins=[FloorPlugin(...)])``.

It imports nothing from ``harness`` unless a test asks for ``task_spec``, so the floor
pays only for pytest, NumPy and the tests themselves.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

MODULE_NAME = "submission"  # the name the sandbox's shim gives the learner module


def seed(task_id: str, nodeid: str) -> int:
    """The same seed as ``harness.plugin._seed`` (copied so the floor never imports it)."""
    return int(hashlib.sha256(f"{task_id}::{nodeid}".encode()).hexdigest()[:12], 16)


def load_module(path: Path) -> ModuleType:
    """Import a single-file submission by path, as the sandbox's shim does."""
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


def modules_used(fn: Any, args: Any, kwargs: Any) -> list[str]:
    """Top-level packages whose functions ``fn`` called (same probe as the child shim)."""
    seen: set[str] = set()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "c_call":
            mod = (getattr(arg, "__module__", None)
                   or type(getattr(arg, "__self__", None)).__module__)
            if mod:
                seen.add(mod.split(".")[0])
        elif event == "call":
            mod = frame.f_globals.get("__name__", "")
            if mod:
                seen.add(mod.split(".")[0])

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        fn(*args, **kwargs)
    finally:
        sys.setprofile(previous)
    seen.discard(MODULE_NAME)
    return sorted(seen)


class LocalSubmission:
    """A module in this process behind the interface of ``SubmissionProxy``."""

    def __init__(self, module: ModuleType, path: Path) -> None:
        self._module = module
        self._path = path

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._module, name)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._module, name)(*args, **kwargs)

    def has(self, name: str) -> bool:
        return hasattr(self._module, name)

    def store(self, *values: Any) -> list[Any]:
        return list(values)  # nothing to send: the "refs" are the values themselves

    def timed(self, name: str, *args: Any, number: int = 1, **kwargs: Any) -> tuple[Any, float]:
        fn = getattr(self._module, name)
        value = None
        start = time.perf_counter()
        for _ in range(max(1, number)):
            value = fn(*args, **kwargs)
        elapsed = time.perf_counter() - start
        return value, max(elapsed, 1e-9) / max(1, number)

    def modules_used(self, name: str, *args: Any, **kwargs: Any) -> list[str]:
        return modules_used(getattr(self._module, name), args, kwargs)

    def function_ast(self, name: str) -> ast.FunctionDef | None:
        try:
            tree = ast.parse(self._path.read_bytes())
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            return None
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return node
        return None


class LocalTiming:
    """The floor's stand-in for the ``timing`` fixture: the same comparisons, in process,
    with a plain protocol (fixed rounds, median of per-round ratios, ``perf_counter``).
    The benchmark grades the reference, so the reference side is the same module."""

    ROUNDS = 15

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def call(self, name: str, *args: Any, label: str = "", **kwargs: Any) -> Any:
        return (getattr(self.module, name), args, kwargs)

    def reference(self, name: str, *args: Any, label: str = "", **kwargs: Any) -> Any:
        return self.call(name, *args, label=label, **kwargs)

    def compare(self, fast: Any, slow: Any, at_least: float, expect: Any = None,
                rtol: float = 1e-9, atol: float = 0.0) -> float:
        ratios = []
        for _ in range(self.ROUNDS):
            times = []
            for fn, args, kwargs in (fast, slow):
                start = time.perf_counter()
                value = fn(*args, **kwargs)
                times.append(time.perf_counter() - start)
                if expect is not None:
                    assert abs(value - expect(*args)) <= atol + rtol * abs(expect(*args))
            ratios.append(times[1] / times[0])
        ratio = float(np.median(ratios))
        assert ratio >= at_least, f"{ratio:.0f}x, needed >= {at_least}x"
        return ratio


class FloorPlugin:
    """Fixtures like ``harness.plugin.GraderPlugin``'s, served from this process."""

    def __init__(self, solution: Path, task_id: str, task_root: Path,
                 report: Path | None = None) -> None:
        self.solution = Path(solution)
        self.task_id = task_id
        self.task_root = Path(task_root)
        self.report = report
        self.module: ModuleType | None = None
        self.outcomes: dict[str, int] = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
        self.failures: list[str] = []

    # ---------------------------------------------------------------- fixtures

    @pytest.fixture
    def submission(self) -> LocalSubmission:
        if self.module is None:  # loaded once per run, like the sandbox loads it once
            self.module = load_module(self.solution)
        return LocalSubmission(self.module, self.solution)

    @pytest.fixture
    def timing(self, submission: LocalSubmission) -> LocalTiming:
        return LocalTiming(submission._module)

    @pytest.fixture
    def rng(self, request: pytest.FixtureRequest) -> np.random.Generator:
        return np.random.default_rng(seed(self.task_id, request.node.nodeid))

    @pytest.fixture
    def task_data(self) -> Path:
        return self.task_root / "data"

    @pytest.fixture
    def task_spec(self) -> Any:
        from harness.tasks import load_task  # only when a test asks for it

        return load_task(self.task_root.parent.parent, self.task_id)

    # ---------------------------------------------------------------- hooks

    def pytest_configure(self, config: pytest.Config) -> None:
        for line in ("points(n): points this check is worth",
                     "hint(text): what a learner should look at when this check fails",
                     "kind(name): correctness, leakage, timing, quality or style"):
            config.addinivalue_line("markers", line)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or not report.passed:
            if report.when != "call" and report.failed:
                key = "error"
            else:
                key = report.outcome
            self.outcomes[key] = self.outcomes.get(key, 0) + 1
            if report.failed:
                self.failures.append(f"{report.nodeid}: {report.longreprtext[-1500:]}")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.outcomes["error"] += 1
            self.failures.append(f"{report.nodeid}: {report.longreprtext[-1500:]}")

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.report is not None:
            self.report.write_text(json.dumps({"outcomes": self.outcomes,
                                               "failures": self.failures,
                                               "exitstatus": int(exitstatus)}))
        sys.modules.pop(MODULE_NAME, None)


# ------------------------------------------------------------- as a -p plugin module


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("floor", "benchmark floor (local submission)")
    group.addoption("--floor-solution", help="path of the module to test")
    group.addoption("--floor-task", help="task id, e.g. phase1/dot-product (seeds rng)")
    group.addoption("--floor-task-root", help="the task's folder (for task_data/task_spec)")
    group.addoption("--floor-report", default=None, help="write the outcomes here as JSON")


def pytest_configure(config: pytest.Config) -> None:
    solution = config.getoption("--floor-solution", default=None)
    if not solution:
        return  # imported but not asked for (e.g. in-process use passes an instance)
    report = config.getoption("--floor-report", default=None)
    config.pluginmanager.register(
        FloorPlugin(Path(solution), config.getoption("--floor-task"),
                    Path(config.getoption("--floor-task-root")),
                    Path(report) if report else None),
        "floor-plugin")
