"""Child side: close the box around this process before any learner code runs.

Runs first thing in the child, while only harness code has run, inside the user, mount,
PID and network namespaces that ``unshare`` created:

* level ``strong``: build a new root on a tmpfs from an allow-list of read-only binds
  (system libraries, the interpreter, the import path, the harness package), a minimal
  ``/dev``, the PID namespace's ``/proc``, a private ``/tmp`` and the scratch folder, and
  ``pivot_root`` into it: nothing else of the host exists inside;
* level ``namespaces``: keep the host tree, replace the temp folder, cover every hidden
  path (task packs, references, reports, history, git folders) with an empty tmpfs;

then make every mount read-only except scratch (and ``/tmp``), keep ``/proc/sys``,
``/proc/sysrq-trigger`` & co. read-only, and enter a nested user and mount namespace so
that all of it is *locked*: the submission can neither unmount a cover nor clear a
read-only flag.

Then it sets resource limits (hard = soft, except CPU time where the hard limit is one
second above the catchable soft one). On platforms without namespaces only the limits
apply; the report says which steps took effect, and the grader records it.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import platform
import resource
import shutil
import stat
import struct
import time
from collections.abc import Callable
from typing import Any

MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC = 2, 4, 8, 4096, 16384
CLONE_NEWNS, CLONE_NEWUSER = 0x20000, 0x10000000
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
MOUNT_ATTR_RDONLY = 1
SYS_MOUNT_SETATTR = 442  # same number on x86_64 and aarch64 (generic table)
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
MNT_DETACH = 2
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


def _cover(libc: Any, path: str) -> None:
    if os.path.isdir(path):
        _check(libc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                          b"size=4k,mode=000"), f"cover {path}")
    else:
        _check(libc.mount(b"/dev/null", path.encode(), None, MS_BIND, None), f"cover {path}")


#: runtime folders covered at level ``namespaces`` (level ``strong`` never binds them)
RUNTIME_DIRS = ("/run", "/var/run")


def _tmpfs(libc: Any, path: str, options: bytes) -> None:
    os.makedirs(path, exist_ok=True)
    _check(libc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options),
           f"tmpfs {path}")


def scratch_tmpfs(libc: Any, target: str, source_fd: int, disk_bytes: int, files: int,
                  owner: tuple[int, int] | None) -> dict[str, Any]:
    """Mount a size- and inode-limited tmpfs at ``target`` and copy the grader's scratch
    (``source_fd``: the submission's copy, ``home``, ``tmp``) into it. The box writes only
    there; the whole of it goes with the mount namespace when the box's last process ends,
    so nothing it writes ever reaches the grader's disk or its teardown."""
    began = time.perf_counter()
    source = f"/proc/self/fd/{source_fd}"
    copied_bytes = copied = 0
    for folder, dirs, names in os.walk(source):
        copied += len(dirs) + len(names)
        for name in names:
            with contextlib.suppress(OSError):
                copied_bytes += os.lstat(os.path.join(folder, name)).st_size
    size = disk_bytes + copied_bytes + 64 * 1024 * (copied + 1)  # a block or so per file
    options = f"size={size},nr_inodes={files + copied + 8},mode=700"
    if owner is not None:
        options += f",uid={owner[0]},gid={owner[1]}"
    _tmpfs(libc, target, options.encode())
    for name in os.listdir(source):
        src, dst = os.path.join(source, name), os.path.join(target, name)
        if os.path.isdir(src) and not os.path.islink(src):
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst, follow_symlinks=False)
    if owner is not None:
        os.lchown(target, *owner)
        for folder, dirs, names in os.walk(target):
            for name in dirs + names:
                os.lchown(os.path.join(folder, name), *owner)
    return {"scratch": f"tmpfs {disk_bytes >> 20} MiB, {files} files", "scratch_size": size,
            "scratch_setup_s": round(time.perf_counter() - began, 6)}


def _bind_into(libc: Any, root: str, path: str) -> bool:
    """Make ``path`` appear at the same place under ``root`` (links are re-created)."""
    target = root + path
    if os.path.islink(path):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            os.symlink(os.readlink(path), target)
        return True
    if os.path.isdir(path):
        os.makedirs(target, exist_ok=True)
    elif os.path.isfile(path) or stat.S_ISCHR(os.stat(path).st_mode):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "w").close()
    else:
        return False
    _check(libc.mount(path.encode(), target.encode(), None, MS_BIND | MS_REC, None),
           f"bind {path}")
    return True


