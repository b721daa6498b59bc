"""The pytest plugin task authors write against: fixtures in, check results out.

Task tests are plain pytest. They receive

* ``submission``: the learner's module, living in the sandbox (see :mod:`harness.remote`);
* ``rng``: a NumPy ``Generator`` seeded from the task and test name (same inputs on
  every grading of the same task version);
* ``task_data``: the task's ``data/`` folder (read in the grader, never in the child);
* ``task_spec``: the parsed :class:`~harness.tasks.Task`.

Markers ``@pytest.mark.points(n)``, ``@pytest.mark.hint("...")`` and
``@pytest.mark.kind("timing")`` override the spec's ``[checks.<test>]`` table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from harness.checks import ShownToLearner
from harness.checks.leakage import Leakage
from harness.checks.speed import Timing
from harness.device import Selection
from harness.remote import Channel, MissingName, RemoteException, SubmissionProxy
from harness.results import CheckResult
from harness.sandbox import Box, BoxFailure, BoxSpec, Budget, LoadReport
from harness.sandbox.box import RequestWatch
from harness.tasks import CheckSpec, Task
from harness.timing import Measurement

if TYPE_CHECKING:
    from harness.submissions import Submission

MAX_RESTARTS = 3


@dataclass
class BoxSession:
    """Keeps one box alive across the tests of a grading; restarts it after a failure."""

    spec: BoxSpec
    budget: Budget
    box: Box | None = None
    restarts: int = 0
    failures: list[BoxFailure] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    protections: dict[str, Any] = field(default_factory=dict)
    all_clean: bool = True
    leftovers: list[str] = field(default_factory=list)  # what teardowns could not remove
    cpu_seconds: float | None = None  # every box's CPU time (cgroup accounting), summed
    watch: RequestWatch | None = None  # given to every box this session starts

    def start(self) -> LoadReport:
        """Start the first box and load the submission (failures propagate)."""
        self.box = Box(self.spec, self.budget, watch=self.watch)
        try:
            return self.box.start()
        finally:
            self.protections = self.box.protections()

    def current(self) -> Box:
        """The running box, restarting a fresh one if the last one died."""
        if self.box is not None and self.box.alive:
            return self.box
        if self.budget.remaining() <= 0:
            raise BoxFailure("timeout", "not run: the submission's total time is used up")
        if self.restarts >= MAX_RESTARTS:
            raise BoxFailure("crashed", f"not run: the submission failed {self.restarts + 1} "
                             "times, so the remaining checks were skipped")
        self._retire()
        self.restarts += 1
        self.box = Box(self.spec, self.budget, watch=self.watch)
        report = self.box.start()
        if not report.ok:
            raise BoxFailure("crashed", "the submission no longer loads on restart")
        return self.box

    def record(self, failure: BoxFailure) -> None:
        self.failures.append(failure)

    def observe(self, watch: RequestWatch) -> None:
        """Let ``watch`` see the requests of the running box and of every restart."""
        self.watch = watch
        if self.box is not None:
            self.box.watch = watch

    def _retire(self) -> None:
        if self.box is not None:
            child = self.box.child
            if child is not None and child.output_overflow and not any(
                    f.kind == "output_limit" for f in self.failures):
                # The flood may come between requests, when no check is waiting for it.
                self.record(BoxFailure("output_limit", "the submission printed more than "
                                       f"{self.spec.limits.output_bytes} bytes and was stopped"))
            self.outputs.append(self.box.output())
            self.all_clean &= self.box.close()
            self.leftovers += self.box.leftovers
            if self.box.cpu_seconds is not None:
                self.cpu_seconds = (self.cpu_seconds or 0.0) + self.box.cpu_seconds
            self.box = None

    def close(self) -> None:
        self._retire()


@dataclass
class CheckLog:
    """What one check did with the submission: the names it used and, for any but a timing
    check, each request with the reply (replayed against the mutants to diagnose it)."""

    kind: str
    uses: set[str] = field(default_factory=set)
    calls: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = field(
        default_factory=list)

    MAX_CALLS = 64


@dataclass
class SideBox:
    """A trusted submission (the reference, a mutant) loaded in a box of its own, beside
    the learner's: same limits and masks, staged from its own copy."""

    session: BoxSession
    staged: Path
    sub: Submission
    report: LoadReport

    def close(self) -> None:
        from harness import submissions

        self.session.close()
        submissions.unstage(self.staged)


