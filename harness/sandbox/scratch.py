"""A box's scratch folder on the grader's side: hold it, measure it, remove it.

Everything here works on directory file descriptors and single names, never on joined
paths: a tree nested past ``PATH_MAX``, names of 255 bytes, links, FIFOs, sockets,
folders made unreadable (``chmod 000``) and read-only files are all handled the same way,
and nothing recurses in Python, so no depth raises ``RecursionError``.

* :func:`remove_tree` empties and removes a tree and never raises: what it could not
  remove comes back as a list of short descriptions for the result (``sandbox.teardown``).
  A chain deeper than :data:`HELD_LEVELS` is cut: the folder at that depth is renamed to
  the top of the tree and removed on a later pass, so no more than that many descriptors
  are ever open and ``..`` is never followed.
* :func:`usage` measures a live scratch (bytes, entries, depth) for the levels without a
  mount namespace, where no tmpfs can bound it; it stops counting at the limits.
* :func:`hold` / :func:`sweep`: each live box holds an advisory lock on its folder, so a
  later start can tell a leftover of a dead grader from a box of a running one and
  remove it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import struct
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Descriptors held at most while descending a tree (deeper chains are cut and moved up).
HELD_LEVELS = 64
#: Nesting past which a live scratch counts as over its limit (no task nests that deep).
MAX_DEPTH = 256
#: Passes over the top folder before giving up (each pass removes or flattens something).
MAX_PASSES = 100_000
#: A box folder younger than this may not be locked yet: never swept.
GRACE_SECONDS = 60.0
#: Leftovers described in full; the rest are counted.
SHOWN = 5
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | \
    getattr(os, "O_CLOEXEC", 0)
_FS_IOC_GETFLAGS, _FS_IOC_SETFLAGS = 0x80086601, 0x40086602
_IMMUTABLE, _APPEND = 0x10, 0x20
#: Root passes any mode bits; everyone else must open a folder up before emptying it.
_IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# ---------------------------------------------------------------- removal

@dataclass
class _Removal:
    top: int
    left: list[str]
    removed: int = 0
    moved: int = 0

    def failed(self, where: str, exc: OSError) -> None:
        self.left.append(f"{where}: {exc.strerror or exc}")


def _writable(fd: int, name: str) -> None:
    """Open a folder (or unlock an entry) the removal needs: mode bits first, then the
    immutable and append-only flags where the grader may clear them (root on Linux)."""
    with contextlib.suppress(OSError, NotImplementedError):
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            return
        if stat.S_ISDIR(st.st_mode):
            os.chmod(name, 0o700, dir_fd=fd)  # a folder (checked just above: not a link)
        _clear_flags(fd, name)


def _clear_flags(fd: int, name: str) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        child = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                        dir_fd=fd)
    except OSError:
        return
    try:
        raw = bytearray(4)
        fcntl.ioctl(child, _FS_IOC_GETFLAGS, raw)
        flags = struct.unpack("i", raw)[0]
        if flags & (_IMMUTABLE | _APPEND):
            fcntl.ioctl(child, _FS_IOC_SETFLAGS, struct.pack("i", flags & ~(_IMMUTABLE | _APPEND)))
    except OSError:
        pass
    finally:
        os.close(child)


def _unlink(fd: int, name: str) -> bool | None:
    """Remove a non-folder entry: True done, False it is a folder, None it failed."""
    for attempt in (0, 1):
        try:
            os.unlink(name, dir_fd=fd)
            return True
        except FileNotFoundError:
            return True
        except IsADirectoryError:
            return False
        except PermissionError:
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                    return False  # macOS answers EPERM for unlink on a folder
            if attempt:
                return None
            _clear_flags(fd, name)
        except OSError:
            return None
    return None


def _open_dir(fd: int, name: str, work: _Removal, where: str) -> int | None:
    """Open a folder to empty it, made readable, writable and searchable first (its
    entries cannot be removed otherwise, unless the grader is root)."""
    if not _IS_ROOT:
        _writable(fd, name)
    for attempt in (0, 1):
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=fd)
        except PermissionError as exc:
            if attempt:
                work.failed(where, exc)
                return None
            _writable(fd, name)
        except OSError as exc:
            work.failed(where, exc)
            return None
    return None


def _clear_pass(work: _Removal) -> None:
    """One depth-first pass from the top, holding at most HELD_LEVELS descriptors."""
    # Each level: (its descriptor, its name in the level above, the names still to do).
    stack: list[tuple[int, str, list[str]]] = []
    try:
        stack.append((work.top, "", os.listdir(work.top)))
    except OSError as exc:
        work.failed("the scratch folder", exc)
        return
    while stack:
        fd, own, names = stack[-1]
        if not names:
            stack.pop()
            if stack:
                os.close(fd)
                try:
                    os.rmdir(own, dir_fd=stack[-1][0])
                    work.removed += 1
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        work.failed(_where(stack, own), exc)
            continue
        name = names.pop()
        done = _unlink(fd, name)
        if done:
            work.removed += 1
            continue
        if done is None:
            work.left.append(f"{_where(stack, name)}: could not be removed")
            continue
        with contextlib.suppress(OSError):  # an empty folder goes at once
            os.rmdir(name, dir_fd=fd)
            work.removed += 1
            continue
        if len(stack) >= HELD_LEVELS:
            moved = f".harness-cut-{work.moved}"
            try:
                os.rename(name, moved, src_dir_fd=fd, dst_dir_fd=work.top)
                work.moved += 1
            except OSError as exc:
                work.failed(_where(stack, name), exc)
            continue
        child = _open_dir(fd, name, work, _where(stack, name))
        if child is None:
            continue
        try:
            listing = os.listdir(child)
        except OSError as exc:
            os.close(child)
            work.failed(_where(stack, name), exc)
            continue
        stack.append((child, name, listing))


def _where(stack: list[tuple[int, str, list[str]]], name: str) -> str:
    parts = [s[1] for s in stack[1:]] + [name]
    shown = "/".join(p[:40] for p in parts[:4])
    return shown + (f"/… ({len(parts)} levels)" if len(parts) > 4 else "")


def remove_tree(path: Path | str) -> list[str]:
    """Delete ``path`` and everything under it without following a link; never raises.

    Returns what could not be removed (empty when the folder is gone)."""
    path = os.fspath(path)
    parent, base = os.path.split(os.path.abspath(path))
    try:
        pfd = os.open(parent, _DIR_FLAGS & ~getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return []
    except OSError as exc:
        return [f"{parent}: {exc.strerror or exc}"]
    try:
        removed = _unlink(pfd, base)
        if removed:
            return []
        if removed is None:
            return [f"{path}: could not be removed"]
        _writable(pfd, base)
        work = _Removal(top=-1, left=[])
        top = _open_dir(pfd, base, work, path)
        if top is None:
            return work.left
        work.top = top
        last: OSError | None = None
        try:
            for _ in range(MAX_PASSES):
                before = (work.removed, work.moved, len(work.left))
                work.left.clear()
                _clear_pass(work)
                try:
                    os.rmdir(base, dir_fd=pfd)
                    return []
                except FileNotFoundError:
                    return []
                except OSError as exc:
                    last = exc
                if (work.removed, work.moved) == before[:2]:
                    break  # no progress: what is left stays
        finally:
            os.close(top)
        left = work.left or [f"{path}: {last.strerror if last else 'not removed'}"]
        more = f" (and {len(left) - SHOWN} more)" if len(left) > SHOWN else ""
        return [*left[:SHOWN - 1], left[SHOWN - 1] + more] if len(left) > SHOWN else left
    finally:
        os.close(pfd)


# ---------------------------------------------------------------- usage

@dataclass(frozen=True)
class Usage:
    """What a scratch tree holds, counted up to its limits."""

    bytes: int
    files: int
    depth: int
    over: str  # why it is over its limits, or ""


def usage(path: Path | str, max_bytes: int, max_files: int,
          max_depth: int = MAX_DEPTH) -> Usage:
    """Bytes (allocated blocks), entries and nesting of a live tree; stops at a limit."""
    total = files = deepest = 0
    try:
        top = os.open(os.fspath(path), _DIR_FLAGS)
    except OSError:
        return Usage(0, 0, 0, "")
    stack: list[tuple[int, list[str]]] = []
    try:
        stack.append((top, _listing(top)))
        while stack:
            fd, names = stack[-1]
            if not names:
                stack.pop()
                if stack:
                    os.close(fd)
                continue
            name = names.pop()
            files += 1
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                continue
            total += st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size
            over = _over(total, files, len(stack), max_bytes, max_files, max_depth)
            if over:
                return Usage(total, files, len(stack), over)
            if stat.S_ISDIR(st.st_mode):
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue
                stack.append((child, _listing(child)))
                deepest = max(deepest, len(stack) - 1)
        return Usage(total, files, deepest, "")
    finally:
        for fd, _ in stack:
            os.close(fd)
        if not stack:
            with contextlib.suppress(OSError):
                os.close(top)


def _listing(fd: int) -> list[str]:
    try:
        return os.listdir(fd)
    except OSError:
        return []


def _over(total: int, files: int, depth: int, max_bytes: int, max_files: int,
          max_depth: int) -> str:
    if total > max_bytes:
        return f"wrote more than {max_bytes >> 20} MiB to its scratch folder"
    if files > max_files:
        return f"made more than {max_files} files and folders in its scratch folder"
    if depth > max_depth:
        return f"nested folders more than {max_depth} levels deep in its scratch folder"
    return ""


def tmpfs_over(path: str, max_files: int) -> str:
    """Whether a size- and inode-limited tmpfs is full (a write was refused): no free
    block, or no free inode, in the box's own mount of its scratch."""
    try:
        st = os.statvfs(path)
    except OSError:
        return ""
    if st.f_blocks and st.f_bavail * st.f_frsize < 64 * 1024:
        return "filled its scratch folder (a write was refused: no space left)"
    if st.f_files and st.f_favail == 0:
        return f"made more than {max_files} files and folders in its scratch folder"
    return ""


