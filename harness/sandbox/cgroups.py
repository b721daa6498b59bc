"""Per-box control groups: a memory limit, a process limit, CPU time and a whole-box kill.

Probed once per grader (:func:`plan`): cgroup v2 first (one folder per box under the v2
root, or under ``HARNESS_CGROUP_PARENT``), with the controllers its parent enables for
children (``memory``, ``pids``, ``cpu``) and the core files every v2 group has
(``cgroup.kill``, ``cpu.stat``). Controllers missing there come from a cgroup v1 hierarchy
(a group at its top, as for v2), except memory where the grader's own memory group is
not the top: a box group there would leave the memory accounting and limits of whoever
manages the grader's group. Nothing is enabled or moved on the host; what is missing
is reported with the reason (``grade doctor`` prints it). ``HARNESS_CGROUPS=off`` turns
the layer off.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

CGROUP_FS = Path("/sys/fs/cgroup")
V2_CONTROLLERS = ("memory", "pids", "cpu")
V1_CONTROLLERS = ("memory", "pids", "cpuacct")
FEATURES = ("memory", "pids", "cpu", "kill")


@dataclass(frozen=True)
class CgroupPlan:
    """Where boxes get their control groups, and why a feature is missing."""

    v2: Path | None = None
    v2_controllers: frozenset[str] = frozenset()
    v1: tuple[tuple[str, Path], ...] = ()
    notes: tuple[tuple[str, str], ...] = ()
    kill_file: bool = False  # v2 groups have ``cgroup.kill`` (Linux >= 5.14)

    def has(self, feature: str) -> bool:
        """Whether boxes get ``feature``: memory, pids, cpu (accounting) or kill."""
        v1 = {c for c, _ in self.v1}
        if feature == "cpu":
            return self.v2 is not None or "cpuacct" in v1
        if feature == "kill":
            return self.v2 is not None and self.kill_file
        return feature in self.v2_controllers or feature in v1

    def note(self, feature: str) -> str:
        """Where the feature comes from, or why it is missing."""
        return dict(self.notes).get(feature, "")

    @property
    def active(self) -> bool:
        return self.v2 is not None or bool(self.v1)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _own_groups() -> tuple[str | None, dict[str, str]]:
    """The grader's v2 group path and its v1 group per controller (/proc/self/cgroup)."""
    v2: str | None = None
    v1: dict[str, str] = {}
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            v2 = parts[2]
        for name in parts[1].split(","):
            if name:
                v1[name] = parts[2]
    return v2, v1


def _can_create(parent: Path) -> tuple[str, bool]:
    """Try to create and remove a group under ``parent``: ('' when it worked, whether the
    group had ``cgroup.kill``)."""
    probe = parent / f"harness-probe-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        probe.mkdir()
    except OSError as exc:
        return f"cannot create a group in {parent}: {exc.strerror}", False
    kill = (probe / "cgroup.kill").exists()
    with contextlib.suppress(OSError):
        probe.rmdir()
    return "", kill


def v2_root(base: Path = CGROUP_FS) -> Path | None:
    """The cgroup v2 mount: the whole tree (unified) or ``unified/`` (hybrid hosts)."""
    for path in (base, base / "unified"):
        if (path / "cgroup.controllers").exists():
            return path
    return None


def plan(base: Path = CGROUP_FS) -> CgroupPlan:
    """Probe which cgroup features boxes can get on this machine."""
    if os.environ.get("HARNESS_CGROUPS", "").lower() in ("off", "0", "no"):
        reason = "turned off by HARNESS_CGROUPS=off"
        return CgroupPlan(notes=tuple((f, reason) for f in FEATURES))
    notes: dict[str, str] = {}
    root = v2_root(base)
    parent: Path | None = None
    controllers: frozenset[str] = frozenset()
    kill = False
    override = os.environ.get("HARNESS_CGROUP_PARENT")
    if root is None:
        notes["kill"] = notes["cpu"] = "no cgroup v2 hierarchy is mounted"
    else:
        candidate = Path(override) if override else root
        problem = "" if (candidate / "cgroup.procs").exists() else \
            f"{candidate} is not a cgroup v2 folder"
        if not problem:
            problem, kill = _can_create(candidate)
        if problem:
            notes["kill"] = notes["cpu"] = problem
        else:
            parent = candidate
            enabled = set(_read(parent / "cgroup.subtree_control").split())
            offered = set(_read(parent / "cgroup.controllers").split())
            controllers = frozenset(enabled & set(V2_CONTROLLERS))
            notes["kill"] = f"cgroup.kill (cgroup v2, {parent})" if kill \
                else "no cgroup.kill (Linux < 5.14): every member gets SIGKILL instead"
            notes["cpu"] = f"cpu.stat usage_usec (cgroup v2, {parent})"
            for name in ("memory", "pids"):
                if name in controllers:
                    notes[name] = f"cgroup v2 {parent}"
                elif name in offered:
                    notes[name] = (f"the v2 {name} controller is not enabled for children of "
                                   f"{parent}")
                else:
                    notes[name] = (f"the {name} controller is not in cgroup v2 here "
                                   f"({parent} offers: {' '.join(sorted(offered)) or 'none'})")
    v1: list[tuple[str, Path]] = []
    _, own_v1 = _own_groups()
    for name in V1_CONTROLLERS:
        feature = "cpu" if name == "cpuacct" else name
        if feature in controllers or (feature == "cpu" and parent is not None):
            continue
        hierarchy = base / name
        if not (hierarchy / "cgroup.procs").exists() or name not in own_v1:
            continue
        if name == "memory" and own_v1[name] != "/":
            notes[feature] = (f"{notes.get(feature, 'no cgroup v2 ' + feature)}; on cgroup v1 "
                              f"this grader's memory is accounted to {own_v1[name]}, a group "
                              f"managed by someone else (a box group at the top would leave it)")
            continue
        problem, _ = _can_create(hierarchy)
        if problem:
            notes[feature] = f"{notes.get(feature, '')}; cgroup v1: {problem}".lstrip("; ")
            continue
        v1.append((name, hierarchy))
        notes[feature] = f"cgroup v1 {hierarchy}"
    return CgroupPlan(parent, controllers, tuple(v1), tuple(sorted(notes.items())), kill)