def start_side_box(task: Task, path: Path, base: BoxSpec) -> SideBox:
    """Stage ``path`` and load it in a new box built like ``base`` (always as a module or
    folder: a reference or mutant is never a notebook); a BoxFailure propagates, after
    the box and its staged copy are removed."""
    from dataclasses import replace

    from harness import submissions
    from harness.sandbox.box import boxes_root

    sub = submissions.locate(task, path, path.parent)
    staged = submissions.stage(sub, boxes_root())
    spec = replace(base, source=staged, entry=sub.entry, folder=sub.format == "folder",
                   notebook=None)
    session = BoxSession(spec, Budget(task.limits.total_seconds))
    try:
        report = session.start()
    except BaseException:
        session.close()
        submissions.unstage(staged)
        raise
    return SideBox(session, staged, sub, report)


def _seed(task_id: str, nodeid: str) -> int:
    return int(hashlib.sha256(f"{task_id}::{nodeid}".encode()).hexdigest()[:12], 16)


class GraderPlugin:
    """Registered into an in-process pytest run by :mod:`harness.grading`."""

    def __init__(self, task: Task, session: BoxSession, names: dict[str, Any],
                 static: Callable[[str], Any], reference: Path | None = None,
                 device: Selection | None = None, not_run: str = "",
                 unusable: dict[str, str] | None = None,
                 progress: Callable[[str], None] | None = None) -> None:
        self.task = task
        self.session = session
        self.names = names
        #: Interface names the submission does not define (or not as the task asks), with
        #: the reason: a check that uses one is not run.
        self.missing = unusable if unusable is not None else {
            i.name: f"your code does not define `{i.name}`" for i in task.interface
            if i.name not in names}
        #: Why no check runs at all (the submission never loaded): they are only collected.
        self.not_run = not_run
        self.progress = progress or (lambda doing: None)
        self.logs: dict[str, CheckLog] = {}  # by check id
        self.selectors: dict[str, str] = {}  # check id -> what selects it on a command line
        self._log: CheckLog | None = None
        session.observe(self)
        self.interface = {i.name for i in task.interface}
        self.static = static
        self.checks: list[CheckResult] = []
        self.collection_errors: list[str] = []
        self.share: dict[str, int] = {}
        self.reference = reference
        self.selection = device
        self.reference_side: SideBox | None = None
        self.measurements: dict[str, list[Measurement]] = {}
        self.leaks: dict[str, list[dict[str, Any]]] = {}  # nodeid -> the leakage findings

    # ---------------------------------------------------------------- fixtures

    @pytest.fixture
    def submission(self) -> SubmissionProxy:
        return SubmissionProxy(Channel(self.session.current), self.names, self._static)

    def _static(self, name: str) -> Any:
        """A function's AST for a static check, counted as a use of ``name``."""
        self._use(name)
        return self.static(name)

    # ---------------------------------------------------------------- the box's watch

    def _use(self, name: str) -> None:
        if self._log is not None and name in self.interface:
            self._log.uses.add(name)
        if name in self.missing:
            raise MissingName(name, self.missing[name])

    def before(self, header: dict[str, Any]) -> None:
        """Every request of a learner box: note the name it uses; refuse a missing one."""
        path = header.get("path")
        if "handle" not in header and isinstance(path, list) and path and \
                isinstance(path[0], str) and header.get("op") != "store":
            self._use(path[0])

    def after(self, header: dict[str, Any], values: dict[str, Any],
              reply: dict[str, Any]) -> None:
        log = self._log
        if log is not None and log.kind != "timing" and len(log.calls) < log.MAX_CALLS:
            log.calls.append((header, values, reply))

    @pytest.fixture
    def rng(self, request: pytest.FixtureRequest) -> np.random.Generator:
        return np.random.default_rng(_seed(self.task.id, request.node.nodeid))

    @pytest.fixture
    def task_data(self) -> Path:
        return self.task.data_dir

    @pytest.fixture
    def task_spec(self) -> Task:
        return self.task

    @pytest.fixture
    def timing(self, request: pytest.FixtureRequest) -> Timing:
        nodeid = request.node.nodeid
        return Timing(self.session.current, self._reference_box if self.reference else None,
                      _seed(self.task.id, nodeid),
                      lambda m: self.measurements.setdefault(nodeid, []).append(m),
                      self.selection.used or "cpu" if self.selection else "cpu")

    @pytest.fixture
    def leakage(self, request: pytest.FixtureRequest) -> Leakage:
        """Runs learner functions under the provenance trace; fails on data leakage."""
        nodeid = request.node.nodeid
        return Leakage(Channel(self.session.current), lambda found: self.leaks.setdefault(
            nodeid, []).extend(f.to_dict() for f in found))

    @pytest.fixture
    def device(self) -> str:
        """The device the task's code should use: cpu, cuda or mps."""
        return self.selection.used or "cpu" if self.selection else "cpu"

    def _reference_box(self) -> Box:
        """The reference solution in its own box, started on first use."""
        if self.reference_side is None:
            if self.reference is None:
                pytest.skip("the submission did not load, so nothing was timed")
            self.reference_side = start_side_box(self.task, self.reference, self.session.spec)
            if not self.reference_side.report.ok:
                pytest.skip(f"the reference solution does not load "
                            f"({self.reference_side.report.error}); this is a problem of the "
                            "task, not of your code")
        return self.reference_side.session.current()

    # ---------------------------------------------------------------- hooks

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._log = self.logs[self._check_id(item)] = CheckLog(self._spec_for(item)[0].kind)
        self.progress(item.name)
        why = self._skip_reason(item)
        if why:
            pytest.skip(why)

    def _skip_reason(self, item: pytest.Item) -> str:
        """Why this check cannot run on this machine ("" when it can)."""
        if self.selection is not None and self.selection.used is None:
            return self.selection.reason
        # Only checks that need the accelerator skip without it; the rest run on the CPU.
        if item.get_closest_marker("accelerator") is not None:
            return self.selection.accelerator_skip() if self.selection is not None else \
                "this check needs an accelerator (CUDA or MPS), and this grading runs on the CPU"
        return ""

    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self._log = None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """With ``--collect-only`` (the submission never loaded) every check is recorded
        as not run, for the one reason, without starting anything."""
        if not self.not_run:
            return
        for item in session.items:
            spec, _ = self._spec_for(item)
            why = self._skip_reason(item)
            if why:  # it would not have run here anyway: it counts for nothing either way
                self.checks.append(CheckResult(status="skip", points=0.0, message=why,
                                               **self._common(item, spec, 0.0)))
                continue
            self.checks.append(CheckResult(
                status="error", points=0.0, outcome="not_run", message=self.not_run,
                **self._common(item, spec, 0.0)))

    def pytest_sessionfinish(self) -> None:
        if self.reference_side is not None:
            self.reference_side.close()
            self.reference_side = None

    def pytest_configure(self, config: pytest.Config) -> None:
        for line in ("points(n): points this check is worth",
                     "hint(text): what a learner should look at when this check fails",
                     "kind(name): correctness, leakage, timing, quality or style",
                     "accelerator: runs only on CUDA or MPS (see harness.device)"):
            config.addinivalue_line("markers", line)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # A parametrized test shares its points among its cases.
        for item in items:
            key = self._base_key(item)
            self.share[key] = self.share.get(key, 0) + 1

    def _base_key(self, item: pytest.Item) -> str:
        return f"{item.path}::{getattr(item, 'originalname', item.name)}"

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {report.longreprtext[-2000:]}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item,
                                  call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.checks.append(self._check(item, report, call))
        return report

    # ---------------------------------------------------------------- classify

    def _spec_for(self, item: pytest.Item) -> tuple[CheckSpec, str]:
        base = getattr(item, "originalname", item.name)
        spec = self.task.checks.get(base, CheckSpec())
        points, hint, kind = spec.points, spec.hint, spec.kind
        for mark in item.iter_markers():
            if mark.name == "points" and mark.args:
                points = float(mark.args[0])
            elif mark.name == "hint" and mark.args:
                hint = str(mark.args[0])
            elif mark.name == "kind" and mark.args:
                kind = mark.args[0]
        points = points / max(1, self.share.get(self._base_key(item), 1))
        return CheckSpec(points, hint, kind), base

    @staticmethod
    def _visibility(item: pytest.Item) -> str:
        return "hidden" if "hidden" in Path(str(item.path)).parts[-2:] else "public"

    def _check_id(self, item: pytest.Item) -> str:
        return f"{self._visibility(item)}/{item.name}"

    def _common(self, item: pytest.Item, spec: CheckSpec, duration: float) -> dict[str, Any]:
        visibility = self._visibility(item)
        return {"id": self._check_id(item), "name": item.name, "kind": spec.kind,
                "visibility": visibility, "max_points": spec.points, "hint": spec.hint,
                "duration_s": round(duration, 4)}

    def _check(self, item: pytest.Item, report: pytest.TestReport,
               call: pytest.CallInfo[None]) -> CheckResult:
        spec, _ = self._spec_for(item)
        common = self._common(item, spec, report.duration)
        visibility = common["visibility"]
        common["timing"] = tuple(m.to_dict() for m in self.measurements.pop(item.nodeid, []))
        common["findings"] = tuple(self.leaks.pop(item.nodeid, []))
        log = self.logs.get(common["id"])
        common["uses"] = tuple(sorted(log.uses)) if log else ()
        self.selectors[common["id"]] = f"{item.path}::{item.nodeid.split('::', 1)[-1]}"
        if report.passed:
            return CheckResult(status="pass", points=spec.points, **common)
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else "skipped"
            return CheckResult(status="skip", points=0.0, message=str(reason).removeprefix(
                "Skipped: "), **common)
        exc = call.excinfo.value if call.excinfo is not None else None
        if isinstance(exc, MissingName):
            return CheckResult(status="error", points=0.0, message=str(exc), outcome="missing",
                               **common)
        if isinstance(exc, BoxFailure):
            self.session.record(exc)
            return CheckResult(status="error", points=0.0, message=exc.message,
                               outcome=exc.kind, **common)
        if isinstance(exc, RemoteException):
            where = tuple(f"{f.get('file')}:{f.get('line')} in {f.get('name')}: {f.get('code')}"
                          for f in exc.frames)
            outcome = "memory_limit" if "MemoryError" in exc.remote_mro else None
            if outcome:
                self.session.record(BoxFailure("memory_limit", "the submission ran out of "
                                               "memory"))
            return CheckResult(status="fail", points=0.0, outcome=outcome, where=where,
                               message=f"your code raised {str(exc)[:500]}",
                               **common)
        if isinstance(exc, ShownToLearner):  # e.g. measured ratios: shown for hidden checks too
            shown = exc.public_message if visibility == "public" and exc.public_message \
                else str(exc)
            return CheckResult(status="fail", points=0.0, message=shown[:1500],
                               where=tuple(str(w)[:300] for w in exc.where[:10]),
                               **common)
        if visibility == "hidden":
            if isinstance(exc, AssertionError | pytest.fail.Exception):
                message = "hidden check failed"
            else:
                message = (f"hidden check failed: the test could not use what your code "
                           f"returned ({type(exc).__name__})")
            return CheckResult(status="fail", points=0.0, message=message,
                               **common)
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr)[-1500:]
        return CheckResult(status="fail", points=0.0, message=message[:1500],
                           **common)
