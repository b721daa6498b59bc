"""`grade doctor`: which sandbox layers this machine supports, and how to get the others."""

from __future__ import annotations

import os
import platform
import shutil
import sys
from dataclasses import dataclass

from harness.sandbox.platform import capabilities, make_grader_non_dumpable

LEVELS = ("minimal", "landlock", "namespaces", "strong")


@dataclass(frozen=True)
class Layer:
    """One isolation layer: whether it works here, why, and what would enable it."""

    name: str
    available: bool
    detail: str
    fix: str = ""


def level_at_least(level: str, required: str) -> bool:
    """Whether sandbox ``level`` meets ``required`` (minimal < namespaces < strong)."""
    return LEVELS.index(level) >= LEVELS.index(required)


def _userns_fix() -> str:
    for path, value in (("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "0"),
                        ("/proc/sys/kernel/unprivileged_userns_clone", "1")):
        try:
            with open(path) as fh:
                if fh.read().strip() != value:
                    return f"sudo sysctl -w {path[len('/proc/sys/'):].replace('/', '.')}={value}"
        except OSError:
            continue
    if shutil.which("unshare") is None:
        return "install util-linux (it provides `unshare`)"
    return "enable unprivileged user namespaces (see the kernel's user_namespaces(7))"


def diagnose() -> list[Layer]:
    """Probe every layer (namespaces are probed by running the child's real lockdown)."""
    caps = capabilities()
    linux = sys.platform.startswith("linux")
    layers = [
        Layer("process: own session, scrubbed environment, rlimits, output caps", True,
              "always on"),
        Layer("grader not dumpable (/proc/<grader>/mem unreadable)", make_grader_non_dumpable(),
              "prctl(PR_SET_DUMPABLE, 0)" if linux else "Linux only"),
        Layer("namespaces: user, mount, PID, network; hidden paths covered; read-only tree",
              caps.namespaces, caps.reason, "" if caps.namespaces else _userns_fix()),
        Layer("seccomp filter: network sockets, ptrace, namespaces, mounts, bpf, io_uring",
              linux and platform.machine() == "x86_64",
              "applied in every child before the submission loads (x86_64)" if linux and
              platform.machine() == "x86_64" else f"no filter for {platform.machine()}",
              "" if linux and platform.machine() == "x86_64" else
              "write the syscall table for this architecture (harness/child/seccomp.py)"),
        Layer("strong: new root holding only an allow-list of read-only paths",
              caps.allow_list, caps.reason if caps.allow_list else
              "needs the namespaces layer and mount_setattr/pivot_root (Linux >= 5.12)",
              "" if caps.allow_list else "upgrade the kernel, or enable user namespaces"),
        Layer("process limit that binds root: per-box pids cgroup", caps.pids_cgroup is not None,
              str(caps.pids_cgroup) if caps.pids_cgroup else
              ("not root: RLIMIT_NPROC is used instead, which binds a normal user"
               if not caps.is_root else "no writable pids cgroup"),
              "" if caps.pids_cgroup or not caps.is_root else
              "delegate a cgroup with the pids controller to the grader"),
    ]
    if sys.platform == "darwin":
        layers.append(Layer("macOS sandbox-exec profile", False,
                            "profile generation exists (harness.sandbox.macos); not yet wired "
                            "into the launcher", "use a Linux machine for graded runs"))
    if os.environ.get("HARNESS_SANDBOX"):
        layers.append(Layer("HARNESS_SANDBOX override", True,
                            f"HARNESS_SANDBOX={os.environ['HARNESS_SANDBOX']}"))
    return layers