def _write(path: Path, value: str) -> None:
    path.write_text(value)


class BoxCgroup:
    """One box's groups: limits written at creation, members killed and removed at the end."""

    def __init__(self, layout: CgroupPlan, memory_bytes: int, processes: int) -> None:
        name = f"harness-{uuid.uuid4().hex[:12]}"
        self.layout = layout
        self.dirs: list[Path] = []
        self.limits: dict[str, str] = {}
        self.v2: Path | None = None
        self.v1: dict[str, Path] = {}
        self.cpu_seconds: float | None = None
        try:
            if layout.v2 is not None:
                self.v2 = layout.v2 / name
                self._make(self.v2)
                self.dirs.append(self.v2)
                if "memory" in layout.v2_controllers and memory_bytes:
                    self._set(self.v2, "memory.max", str(memory_bytes))
                    self._set(self.v2, "memory.swap.max", "0", optional=True)
                    self._set(self.v2, "memory.oom.group", "1", optional=True)
                if "pids" in layout.v2_controllers and processes:
                    self._set(self.v2, "pids.max", str(processes))
            for controller, parent in layout.v1:
                path = parent / name
                self._make(path)
                self.dirs.append(path)
                self.v1[controller] = path
                if controller == "memory" and memory_bytes:
                    self._set(path, "memory.limit_in_bytes", str(memory_bytes))
                    self._set(path, "memory.memsw.limit_in_bytes", str(memory_bytes),
                              optional=True)
                elif controller == "pids" and processes:
                    self._set(path, "pids.max", str(processes))
        except OSError:
            self.destroy()
            raise

    def _make(self, path: Path) -> None:
        path.mkdir()  # the kernel fills the new folder with the group's files

    def _set(self, folder: Path, key: str, value: str, optional: bool = False) -> None:
        if optional and not (folder / key).exists():
            return
        _write(folder / key, value)
        self.limits[key] = value

    def members(self) -> list[int]:
        """Every process in any of the box's groups."""
        pids: set[int] = set()
        for folder in self.dirs:
            pids.update(int(x) for x in _read(folder / "cgroup.procs").split() if x.isdigit())
        return sorted(pids)

    def kill(self) -> None:
        """SIGKILL the whole box at once (``cgroup.kill``), else each member."""
        if self.v2 is not None and (self.v2 / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                _write(self.v2 / "cgroup.kill", "1")
        for pid in self.members():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer stopped a process of the box (memory limit)."""
        for path in ([self.v2 / "memory.events"] if self.v2 else []) + \
                ([self.v1["memory"] / "memory.oom_control"] if "memory" in self.v1 else []):
            for line in _read(path).splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip().isdigit() and int(value) > 0:
                    return True
        return False

    def read_cpu_seconds(self) -> float | None:
        """CPU time used by every process of the box so far (user + system)."""
        if self.v2 is not None:
            for line in _read(self.v2 / "cpu.stat").splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec" and value.strip().isdigit():
                    return int(value) / 1e6
        if "cpuacct" in self.v1:
            value = _read(self.v1["cpuacct"] / "cpuacct.usage").strip()
            if value.isdigit():
                return int(value) / 1e9
        return None

    def destroy(self) -> bool:
        """Record CPU time, kill every member, remove the groups; True when none survived."""
        if self.cpu_seconds is None:
            self.cpu_seconds = self.read_cpu_seconds()
        for _ in range(100):
            if not self.members():
                break
            self.kill()
            threading.Event().wait(0.02)
        survivors = self.members()
        for folder in reversed(self.dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()
        return not survivors
