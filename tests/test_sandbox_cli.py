"""The hostile fixtures graded through the real `grade` command, one process each.

Every file in tests/fixtures/hostile (modules, ``nb_*.ipynb`` notebooks, ``dot_*.py``
aimed at ``phase1/dot-product``) and every notebook built by :data:`GENERATED` is graded
by ``grade submit`` in a fresh process. Whatever the attack, the command must end with

* a recorded result: exit 0, a saved report and one history row, within a time bound;
* no passing verdict on what the attack targets (score 0 on ``phase0/add``; the
  targeted checks failing on ``phase1/dot-product``), plus what :data:`EXPECT` adds;
* no process left: the sandbox says so, and no process carries the grading's folder
  (scratch lives under a per-test ``TMPDIR``) or the fixture's ``@NONCE@`` marker;
* nothing changed outside scratch: the workspace (but its new report), the harness
  package and the history are as before, nothing new in the host's /tmp or /dev/shm;
* nothing of the hidden tests, and no raw terminal control character, in what the
  learner sees (the terminal summary, the saved JSON and the HTML scorecard).

``@KEY@`` placeholders in a fixture are filled in here (see :func:`placeholders`). The
last test grades a right answer once more: the grader still works after every attack.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import harness
from harness import history, notebooks
from harness.sandbox import capabilities
from tests.conftest import FIXTURES, ROOT, SECRET, marked_processes

HOSTILE = FIXTURES / "hostile"
#: Timed in the API suites (tests/test_sandbox_hostile.py, tests/test_notebooks.py).
SLOW = {"loop_at_import", "loop_in_add", "stall_after_reply", "sleep_ignoring_signals",
        "fork_bomb_in_add", "hunt_hidden_tests", "nb_infinite_loop"}
# Answers correctly, then floods 0.2 s after its last reply: whether the flood lands before
# teardown is a race, so the API suite tests it deterministically at the session level.
RACY = {"output_burst_after_reply"}
#: Wall-clock bound of one `grade submit` (phase0/add allows 20 s of learner time).
BOUND_S = 30.0
DOT = "phase1/dot-product"
#: Lines of dot-product's hidden test that must never reach the learner.
DOT_HIDDEN_TEXT = ("rng.integers(-1000, 1000", "expected = float(np.dot(a.astype")
#: What a terminal acts on instead of printing: C0 controls (but newline and tab), DEL, C1.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: ...and, on the terminal, the bidi overrides that reorder what is shown.
TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ADD = "def add(a, b):\n    return a + b\n"


# ------------------------------------------------------------------ generated notebooks


def huge_notebook() -> bytes:
    """Hostile: a notebook with one 50 MB cell (far above the 20 MiB file cap).

    Expected: staged cut short and refused from its size alone, before any parsing:
    submission_error, in bounded time and memory.
    """
    return json.dumps(notebooks.new_notebook([("code", "x = 1\n" * 9_000_000),
                                              ("code", ADD)])).encode()


def many_cells_notebook() -> bytes:
    """Hostile: 10 000 code cells (each a valid statement).

    Expected: refused before validation or execution (at most 2 000 cells):
    submission_error.
    """
    return json.dumps(notebooks.new_notebook([("code", f"x{i} = {i}") for i in range(10_000)]
                                             + [("code", ADD)])).encode()


def code_bomb_notebook() -> bytes:
    """Hostile: 3 MiB of trivial code lines in one cell, under the notebook's file cap.

    The grader parses code cells itself (IPython's transformer, then ``ast``) for syntax
    errors and static checks, with no sandbox limit around it: 3 MiB of ``x = 1`` lines
    cost it minutes of CPU and gigabytes of memory (19 MiB: 7.5 minutes and 7 GB).

    Expected: refused from the code's size before the grader parses any of it:
    submission_error, in bounded time.
    """
    return json.dumps(notebooks.new_notebook([("code", "x = 1\n" * 520_000),
                                              ("code", ADD)])).encode()


GENERATED: dict[str, Callable[[], bytes]] = {
    "nb_generated_huge_cell": huge_notebook,
    "nb_generated_10k_cells": many_cells_notebook,
    "nb_generated_code_bomb": code_bomb_notebook,
}

FILES = sorted(p for p in HOSTILE.iterdir() if p.suffix in (".py", ".ipynb"))
NAMES = [p.name for p in FILES if p.stem not in SLOW | RACY] + \
    [f"{n}.ipynb" for n in GENERATED]


# ------------------------------------------------------------------ one grading


@dataclass
class Grading:
    """What one `grade submit` of a hostile fixture left behind."""

    name: str
    task: str
    seconds: float
    terminal: str
    doc: dict[str, Any]
    html: str
    reports: list[str]
    history: list[dict[str, Any]]
    workspace: Path
    received: dict[str, list[str]] = field(default_factory=dict)
    peak_marked: int = 0
    source: bytes = b""

    @property
    def checks(self) -> dict[str, dict[str, Any]]:
        return {c["id"]: c for c in self.doc["checks"]}

    def report(self) -> Any:
        """The ``hostile-report: {json}`` line the fixture printed (its own account)."""
        for line in self.doc["output"]["stdout"].splitlines():
            if line.startswith("hostile-report: "):
                return json.loads(line.removeprefix("hostile-report: "))
        raise AssertionError(f"{self.name} printed no report: {self.doc['output']}")


def source_of(name: str) -> bytes:
    stem = name.rsplit(".", 1)[0]
    return GENERATED[stem]() if stem in GENERATED else (HOSTILE / name).read_bytes()


def header_of(name: str) -> str:
    """The fixture's header: a module docstring, or a notebook's first markdown cell."""
    stem = name.rsplit(".", 1)[0]
    if stem in GENERATED:
        return inspect.cleandoc(GENERATED[stem].__doc__ or "")
    text = (HOSTILE / name).read_text()
    if name.endswith(".py"):
        return text.split('"""')[1] if text.startswith('"""') else ""
    match = re.search(r'"source": "(Hostile:.*?)"\n', text)
    return match.group(1).replace("\\n", "\n") if match else ""


@contextlib.contextmanager
def listeners(tmp_path: Path) -> Iterator[tuple[dict[str, str], dict[str, list[str]]]]:
    """Sockets on the grader's side for the network probes, and what each received."""
    received: dict[str, list[str]] = {}
    socks: list[tuple[str, socket.socket]] = []
    tcp = socket.create_server(("127.0.0.1", 0))
    socks.append(("tcp", tcp))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    socks.append(("udp", udp))
    path = str(tmp_path / "grader.sock")
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(path)
    unix.listen()
    socks.append(("unix", unix))
    abstract_name = f"hostile-grader-{uuid.uuid4().hex[:12]}"
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    abstract.bind("\0" + abstract_name)
    abstract.listen()
    socks.append(("abstract", abstract))
    tcp6_port = -1
    with contextlib.suppress(OSError):
        tcp6 = socket.create_server(("::1", 0), family=socket.AF_INET6)
        tcp6_port = tcp6.getsockname()[1]
        socks.append(("tcp6", tcp6))
    for _, s in socks:
        s.setblocking(False)
    values = {"UDP_PORT": str(udp.getsockname()[1]), "TCP6_PORT": str(tcp6_port),
              "UNIX_SOCKET": path, "ABSTRACT_NAME": abstract_name}
    try:
        yield values, received
    finally:
        for kind, s in socks:
            with contextlib.suppress(OSError):
                got = repr(s.recv(100)) if kind == "udp" else repr(s.accept()[1])
                received.setdefault(kind, []).append(got)
            s.close()


def tree(root: Path, skip: tuple[str, ...] = (),
         content: bool = True) -> dict[str, tuple[int, ...]]:
    """Every entry under ``root`` (links not followed, bytecode caches left out): inode
    and mode, and with ``content`` a file's size and modification time too."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        dirs[:] = [d for d in dirs if (rel / d).as_posix() not in skip and d != "__pycache__"]
        for name in [*dirs, *files]:
            st = os.lstat(os.path.join(dirpath, name))
            out[(rel / name).as_posix()] = (st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns) \
                if content and name in files else (st.st_ino, st.st_mode)
    return out


def package_tree() -> dict[str, tuple[int, ...]]:
    """The harness package's files: none deleted, renamed or replaced. (Not their content:
    the checkout may be edited while the suite runs; the fixture that opens them for
    writing reports any success itself.)"""
    return tree(Path(harness.__file__).parent, content=False)


def host_scratch_names() -> set[str]:
    """Entries named like the fixtures' writes in the host's shared temp folders."""
    return {f"{d}/{n}" for d in ("/tmp", "/dev/shm") if os.path.isdir(d)
            for n in os.listdir(d) if n.startswith(("hostile", "owned")) or n in (
                "results.json", "result.json", "report.json", "junit.xml", "reports")}


def placeholders(text: str, tmp_path: Path, workspace: Path, nonce: str,
                 extra: dict[str, str]) -> dict[str, str]:
    values = {"NONCE": nonce, "CANARY": str(tmp_path / "canary-unpickled"),
              "WORKSPACE": str(workspace), "HISTORY": str(tmp_path / "grader" / "history.sqlite"),
              **extra}
    missing = set(re.findall(r"@([A-Z][A-Z0-9_]+)@", text)) - set(values)
    assert not missing, f"no value for placeholders {missing}"
    return values


def grade_hostile(name: str, workspace: Path, tmp_path: Path) -> Grading:
    """Grade one fixture through `grade submit`, watching processes and listeners."""
    stem, suffix = name.rsplit(".", 1)
    task = DOT if stem.startswith("dot_") else "phase0/add"
    if suffix == "ipynb":
        spec = workspace / "tasks" / "phase0" / "add" / "task.toml"
        spec.write_text(spec.read_text().replace(
            'description = "Return a + b."',
            'description = "Return a + b."\nformats = ["module", "notebook"]'))
    nonce = uuid.uuid4().hex[:12]
    raw = source_of(name)
    text = raw.decode("utf-8", errors="replace")
    history_path = tmp_path / "grader" / "history.sqlite"
    with history.connect(history_path):
        pass  # the history exists before the grading, as on a grader in use
    before = {"workspace": tree(workspace), "harness": package_tree(),
              "host": host_scratch_names()}
    box_tmp = tmp_path / "tmp"
    box_tmp.mkdir()
    with contextlib.ExitStack() as stack:
        extra: dict[str, str] = {}
        received: dict[str, list[str]] = {}
        if "@UDP_PORT@" in text:
            extra, received = stack.enter_context(listeners(tmp_path))
        for key, value in placeholders(text, tmp_path, workspace, nonce, extra).items():
            raw = raw.replace(f"@{key}@".encode(), value.encode())
        learner = tmp_path / "learner"
        learner.mkdir()
        file_name = ("solution\x1b]0;file-title\x07." if stem == "terminal_escapes"
                     else "solution.") + suffix
        path = learner / file_name
        path.write_bytes(raw)
        markers = [str(tmp_path), nonce]
        peak = [0]
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.05):
                peak[0] = max(peak[0], len(marked_processes([nonce])))

        watcher = threading.Thread(target=watch, daemon=True)
        if "@NONCE@" in text:
            watcher.start()
        args = [str(Path(sys.executable).with_name("grade")), "--workspace", str(workspace)]
        if task == DOT:
            args += ["--tasks", str(ROOT / "tasks"), "--reference", str(ROOT / "reference")]
        start = time.monotonic()
        try:
            proc = subprocess.run(
                [*args, "submit", task, str(path)], capture_output=True, timeout=120,
                cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "TMPDIR": str(box_tmp),
                                   "HARNESS_HISTORY": str(history_path)})
        finally:
            seconds = time.monotonic() - start
            done.set()
            if watcher.is_alive():
                watcher.join()
            left = marked_processes(markers)
            for pid in left:  # what this test's own fixture left, by pid, after noting it
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
    terminal = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
    assert proc.returncode == 0, terminal[-3000:]
    assert left == {}, f"processes of the grading survived it: {left}"
    reports = sorted(p.relative_to(workspace).as_posix()
                     for p in (workspace / "reports").rglob("*") if p.is_file())
    saved = [workspace / r for r in reports if r.endswith(".json")]
    assert len(saved) == 1, reports
    after = {"workspace": tree(workspace, skip=("reports",)),
             "harness": package_tree(), "host": host_scratch_names()}
    assert after["harness"] == before["harness"], "the harness package changed"
    changed = {k for k in set(before["workspace"]) | set(after["workspace"])
               if not k.startswith("reports") and k != "tasks/phase0/add/task.toml"
               and before["workspace"].get(k) != after["workspace"].get(k)}
    assert not changed, f"the grading changed the workspace: {sorted(changed)}"
    assert after["host"] <= before["host"], after["host"] - before["host"]
    leftover = [p.name for p in box_tmp.glob("harness-boxes-*/*")]
    assert leftover == [], f"scratch folders or staged copies outlived the grading: {leftover}"
    return Grading(name, task, seconds, terminal, json.loads(saved[0].read_text()),
                   saved[0].with_suffix(".html").read_text(), reports,
                   history.rows(history_path), workspace, received, peak[0], raw)


def control_characters(value: Any) -> list[str]:
    """Raw control characters anywhere in the strings of a decoded result document (the
    submission's path excepted: it is recorded as it is, and escaped when printed)."""
    if isinstance(value, str):
        return [repr(m) for m in CONTROL.findall(value.replace("\n", "").replace("\t", ""))]
    if isinstance(value, dict):
        return [c for k, v in value.items() if k != "submission" for c in control_characters(v)]
    if isinstance(value, list):
        return [c for v in value for c in control_characters(v)]
    return []


# ------------------------------------------------------------------ what each attack adds


def expect_huge_file(g: Grading) -> None:
    limit = 64 << 20  # phase0/add keeps the default file-size limit
    files = g.report()
    for place, sizes in files.items():
        for written, why in sizes:
            assert written <= limit, f"{place}: {written} B written ({why})"
    here = [s for p, s in files.items() if p.endswith("/work")]
    assert here and all(why.startswith("OSError: File too large") for _, why in here[0])


def expect_inodes(g: Grading) -> None:
    assert g.seconds < 20
    if g.doc["verdict"] == "disk_limit":  # stopped at the file limit before it reported
        assert "files and folders" in g.doc["message"], g.doc["message"]
        return
    report = g.report()
    assert 100 < report["made"] <= 200_000, report  # the attack ran, and stayed bounded


def expect_disk_limit(g: Grading) -> None:
    assert g.doc["verdict"] == "disk_limit", g.doc["message"]
    assert "disk_mb" in g.doc["message"] and "files" in g.doc["message"]
    assert "NOT fully removed" not in g.doc["sandbox"]["teardown"]


def expect_scratch_removed(g: Grading) -> None:
    assert g.doc["verdict"] in ("graded", "disk_limit"), g.doc["message"]
    assert g.doc["sandbox"]["teardown"].endswith("scratch removed"), g.doc["sandbox"]


def expect_threads(g: Grading) -> None:
    report = g.report()
    assert 0 < report["threads"] < 16, report  # phase0/add allows 16 processes
    assert "can't start new thread" in report["error"] or "MemoryError" in report["error"]


def expect_daemon(g: Grading) -> None:
    assert g.peak_marked >= 1, "the daemon never started: the test proves nothing"


def expect_output_limit(g: Grading) -> None:
    assert g.doc["verdict"] == "output_limit", g.doc["message"]
    kept = g.doc["output"]["stdout"] + g.doc["output"]["stderr"]
    assert 0 < len(kept) <= 40_000


def expect_nothing_deleted(g: Grading) -> None:
    report = g.report()
    assert report["attempts"] > 50 and report["succeeded"] == {}, report


def expect_real_values(g: Grading) -> None:
    public = g.checks["public/test_add_public"]
    assert g.doc["verdict"] == "graded" and public["status"] == "fail"
    assert public["message"].startswith("assert array(9) == 3"), public["message"]


def expect_shape_games(g: Grading) -> None:
    public = g.checks["public/test_add_public"]
    assert public["status"] == "fail" and "MemoryError" in public["message"], public
    assert g.checks["hidden/test_add_hidden"]["status"] == "fail"


def expect_dtype_games(g: Grading) -> None:
    failed = {i for i, c in g.checks.items() if c["status"] != "pass"}
    for name in ("dot_loop", "dot_numpy"):
        assert any(i.startswith("public/test_returns_python_float[") and
                   i.endswith(f"-{name}]") for i in failed)
        assert f"hidden/test_empty_and_single[{name}]" in failed
        assert all(i in failed for i in g.checks if i.startswith("hidden/test_random_vectors")
                   and i.endswith(f"-{name}]"))
    assert "dot_numpy returned numpy.ndarray, expected a Python float" in \
        g.checks["public/test_returns_python_float[float64-numbers-dot_numpy]"]["message"]


def expect_slow_timing(g: Grading) -> None:
    timing = g.checks["hidden/test_numpy_is_faster_than_loop"]
    assert timing["status"] == "fail" and "needed >= 20x" in timing["message"], timing
    ratio = float(re.search(r"is ([\d.]+)x (faster|slower)", timing["message"]).group(1))
    assert ratio < 5, timing["message"]  # the grader's clock saw two equally slow loops


def expect_own_report(g: Grading) -> None:
    assert g.doc["score"] == 0 and len(g.history) == 1 and g.history[0]["score"] == 0
    assert [r for r in g.reports if "fake" in r or "junit" in r] == []


def expect_settings_unchanged(g: Grading) -> None:
    assert set(g.checks) == {"public/test_add_public", "hidden/test_add_hidden"}
    assert all(c["status"] == "fail" for c in g.checks.values())
    assert g.history and g.history[0]["learner"] != "someone-else@example.com"


def expect_escapes_neutralised(g: Grading) -> None:
    assert "pwned-title" in g.terminal or "pwned-title" in g.doc["output"]["stdout"]
    assert "\\x1b]0;file-title\\x07" in g.terminal  # the file name, escaped
    hidden = g.checks["hidden/test_add_hidden"]
    assert "exc-title" in hidden["message"] and "\x1b" not in hidden["message"]


def expect_forged_frames_refused(g: Grading) -> None:
    assert g.doc["verdict"] == "crashed"
    assert [c["outcome"] for c in g.doc["checks"]] == ["crashed", "crashed"]
    assert "refused" in g.checks["hidden/test_add_hidden"]["message"]


def expect_nothing_reached(g: Grading) -> None:
    report = g.report()
    assert report["dns"] != "ok" and report["netlink"] != "ok" and report["packet"] != "ok"
    if capabilities().namespaces:
        assert [k for k, v in report.items() if v == "ok"] == [], report
        assert g.received == {}, g.received
    assert "udp grader" in report and "unix abstract" in report


def expect_refused(*words: str) -> Callable[[Grading], None]:
    def check(g: Grading) -> None:
        assert g.doc["verdict"] == "submission_error", g.doc["message"]
        assert all(w in g.doc["message"] for w in words), g.doc["message"]
        assert g.doc["notebook"] == {} and g.seconds < 15
    return check


def expect_cell_output(*words: str) -> Callable[[Grading], None]:
    def check(g: Grading) -> None:
        outputs = json.dumps(g.doc["notebook"].get("cells", []))
        assert all(w in outputs for w in words), outputs[:2000]
    return check


def expect_hash_of_what_was_submitted(g: Grading) -> None:
    submitted = hashlib.sha256(b"solution.py" + g.source).hexdigest()
    assert g.doc["submission_sha256"] == submitted


def expect_canary_intact(g: Grading) -> None:
    assert not (g.workspace.parent / "canary-unpickled").exists()


EXPECT: dict[str, list[Callable[[Grading], None]]] = {
    "huge_file": [expect_huge_file],
    "inode_exhaustion": [expect_inodes],
    "scratch_fill": [expect_disk_limit],
    "scratch_million_files": [expect_disk_limit],
    "scratch_deep_chain_at_import": [expect_scratch_removed],
    "scratch_deep_chain_in_call": [expect_scratch_removed],
    "scratch_locked_folder": [expect_scratch_removed],
    "scratch_long_names": [expect_scratch_removed],
    "scratch_fifo_socket": [expect_scratch_removed],
    "thread_bomb": [expect_threads],
    "daemon_double_fork": [expect_daemon],
    "fork_bomb_at_import": [expect_daemon],
    "stderr_endless_line": [expect_output_limit],
    "output_flood": [expect_output_limit],
    "output_flood_at_import": [expect_output_limit],
    "nb_output_flood": [expect_output_limit],
    "delete_grader_files": [expect_nothing_deleted],
    "lying_ndarray": [expect_real_values],
    "shape_games": [expect_shape_games],
    "dot_dtype_games": [expect_dtype_games],
    "dot_frozen_clock": [expect_slow_timing],
    "precreated_result_files": [expect_own_report],
    "env_var_tricks": [expect_settings_unchanged],
    "terminal_escapes": [expect_escapes_neutralised],
    "forge_channel_raw": [expect_forged_frames_refused],
    "tamper_staged_copy": [expect_hash_of_what_was_submitted],
    "forge_pickle_tag": [expect_canary_intact],
    "forge_object_npy": [expect_canary_intact],
    "network_probes": [expect_nothing_reached],
    "nb_truncated": [expect_refused("not valid JSON", "line")],
    "nb_wrong_version": [expect_refused("format 5.0")],
    "nb_generated_huge_cell": [expect_refused("larger than 20 MiB")],
    "nb_generated_10k_cells": [expect_refused("at most 2000 cells")],
    "nb_generated_code_bomb": [expect_refused("MiB of Python code", "at most 1 MiB")],
    "nb_shell_destroy": [expect_cell_output("rm finished", "bash finished")],
    "nb_pip_install": [expect_cell_output("No matching distribution found for requests")],
    "nb_read_hidden": [expect_cell_output("found 0")],
}


@pytest.mark.parametrize("name", NAMES)
def test_hostile_submission_through_the_cli(workspace: Path, tmp_path: Path, name: str) -> None:
    stem = name.rsplit(".", 1)[0]
    header = header_of(name).strip()
    assert header.startswith("Hostile") and "\nExpected: " in header, \
        "a fixture's header names its attack first, then the expected safe outcome"
    g = grade_hostile(name, workspace, tmp_path)
    doc = g.doc
    assert g.seconds < BOUND_S
    assert g.history and g.history[0]["verdict"] == doc["verdict"]
    if g.task == DOT:
        assert doc["score"] < doc["max_score"] * 0.9, doc["message"]
    else:
        assert doc["score"] == 0, [(c["id"], c["status"], c["message"]) for c in doc["checks"]]
    assert doc["sandbox"]["no_survivors"] is True
    shown = g.terminal + json.dumps(doc) + g.html
    if capabilities().level == "strong":
        assert SECRET not in shown
    assert not [t for t in DOT_HIDDEN_TEXT if t in shown]
    assert not TERMINAL_UNSAFE.findall(g.terminal.replace("\n", "").replace("\t", "")), \
        "raw control characters reached the terminal"
    assert control_characters(doc) == []
    assert not CONTROL.findall(g.html.replace("\n", "").replace("\t", ""))
    for extra in EXPECT.get(stem, []):
        extra(g)


def test_the_suite_covers_at_least_thirty_attacks_with_notebooks() -> None:
    assert len(FILES) + len(GENERATED) >= 30
    assert sum(1 for n in NAMES if n.endswith(".ipynb")) >= 8


def test_grader_still_grades_right_answers_after_the_attacks(workspace: Path,
                                                             tmp_path: Path) -> None:
    """Runs after the hostile gradings (file order): nothing they did outlived them."""
    path = tmp_path / "right.py"
    path.write_text(ADD)
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("grade")), "--workspace", str(workspace), "submit",
         "phase0/add", str(path), "--json"], capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HARNESS_HISTORY": str(tmp_path / "h.sqlite"),
             "TMPDIR": tempfile.gettempdir()})
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert (doc["verdict"], doc["score"], doc["max_score"]) == ("graded", 3, 3), doc["message"]
