"""The device a grading ran on, and the numerical stack around it.

Selection: ``auto`` picks CUDA, then MPS, then the CPU. Torch is imported only to probe
an accelerator for a task whose spec asks for one (``device = "cuda"``, ``"mps"``,
``"accelerator"`` or ``"any"``); for CPU tasks its presence is read from package
metadata, so the harness stays fast and works without it.

Where a task's accelerator is absent, its checks still run, on the CPU: the ``device``
fixture gives ``"cpu"``, and what a learner computes must be right there too. Only the
checks that mean nothing without the accelerator are skipped, with the reason. Task
authors mark those ``@pytest.mark.accelerator`` (a speed-up of the accelerator against
the CPU, say); nothing else in a task changes. A grading that cannot run at all is one
the learner asked for explicitly (``--device cuda`` on a machine without CUDA, or a
device the task does not run on), or an accelerator task on a machine without torch:
then every check is skipped with the reason. A result
whose every check was skipped scores nothing and is "not gradable on this machine"
(:attr:`harness.results.Result.gradable`), never 0 %.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ACCELERATORS = ("cuda", "mps")


@dataclass(frozen=True)
class Availability:
    """Which accelerators torch can use here (all False without torch)."""

    cuda: bool = False
    mps: bool = False
    names: tuple[tuple[str, str], ...] = ()
    torch: bool = False  # torch imports here: an accelerator task's code can run on the CPU

    def name(self, device: str) -> str:
        return dict(self.names).get(device, device)


@dataclass(frozen=True)
class Selection:
    """The device a grading uses; ``used`` is None when the task cannot run here.

    ``reason`` says why the task's own device is not used: with ``used`` None no check
    runs; with ``used == "cpu"`` for an accelerator task, the checks marked
    ``accelerator`` are skipped with it and the others run on the CPU.
    """

    requested: str
    task_device: str
    used: str | None
    name: str
    reason: str = ""

    def accelerator_skip(self) -> str:
        """Why a check marked ``accelerator`` does not run in this grading ("" if it runs)."""
        if self.used in ACCELERATORS:
            return ""
        return self.reason or ("this check needs an accelerator (CUDA or MPS), and this "
                               f"grading runs on {self.used or 'no device'}")


def probe_accelerators() -> Availability:
    """Ask torch what it can use; torch is imported here and only here."""
    if importlib.util.find_spec("torch") is None:
        return Availability()
    try:
        import torch
    except Exception:  # a broken torch install is "no accelerator", not a grading error
        return Availability()
    names: list[tuple[str, str]] = []
    cuda = bool(torch.cuda.is_available())
    if cuda:
        names.append(("cuda", str(torch.cuda.get_device_name(0))))
    mps_backend = getattr(torch.backends, "mps", None)
    mps = bool(mps_backend is not None and mps_backend.is_available())
    if mps:
        names.append(("mps", "Apple Metal (MPS)"))
    return Availability(cuda, mps, tuple(names), torch=True)


def select(requested: str, task_device: str,
           probe: Callable[[], Availability] = probe_accelerators) -> Selection:
    """Pick the device for a task: ``auto`` -> CUDA, then MPS, then CPU.

    ``requested`` is the ``--device`` flag (auto, cpu, cuda, mps); ``task_device`` the
    spec's ``device`` (cpu, any, cuda, mps, accelerator). CPU tasks run on the CPU
    whatever was requested, without probing (torch stays unimported). An accelerator task
    with no accelerator here (``auto``) or asked onto the CPU (``--device cpu``) runs on
    the CPU with a ``reason``: its ``accelerator`` checks are skipped. An explicit request
    that cannot be met, or an accelerator task where torch is missing, gives ``used`` None.
    """
    cpu = platform.processor() or platform.machine() or "cpu"
    if task_device == "cpu":
        return Selection(requested, task_device, "cpu", cpu)
    avail = probe()
    present = [d for d in ACCELERATORS if getattr(avail, d)]
    if requested == "auto":
        wanted = present if task_device in ("any", "accelerator") else \
            [d for d in present if d == task_device]
        if wanted:
            return Selection(requested, task_device, wanted[0], avail.name(wanted[0]))
        if task_device == "any":
            return Selection(requested, task_device, "cpu", cpu)
        if not avail.torch:
            return _without_torch(requested, task_device)
        return Selection(requested, task_device, "cpu", cpu,
                         f"this check needs {_needed(task_device)}, and none is available on "
                         "this machine; the task's other checks run on the CPU")
    if requested == "cpu":
        if task_device == "any":
            return Selection(requested, task_device, "cpu", cpu)
        if not avail.torch:
            return _without_torch(requested, task_device)
        return Selection(requested, task_device, "cpu", cpu,
                         f"this check needs {_needed(task_device)}, but --device cpu was "
                         "given; the task's other checks run on the CPU")
    if requested not in present:
        return Selection(requested, task_device, None, "",
                         f"--device {requested} was given, but {requested} is not available "
                         "on this machine")
    if task_device in ("any", "accelerator", requested):
        return Selection(requested, task_device, requested, avail.name(requested))
    return Selection(requested, task_device, None, "",
                     f"this task runs on {task_device}, but --device {requested} was given")


def _needed(task_device: str) -> str:
    return "an accelerator (CUDA or MPS)" if task_device == "accelerator" else task_device


def _without_torch(requested: str, task_device: str) -> Selection:
    """An accelerator task where torch is missing: its code cannot run even on the CPU."""
    return Selection(requested, task_device, None, "",
                     f"this task needs {_needed(task_device)} and torch, and torch is not "
                     "installed on this machine")


def blas_pools() -> list[dict[str, Any]]:
    """The grader's BLAS thread pools (threadpoolctl): library, version, threads, kernel."""
    try:
        from threadpoolctl import threadpool_info

        return [{k: p.get(k) for k in ("internal_api", "version", "num_threads",
                                       "architecture")}
                for p in threadpool_info() if p.get("user_api") == "blas"]
    except Exception:  # threadpoolctl inspects shared libraries; never fail a grading on it
        return []


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def describe(requested: str = "auto", selection: Selection | None = None) -> dict[str, Any]:
    """Device and library versions for the result document."""
    info: dict[str, Any] = {
        "requested": requested,
        "used": selection.used if selection is not None else "cpu",
        "name": selection.name if selection is not None else platform.machine(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "torch": _version("torch"),
        "child_threads": 1,
    }
    if selection is not None and selection.reason:
        info["unavailable"] = selection.reason
    info["blas"] = blas_pools()
    return info
