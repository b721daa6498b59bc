"""`grade doctor`: which sandbox layers this machine supports, and how to get the others."""

from __future__ import annotations

import os
import platform
import shutil
import sys
from dataclasses import dataclass

from harness.sandbox.platform import (
    SANDBOX_EXEC,
    Capabilities,
    capabilities,
    landlock_abi,
    make_grader_non_dumpable,
)

LEVELS = ("minimal", "seatbelt", "landlock", "namespaces", "strong")


@dataclass(frozen=True)
class Layer:
    """One isolation layer: whether it works here, why, and what would enable it."""

    name: str
    available: bool
    detail: str
    fix: str = ""


def level_at_least(level: str, required: str) -> bool:
    """Whether sandbox ``level`` meets ``required``
    (minimal < seatbelt < landlock < namespaces < strong)."""
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


def _cgroup_fix(feature: str, caps: Capabilities) -> str:
    if not sys.platform.startswith("linux"):
        return "Linux only: on macOS the RSS watchdog bounds memory instead"
    if os.environ.get("HARNESS_CGROUPS", "").lower() in ("off", "0", "no"):
        return "unset HARNESS_CGROUPS"
    if not caps.is_root and caps.cgroups.v2 is None:
        return ("run the grader as root, or delegate a cgroup v2 subtree to it and set "
                "HARNESS_CGROUP_PARENT to that folder")
    parent = caps.cgroups.v2
    controller = "memory" if feature == "memory" else "pids"
    if parent is not None and feature in ("memory", "pids"):
        try:
            offered = (parent / "cgroup.controllers").read_text().split()
        except OSError:
            offered = []
        if controller in offered:
            return f"enable it for boxes: echo +{controller} > {parent}/cgroup.subtree_control"
        return (f"the {controller} controller is bound to cgroup v1 on this host: boot with "
                "cgroup v2 only (systemd.unified_cgroup_hierarchy=1)")
    if feature == "kill":
        return "Linux >= 5.14 on cgroup v2 (boot with systemd.unified_cgroup_hierarchy=1)"
    return "mount cgroup v2 (boot with systemd.unified_cgroup_hierarchy=1) and run as root"


def _leftovers() -> Layer:
    """Box folders that a dead grader left (the next grading removes them; this says so)."""
    from harness.sandbox.box import leftovers

    found = leftovers()
    if not found:
        return Layer("no leftover box folders", True, "nothing left by earlier gradings")
    return Layer("no leftover box folders", False,
                 f"{len(found)} left by graders that stopped: " +
                 ", ".join(str(p) for p in found[:3]) + (" …" if len(found) > 3 else ""),
                 "the next grading removes them (they are retried at every start); "
                 "what stays is not the grader's to delete: remove it as root")


def diagnose() -> list[Layer]:
    """Probe every layer (namespaces are probed by running the child's real lockdown)."""
    caps = capabilities()
    linux = sys.platform.startswith("linux")
    x86 = linux and platform.machine() == "x86_64"
    abi = landlock_abi()
    plan = caps.cgroups
    layers = [
        Layer("process: own session, scrubbed environment, rlimits, output caps", True,
              "always on"),
        Layer("grader not dumpable (/proc/<grader>/mem unreadable)", make_grader_non_dumpable(),
              "prctl(PR_SET_DUMPABLE, 0)" if linux else "Linux only"),
        Layer("namespaces (bubblewrap-like): user, mount, PID, network; hidden paths covered; "
              "read-only tree", caps.namespaces, caps.reason,
              "" if caps.namespaces else _userns_fix()),
        Layer("strong: new root holding only an allow-list of read-only paths",
              caps.allow_list, caps.reason if caps.allow_list else
              "needs the namespaces layer and mount_setattr/pivot_root (Linux >= 5.12)",
              "" if caps.allow_list else "upgrade the kernel, or enable user namespaces"),
        Layer("Landlock: file-system allow-list without namespaces", abi > 0,
              (f"ABI {abi}; " + ("in use (no namespaces here)" if caps.landlock else
                                 "standing by: used where namespaces are refused"))
              if abi > 0 else "not in this kernel" if linux else "Linux only",
              "" if abi > 0 else "Linux >= 5.13 with landlock in the lsm= boot list"),
        Layer("seccomp filter: network sockets, ptrace, namespaces, mounts, bpf, io_uring", x86,
              "applied in every child before the submission loads (x86_64)" if x86
              else f"no filter for {platform.machine()}" if linux else "Linux only",
              "" if x86 else "write the syscall table for this architecture "
              "(harness/child/seccomp.py)"),
        Layer("dedicated uid per box (no capabilities, own process count, no kill or "
              "/proc/<pid>/mem reach)", caps.box_uids is not None and caps.is_root,
              caps.uid_reason, "" if caps.box_uids is not None else
              "unset HARNESS_BOX_UIDS" if caps.is_root else
              "run the grader as root (an instructor machine or a CI container)"),
        Layer("cgroup memory: memory.max per box, swap off, OOM kill of the whole box",
              plan.has("memory"), plan.note("memory") or "no cgroup",
              "" if plan.has("memory") else _cgroup_fix("memory", caps)),
        Layer("cgroup pids: per-box process limit that binds root (pids cgroup)",
              plan.has("pids"), plan.note("pids") or "no cgroup",
              "" if plan.has("pids") else _cgroup_fix("pids", caps)),
        Layer("cgroup kill: the whole box at once at teardown (cgroup.kill)", plan.has("kill"),
              plan.note("kill") or "no cgroup",
              "" if plan.has("kill") else _cgroup_fix("kill", caps)),
        Layer("cgroup CPU accounting: the box's CPU time in the result (cpu.stat)",
              plan.has("cpu"), plan.note("cpu") or "no cgroup",
              "" if plan.has("cpu") else _cgroup_fix("cpu", caps)),
        Layer("macOS Seatbelt: sandbox-exec profile (deny by default, no network)",
              caps.seatbelt is not None,
              f"{caps.seatbelt} -p <profile generated per box>" if caps.seatbelt else
              "macOS only" if sys.platform != "darwin" else f"no {SANDBOX_EXEC}",
              "" if caps.seatbelt else "not needed on Linux (namespaces or Landlock do this)"
              if linux else "sandbox-exec ships with macOS; check /usr/bin/sandbox-exec"),
        Layer("RSS watchdog: the grader stops a box past its resident-memory limit",
              caps.rss_watchdog,
              "polls the box's processes every 0.1 s" + (" (macOS ignores RLIMIT_AS)"
                                                         if sys.platform == "darwin" else "")
              if caps.rss_watchdog else "off: RLIMIT_AS" + (" and the memory cgroup"
                                                            if plan.has("memory") else "") +
              " bound memory here",
              "" if caps.rss_watchdog else "HARNESS_RSS_WATCHDOG=on"),
        Layer("scratch limits: each box's own size- and inode-limited tmpfs, gone with it",
              caps.namespaces,
              "tmpfs per box (the task's disk_mb and files), in the box's mount namespace"
              if caps.namespaces else "the grader's watchdog walks each box's scratch "
              "(size, files, depth) and stops it past a limit (verdict disk_limit)",
              "" if caps.namespaces else "enable the namespaces layer"),
        _leftovers(),
    ]
    if os.environ.get("HARNESS_SANDBOX"):
        layers.append(Layer("HARNESS_SANDBOX override", True,
                            f"HARNESS_SANDBOX={os.environ['HARNESS_SANDBOX']}"))
    return layers
