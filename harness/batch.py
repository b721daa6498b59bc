"""`grade batch`: grade a whole cohort, resumably, on a local pool or a Dask cluster.

Flow: find the jobs (a ``learner/<phase>/<name>`` tree or a CSV manifest), key each
one by what it grades (:class:`harness.ledger.Key`), skip the keys the ledger says are
finished, hand the rest to an executor (:mod:`harness.pool` locally,
:mod:`harness.cluster` on Dask), and, in this process only, record each result in the
history, the ledger and ``results/``. Afterwards: the per-learner and per-task
summary, ``gradebook.csv`` and, when :mod:`harness.report` is installed,
``cohort.html``.

Each grading runs in its own sandbox with its own limits, so a submission that hangs,
crashes or exhausts memory gets its verdict and the batch goes on.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import harness
from harness import clock, history, ledger, results, submissions, tasks
from harness.errors import HarnessError, UsageError
from harness.results import Result
from harness.settings import Settings

Mode = Literal["submit", "check"]
_SAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


@dataclass(frozen=True)
class Job:
    """One submission of one learner for one task."""

    learner: str
    task_id: str
    path: Path


@dataclass(frozen=True)
class Work:
    """A job ready to grade: the loaded task and the settings the grader uses."""

    job: Job
    task: tasks.Task
    settings: Settings
    mode: Mode = "submit"


@dataclass(frozen=True)
class Outcome:
    """What became of one job: its result, or why the harness could not grade it."""

    job: Job
    result: Result | None
    error: str = ""
    resumed: bool = False
    worker: str = ""

    @property
    def failing(self) -> bool:
        r = self.result
        return r is None or r.verdict != "graded" or r.score < r.max_score


class Executor(Protocol):
    """Grades work items somewhere and yields their outcomes as they finish."""

    def grade(self, work: Sequence[Work]) -> Iterator[Outcome]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class BatchReport:
    """Every outcome of the batch (resumed ones included) and the files written."""

    outcomes: tuple[Outcome, ...]
    graded_now: int
    resumed: int
    outputs: tuple[Path, ...]


# ------------------------------------------------------------------ finding jobs


def discover(root: Path) -> list[Job]:
    """Jobs of a ``<learner>/<phase>/<name>.py|.ipynb|<name>/`` tree."""
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder",
                         hint="pass the folder holding one sub-folder per learner")
    jobs = []
    for learner in sorted(p for p in root.iterdir() if p.is_dir() and _visible(p)):
        for phase in sorted(p for p in learner.iterdir() if p.is_dir() and _visible(p)):
            for entry in sorted(p for p in phase.iterdir() if _visible(p)):
                if entry.is_dir():
                    jobs.append(Job(learner.name, f"{phase.name}/{entry.name}", entry))
                elif entry.suffix in (".py", ".ipynb"):
                    jobs.append(Job(learner.name, f"{phase.name}/{entry.stem}", entry))
    return _one_per_task(jobs)


def _visible(p: Path) -> bool:
    return not p.name.startswith((".", "_"))


def _one_per_task(jobs: list[Job]) -> list[Job]:
    """A learner with both ``name.py`` and ``name.ipynb`` is graded on the module."""
    chosen: dict[tuple[str, str], Job] = {}
    for job in jobs:
        key = (job.learner, job.task_id)
        if key not in chosen or chosen[key].path.suffix == ".ipynb":
            chosen[key] = job
    return list(chosen.values())


def read_manifest(path: Path) -> list[Job]:
    """Jobs of a CSV manifest with columns ``learner,task,path`` (paths relative to it)."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise UsageError(f"cannot read the manifest {path}: {exc}") from None
    jobs = []
    for n, row in enumerate(rows, start=2):
        learner, task_id, where = (str(row.get(k) or "").strip() for k in
                                   ("learner", "task", "path"))
        if not (learner and task_id and where):
            raise UsageError(f"{path}:{n}: a row needs learner, task and path",
                             hint="the first line must be the header learner,task,path")
        jobs.append(Job(learner, task_id, (path.parent / where).resolve()))
    return jobs


# ------------------------------------------------------------------ keys


def content_sha256(task: tasks.Task, path: Path) -> str:
    """A hash of the staged copy: exactly the files the grader would grade.

    For modules and folders it equals the result's ``submission_sha256``; for a notebook
    the grader adds its converted cells before hashing, so the two differ, but each is
    stable for the same notebook, which is all resuming needs.
    """
    from harness.grading import digest
    from harness.sandbox.box import boxes_root

    sub = submissions.locate(task, path, path.parent)
    staged = submissions.stage(sub, boxes_root())
    try:
        return digest(staged)
    finally:
        submissions.unstage(staged)


def key_of(job: Job, task: tasks.Task) -> ledger.Key:
    """The ledger key of a job: learner, task, content, task fingerprint, harness."""
    return ledger.Key(job.learner, task.id, content_sha256(task, job.path), task.fingerprint(),
                      harness.__version__)


# ------------------------------------------------------------------ running