def _enter_new_root(libc: Any, root: str, binds: list[str], scratch: str,
                    place_scratch: Callable[[str], None], files: int) -> list[str]:
    """Build a root from an allow-list of read-only binds, a minimal /dev, the PID
    namespace's /proc, a private /tmp and the scratch folder; pivot into it."""
    _tmpfs(libc, root, b"size=16m,mode=755")
    # The private /tmp first: allow-listed paths under /tmp (a checkout's venv) and the
    # scratch folder are then bound inside it instead of being hidden by it.
    _tmpfs(libc, root + "/tmp", f"size=64m,nr_inodes={files},mode=1777".encode())
    bound = []
    for path in sorted(set(binds), key=lambda p: (p.count("/"), p)):
        if os.path.lexists(path) and _bind_into(libc, root, path):
            bound.append(path)
            if os.path.islink(path):
                real = os.path.realpath(path)
                if os.path.exists(real) and _bind_into(libc, root, real):
                    bound.append(real)
    _tmpfs(libc, root + "/dev", b"size=64k,mode=755")
    for dev in ("null", "zero", "full", "random", "urandom"):
        _bind_into(libc, root, f"/dev/{dev}")
    for dev in sorted(glob.glob("/dev/nvidia*")):  # CUDA's device nodes, where present
        _bind_into(libc, root, dev)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    _tmpfs(libc, root + "/dev/shm", f"size=64m,nr_inodes={files},mode=1777".encode())
    os.makedirs(root + "/proc", exist_ok=True)
    _check(libc.mount(b"/proc", (root + "/proc").encode(), None, MS_BIND | MS_REC, None),
           "bind /proc")
    os.makedirs(root + scratch, exist_ok=True)
    place_scratch(root + scratch)
    os.chdir(root)
    _check(libc.syscall(SYS_PIVOT_ROOT.get(platform.machine(), 155), b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")
    return bound


def _passable(st: os.stat_result, uid: int, gid: int, bits: int) -> bool:
    """Whether ``uid``/``gid`` (no supplementary groups) has ``bits`` (r=4, x=1) here."""
    if st.st_uid == uid:
        return st.st_mode & (bits << 6) == bits << 6
    if st.st_gid == gid:
        return st.st_mode & (bits << 3) == bits << 3
    return st.st_mode & bits == bits


def blockers(paths: list[str], uid: int, gid: int) -> tuple[list[str], list[str]]:
    """Folders on the way to ``paths`` that ``uid`` cannot pass (outermost, one per path),
    and the paths that ``uid`` could not read even with every folder on the way open."""
    closed: set[str] = set()
    unreadable: list[str] = []
    for path in paths:
        parts = path.strip("/").split("/")
        for i in range(len(parts) - 1):
            folder = "/" + "/".join(parts[: i + 1])
            try:
                if not _passable(os.stat(folder), uid, gid, 1):
                    closed.add(folder)
                    break
            except OSError:
                break
        try:
            st = os.stat(path)
        except OSError:
            continue
        if not _passable(st, uid, gid, 5 if stat.S_ISDIR(st.st_mode) else 4):
            unreadable.append(path)
    outer = [c for c in sorted(closed) if not any(c.startswith(o + "/") for o in closed)]
    return outer, unreadable


def open_the_way(paths: list[str], uid: int, gid: int) -> list[str]:
    """Cover each closed folder on the way to ``paths`` with a 0755 tmpfs holding only the
    needed paths (bound back). Needs a private mount namespace and CAP_SYS_ADMIN."""
    libc = _libc()
    closed, _ = blockers(paths, uid, gid)
    for folder in closed:
        inside = sorted({p for p in paths if p.startswith(folder + "/")})
        inside = [p for p in inside if not any(p.startswith(q + "/") for q in inside)]
        handles = [(p, os.open(p, os.O_PATH | os.O_CLOEXEC)) for p in inside
                   if os.path.exists(p)]
        _tmpfs(libc, folder, b"size=64k,mode=755")
        for path, fd in handles:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                os.makedirs(path, mode=0o755, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
                open(path, "w").close()
            _check(libc.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None,
                              MS_BIND | MS_REC, None), f"bind back {path}")
            os.close(fd)
    return closed


def close_namespaces(scratch: str, boxes_root: str | None, masks: list[str],
                     root_dir: str | None = None, binds: list[str] | None = None,
                     drop_to: tuple[int, int] | None = None, reach: list[str] | None = None,
                     scratch_limits: tuple[int, int] | None = None) -> dict[str, Any]:
    """Hide what the child must not see, make the tree read-only but scratch, lock it all.

    With ``root_dir`` and ``binds`` the child gets a new root holding only the allow-listed
    paths (level ``strong``); otherwise the host tree stays, with hidden paths covered and
    the temp folder replaced (level ``namespaces``). Must run as the mapped root of a fresh
    user+mount namespace, or as real root in fresh mount, PID and network namespaces when
    the child will then drop to the uid and gid ``drop_to``: the folders on the way to
    ``reach`` are then opened to that uid, and the lock is its lack of capabilities instead
    of a nested user namespace. With ``scratch_limits`` (bytes, files) the scratch is a
    tmpfs of that size holding a copy of the grader's folder (:func:`scratch_tmpfs`);
    without, the grader's folder itself is bound. Returns what it did.
    """
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    os.umask(0o022)  # folders made for the new root must be passable by a dropped uid
    masked: list[str] = []
    bound: list[str] = []
    # Keep a handle on our own scratch before covering the folder that holds it.
    scratch_fd = os.open(scratch, os.O_PATH | os.O_DIRECTORY)
    placed: dict[str, Any] = {}

    def place_scratch(target: str) -> None:
        if scratch_limits is None:
            _check(libc.mount(f"/proc/self/fd/{scratch_fd}".encode(), target.encode(), None,
                              MS_BIND, None), "bind scratch")
        else:
            placed.update(scratch_tmpfs(libc, target, scratch_fd, *scratch_limits, drop_to))

    files = scratch_limits[1] if scratch_limits else 1 << 20
    if root_dir and binds is not None:
        bound = _enter_new_root(libc, root_dir, binds, scratch, place_scratch, files)
        writable = [scratch, "/tmp", "/dev/shm"]
    else:
        if boxes_root and os.path.isdir(boxes_root):
            _tmpfs(libc, boxes_root, b"size=1m,mode=755")
            os.makedirs(scratch, exist_ok=True)
            masked.append(boxes_root)
        place_scratch(scratch)
        writable = [scratch]
    os.close(scratch_fd)
    opened = open_the_way([os.path.realpath(p) for p in reach or []], *drop_to) \
        if drop_to and not root_dir else []
    for path in sorted(set(masks)):
        if not os.path.lexists(path) or os.path.realpath(path) != path:
            continue  # never mount over a link: it could point anywhere
        _cover(libc, path)
        masked.append(path)
    if not root_dir:
        # The host's runtime sockets (docker.sock, D-Bus) live under /run: a unix socket can
        # be connected to on a read-only mount, and group membership still counts.
        for path in RUNTIME_DIRS:
            if os.path.isdir(path) and os.path.realpath(path) == path:
                _tmpfs(libc, path, b"size=4k,mode=755")
                masked.append(path)
    _setattr(libc, "/", MOUNT_ATTR_RDONLY, 0, True)
    for path in [*writable, "/proc"]:
        _setattr(libc, path, 0, MOUNT_ATTR_RDONLY, False)
    for name in PROC_READ_ONLY:
        p = f"/proc/{name}"
        if os.path.exists(p):
            _check(libc.mount(p.encode(), p.encode(), None, MS_BIND | MS_REC, None), f"bind {p}")
            _setattr(libc, p, MOUNT_ATTR_RDONLY, 0, True)
    if drop_to is None:
        _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "nested namespaces")
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"1000 {uid} 1\n")
        _write("/proc/self/gid_map", f"1000 {gid} 1\n")
    # With ``drop_to`` the mounts stay locked because the dropped uid holds no capability
    # in this mount namespace's user namespace, and any user namespace it could create
    # would inherit them locked (the seccomp filter refuses creating one anyway).
    return {"masked": masked, "read_only_root": True, "locked": True,
            "allow_list": bool(root_dir), "bound": bound, "reach": opened, **placed}


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
