"""Launch the child process, capture its output under a cap, and tear it down."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from harness.sandbox import macos, resident, uids
from harness.sandbox import scratch as scratch_tree
from harness.sandbox.cgroups import BoxCgroup
from harness.sandbox.platform import Capabilities

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
PASS_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
#: Joins every cgroup folder given before ``--``, then becomes the command after it: every
#: descendant is counted from the start.
JOIN_CGROUPS = ('while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 126; shift; done; '
                'shift; exec "$@"')
WATCH_INTERVAL = 0.1
#: The slowest pace of the scratch watchdog where it walks the tree (no tmpfs), and the
#: share of the time it may spend walking (it slows down on a large tree).
SCAN_INTERVAL, SCAN_SHARE = 0.25, 0.1
#: CSI and other ESC sequences, C0 controls but newline and tab, DEL and C1 controls (the
#: 8-bit CSI U+009B and OSC U+009D act like ESC [ and ESC ] on terminals that honour C1).
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


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


def child_command(caps: Capabilities, fd: int, scratch: Path,
                  cgroup_dirs: Sequence[Path] = ()) -> list[str]:
    """The child's command line: the interpreter, inside ``unshare`` (Linux) or
    ``sandbox-exec`` (macOS), joined to its cgroups first where it has any."""
    argv = [sys.executable, "-I", "-m", "harness.child", str(fd)]
    if caps.namespaces and caps.unshare:
        argv = [caps.unshare, *caps.unshare_args, *argv]
    elif caps.seatbelt:
        from harness.sandbox.layout import allow_list

        real = os.path.realpath
        profile = macos.profile([real(p) for p in allow_list()], real(str(scratch)),
                                [real(sys.executable), "/bin/sh"])
        argv = macos.command(profile, argv, caps.seatbelt)
    if cgroup_dirs:
        argv = ["/bin/sh", "-c", JOIN_CGROUPS, "sh", *map(str, cgroup_dirs), "--", *argv]
    return argv


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except (OSError, ValueError):
        return []


def give_to(path: Path, uid: int, gid: int) -> None:
    """Make a scratch tree the box user's (links themselves, never what they point to)."""
    os.lchown(path, uid, gid)
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