def run(jobs: Sequence[Job], settings: Settings, out: Path, executor: Executor,
        mode: Mode = "submit", on_outcome: Callable[[Outcome], None] = lambda _: None,
        resume: bool = True) -> BatchReport:
    """Grade every job not finished yet; record, summarise and export the cohort."""
    ledger_path = out / ledger.FILE
    done = ledger.finished(ledger_path) if resume else {}
    loaded: dict[str, tasks.Task | str] = {}
    outcomes: list[Outcome] = []
    pending: list[Work] = []
    keys: dict[Job, ledger.Key] = {}
    for job in jobs:
        task = _load(loaded, settings, job.task_id)
        if isinstance(task, str):
            outcomes.append(_report(Outcome(job, None, task), on_outcome))
            continue
        try:
            key = key_of(job, task)
        except HarnessError as exc:
            outcomes.append(_report(Outcome(job, None, exc.message), on_outcome))
            continue
        if key in done and done[key].mode == mode:
            outcomes.append(_report(Outcome(job, done[key], resumed=True), on_outcome))
            continue
        keys[job] = key
        pending.append(Work(job, task, settings, mode))
    graded_now = 0
    try:
        for outcome in executor.grade(pending):
            if outcome.result is not None:
                stamped = _stamp(outcome)
                outcome = replace(outcome, result=stamped)
                row = history.record(settings.history.value, stamped,
                                     learner=outcome.job.learner)
                ledger.mark(ledger_path, keys[outcome.job], stamped, row)
                results.save(stamped, out / "results" / safe_name(outcome.job.learner))
                graded_now += 1
            outcomes.append(_report(outcome, on_outcome))
    finally:
        executor.close()
    outputs = [write_gradebook(outcomes, out / "gradebook.csv")]
    cohort = write_cohort(settings, outcomes, out / "cohort.html")
    if cohort is not None:
        outputs.append(cohort)
    return BatchReport(tuple(outcomes), graded_now, sum(1 for o in outcomes if o.resumed),
                       tuple(outputs))


def _load(cache: dict[str, tasks.Task | str], settings: Settings,
          task_id: str) -> tasks.Task | str:
    if task_id not in cache:
        try:
            cache[task_id] = tasks.load_task(settings.tasks.value, task_id)
        except HarnessError as exc:
            cache[task_id] = exc.message
    return cache[task_id]


def _report(outcome: Outcome, on_outcome: Callable[[Outcome], None]) -> Outcome:
    on_outcome(outcome)
    return outcome


def _stamp(outcome: Outcome) -> Result:
    """The result with the learner and the worker that graded it in its environment."""
    assert outcome.result is not None
    r = outcome.result
    batch = {"learner": outcome.job.learner, "worker": outcome.worker}
    return replace(r, submission=str(outcome.job.path),
                   environment={**r.environment, "batch": batch})


def safe_name(text: str) -> str:
    """A learner id usable as one folder name."""
    cleaned = _SAFE.sub("_", text).strip("._") or "unknown"
    return cleaned[:100]


# ------------------------------------------------------------------ summaries


def _percent(o: Outcome) -> float | None:
    return o.result.percent if o.result is not None else None


def _group(outcomes: Iterable[Outcome], by: Callable[[Outcome], str]) -> dict[str, list[Outcome]]:
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(by(o), []).append(o)
    return dict(sorted(groups.items()))


def summary_lines(report: BatchReport) -> list[str]:
    """Per-learner and per-task tables, plain text."""
    lines = [f"{len(report.outcomes)} job(s): {report.graded_now} graded now, "
             f"{report.resumed} already finished (resumed), "
             f"{sum(1 for o in report.outcomes if o.result is None)} not gradable", ""]
    for title, by in (("learner", lambda o: o.job.learner), ("task", lambda o: o.job.task_id)):
        groups = _group(report.outcomes, by)
        width = max([len(title), *(len(k) for k in groups)])
        lines.append(f"{title:<{width}}  jobs  mean %  full  failing  not graded")
        for name, group in groups.items():
            scores = [p for p in map(_percent, group) if p is not None]
            mean = f"{sum(scores) / len(scores):6.1f}" if scores else "     -"
            full = sum(1 for o in group if not o.failing)
            lines.append(f"{name:<{width}}  {len(group):>4}  {mean}  {full:>4}  "
                         f"{sum(1 for o in group if o.failing):>7}  "
                         f"{sum(1 for o in group if o.result is None):>10}")
        lines.append("")
    problems = [o for o in report.outcomes if o.result is None]
    for o in problems[:20]:
        lines.append(f"not graded: {o.job.learner} {o.job.task_id}: {o.error.splitlines()[0]}")
    return lines


def write_gradebook(outcomes: Sequence[Outcome], path: Path) -> Path:
    """One row per learner, one column per task (percent; empty when not graded), and the
    mean over the batch's tasks counting a missing one as 0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    task_ids = sorted({o.job.task_id for o in outcomes})
    by_learner = _group(outcomes, lambda o: o.job.learner)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["learner", *task_ids, "mean_percent"])
        for learner, group in by_learner.items():
            cells: dict[str, Any] = {t: "" for t in task_ids}
            for o in group:
                if o.result is not None:
                    cells[o.job.task_id] = f"{o.result.percent:.1f}"
            scored = [float(v) for v in cells.values() if v != ""]
            writer.writerow([learner, *cells.values(), f"{sum(scored) / len(task_ids):.1f}"])
    return path


def write_cohort(settings: Settings, outcomes: Sequence[Outcome], path: Path) -> Path | None:
    """The cohort page of :mod:`harness.report`, when that package is installed."""
    try:
        from harness.report import progress, render_cohort, write
    except ImportError:
        return None
    learners = tuple(sorted({o.job.learner for o in outcomes}))
    rows = history.timeline(settings.history.value, learners, documents=False)
    pack = sorted({o.job.task_id for o in outcomes})
    week = progress.week_label(clock.now().date())
    return write(render_cohort(progress.cohort(rows, pack, week)), path)
