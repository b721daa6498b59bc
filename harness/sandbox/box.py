"""Grader side of one sandboxed child: start it, send requests, classify what happened.

Call, capture, classify: every exchange with learner code goes through
:meth:`Box.request`, which either returns the reply the grader decoded itself or
raises :class:`BoxFailure` with a named outcome. Nothing the child does raises
anything else into the grader.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from harness import clock, wire
from harness.errors import SandboxError
from harness.limits import Limits
from harness.sandbox import scratch as scratch_tree
from harness.sandbox.cells import CellLog, CellProtocolError, NotebookPlan
from harness.sandbox.layout import allow_list
from harness.sandbox.platform import Capabilities, capabilities, count_user_processes
from harness.sandbox.process import ChildProcess

FailureKind = Literal["timeout", "memory_limit", "output_limit", "disk_limit", "crashed"]


@dataclass(frozen=True)
class BoxSpec:
    """What to run: the staged submission and how to load it."""

    source: Path
    entry: str
    folder: bool
    names: tuple[str, ...]
    masks: tuple[str, ...]
    limits: Limits = Limits()
    preload: tuple[str, ...] = ("numpy",)
    notebook: NotebookPlan | None = None  # run these notebook cells instead of importing
    trace: dict[str, Any] | None = None  # `grade leakage`: run the program under the trace


class RequestWatch(Protocol):
    """What :attr:`Box.watch` is called with, around each request."""

    def before(self, header: dict[str, Any]) -> None: ...

    def after(self, header: dict[str, Any], values: dict[str, Any],
              reply: dict[str, Any]) -> None: ...


class BoxFailure(Exception):
    """The child stopped answering: timeout, memory, output flood or crash."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class LoadReport:
    """The child's first answer: the names it offers, or why loading failed."""

    ok: bool
    names: dict[str, Any]
    error: dict[str, Any] | None
    lockdown: dict[str, Any]


@dataclass
class Budget:
    """The wall-clock time one grading may spend in learner code, across restarts."""

    total: float
    spent: float = 0.0

    def remaining(self) -> float:
        return max(0.0, self.total - self.spent)


def special_files(folder: str, names: list[str]) -> set[str]:
    """FIFOs, sockets and devices among ``names``: never copied into a box (opening a FIFO
    waits for a writer). The staged copy holds none, unless a child reached it."""
    special = set()
    for name in names:
        mode = os.lstat(os.path.join(folder, name)).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            special.add(name)
    return special


_SWEPT: set[Path] = set()
#: Free space a box needs beside its scratch limit (the staged copy, the grader's files).
DISK_MARGIN = 64 << 20


def boxes_root() -> Path:
    """The folder holding every box's scratch (covered inside each box). The first call
    in a process removes what dead graders left there (:func:`scratch.sweep`)."""
    root = _boxes_path()
    root.mkdir(mode=0o700, exist_ok=True)
    if root not in _SWEPT:
        _SWEPT.add(root)
        scratch_tree.sweep(root)
    return root


def _boxes_path() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"harness-boxes-{uid}"


def leftovers() -> list[Path]:
    """Box folders of dead graders still under the boxes' folder (``grade doctor``)."""
    return list(scratch_tree.stale(_boxes_path(), min_age=0))


def ensure_room(root: Path, limits: Limits, tmpfs: bool) -> None:
    """Refuse to start a box beside a full disk: where the box writes to the grader's disk
    (no tmpfs) it needs its whole scratch limit free, elsewhere only a margin."""
    try:
        st = os.statvfs(root)
    except OSError:
        return
    free = st.f_bavail * st.f_frsize
    need = DISK_MARGIN + (0 if tmpfs else limits.disk_bytes)
    if free < need:
        raise SandboxError(f"only {free >> 20} MiB free under {root}; a box needs "
                           f"{need >> 20} MiB there", hint="free some space (`grade doctor` "
                           "lists leftovers of earlier gradings), or point TMPDIR elsewhere")


def private_tmp() -> Path:
    """The folder replaced by an empty one inside each box: the whole temp folder (other
    programs' files, other boxes) unless the interpreter or the harness lives under it."""
    tmp = Path(os.path.realpath(tempfile.gettempdir()))
    needed = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(wire.__file__))]
    if any(Path(os.path.realpath(n)) == tmp or tmp in Path(os.path.realpath(n)).parents
           for n in needed):
        return boxes_root()
    return tmp


