"""Hostile submissions: each fixture in tests/fixtures/hostile attacks the grader one way.

Every test grades (or loads into a bare :class:`Box`) one hostile module and asserts what
the grader must still guarantee: a verdict from its own comparisons, bounded time and
output, no surviving processes, no hidden file or grader secret reachable from the
child, nothing outside scratch written, no network, nothing unpickled.

Tests that need the namespace backend are skipped where it is unavailable; tests that
switch to the minimal backend (``HARNESS_SANDBOX=process``) never run a fixture that
could harm the machine without namespaces.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import harness
from harness import grading, settings, tasks, wire
from harness.plugin import BoxSession
from harness.results import VERDICTS, Result
from harness.sandbox import Box, BoxFailure, BoxSpec, Budget, capabilities, make_grader_non_dumpable
from harness.sandbox.box import boxes_root, private_tmp
from tests.conftest import FIXTURES, SECRET, marked_processes

HOSTILE = FIXTURES / "hostile"
TASK_ID = "phase0/add"
#: The throwaway task's limits (tests/conftest.py).
TOTAL_SECONDS = 20.0
OUTPUT_BYTES = 256 << 10
PROCESSES = 16

Grade = Callable[..., Result]

namespaces_only = pytest.mark.skipif(
    not capabilities().namespaces,
    reason="needs the namespace backend (PID, mount and network namespaces)")


# ------------------------------------------------------------------ helpers


def hostile(name: str, **substitutions: str) -> str:
    """The source of a hostile fixture, with ``@KEY@`` placeholders filled in."""
    source = (HOSTILE / f"{name}.py").read_text()
    for key, value in substitutions.items():
        source = source.replace(f"@{key}@", value)
    return source


def graded(grade_source: Grade, source: str) -> tuple[Result, float]:
    """Grade ``source``; return the result and the wall time the grader took."""
    start = time.monotonic()
    result = grade_source(source)
    return result, time.monotonic() - start


def check(result: Result, visibility: str) -> Any:
    return next(c for c in result.checks if c.visibility == visibility)


def assert_consistent(result: Result) -> None:
    """What holds for every result: a known verdict, a score the checks add up to."""
    assert result.verdict in VERDICTS
    assert result.max_score == 3
    assert result.score == sum(c.points for c in result.checks if c.status != "skip")
    assert all(c.status != "pass" or c.points == c.max_points for c in result.checks)
    assert json.loads(result.to_json())["score"] == result.score


def box_spec(workspace: Path, tmp_path: Path, source: str, **limits: Any) -> BoxSpec:
    """What a grading of ``source`` as phase0/add would run, for a bare box or session.

    Masks come from :func:`harness.grading.hidden_paths`, exactly as in a grading;
    ``limits`` override the task's limits (e.g. a longer call for a slow probe).
    """
    s = settings.resolve(workspace=str(workspace))
    task = tasks.load_task(s.tasks.value, TASK_ID)
    src = Path(tempfile.mkdtemp(prefix="box-src-", dir=tmp_path))
    (src / "solution.py").write_text(source)
    return BoxSpec(src, "solution.py", False, ("add",), tuple(grading.hidden_paths(s, task)),
                   dataclasses.replace(task.limits, **limits), task.preload)


@contextlib.contextmanager
def open_box(workspace: Path, tmp_path: Path, source: str, **limits: Any) -> Iterator[Box]:
    """A bare box with ``source`` loaded as the submission of phase0/add."""
    spec = box_spec(workspace, tmp_path, source, **limits)
    box = Box(spec, Budget(spec.limits.total_seconds))
    try:
        report = box.start()
        assert report.ok, report.error
        yield box
    finally:
        assert box.close(), "a process of the box survived its teardown"


def call(box: Box, name: str, *args: Any) -> Any:
    reply = box.request({"op": "call", "path": [name]}, {"args": list(args), "kwargs": {}})
    assert reply.get("ok"), reply.get("error")
    return reply["value"]


class ProcessWatch:
    """Counts marked processes every few milliseconds while a grading runs."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = marked_processes([self.marker])
            self.peak = max(self.peak, len(now))
            self._stop.wait(0.02)

    def __enter__(self) -> ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def kill_leftovers(pids: dict[int, str]) -> None:
    """Kill processes this test's own fixture left behind (by pid, after asserting)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(params=["strong", "namespaces"])
def namespace_level(request: pytest.FixtureRequest,
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run under each namespace level: the allow-listed root, and covers on the host tree."""
    monkeypatch.setenv("HARNESS_SANDBOX", "auto" if request.param == "strong" else "namespaces")
    capabilities.cache_clear()
    if capabilities().level != request.param:
        pytest.skip(f"sandbox level {request.param} is not available here")
    yield str(request.param)
    capabilities.cache_clear()


