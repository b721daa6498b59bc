"""Local executors for `grade batch`: a pool of warm grader workers, pinned to cores.

What is kept warm is the *grader* side: each worker process imports the harness,
pytest and NumPy once, probes the sandbox once, and then grades one job after another
exactly as `grade submit` does, through :func:`harness.grading.grade`. Every grading
still starts its own fresh ``python -I -m harness.child`` in new namespaces, with the
same lockdown and limits; nothing of one submission outlives its grading, so isolation
is the same as for a single `grade submit`. (A zygote that forks pre-imported sandbox
children was measured against this and left out: see ``docs/scaling.md``.)

Timing checks must never share a core. Each worker is pinned to its own core with
``sched_setaffinity`` before it starts any child, and the sandbox children inherit that
affinity and run with one BLAS thread; the grader and its child take turns (the
grader waits while the child computes). So with at most one worker per usable core,
no two timed calls ever run on the same core at once. Asking for more workers than
cores turns pinning off, and each result says so (``environment.batch.worker``).
"""

from __future__ import annotations

import os
import queue
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from multiprocessing.queues import Queue

from harness.batch import Outcome, Work
from harness.errors import HarnessError

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")

#: Set in each worker by :func:`_warm_up`: which core it is pinned to (None: not pinned).
_CORE: int | None = None


def usable_cores() -> list[int]:
    """The cores this process may run on (its affinity mask, else every CPU)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def default_workers() -> int:
    """One worker per usable core (see the module docstring for why not more)."""
    return len(usable_cores())


def grade_work(work: Work) -> Outcome:
    """Grade one job in this process; a harness error becomes the outcome's error."""
    from harness import grading

    label = f"pid {os.getpid()}" + (f", core {_CORE}" if _CORE is not None else ", unpinned")
    try:
        result = grading.grade(work.task, work.job.path, work.settings, mode=work.mode)
    except HarnessError as exc:
        return Outcome(work.job, None, exc.message, worker=label)
    return Outcome(work.job, result, worker=label)


def _warm_up(cores: Queue[int] | None) -> None:
    """Worker start: pin to a free core, one BLAS thread, import and probe once."""
    global _CORE
    if cores is not None:
        try:
            core = cores.get(timeout=5)
        except queue.Empty:
            core = None
        if core is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {core})
            _CORE = core
    for var in THREAD_VARS:
        os.environ[var] = "1"
    from harness import grading  # noqa: F401  (the import is the warm-up)
    from harness.sandbox.platform import capabilities

    capabilities()


class InProcess:
    """Grades one job after another in this process (``--workers 0``; tests)."""

    def grade(self, work: Sequence[Work]) -> Iterator[Outcome]:
        for item in work:
            yield grade_work(item)

    def close(self) -> None:
        pass


class WarmPool:
    """``workers`` warm grader processes, each pinned to its own core when they fit."""

    def __init__(self, workers: int | None = None, pin: bool = True) -> None:
        cores = usable_cores()
        self.workers = max(1, workers or default_workers())
        self.pinned = pin and self.workers <= len(cores) and hasattr(os, "sched_setaffinity")
        ctx = get_context("spawn")  # no grader state (threads, open DBs) forked into workers
        core_queue: Queue[int] | None = None
        if self.pinned:
            core_queue = ctx.Queue()
            # Leave core 0 (interrupts, this process) to last when there are spare cores.
            for core in (cores[1:] + cores[:1])[:self.workers]:
                core_queue.put(core)
        self.executor = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_warm_up,
                                            initargs=(core_queue,))

    def grade(self, work: Sequence[Work]) -> Iterator[Outcome]:
        futures: dict[Future[Outcome], Work] = {self.executor.submit(grade_work, w): w
                                                for w in work}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # a worker died: that job is lost, not the batch
                yield Outcome(futures[future].job, None, f"the grader worker failed: {exc!r}")

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
