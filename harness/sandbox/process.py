"""Launch the child process, capture its output under a cap, and tear it down."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from harness.sandbox.platform import UNSHARE_ARGS, Capabilities

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
PASS_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(data: bytes, limit: int) -> str:
    """Decode learner output for display: replacement for bad bytes, no control codes."""
    text = data[:limit].decode("utf-8", errors="replace")
    return _CONTROL.sub("", text.replace("\r\n", "\n"))


@dataclass
class OutputCapture:
    """Reads one pipe in chunks, keeps the first ``keep`` bytes, counts them all."""

    stream: object
    keep: int
    on_overflow: object
    cap: int
    data: bytearray = field(default_factory=bytearray)
    total: int = 0

    def run(self) -> None:
        fd = self.stream.fileno()  # type: ignore[attr-defined]
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.total += len(chunk)
            room = self.keep - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            if self.total > self.cap:
                self.on_overflow()  # type: ignore[operator]
                break


def child_environment(home: str, tmp: str, threads: int) -> dict[str, str]:
    """An allow-listed environment: nothing of the grader's (tokens, CI variables) leaks."""
    env = {"PATH": SAFE_PATH, "HOME": home, "TMPDIR": tmp, "LANG": "C.UTF-8",
           "LC_ALL": "C.UTF-8", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONHASHSEED": "0", "PYTHONUNBUFFERED": "1"}
    env.update({k: str(threads) for k in THREAD_VARS})
    env.update({k: os.environ[k] for k in PASS_THROUGH if k in os.environ})
    return env


class PidsCgroup:
    """A per-box pids cgroup (root only): a process limit that binds root too."""

    def __init__(self, base: Path, limit: int) -> None:
        self.path = base / f"harness-{uuid.uuid4().hex[:12]}"
        self.path.mkdir()
        (self.path / "pids.max").write_text(str(limit))

    def members(self) -> list[int]:
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def destroy(self) -> bool:
        """Kill every member, remove the group; True when nothing survived."""
        for _ in range(50):
            pids = self.members()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            threading.Event().wait(0.02)
        survivors = self.members()
        with contextlib.suppress(OSError):
            self.path.rmdir()
        return not survivors


class ChildProcess:
    """One sandboxed child: the process, its channel, its output and its scratch."""

    def __init__(self, caps: Capabilities, scratch: Path, output_cap: int,
                 keep_output: int, processes: int) -> None:
        self.scratch = scratch
        self.output_overflow = False
        self.killed_reason: str | None = None
        parent_sock, child_sock = socket.socketpair()
        self.cgroup = PidsCgroup(caps.pids_cgroup, processes) if caps.pids_cgroup else None
        argv = [sys.executable, "-I", "-m", "harness.child", str(child_sock.fileno())]
        if caps.namespaces and caps.unshare:
            argv = [caps.unshare, *UNSHARE_ARGS, *argv]
        if self.cgroup is not None:
            # Join the cgroup before exec, so every descendant is counted from the start.
            argv = ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"',
                    str(self.cgroup.path), *argv]
        home, tmp = scratch / "home", scratch / "tmp"
        home.mkdir(exist_ok=True)
        tmp.mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=str(scratch), env=child_environment(str(home), str(tmp), 1),
            start_new_session=True, pass_fds=(child_sock.fileno(),),
        )
        child_sock.close()
        self.conn = Connection(os.dup(parent_sock.fileno()))
        parent_sock.close()
        self.outputs = [OutputCapture(s, keep_output, self._overflow, output_cap)
                        for s in (self.proc.stdout, self.proc.stderr)]
        self.readers = [threading.Thread(target=o.run, daemon=True) for o in self.outputs]
        for t in self.readers:
            t.start()

    def _overflow(self) -> None:
        self.output_overflow = True
        self.kill("output_limit")

    def kill(self, reason: str) -> None:
        """Stop the whole child tree now; the first reason given is kept."""
        if self.killed_reason is None:
            self.killed_reason = reason
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.cgroup is not None:
            for pid in self.cgroup.members():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def output(self, limit: int) -> tuple[str, str]:
        """Learner-visible stdout and stderr so far, cleaned."""
        return (clean_text(bytes(self.outputs[0].data), limit),
                clean_text(bytes(self.outputs[1].data), limit))

    def teardown(self) -> bool:
        """Kill everything, close pipes, remove scratch; True when no process survived."""
        self.kill("teardown")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        for t in self.readers:
            t.join(timeout=2)
        self.conn.close()
        for s in (self.proc.stdout, self.proc.stderr):
            if s is not None:
                s.close()
        clean = self.cgroup.destroy() if self.cgroup is not None else True
        remove_tree(self.scratch)
        with contextlib.suppress(OSError):
            self.scratch.with_name(self.scratch.name + ".root").rmdir()
        return clean and self.proc.poll() is not None

    def exit_description(self) -> str:
        """How the child ended, in words (exit codes prove nothing, but they explain)."""
        code = self.proc.poll()
        if code is None:
            return "still running"
        if code < 0:
            try:
                return f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with status {code}"


def remove_tree(path: Path) -> None:
    """Delete a scratch folder without following links (rmtree is fd-based on Linux)."""
    if not path.exists():
        return
    for root, dirs, _files in os.walk(path, followlinks=False):
        for d in dirs:
            p = os.path.join(root, d)
            if not os.path.islink(p):
                with contextlib.suppress(OSError):
                    os.chmod(p, 0o700)
    shutil.rmtree(path, ignore_errors=True)