@pytest.fixture
def minimal_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """HARNESS_SANDBOX=process, with the cached capability probe cleared around it."""
    monkeypatch.setenv("HARNESS_SANDBOX", "process")
    capabilities.cache_clear()
    assert not capabilities().namespaces
    yield
    capabilities.cache_clear()


# ------------------------------------------------------------------ 1. time


@pytest.mark.slow
def test_infinite_loop_at_import_is_a_load_timeout(grade_source: Grade) -> None:
    result, seconds = graded(grade_source, hostile("loop_at_import"))
    assert_consistent(result)
    assert result.verdict == "timeout"
    assert "while loading" in result.message
    assert result.score == 0
    assert all(c.status == "error" for c in result.checks)
    assert seconds < TOTAL_SECONDS
    assert result.sandbox["no_survivors"] is True


@pytest.mark.slow
def test_infinite_loop_in_add_times_out_each_check_within_bounds(grade_source: Grade) -> None:
    result, seconds = graded(grade_source, hostile("loop_in_add"))
    assert_consistent(result)
    assert result.verdict == "timeout"
    assert result.score == 0
    assert [(c.status, c.outcome) for c in result.checks] == [("error", "timeout")] * 2
    assert all("no answer within" in c.message for c in result.checks)
    # Two calls of 3 s plus restarts: far below the total budget, let alone twice it.
    assert seconds < TOTAL_SECONDS
    assert result.duration_s < TOTAL_SECONDS
    assert result.sandbox["no_survivors"] is True


@pytest.mark.slow
def test_sleep_with_signals_ignored_times_out_each_check(grade_source: Grade) -> None:
    # Sleeping costs no CPU, so only the grader's wall clock (and SIGKILL) can end it.
    result, seconds = graded(grade_source, hostile("sleep_ignoring_signals"))
    assert_consistent(result)
    assert result.verdict == "timeout" and result.score == 0
    assert [(c.status, c.outcome) for c in result.checks] == [("error", "timeout")] * 2
    assert seconds < TOTAL_SECONDS
    assert result.sandbox["no_survivors"] is True


# ------------------------------------------------------------------ 2. memory


@pytest.mark.parametrize("name", ["memory_bomb", "memory_growth"])
def test_memory_bomb_is_contained(grade_source: Grade, name: str) -> None:
    result, seconds = graded(grade_source, hostile(name))
    assert_consistent(result)
    assert result.score == 0
    assert all(c.status in ("fail", "error") for c in result.checks)
    assert seconds < 10
    assert result.sandbox["memory_bytes"] == 1024 << 20
    assert "memory_bytes" in result.sandbox["rlimits"]
    assert result.sandbox["no_survivors"] is True


@pytest.mark.parametrize("name", ["memory_bomb", "memory_growth"])
def test_memory_bomb_verdict_is_memory_limit(grade_source: Grade, name: str) -> None:
    result = grade_source(hostile(name))
    assert result.verdict == "memory_limit"
    assert all(c.outcome == "memory_limit" for c in result.checks)


@pytest.mark.parametrize("name", ["memory_bomb_at_import", "memory_caught_at_import"])
def test_memory_bomb_at_import_is_memory_limit_naming_the_limit(grade_source: Grade,
                                                                 name: str) -> None:
    # Issue 12, defect 9: these were `submission_error` and `crashed`.
    result = grade_source(hostile(name))
    assert result.verdict == "memory_limit", (result.verdict, result.message)
    assert "1024 MiB" in result.message
    assert result.score == 0
    assert all(c.outcome == "not_run" for c in result.checks)


@pytest.mark.slow
def test_memory_exhausted_by_small_objects_is_reported_as_data(
        workspace: Path, tmp_path: Path) -> None:
    # A bare box with a long call limit: the slow fill must not end in a timeout.
    with open_box(workspace, tmp_path, hostile("memory_small_objects"),
                  call_seconds=60.0, total_seconds=90.0) as box:
        reply = box.request({"op": "call", "path": ["add"]}, {"args": [1, 2], "kwargs": {}})
    assert reply["ok"] is False
    assert "MemoryError" in reply["error"]["mro"]


