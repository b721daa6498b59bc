"""`grade batch --dask` / `--scheduler`: the same gradings as Dask distributed tasks.

Each grading is one Dask task. What it needs travels with it as bytes, so workers
need no shared storage and no access to this machine's files: the task's folder and
its reference (shipped once per task with ``scatter`` and reused by every grading of
that task) and the staged submission (inline, at most a few MiB after the caps of
:func:`harness.submissions.stage`). A worker writes them into a private temporary
folder, grades exactly as `grade submit` does (fresh sandboxed child, same limits),
deletes the folder and returns the result document. Results come back here, and only
here are they written to the history, the ledger and ``results/``.

Trust: hidden tests and references go to the workers, so the cluster must be the
instructor's, as trusted as this machine. Workers need the harness (same version)
installed and Linux user namespaces for the full sandbox; run them with one thread
each (``dask worker --nthreads 1``): the in-grader pytest run is not thread-safe, so a
worker with more threads still grades one job at a time (a lock below).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from harness.batch import Mode, Outcome, Work
from harness.errors import HarnessError, UsageError

Files = dict[str, bytes]
_ONE_AT_A_TIME = threading.Lock()


def read_tree(root: Path, prefix: str) -> Files:
    """Regular files under ``root`` (no links, no caches) keyed ``prefix/relative/path``."""
    out: Files = {}
    if not root.is_dir():
        return out
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        for name in files:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                out[f"{prefix}/{path.relative_to(root).as_posix()}"] = path.read_bytes()
    return out


def write_tree(files: Files, root: Path) -> None:
    """Write shipped files under ``root``, refusing any path that would leave it."""
    for name, data in files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"refusing to write {name!r} outside the job folder")
        dest = root.joinpath(*rel.parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)


def pack_of(work: Work) -> Files:
    """The task folder and its reference, as shipped to the workers."""
    reference = work.settings.reference.value / work.task.id
    return {**read_tree(work.task.root, f"tasks/{work.task.id}"),
            **read_tree(reference, f"reference/{work.task.id}")}


def submission_of(work: Work) -> tuple[Files, str]:
    """The staged submission (the grader's capped, regular-file copy) and its entry path."""
    from harness import submissions
    from harness.sandbox.box import boxes_root

    sub = submissions.locate(work.task, work.job.path, work.job.path.parent)
    staged = submissions.stage(sub, boxes_root())
    try:
        if sub.format in ("module", "notebook"):  # one file, under the staged name
            return {f"submission/{sub.entry}": (staged / sub.entry).read_bytes()}, \
                f"submission/{sub.entry}"
        return read_tree(staged, "submission/solution"), "submission/solution"
    finally:
        submissions.unstage(staged)


def grade_shipped(task_id: str, pack: Files, submission: Files, entry: str,
                  mode: Mode) -> dict[str, Any]:
    """Run on a worker: rebuild the job in a temporary folder, grade it, return the document.

    Returns ``{"result": <result document>}`` or ``{"error": <harness error message>}``.
    """
    from harness import grading, tasks
    from harness.settings import Setting, Settings

    with _ONE_AT_A_TIME:
        root = Path(tempfile.mkdtemp(prefix="harness-job-"))
        try:
            write_tree(pack, root)
            write_tree(submission, root / "workspace")
            source = "shipped with the Dask job"
            settings = Settings(
                workspace=Setting(root / "workspace", source),
                tasks=Setting(root / "tasks", source),
                reference=Setting(root / "reference", source),
                history=Setting(root / "workspace" / ".harness" / "history.sqlite", source))
            try:
                task = tasks.load_task(root / "tasks", task_id)
                result = grading.grade(task, root / "workspace" / entry, settings, mode=mode)
            except HarnessError as exc:
                return {"error": exc.message}
            return {"result": result.to_dict(), "worker": f"dask pid {os.getpid()}"}
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _pin_local_worker(core: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})


class DaskCluster:
    """Grades work on a Dask cluster: a scheduler address, or a LocalCluster when None."""

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise UsageError("Dask distributed is not installed",
                             hint="pip install 'ml-harness[dask]'") from None
        from harness.pool import usable_cores

        self.local: Any = None
        if address:
            self.client: Any = Client(address)  # type: ignore[no-untyped-call]  # untyped lib
        else:
            cores = usable_cores()
            n = max(1, workers or len(cores))
            self.local = LocalCluster(  # type: ignore[no-untyped-call]  # untyped lib
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
            self.client = Client(self.local)  # type: ignore[no-untyped-call]  # untyped lib
            if n <= len(cores):  # the same rule as the local pool: one core each
                for addr, core in zip(sorted(self.client.scheduler_info()["workers"]), cores,
                                      strict=False):
                    self.client.run(_pin_local_worker, core, workers=[addr])

    def grade(self, work: Sequence[Work]) -> Iterator[Outcome]:
        from distributed import as_completed

        packs: dict[str, Any] = {}
        futures: dict[Any, Work] = {}
        for item in work:
            if item.task.id not in packs:
                packs[item.task.id] = self.client.scatter([pack_of(item)])[0]
            try:
                files, entry = submission_of(item)
            except HarnessError as exc:
                yield Outcome(item.job, None, exc.message)
                continue
            future = self.client.submit(grade_shipped, item.task.id, packs[item.task.id],
                                        files, entry, item.mode, pure=False)
            futures[future] = item
        for future in as_completed(list(futures)):  # type: ignore[no-untyped-call]
            item = futures[future]
            try:
                reply = future.result()
            except Exception as exc:  # the worker died or the task failed: this job only
                yield Outcome(item.job, None, f"the Dask task failed: {exc!r}")
                continue
            if "error" in reply:
                yield Outcome(item.job, None, str(reply["error"]))
                continue
            from harness.results import result_from_dict

            result = replace(result_from_dict(reply["result"]), submission=str(item.job.path))
            yield Outcome(item.job, result, worker=str(reply.get("worker", "dask")))

    def close(self) -> None:
        self.client.close()
        if self.local is not None:
            self.local.close()
