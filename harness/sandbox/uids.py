"""Dedicated host users for boxes: one unprivileged uid per concurrent box (grader as root).

With a uid of its own, a box's processes cannot signal the grader or read its memory
through ``/proc``, ``RLIMIT_NPROC`` binds them (it never binds root), and every process
of that uid belongs to that box, so teardown can find and kill them all. The uids come
from a range (``HARNESS_BOX_UIDS``, default ``61000-61255``; ``off`` disables the layer);
each live box holds an exclusive ``flock`` on the lock file of its uid, so the grader
workers of a pool (several processes on one machine) never share one. A lock dies with
the process holding it, and a uid that still has processes is skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import stat
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SandboxError
from harness.sandbox import scratch

DEFAULT_RANGE = (61000, 256)
LOCK_DIRS = (Path("/run/harness-box-uids"),)


class NoFreeUid(SandboxError):
    """Every uid of the range is held by a live box (or still has processes)."""


def uid_range() -> tuple[int, int] | None:
    """``(first, count)`` from ``HARNESS_BOX_UIDS`` (``START-END``), None when off."""
    raw = os.environ.get("HARNESS_BOX_UIDS", "").strip().lower()
    if raw in ("off", "0", "no", "none"):
        return None
    if not raw:
        return DEFAULT_RANGE
    first, _, last = raw.partition("-")
    try:
        start, end = int(first), int(last or first)
    except ValueError:
        raise ValueError(f"HARNESS_BOX_UIDS={raw!r}: expected START-END, e.g. 61000-61255, "
                         "or off") from None
    if not 0 < start <= end < 2**31 - 1:
        raise ValueError(f"HARNESS_BOX_UIDS={raw!r}: uids must satisfy 0 < START <= END")
    return start, end - start + 1


def lock_dir() -> Path:
    """Where the per-uid lock files live (root-only: ``/run`` when it exists)."""
    for path in LOCK_DIRS:
        if path.parent.is_dir() and os.access(path.parent, os.W_OK):
            break
    else:
        path = Path(tempfile.gettempdir()) / "harness-box-uids"
    path.mkdir(mode=0o700, exist_ok=True)
    st = os.lstat(path)
    if st.st_uid != os.geteuid() or st.st_mode & 0o022 or not stat.S_ISDIR(st.st_mode):
        raise SandboxError(f"{path} belongs to someone else or is writable by others",
                           hint="remove it; the grader recreates it")
    return path


def processes_of(uid: int, zombies: bool = False) -> list[int]:
    """Processes whose real uid is ``uid`` (Linux /proc; empty elsewhere). Zombies are
    dead already (nothing to kill; whoever inherited them reaps them) unless asked for."""
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as fh:
                raw = fh.read(4096)
            start = raw.index(b"\nUid:") + 5
            if int(raw[start:raw.index(b"\n", start)].split()[0]) != uid:
                continue
            if not zombies and b"\nState:\tZ" in raw:
                continue
            found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def kill_all(uid: int, rounds: int = 100) -> bool:
    """SIGKILL every process of ``uid`` until none is left; True when none survived."""
    for _ in range(rounds):
        pids = processes_of(uid)
        if not pids:
            return True
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        threading.Event().wait(0.02)
    return not processes_of(uid)


def remove_files(uid: int, folders: tuple[str, ...] = ("/tmp", "/var/tmp", "/dev/shm")) -> None:
    """Remove what ``uid`` left at the top of shared writable folders (the next box with
    this uid must not find it)."""
    for folder in folders:
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    scratch.remove_tree(entry.path)  # learner-made: deep, locked, anything
                else:
                    os.unlink(entry.path)
            except OSError:
                continue


@dataclass
class UidLease:
    """One uid (and gid of the same number) held for one box until released."""

    uid: int
    fd: int

    @property
    def gid(self) -> int:
        return self.uid

    def release(self) -> None:
        """Give the uid back (closing the file drops the lock)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def lease(first: int, count: int, folder: Path | None = None) -> UidLease:
    """Lock the first free uid of ``first .. first+count-1`` for the caller's box."""
    folder = folder or lock_dir()
    for uid in range(first, first + count):
        fd = os.open(folder / f"{uid}.lock",
                     os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        if processes_of(uid):  # a box of a crashed grader, or someone else's user
            os.close(fd)
            continue
        return UidLease(uid, fd)
    raise NoFreeUid(f"all {count} box uids from {first} are in use",
                    hint="widen HARNESS_BOX_UIDS, or run fewer boxes at once")