# ------------------------------------------------------------------ 3. processes


@namespaces_only
@pytest.mark.slow
def test_fork_bomb_in_add_is_bounded_and_leaves_no_process(grade_source: Grade) -> None:
    marker = f"hostile-fork-bomb-{uuid.uuid4().hex[:12]}"
    with ProcessWatch(marker) as watch:
        result, seconds = graded(grade_source, hostile("fork_bomb_in_add",
                                                       NONCE=marker.rsplit("-", 1)[1]))
    left = marked_processes([marker])
    kill_leftovers(left)
    assert_consistent(result)
    assert result.verdict == "timeout" and result.score == 0
    assert seconds < TOTAL_SECONDS
    # The bomb did run (the watch saw it), and never beyond the process limit.
    assert watch.peak > 2, "the fork bomb never forked: the test proves nothing"
    assert watch.peak <= PROCESSES
    assert result.sandbox["process_limit"] == f"cgroup pids.max={PROCESSES}"
    assert result.sandbox["no_survivors"] is True
    assert left == {}, f"fork bomb processes survived the grading: {left}"


@namespaces_only
def test_fork_daemons_at_import_hit_the_limit_and_die_with_the_box(grade_source: Grade) -> None:
    nonce = uuid.uuid4().hex[:12]
    marker = f"hostile-fork-daemon-{nonce}"
    with ProcessWatch(marker) as watch:
        result, _ = graded(grade_source, hostile("fork_bomb_at_import", NONCE=nonce))
    left = marked_processes([marker])
    kill_leftovers(left)
    assert_consistent(result)
    assert watch.peak >= 5, "the daemons never started: the test proves nothing"
    assert watch.peak < PROCESSES  # unshare and the child itself count too
    # add() needs one more process; it only gets one if the limit does not hold.
    assert result.score == 0
    assert "no process slot left" in check(result, "public").message
    assert result.sandbox["no_survivors"] is True
    assert left == {}, f"daemons (setsid, new process group) survived the grading: {left}"


# ------------------------------------------------------------------ 4. output


@pytest.mark.parametrize("name", ["output_flood", "output_flood_at_import"])
def test_output_flood_is_output_limit(grade_source: Grade, name: str) -> None:
    result, seconds = graded(grade_source, hostile(name))
    assert_consistent(result)
    assert result.verdict == "output_limit"
    assert f"more than {OUTPUT_BYTES} bytes" in result.message
    assert result.score == 0
    assert seconds < 10
    kept = result.output["stdout"] + result.output["stderr"]
    assert 0 < len(kept) <= 2 * 20_000  # the result keeps a bounded excerpt
    assert result.sandbox["no_survivors"] is True


def test_output_overflow_between_requests_is_recorded(workspace: Path, tmp_path: Path) -> None:
    spec = box_spec(workspace, tmp_path, hostile("output_burst_after_reply"))
    session = BoxSession(spec, Budget(spec.limits.total_seconds))
    assert session.start().ok
    try:
        box = session.current()
        reply = box.request({"op": "call", "path": ["add"]}, {"args": [40, 2], "kwargs": {}})
        assert reply["value"] == 42  # the burst starts 0.2 s after this reply
        assert box.child is not None
        deadline = time.monotonic() + 5
        while not box.child.output_overflow and time.monotonic() < deadline:
            time.sleep(0.02)
        assert box.child.output_overflow  # control: the burst came, the watchdog saw it
    finally:
        session.close()
    assert [f.kind for f in session.failures] == ["output_limit"]


# ------------------------------------------------------------------ 5. exits


def test_sys_exit_at_import_is_a_submission_error(grade_source: Grade) -> None:
    source = hostile("exit_at_import")
    line = source.splitlines().index("sys.exit(0)") + 1
    result = grade_source(source)
    assert_consistent(result)
    assert result.verdict == "submission_error"
    assert "sys.exit" in result.message and f"solution.py:{line}" in result.message
    assert result.score == 0


def test_os_exit_at_import_is_a_crash(grade_source: Grade) -> None:
    result = grade_source(hostile("os_exit_at_import"))
    assert_consistent(result)
    assert result.verdict == "crashed"
    assert "exited with status 0" in result.message
    assert result.score == 0
    assert all(c.status == "error" for c in result.checks)