class ChildProcess:
    """One sandboxed child: the process, its channel, its output and its scratch."""

    def __init__(self, caps: Capabilities, scratch: Path, output_cap: int,
                 keep_output: int, processes: int, resident_bytes: int = 0,
                 disk_bytes: int = 0, files: int = 0) -> None:
        self.scratch = scratch
        #: Where the box writes: its own tmpfs (mount namespace levels) or the folder itself.
        self.tmpfs_scratch = caps.namespaces
        self.disk_bytes, self.files = disk_bytes, files
        self.disk_message = ""
        self.leftovers: list[str] = []
        self._held = scratch_tree.hold(scratch)
        self.output_overflow = False
        self.killed_reason: str | None = None
        self.resident_limit = resident_bytes if caps.rss_watchdog else 0
        self.cpu_seconds: float | None = None
        self.shared_tmp = not caps.namespaces and not caps.landlock  # /tmp is the host's
        self.pid_namespace = caps.namespaces
        self._stop = threading.Event()
        self.lease = uids.lease(*caps.box_uids) if caps.box_uids and caps.is_root else None
        try:
            home, tmp = scratch / "home", scratch / "tmp"
            home.mkdir(exist_ok=True)
            tmp.mkdir(exist_ok=True)
            if self.lease is not None:
                give_to(scratch, self.lease.uid, self.lease.gid)
            self.cgroup = BoxCgroup(caps.cgroups, resident_bytes, processes) \
                if caps.cgroups.active else None
        except BaseException:
            self._release()
            raise
        parent_sock, child_sock = socket.socketpair()
        argv = child_command(caps, child_sock.fileno(), scratch,
                             self.cgroup.dirs if self.cgroup else [])
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=str(scratch), env=child_environment(str(home), str(tmp), 1),
                start_new_session=True, pass_fds=(child_sock.fileno(),),
            )
        except BaseException:
            parent_sock.close()
            child_sock.close()
            if self.cgroup is not None:
                self.cgroup.destroy()
            self._release()
            raise
        child_sock.close()
        self.conn = Connection(os.dup(parent_sock.fileno()))
        parent_sock.close()
        self.outputs = [OutputCapture(s, keep_output, self._overflow, output_cap)
                        for s in (self.proc.stdout, self.proc.stderr)]
        self.readers = [threading.Thread(target=o.run, daemon=True) for o in self.outputs]
        if self.resident_limit:
            self.readers.append(threading.Thread(target=self._watch_resident, daemon=True))
        if self.disk_bytes or self.files:
            self.readers.append(threading.Thread(target=self._watch_scratch, daemon=True))
        for t in self.readers:
            t.start()

    @property
    def uid(self) -> int | None:
        """The box's dedicated host uid (None: the child keeps the grader's user)."""
        return self.lease.uid if self.lease is not None else None

    def _overflow(self) -> None:
        self.output_overflow = True
        self.kill("output_limit")

    def _watch_resident(self) -> None:
        """Stop the box when its processes hold more resident memory than allowed."""
        while not self._stop.wait(WATCH_INTERVAL) and self.proc.poll() is None:
            members = self.cgroup.members() if self.cgroup else []
            if self.uid is not None:
                members += uids.processes_of(self.uid)
            if resident.tree_resident(self.proc.pid, members) > self.resident_limit:
                self.kill("memory_limit")
                return

    def scratch_over(self) -> str:
        """Why the box's scratch is past its limits ("" while it is not)."""
        if self.tmpfs_scratch:
            # The box's own mount, seen through its process: full means a write was refused.
            kids = _children(self.proc.pid)
            return scratch_tree.tmpfs_over(f"/proc/{kids[0]}/root{self.scratch}", self.files) \
                if kids else ""
        return scratch_tree.usage(self.scratch, self.disk_bytes, self.files).over

    def check_scratch(self) -> bool:
        """Stop the box if its scratch is past its limits; True when it was."""
        if self.disk_message:
            return True
        over = self.scratch_over()
        if over:
            self.disk_message = over
            self.kill("disk_limit")
        return bool(over)

    def _watch_scratch(self) -> None:
        """Stop the box when its scratch passes its size, file-count or depth limit."""
        pause = WATCH_INTERVAL if self.tmpfs_scratch else SCAN_INTERVAL
        while not self._stop.wait(pause) and self.proc.poll() is None:
            began = time.monotonic()
            if self.check_scratch():
                return
            if not self.tmpfs_scratch:
                pause = max(SCAN_INTERVAL, (time.monotonic() - began) / SCAN_SHARE)

    def kill(self, reason: str) -> None:
        """Stop the whole child tree now; the first reason given is kept."""
        if self.killed_reason is None:
            self.killed_reason = reason
        if self.pid_namespace:
            # The namespace's init (unshare's child) may have left the process group and
            # cleared its parent-death signal; killing it ends the whole PID namespace.
            for pid in _children(self.proc.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.cgroup is not None:
            self.cgroup.kill()
        if self.uid is not None and self.cgroup is None and not self.pid_namespace:
            # Nothing else holds the daemons: every process of the uid is this box's.
            for pid in uids.processes_of(self.uid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def _release(self) -> None:
        if self.lease is not None:
            self.lease.release()
        if self._held >= 0:
            os.close(self._held)
            self._held = -1

    def output(self, limit: int) -> tuple[str, str]:
        """Learner-visible stdout and stderr so far, cleaned."""
        return (clean_text(bytes(self.outputs[0].data), limit),
                clean_text(bytes(self.outputs[1].data), limit))

    def teardown(self) -> bool:
        """Kill everything, close pipes, remove scratch; True when no process survived."""
        self.kill("teardown")
        self._stop.set()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        for t in self.readers:
            t.join(timeout=2)
        self.conn.close()
        for s in (self.proc.stdout, self.proc.stderr):
            if s is not None:
                s.close()
        clean = True
        if self.cgroup is not None:
            clean = self.cgroup.destroy()
            self.cpu_seconds = self.cgroup.cpu_seconds
        if self.uid is not None:
            clean &= uids.kill_all(self.uid)
            if self.shared_tmp:
                uids.remove_files(self.uid)
        self.leftovers = scratch_tree.remove_tree(self.scratch)
        root = self.scratch.with_name(self.scratch.name + ".root")
        if os.path.lexists(root):
            self.leftovers += scratch_tree.remove_tree(root)
        self._release()  # a uid that kept a process is skipped by the next lease anyway
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