# ---------------------------------------------------------------- leftovers

def hold(folder: Path) -> int:
    """Lock ``folder`` for as long as the returned descriptor stays open (a live box)."""
    fd = os.open(folder, _DIR_FLAGS)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def stale(root: Path, min_age: float = GRACE_SECONDS) -> Iterator[Path]:
    """Box folders under ``root`` that no live grader holds (leftovers of a dead one).

    A folder younger than ``min_age`` seconds is left alone: a grader may have made it and
    not locked it yet. A new root's mount point (``box-….root``) goes with its box."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return
    now = time.time()
    for name in names:
        if not name.startswith(("box-", "stage-")):
            continue
        path = root / name
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if now - st.st_ctime < min_age:
            continue
        if name.endswith(".root"):
            if not os.path.lexists(root / name[:-len(".root")]):
                yield path
            continue
        try:
            fd = os.open(path, _DIR_FLAGS)
        except OSError:
            yield path  # not a folder (or not ours to open): a leftover either way
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # held: a running box
        finally:
            os.close(fd)
        yield path


def sweep(root: Path, min_age: float = GRACE_SECONDS) -> list[str]:
    """Remove the leftovers under ``root``; what still could not be removed."""
    left: list[str] = []
    for path in stale(root, min_age):
        left += remove_tree(path)
    return left