def test_os_exit_in_add_is_a_crash_for_every_check(grade_source: Grade) -> None:
    result = grade_source(hostile("os_exit_in_add"))
    assert_consistent(result)
    assert result.verdict == "crashed"
    assert result.score == 0
    assert [(c.status, c.outcome) for c in result.checks] == [("error", "crashed")] * 2
    assert result.sandbox["no_survivors"] is True


def test_system_exit_and_keyboard_interrupt_in_add_score_nothing(grade_source: Grade) -> None:
    result = grade_source(hostile("exit_in_add"))
    assert_consistent(result)
    public, hidden = check(result, "public"), check(result, "hidden")
    assert public.status == "fail" and "SystemExit" in public.message  # data, not an exit
    assert hidden.status == "error" and hidden.outcome == "crashed"  # the child died
    assert result.verdict == "crashed" and result.score == 0


# ------------------------------------------------------------------ 6-7. lies


def test_always_equal_results_score_nothing(grade_source: Grade) -> None:
    result = grade_source(hostile("always_equal"))
    assert_consistent(result)
    assert result.verdict == "graded"
    assert result.score == 0
    assert [c.status for c in result.checks] == ["fail", "fail"]
    assert "remote submission.AlwaysEqual" in check(result, "public").message


def test_fake_pass_report_in_output_changes_nothing(grade_source: Grade) -> None:
    result = grade_source(hostile("fake_report"))
    assert_consistent(result)
    assert result.verdict == "graded" and result.score == 0
    out = result.output
    assert "test_add_public PASSED" in out["stdout"] and '"score": 3.0' in out["stdout"]
    assert "FAKE-REPORT-MARKER" in out["stderr"]
    assert "\x1b" not in out["stdout"] and "\r" not in out["stdout"]
    # The fake text lives only in the output excerpt, nowhere the grader speaks.
    doc = result.to_dict()
    doc.pop("output")
    assert "PASSED" not in json.dumps(doc) and "FAKE-REPORT" not in json.dumps(doc)


def test_raising_pytest_skip_or_xfail_does_not_skip_checks(grade_source: Grade) -> None:
    result = grade_source(hostile("forge_skip"))
    assert_consistent(result)
    assert [c.status for c in result.checks] == ["fail", "fail"]
    assert result.score == 0 and result.max_score == 3  # skips would shrink max_score
    assert "Skipped" in check(result, "public").message


def test_exception_group_from_learner_is_reported_as_learner_error(grade_source: Grade) -> None:
    result = grade_source(hostile("raise_exception_group"))
    assert "your code raised ExceptionGroup" in check(result, "public").message


def test_lying_array_and_scalar_subclasses_arrive_as_their_plain_data(
        workspace: Path, tmp_path: Path) -> None:
    with open_box(workspace, tmp_path, hostile("lying_ndarray")) as box:
        array, scalar = call(box, "add", 1, 2), call(box, "add", 40, 2)
    assert type(array) is np.ndarray and array.shape == () and array.dtype == np.int64
    assert int(array) == 9 and not array == 3
    assert type(scalar) is np.float64 and scalar == 87.0 and not scalar == 42


def test_shape_and_dtype_games_arrive_as_plain_data_or_handles(
        workspace: Path, tmp_path: Path) -> None:
    with open_box(workspace, tmp_path, hostile("shape_games")) as box:
        def game(name: str) -> Any:
            return box.request({"op": "call", "path": ["game"]},
                               {"args": [name], "kwargs": {}})

        broadcast = game("broadcast")  # 8 TB if copied: refused within the child's limit
        got = {name: call(box, "game", name) for name in (
            "object_array", "zero_d_object", "zero_d", "empty", "float32", "complex", "string",
            "scalar_subclass", "structured", "matrix")}
        assert call(box, "add", 40, 2) is not None  # the box survived every game
    assert broadcast["ok"] is False and "MemoryError" in broadcast["error"]["mro"]
    objects = got["object_array"]
    assert objects.dtype == object and isinstance(objects[0], wire.Handle) and objects[1] == 42
    assert isinstance(got["zero_d_object"][()], wire.Handle)
    assert type(got["zero_d"]) is np.ndarray and got["zero_d"].shape == ()
    assert got["empty"].shape == (0,)
    assert type(got["float32"]) is np.float32 and not isinstance(got["float32"], float)
    assert type(got["complex"]) is np.complex128
    assert got["string"].dtype.kind == "U"
    assert type(got["scalar_subclass"]) is np.float64 and got["scalar_subclass"] == 41.0
    assert isinstance(got["structured"], wire.Handle)  # no structured dtype on the wire
    assert type(got["matrix"]) is np.ndarray and got["matrix"].shape == (1, 1)


