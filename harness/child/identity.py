"""Child side: become the box's own unprivileged user before the submission loads.

When the grader runs as root it hands each box a dedicated uid (see
:mod:`harness.sandbox.uids`). The child keeps root only as long as the lockdown needs it
(mounts, ``pivot_root``), then drops every capability and the bounding set, clears its
supplementary groups and switches real, effective and saved uid and gid.

An unprivileged uid must still reach the interpreter and the import path. Where a folder
on the way is closed to other users (``/root`` is mode 0700, and pyenv lives under it),
the child covers that folder, inside its private mount namespace, with a 0755 tmpfs
holding only the needed paths, bound back from handles opened before the cover.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

from harness.child import lockdown

CLONE_NEWNS = 0x20000
MS_REC, MS_PRIVATE = 16384, 1 << 18
PR_CAPBSET_DROP, PR_SET_DUMPABLE, PR_SET_PDEATHSIG = 24, 4, 1
SIGKILL = 9


def private_mounts(paths: list[str], uid: int, gid: int) -> dict[str, Any]:
    """Without the namespaces level: a private mount namespace only to open the way."""
    closed, unreadable = lockdown.blockers(paths, uid, gid)
    if unreadable:
        return {"reach_error": f"uid {uid} cannot read {unreadable[0]}"}
    if not closed:
        return {"reach": []}
    libc = lockdown._libc()
    if libc.unshare(CLONE_NEWNS) != 0:
        return {"reach_error": f"{closed[0]} is closed to uid {uid}, and no private mount "
                f"namespace to open it ({os.strerror(ctypes.get_errno())})"}
    # Never let the covers propagate back to the host's mount table.
    lockdown._check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make private")
    try:
        return {"reach": lockdown.open_the_way(paths, uid, gid)}
    except (OSError, lockdown.LockdownError) as exc:
        return {"reach_error": f"cannot open {closed[0]} to uid {uid}: {exc}"}


def _last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return 40


def _status(key: str) -> str:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    return ""


def become(uid: int, gid: int) -> dict[str, Any]:
    """Drop to ``uid``/``gid`` with no groups and no capabilities, for good.

    Raises :class:`lockdown.LockdownError` when any step fails: a child that was asked to
    drop must never go on as root.
    """
    libc = lockdown._libc()
    for cap in range(_last_cap() + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    try:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    except OSError as exc:
        raise lockdown.LockdownError(f"cannot become uid {uid}: {exc}") from None
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid) or \
            os.getgroups() or any(int(_status(k) or "0", 16) for k in ("CapEff", "CapPrm")):
        raise lockdown.LockdownError(f"uid {uid}: the drop did not take")
    # The uid change made the process non-dumpable, which hands /proc/self to root;
    # only the box's own uid could use the flag, and the seccomp filter refuses ptrace.
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    # The uid change also cleared the parent-death signal that ``unshare --kill-child``
    # set: re-arm it, or a child that left the process group would outlive ``unshare``.
    libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    return {"uid": uid, "gid": gid, "capabilities": "none",
            "bounding_set": int(_status("CapBnd") or "0", 16) == 0}
