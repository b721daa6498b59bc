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

from harness.sandbox import cgroups, uids
from harness.sandbox.cgroups import CgroupPlan

PR_SET_DUMPABLE = 4
UNSHARE_ARGS = ("--user", "--map-root-user", "--net", "--mount", "--pid", "--fork",
                "--kill-child", "--mount-proc")
#: As real root with a dedicated uid: no user namespace, the child drops to its uid itself.
ROOT_UNSHARE_ARGS = UNSHARE_ARGS[2:]
SANDBOX_EXEC = "/usr/bin/sandbox-exec"


@dataclass(frozen=True)
class Capabilities:
    """Which isolation primitives work here."""

    namespaces: bool
    unshare: str | None
    cgroups: CgroupPlan
    is_root: bool
    reason: str
    allow_list: bool = False
    landlock: bool = False
    box_uids: tuple[int, int] | None = None  # (first, count): a dedicated uid per box
    uid_reason: str = ""
    seatbelt: str | None = None  # macOS: the sandbox-exec to launch the child with
    rss_watchdog: bool = False  # the grader polls the child's resident memory

    @property
    def level(self) -> str:
        """``strong`` (new root from an allow-list), ``namespaces``, ``landlock``,
        ``seatbelt`` (macOS) or ``minimal``."""
        if self.namespaces:
            return "strong" if self.allow_list else "namespaces"
        if self.landlock:
            return "landlock"
        return "seatbelt" if self.seatbelt else "minimal"

    @property
    def unshare_args(self) -> tuple[str, ...]:
        """Without a user namespace when the child drops to a dedicated uid itself."""
        return ROOT_UNSHARE_ARGS if self.box_uids and self.is_root else UNSHARE_ARGS

    @property
    def pids_cgroup(self) -> Path | None:
        """The folder box pids groups are made in (None: no pids cgroup)."""
        if "pids" in self.cgroups.v2_controllers:
            return self.cgroups.v2
        return dict(self.cgroups.v1).get("pids")


def make_grader_non_dumpable() -> bool:
    """Forbid same-user processes from reading the grader's memory via /proc (Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _probe_namespaces(unshare: str, allow_list: bool,
                      drop: bool = False) -> tuple[bool, str]:
    """Run the child's real lockdown once in a throwaway box (as real root without a user
    namespace when ``drop``: the lockdown then leaves the locking to the uid drop)."""
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
                "json.loads(sys.argv[3]), json.loads(sys.argv[4])); "
                "open(sys.argv[1] + '/ok', 'w').close()")
        args = ROOT_UNSHARE_ARGS if drop else UNSHARE_ARGS
        proc = subprocess.run([unshare, *args, sys.executable, "-I", "-c", code, scratch,
                               new_root or "", json.dumps(paths() if allow_list else None),
                               json.dumps([65534, 65534] if drop else None)],
                              capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        if proc.returncode == 0 and os.path.exists(os.path.join(scratch, "ok")):
            return True, ("new root from an allow-list, " if allow_list else "") + \
                ("mount, PID and network namespaces (as root, then a dedicated uid)" if drop
                 else "user, mount, PID and network namespaces")
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        return False, f"namespaces unavailable: {err[-1] if err else proc.returncode}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"namespaces unavailable: {exc}"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _box_uids(is_root: bool) -> tuple[tuple[int, int] | None, str]:
    """The dedicated uid range for boxes, or why the child keeps the grader's user."""
    if not sys.platform.startswith("linux"):
        return None, "Linux only here: the child runs as the grader's user"
    if not is_root:
        return None, "the grader is not root: the child runs as the grader's own user"
    try:
        found = uids.uid_range()
    except ValueError as exc:
        return None, str(exc)
    if found is None:
        return None, "turned off by HARNESS_BOX_UIDS=off: the child stays root (in a user " \
            "namespace where there is one)"
    first, count = found
    return found, f"uids {first}-{first + count - 1}, one per live box (locks in " \
        f"{uids.lock_dir()})"


def _seatbelt() -> str | None:
    """macOS's ``sandbox-exec``, where this is macOS and it is installed."""
    return SANDBOX_EXEC if sys.platform == "darwin" and os.path.exists(SANDBOX_EXEC) else None


def _rss_watchdog() -> bool:
    """Poll resident memory: on by default on macOS (it ignores RLIMIT_AS), else opt-in."""
    raw = os.environ.get("HARNESS_RSS_WATCHDOG", "").lower()
    if raw in ("1", "on", "yes"):
        return True
    if raw in ("0", "off", "no"):
        return False
    return sys.platform == "darwin"


@functools.cache
def capabilities() -> Capabilities:
    """Probe once: namespaces via ``unshare``, cgroups, a dedicated uid, root or not."""
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    unshare = shutil.which("unshare") if sys.platform.startswith("linux") else None
    wanted = os.environ.get("HARNESS_SANDBOX", "auto")
    box_uids, uid_reason = _box_uids(is_root)
    drop = box_uids is not None
    strong = False
    if wanted in ("process", "landlock"):
        ok, reason = False, f"namespaces disabled by HARNESS_SANDBOX={wanted}"
    elif unshare is None:
        ok, reason = False, "no `unshare` on this platform"
    else:
        strong, reason = (_probe_namespaces(unshare, True, drop) if wanted != "namespaces"
                          else (False, ""))
        ok = strong
        if not strong:
            ok, reason = _probe_namespaces(unshare, False, drop)
    if sys.platform.startswith("linux"):
        layout = cgroups.plan()
    else:
        layout = cgroups.CgroupPlan(notes=tuple((f, "Linux only") for f in cgroups.FEATURES))
    landlock = not ok and wanted != "process" and landlock_abi() > 0
    if landlock:
        reason += f"; Landlock ABI {landlock_abi()} restricts the file system instead"
    seatbelt = _seatbelt() if wanted != "process" else None
    if seatbelt:
        reason += "; macOS Seatbelt profile (sandbox-exec)"
    return Capabilities(ok, unshare if ok else None, layout, is_root, reason, strong, landlock,
                        box_uids, uid_reason, seatbelt, _rss_watchdog())


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
    return len(uids.processes_of(uid, zombies=True))