def test_comparisons_patched_in_the_child_change_no_verdict(grade_source: Grade) -> None:
    result = grade_source(hostile("monkeypatch_comparisons"))
    assert_consistent(result)
    assert result.verdict == "graded" and result.score == 0
    assert check(result, "public").message.startswith("assert -1 == 3")


# ------------------------------------------------------------------ 8. secrets


@namespaces_only
@pytest.mark.slow
def test_hidden_test_hunter_finds_nothing_of_this_grading(
        workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        namespace_level: str) -> None:
    """The hunter searches memory, /proc and the file system for SECRET.

    The plain SECRET is not secret on this machine (tests/conftest.py holds it, and so
    do other tests' throwaway workspaces), so this grading plants run-unique tokens:
    one in the hidden test (covered), one in the grader's environment, one in the
    command line of a grader-side process, and one in an unprotected decoy file, which
    the hunter must find: that proves the hunt reaches the workspace and reads files.
    """
    nonce = uuid.uuid4().hex
    hidden_file = workspace / "tasks" / TASK_ID / "hidden" / "test_hidden.py"
    hidden_file.write_text(hidden_file.read_text() + f"\nTOKEN = '{SECRET}:hidden-{nonce}'\n")
    decoy = workspace / "decoy.txt"
    decoy.write_text(f"{SECRET}:decoy-{nonce}\n")
    monkeypatch.setenv("HOSTILE_PROBE_TOKEN", f"{SECRET}:env-{nonce}")
    sentinel = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)",
                                 f"{SECRET}:cmdline-{nonce}"])
    make_grader_non_dumpable()
    reference = workspace / "reference" / TASK_ID / "solution.py"
    probes = [hidden_file, workspace / "tasks", workspace / "tasks" / "phase0", reference,
              decoy]
    try:
        with open_box(workspace, tmp_path, hostile("hunt_hidden_tests"),
                      call_seconds=30.0, total_seconds=60.0) as box:
            report = call(box, "add", 0, 0)
            reads = call(box, "try_read", [str(p) for p in probes])
            identity = str(box.protections().get("uid", ""))
    finally:
        sentinel.kill()
        sentinel.wait()
    found = report["found"]
    # The hidden file, the task pack and the reference are out of reach.
    assert reads[str(hidden_file)].startswith("denied"), reads
    tasks_dir = reads[str(workspace / "tasks")]
    assert tasks_dir == "listed: " or tasks_dir.startswith("denied"), reads  # empty cover
    assert reads[str(workspace / "tasks" / "phase0")].startswith("denied"), reads
    assert reads[str(reference)].startswith("denied"), reads
    # Nothing of this grading's secrets, from anywhere the hunt looked.
    assert not [f for f in found if f"hidden-{nonce}" in f], found
    assert not [f for f in found if f"env-{nonce}" in f], found
    assert not [f for f in found if f.startswith("/proc/") and nonce in f], found
    # The grader is invisible: no parent, no other process in the child's PID namespace.
    assert report["stats"]["ppid"] == 0
    assert report["stats"]["pids"] <= 2
    assert report["stats"]["files"] > 100 and report["stats"]["objects"] > 1000
    tmp_is_private = str(private_tmp()) == os.path.realpath(tempfile.gettempdir())
    under_private_tmp = tmp_is_private and str(workspace).startswith(str(private_tmp()))
    if namespace_level == "strong" or under_private_tmp:
        # A new root from an allow-list, or a private temp folder over the workspace:
        # the workspace does not exist inside at all, so there is nothing to uncover.
        assert not [e for e in report["escape"] if e.endswith(": ok")]
        assert not [c for c in report["covers"] if str(workspace) in c], report["covers"]
        assert not any(f"decoy-{nonce}" in f for f in found), found
        assert not reads[str(decoy)].startswith("read:"), reads
        return
    # The covers cannot be lifted, with or without a fresh user namespace; the hunt found
    # them without being told where the workspace is, and the decoy beside them.
    assert report["escape"] and not [e for e in report["escape"] if e.endswith(": ok")]
    assert str(workspace / "tasks") in report["covers"]
    if identity.startswith("dedicated") and reads[str(decoy)].startswith("denied"):
        # A dedicated uid cannot even pass the grader's own 0700 temp folders (pytest's
        # /tmp/pytest-of-root): the unprotected decoy is out of reach too.
        assert not any(f"decoy-{nonce}" in f for f in found), found
        return
    assert any(f"decoy-{nonce}" in f for f in found), found
    assert reads[str(decoy)].startswith(f"read: {SECRET}:decoy-{nonce}")


