"""What isolation this machine offers, probed once per grader process."""

from __future__ import annotations

import ctypes
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

PR_SET_DUMPABLE = 4
UNSHARE_ARGS = ("--user", "--map-root-user", "--net", "--mount", "--pid", "--fork",
                "--kill-child", "--mount-proc")


@dataclass(frozen=True)
class Capabilities:
    """Which isolation primitives work here."""

    namespaces: bool
    unshare: str | None
    pids_cgroup: Path | None
    is_root: bool
    reason: str
    allow_list: bool = False
    landlock: bool = False

    @property
    def level(self) -> str:
        """``strong`` (new root from an allow-list), ``namespaces`` or ``minimal``."""
        if self.namespaces:
            return "strong" if self.allow_list else "namespaces"
        return "landlock" if self.landlock else "minimal"


def make_grader_non_dumpable() -> bool:
    """Forbid same-user processes from reading the grader's memory via /proc (Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _probe_namespaces(unshare: str, allow_list: bool) -> tuple[bool, str]:
    """Run the child's real lockdown once in a throwaway box."""
    from harness.sandbox.layout import allow_list as paths

    root = tempfile.mkdtemp(prefix="harness-probe-")
    try:
        scratch = os.path.join(root, "box")
        os.mkdir(scratch)
        new_root = os.path.join(root, "root") if allow_list else None
        if new_root:
            os.mkdir(new_root)
        code = ("import json, sys; from harness.child import lockdown; "
                "lockdown.close_namespaces(sys.argv[1], None, [], sys.argv[2] or None, "
                "json.loads(sys.argv[3])); open(sys.argv[1] + '/ok', 'w').close()")
        proc = subprocess.run([unshare, *UNSHARE_ARGS, sys.executable, "-I", "-c", code, scratch,
                               new_root or "", json.dumps(paths() if allow_list else None)],
                              capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        if proc.returncode == 0 and os.path.exists(os.path.join(scratch, "ok")):
            return True, ("new root from an allow-list, " if allow_list else "") + \
                "user, mount, PID and network namespaces"
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        return False, f"namespaces unavailable: {err[-1] if err else proc.returncode}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"namespaces unavailable: {exc}"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _pids_cgroup() -> Path | None:
    """A cgroup folder where the grader may create per-box process limits (root only)."""
    for base in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        if (base / "cgroup.procs").exists() and os.access(base, os.W_OK):
            if base.name != "pids" and "pids" not in _read(base / "cgroup.subtree_control"):
                continue
            return base
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@functools.cache
def capabilities() -> Capabilities:
    """Probe once: namespaces via ``unshare``, a writable pids cgroup, root or not."""
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    unshare = shutil.which("unshare") if sys.platform.startswith("linux") else None
    wanted = os.environ.get("HARNESS_SANDBOX", "auto")
    strong = False
    if wanted in ("process", "landlock"):
        ok, reason = False, f"namespaces disabled by HARNESS_SANDBOX={wanted}"
    elif unshare is None:
        ok, reason = False, "no `unshare` on this platform"
    else:
        strong, reason = (_probe_namespaces(unshare, True) if wanted != "namespaces"
                          else (False, ""))
        ok = strong
        if not strong:
            ok, reason = _probe_namespaces(unshare, False)
    cgroup = _pids_cgroup() if is_root else None
    landlock = not ok and wanted != "process" and landlock_abi() > 0
    if landlock:
        reason += f"; Landlock ABI {landlock_abi()} restricts the file system instead"
    return Capabilities(ok, unshare if ok else None, cgroup, is_root, reason, strong, landlock)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0 when unavailable)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        return max(0, int(libc.syscall(444, None, 0, 1)))
    except (OSError, AttributeError):
        return 0


def count_user_processes(uid: int) -> int:
    """How many processes ``uid`` has now (RLIMIT_NPROC counts all of them)."""
    n = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        n += int(line.split()[1]) == uid
                        break
        except OSError:
            continue
    return n