@dataclass
class Box:
    """One running child with the submission loaded in it."""

    spec: BoxSpec
    budget: Budget
    caps: Capabilities = field(default_factory=capabilities)
    child: ChildProcess | None = None
    load: LoadReport | None = None
    stdout_limit: int = 20_000
    cells: CellLog | None = None
    cpu_seconds: float | None = None  # CPU time of the whole box (cgroup), after close
    #: Sees every request before it is sent (it may refuse one by raising) and every reply
    #: (the grader's bookkeeping: which names a check used, what they returned).
    watch: RequestWatch | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> LoadReport:
        """Launch the child, send its configuration, wait for it to load the submission."""
        limits = self.spec.limits
        root = boxes_root()
        ensure_room(root, limits, self.caps.namespaces)
        scratch = Path(tempfile.mkdtemp(prefix="box-", dir=root))
        work = scratch / "work"
        try:
            shutil.copytree(self.spec.source, work, symlinks=True, ignore=special_files)
            self.child = ChildProcess(self.caps, scratch, limits.output_bytes,
                                      self.stdout_limit * 4, limits.processes,
                                      limits.resident_bytes or limits.memory_bytes,
                                      limits.disk_bytes, limits.files)
        except BaseException:
            scratch_tree.remove_tree(scratch)
            raise
        uid = self.child.uid
        nproc = 0
        if uid is not None:
            nproc = limits.processes  # the box's own uid: only its own processes count
        elif not self.caps.is_root and self.caps.pids_cgroup is None and hasattr(os, "getuid"):
            nproc = count_user_processes(os.getuid()) + limits.processes
        config = {
            "box_uid": uid, "box_gid": uid,
            "reach": allow_list() if uid is not None and not self.caps.allow_list else [],
            "namespaces": self.caps.namespaces, "scratch": str(scratch),
            "boxes_root": str(private_tmp()), "masks": list(self.spec.masks),
            "root_dir": self._new_root(scratch), "binds": allow_list() if self.caps.allow_list
            else None, "landlock": self.caps.landlock,
            "landlock_read": [*allow_list(), "/proc", "/dev"] if self.caps.landlock else [],
            "landlock_write": [str(scratch), "/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                               "/dev/urandom", "/dev/shm"] if self.caps.landlock else [],
            "scratch_limits": [limits.disk_bytes, limits.files] if self.caps.namespaces
            else None,
            "workdir": str(work), "entry": str(work / self.spec.entry),
            "folder": self.spec.folder, "names": list(self.spec.names),
            "notebook": self.spec.notebook is not None, "trace_program": self.spec.trace,
            "preload": list(self.spec.preload), "max_frame": limits.frame_bytes,
            "limits": {"memory_bytes": limits.memory_bytes, "cpu_seconds": limits.cpu_seconds,
                       "open_files": limits.open_files,
                       "file_size_bytes": limits.file_size_bytes, "processes": nproc},
        }
        header, _ = self._exchange(wire.encode_message({"op": "start"}, {"config": config}),
                                   min(limits.load_seconds, self.budget.remaining()), "loading")
        if self.spec.notebook is not None:
            self.cells = CellLog(self.spec.notebook)
            try:
                header = self.cells.follow(header, lambda t, d: self._exchange(None, t, d),
                                           self.budget.remaining)
            except CellProtocolError as exc:
                self.child.kill("protocol")
                raise BoxFailure("crashed", f"the notebook's process broke the protocol ({exc})"
                                 ) from None
        if self.child.check_scratch():  # e.g. a load error that is really a full scratch
            raise self._failure(limits.load_seconds, "loading")
        raw = header.get("lockdown")
        lockdown: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if header.get("op") == "ready" and isinstance(header.get("names"), dict):
            self.load = LoadReport(True, header["names"], None, lockdown)
        elif header.get("op") == "load_error" and isinstance(header.get("error"), dict):
            self.load = LoadReport(False, {}, header["error"], lockdown)
        else:
            self.child.kill("protocol")
            raise BoxFailure("crashed", "the child sent an unexpected first message")
        return self.load

    def _new_root(self, scratch: Path) -> str | None:
        """An empty folder beside the scratch where the child mounts its new root."""
        if not self.caps.allow_list:
            return None
        root = scratch.with_name(scratch.name + ".root")
        root.mkdir(mode=0o700)
        return str(root)

    def close(self) -> bool:
        """Stop the child and remove its scratch; True when nothing survived. What could
        not be removed is kept in :attr:`leftovers`, never raised."""
        if self.child is None:
            return True
        clean = self.child.teardown()
        self.cpu_seconds = self.child.cpu_seconds
        return clean

    @property
    def leftovers(self) -> list[str]:
        """What the teardown could not remove (empty when the scratch is gone)."""
        return self.child.leftovers if self.child is not None else []

    @property
    def alive(self) -> bool:
        return self.child is not None and self.child.proc.poll() is None \
            and self.child.killed_reason is None

    # ------------------------------------------------------------ requests

    def request(self, header: dict[str, Any], values: dict[str, Any],
                timeout: float | None = None) -> dict[str, Any]:
        """Send one request; return the decoded reply header with ``value`` filled in."""
        if self.child is None or not self.alive:
            raise BoxFailure("crashed", "the submission's process is no longer running")
        if self.watch is not None:
            self.watch.before(header)
        limit = self.spec.limits.call_seconds if timeout is None else timeout
        limit = min(limit, self.budget.remaining())
        reply, decoded = self._exchange(wire.encode_message(header, values), limit, "answering")
        reply["value"] = decoded.get("result")
        if self.watch is not None:
            self.watch.after(header, values, reply)
        return reply

    def _exchange(self, request: bytes | None, limit: float,
                  doing: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Send a frame and read the reply, both under the watchdog (a child that stops
        reading cannot block the grader in ``send_bytes`` either)."""
        assert self.child is not None
        child = self.child
        timer = threading.Timer(limit, child.kill, args=("timeout",))
        start = clock.monotonic()
        timer.start()
        try:
            if request is not None:  # None: only read (a notebook's cell messages)
                child.conn.send_bytes(request)
            frame = child.conn.recv_bytes(self.spec.limits.frame_bytes)
        except (EOFError, OSError):
            frame = None
        finally:
            timer.cancel()
            self.budget.spent += clock.monotonic() - start
        if frame is None or child.killed_reason is not None or \
                (child.tmpfs_scratch and child.check_scratch()):
            raise self._failure(limit, doing)
        try:
            return wire.decode_message(frame, max_elements=self.spec.limits.max_elements)
        except (wire.WireError, RecursionError, MemoryError) as exc:
            child.kill("protocol")
            raise BoxFailure("crashed", f"the submission sent data the grader refused ({exc})") \
                from None

    def _failure(self, limit: float, doing: str) -> BoxFailure:
        assert self.child is not None
        child = self.child
        reason = child.killed_reason
        if reason is None:
            child.kill("crashed")
            child.proc.wait(timeout=5)
        if child.output_overflow:
            return BoxFailure("output_limit", f"the submission printed more than "
                              f"{self.spec.limits.output_bytes} bytes and was stopped")
        resident = self.spec.limits.resident_bytes or self.spec.limits.memory_bytes
        if reason == "disk_limit":
            limits = self.spec.limits
            return BoxFailure("disk_limit", f"the submission {child.disk_message} and was "
                              f"stopped while {doing}; scratch allows {limits.disk_bytes >> 20}"
                              f" MiB and {limits.files} files and folders (the task's disk_mb "
                              f"and files limits), nested at most {scratch_tree.MAX_DEPTH} "
                              "levels deep")
        if reason == "memory_limit":
            return BoxFailure("memory_limit", f"the submission's processes held more than "
                              f"{resident >> 20} MiB of resident memory and were stopped "
                              f"(RSS watchdog) while {doing}")
        if reason == "timeout":
            if self.budget.remaining() <= 0:
                return BoxFailure("timeout", f"the submission used up its total time of "
                                  f"{self.budget.total:g} s")
            return BoxFailure("timeout", f"no answer within {limit:g} s while {doing} "
                              "(infinite loop, or too slow)")
        if child.cgroup is not None and child.cgroup.oom_killed():
            return BoxFailure("memory_limit", f"the submission used more than its memory "
                              f"limit of {resident >> 20} MiB (cgroup memory.max) while "
                              f"{doing}; the kernel stopped it")
        code = child.proc.poll()
        if code == -signal.SIGXCPU:
            return BoxFailure("timeout", f"CPU time limit of {self.spec.limits.cpu_seconds} s "
                              "reached")
        return BoxFailure("crashed", f"the submission's process stopped while {doing} "
                          f"({child.exit_description()}) without answering")

    def output(self) -> tuple[str, str]:
        """What the submission printed so far (capped and cleaned)."""
        if self.child is None:
            return "", ""
        return self.child.output(self.stdout_limit)

    def identity(self) -> str:
        """Which host user the learner code ran as, in words (the result's ``uid``)."""
        lock = self.load.lockdown if self.load else {}
        if isinstance(lock.get("uid"), int):
            return f"dedicated {lock['uid']}"
        if self.child is not None and self.child.uid is not None and not lock:
            return f"dedicated {self.child.uid} (not confirmed: the child never reported)"
        if self.caps.is_root:
            why = str(lock.get("reach_error") or self.caps.uid_reason)
            return f"root-in-userns (host root; {why})" if self.caps.namespaces \
                else f"root ({why})"
        uid = os.getuid() if hasattr(os, "getuid") else "?"
        return f"grader's uid {uid}" + (", root inside a user namespace"
                                        if self.caps.namespaces else "")

    def protections(self) -> dict[str, Any]:
        """Which protections were active for this box (the result's ``sandbox`` field)."""
        caps, limits = self.caps, self.spec.limits
        lock = self.load.lockdown if self.load else {}
        applied = lock.get("limits", {}) if isinstance(lock.get("limits"), dict) else {}
        if caps.pids_cgroup is not None:
            process_limit = f"cgroup pids.max={limits.processes}"
        elif applied.get("processes"):
            process_limit = "RLIMIT_NPROC"
        else:
            process_limit = "none"
        cgroup = self.child.cgroup if self.child is not None else None
        memory = cgroup.limits.get("memory.max", cgroup.limits.get("memory.limit_in_bytes")) \
            if cgroup is not None else None
        return {
            "backend": "namespaces" if caps.namespaces else "process",
            "level": caps.level,
            "detail": caps.reason,
            "separate_process": True,
            "new_session": True,
            "network": "none" if caps.namespaces else
            "IP sockets refused (seccomp)" if lock.get("seccomp") else "host",
            "pid_namespace": caps.namespaces,
            "hidden_files": "absent (allow-listed root)" if lock.get("allow_list")
            else "covered" if lock.get("locked")
            else "unreadable (Landlock allow-list)" if lock.get("landlock") else "readable",
            "filesystem": ("allow-listed, " if lock.get("allow_list") else "") +
            ("read-only except scratch" if lock.get("read_only_root")
             else "writable by the child's user"),
            "environment": "allow-list",
            "seccomp": "network sockets, ptrace, namespaces, mounts, bpf, io_uring refused"
            if lock.get("seccomp") else str(lock.get("seccomp_reason", "not applied")),
            "process_limit": process_limit,
            "rlimits": sorted(applied),
            "memory_bytes": limits.memory_bytes,
            "uid": self.identity(),
            "memory_cgroup": f"{int(memory) >> 20} MiB (OOM kill)" if memory else
            caps.cgroups.note("memory") or "none",
            "rss_watchdog": f"{(limits.resident_bytes or limits.memory_bytes) >> 20} MiB"
            if caps.rss_watchdog else "off",
            "teardown": "cgroup.kill" if cgroup is not None and caps.cgroups.has("kill")
            else "SIGKILL to the process group" + (" and the cgroup" if cgroup else "") +
            (" and the box uid" if self.child is not None and self.child.uid else ""),
            "scratch": f"own tmpfs of {limits.disk_bytes >> 20} MiB and {limits.files} files, "
            "gone with the box's mount namespace" if caps.namespaces else
            f"grader's watchdog: {limits.disk_bytes >> 20} MiB, {limits.files} files, "
            f"{scratch_tree.MAX_DEPTH} levels",
            "cpu_seconds": limits.cpu_seconds,
            "call_seconds": limits.call_seconds,
            "output_bytes": limits.output_bytes,
        }