# ------------------------------------------------------------------ 9. kill


@namespaces_only
def test_kill_everything_from_add_reaches_nothing_outside(grade_source: Grade) -> None:
    # Sentinels: one in the grader's own process group, one in a session of its own.
    same_group = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    own_session = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                   start_new_session=True)
    try:
        result = grade_source(hostile("kill_everything"))
        alive = same_group.poll() is None, own_session.poll() is None
    finally:
        for p in (same_group, own_session):
            p.kill()
            p.wait()
    assert alive == (True, True), "a kill from the sandbox reached the grader's side"
    assert_consistent(result)
    assert result.verdict in ("graded", "crashed")
    assert result.sandbox["no_survivors"] is True


# ------------------------------------------------------------------ 10. escape


@namespaces_only
def test_writes_outside_scratch_and_network_fail(workspace: Path, tmp_path: Path) -> None:
    nonce = uuid.uuid4().hex[:12]
    hidden_file = workspace / "tasks" / TASK_ID / "hidden" / "test_hidden.py"
    outside = Path(tempfile.gettempdir()) / f"hostile-write-{nonce}.txt"
    shm = Path("/dev/shm") / f"hostile-write-{nonce}.txt"
    folders = [workspace / "tasks", workspace, Path(harness.__file__).parent, boxes_root()]
    targets = [hidden_file, outside, shm, *folders]
    before = hidden_file.read_text()
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            pass  # control: the port is reachable from the grader's side
        server.accept()[0].close()
        try:
            with open_box(workspace, tmp_path, hostile("escape_writes_and_network")) as box:
                out = call(box, "add", [str(t) for t in targets], port)
        finally:
            written = [p for p in (outside, shm, *(f / "hostile-was-here.txt" for f in folders))
                       if p.exists()]
            for p in written:
                p.unlink()
        server.settimeout(0.3)
        with pytest.raises(TimeoutError):
            server.accept()[0].close()
    scratch = [v for k, v in out.items() if k.endswith("scratch.txt")]
    assert scratch == ["ok"], out  # control: writing is possible, in scratch
    # Inside an allow-listed root, /tmp and /dev/shm are the box's own empty tmpfs: a write
    # there may succeed, but it must never reach the host (``written`` is checked there).
    private = {str(outside), str(shm)} | {str(f) for f in folders if str(f).startswith(
        (os.path.realpath(tempfile.gettempdir()), "/tmp"))} \
        if capabilities().level == "strong" else set()
    assert not [t for t in targets if out[str(t)] == "ok" and str(t) not in private], out
    assert written == [] and hidden_file.read_text() == before
    assert out["remount / read-write"] != "ok"
    # Refused by the seccomp filter (socket creation) or, without it, by the empty network
    # namespace (unreachable).
    assert out["connect"] != "ok" and ("unreachable" in out["connect"].lower()
                                       or "not permitted" in out["connect"].lower()), out


# ------------------------------------------------------------------ 11. forged frames


@pytest.mark.parametrize("name", ["forge_pickle_tag", "forge_object_npy"])
def test_forged_pickle_frames_are_refused_and_never_unpickled(
        grade_source: Grade, tmp_path: Path, name: str) -> None:
    canary = tmp_path / f"unpickled-{name}"
    result = grade_source(hostile(name, CANARY=str(canary)))
    assert_consistent(result)
    assert result.verdict == "crashed"
    assert "refused" in result.message
    assert [(c.status, c.outcome) for c in result.checks] == [("error", "crashed")] * 2
    assert not canary.exists(), "the grader ran code from the child's frame"


