"""Child side: close the box around this process before any learner code runs.

Runs first thing in the child, while only harness code has run. Inside the user,
mount and PID namespaces that ``unshare`` created (namespace backend) it

1. covers every hidden path (task packs, references, reports, history, git dirs,
   other boxes) with an empty, mode-000 tmpfs;
2. makes every mount read-only except the scratch directory and the fresh ``/proc``,
   whose dangerous parts (``/proc/sys``, ``/proc/sysrq-trigger`` ...) stay read-only;
3. enters a nested user and mount namespace, so all of the above are *locked*: the
   submission, though it looks like a user in its namespace, can neither unmount a
   cover nor clear a read-only flag.

Then it sets resource limits (hard = soft, except CPU time where the hard limit is one
second above the catchable soft one). On platforms without namespaces only the limits
apply; the report says which steps took effect, and the grader records it.
"""

from __future__ import annotations

import ctypes
import os
import resource
import struct
from typing import Any

MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC = 2, 4, 8, 4096, 16384
CLONE_NEWNS, CLONE_NEWUSER = 0x20000, 0x10000000
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
MOUNT_ATTR_RDONLY = 1
SYS_MOUNT_SETATTR = 442  # same number on x86_64 and aarch64 (generic table)
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs", "kcore", "kmsg")


class LockdownError(RuntimeError):
    """A namespace step failed where the grader asked for it."""


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                           ctypes.c_char_p]
    return libc


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise LockdownError(f"{what}: {os.strerror(err)}")


def _setattr(libc: Any, path: str, set_: int, clear: int, recursive: bool) -> None:
    attr = ctypes.create_string_buffer(struct.pack("QQQQ", set_, clear, 0, 0))
    flags = AT_RECURSIVE if recursive else 0
    _check(libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, path.encode(), flags, attr, 32),
           f"mount_setattr {path}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def close_namespaces(scratch: str, boxes_root: str | None, masks: list[str]) -> dict[str, Any]:
    """Cover hidden paths, make the tree read-only but scratch, lock it all.

    Must run as the mapped root of a fresh user+mount namespace. Returns what it did.
    """
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    masked: list[str] = []
    # Keep a handle on our own scratch before covering the folder of all boxes.
    scratch_fd = os.open(scratch, os.O_PATH | os.O_DIRECTORY)
    for path in sorted(set(masks)):
        if not os.path.lexists(path) or os.path.realpath(path) != path:
            continue  # never mount over a link: it could point anywhere
        if os.path.isdir(path):
            _check(libc.mount(b"tmpfs", path.encode(), b"tmpfs",
                              MS_NOSUID | MS_NODEV | MS_NOEXEC, b"size=4k,mode=000"),
                   f"cover {path}")
        else:
            _check(libc.mount(b"/dev/null", path.encode(), None, MS_BIND, None), f"cover {path}")
        masked.append(path)
    if boxes_root and os.path.isdir(boxes_root):
        _check(libc.mount(b"tmpfs", boxes_root.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                          b"size=1m,mode=755"), "cover the temp folder")
        os.makedirs(scratch, exist_ok=True)
        masked.append(boxes_root)
    _check(libc.mount(f"/proc/self/fd/{scratch_fd}".encode(), scratch.encode(), None,
                      MS_BIND, None), "bind scratch")
    os.close(scratch_fd)
    _setattr(libc, "/", MOUNT_ATTR_RDONLY, 0, True)
    _setattr(libc, scratch, 0, MOUNT_ATTR_RDONLY, False)
    _setattr(libc, "/proc", 0, MOUNT_ATTR_RDONLY, False)
    for name in PROC_READ_ONLY:
        p = f"/proc/{name}"
        if os.path.exists(p):
            _check(libc.mount(p.encode(), p.encode(), None, MS_BIND | MS_REC, None), f"bind {p}")
            _setattr(libc, p, MOUNT_ATTR_RDONLY, 0, True)
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "nested namespaces")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"1000 {uid} 1\n")
    _write("/proc/self/gid_map", f"1000 {gid} 1\n")
    return {"masked": masked, "read_only_root": True, "locked": True}


def set_limits(limits: dict[str, int]) -> dict[str, int]:
    """Apply resource limits; returns those that took effect."""
    applied: dict[str, int] = {}
    table = {
        "memory_bytes": resource.RLIMIT_AS,
        "open_files": resource.RLIMIT_NOFILE,
        "file_size_bytes": resource.RLIMIT_FSIZE,
        "processes": resource.RLIMIT_NPROC,
    }
    for key, which in table.items():
        value = limits.get(key)
        if not value:
            continue
        try:
            resource.setrlimit(which, (value, value))
            applied[key] = value
        except (ValueError, OSError):
            pass  # e.g. macOS refuses RLIMIT_AS; the grader's watchdog still applies
    cpu = limits.get("cpu_seconds")
    if cpu:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        applied["cpu_seconds"] = cpu
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    applied["core_bytes"] = 0
    return applied