def test_forged_oversized_claims_are_refused(grade_source: Grade) -> None:
    result, seconds = graded(grade_source, hostile("forge_oversized"))
    assert_consistent(result)
    assert result.verdict == "crashed"
    # Refused from the header alone: no 8 TiB allocation, no RecursionError escaping.
    assert [(c.status, c.outcome) for c in result.checks] == [("error", "crashed")] * 2
    assert all("the grader refused" in c.message for c in result.checks)
    assert "JSON" in check(result, "hidden").message
    assert seconds < 10


def test_raw_bytes_written_on_the_channel_are_refused(grade_source: Grade) -> None:
    result, seconds = graded(grade_source, hostile("forge_channel_raw"))
    assert_consistent(result)
    assert result.verdict == "crashed" and result.score == 0
    assert [(c.status, c.outcome) for c in result.checks] == [("error", "crashed")] * 2
    assert "refused" in check(result, "hidden").message
    assert seconds < 10  # a 2 GiB length claim is refused, not waited for


def test_forged_success_claims_are_ignored(grade_source: Grade) -> None:
    result = grade_source(hostile("forge_verdict"))
    assert_consistent(result)
    assert result.verdict == "graded"
    assert result.score == 0
    assert [c.status for c in result.checks] == ["fail", "fail"]
    assert "<remote builtins.int: 3>" in check(result, "public").message


def test_json_bomb_is_refused_without_parsing_it_all(
        workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "MAX_ITEMS", 10_000)  # scale the attack down, same ratio
    frame_bytes = 3 * 200_000  # forge_json_bomb.N empty lists, "[]," each
    with open_box(workspace, tmp_path, hostile("forge_json_bomb")) as box:
        tracemalloc.start()
        try:
            with pytest.raises(BoxFailure, match="refused"):
                box.request({"op": "call", "path": ["add"]}, {"args": [1, 2], "kwargs": {}})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 8 * frame_bytes, f"refusing a {frame_bytes} B frame took {peak} B"


@pytest.mark.slow
def test_child_that_stops_reading_cannot_hang_the_grader(
        workspace: Path, tmp_path: Path) -> None:
    outcome: list[BaseException | None] = []

    def big_request(box: Box) -> None:
        try:
            box.request({"op": "call", "path": ["add"]},
                        {"args": [b"x" * (16 << 20), 0], "kwargs": {}})
            outcome.append(None)
        except BaseException as exc:  # recorded for the assertion below
            outcome.append(exc)

    with open_box(workspace, tmp_path, hostile("stall_after_reply"), call_seconds=1.0) as box:
        assert call(box, "add", 1, 2) == 3  # answered by the fixture itself
        sender = threading.Thread(target=big_request, args=(box,), daemon=True)
        sender.start()
        sender.join(timeout=6.0)
        hung = sender.is_alive()
    sender.join(timeout=10.0)  # closing the box kills the child and unblocks the send
    assert not hung, "the grader was still blocked sending 6 s after a 1 s call limit"
    assert isinstance(outcome[0], BoxFailure) and outcome[0].kind == "timeout"


# ------------------------------------------------------------------ 12. minimal backend


@pytest.mark.slow
def test_minimal_backend_still_times_out(grade_source: Grade, minimal_backend: None) -> None:
    result, seconds = graded(grade_source, hostile("loop_in_add"))
    assert result.sandbox["level"] == "minimal" and result.sandbox["backend"] == "process"
    assert result.verdict == "timeout" and result.score == 0
    assert [(c.status, c.outcome) for c in result.checks] == [("error", "timeout")] * 2
    assert seconds < TOTAL_SECONDS
    assert result.sandbox["no_survivors"] is True


def test_minimal_backend_still_limits_output(grade_source: Grade, minimal_backend: None) -> None:
    result = grade_source(hostile("output_flood"))
    assert result.sandbox["level"] == "minimal"
    assert result.verdict == "output_limit" and result.score == 0


def test_minimal_backend_still_reports_sys_exit(grade_source: Grade,
                                                minimal_backend: None) -> None:
    result = grade_source(hostile("exit_at_import"))
    assert result.sandbox["level"] == "minimal"
    assert result.verdict == "submission_error" and "sys.exit" in result.message
    # The result says honestly what the minimal backend does not protect.
    assert result.sandbox["hidden_files"] == "readable"
    # No network namespace: only the seccomp filter (x86_64) keeps IP sockets closed.
    assert result.sandbox["network"] in ("host", "IP sockets refused (seccomp)")
    assert result.sandbox["pid_namespace"] is False
