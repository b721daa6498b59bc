"""`grade ci`: grade the submissions a push changed, write CI artifacts, apply a policy.

Flow: find the changed files since a base commit (git), map them to tasks
(``submissions/<phase>/<name>.py``, ``…/<name>/…`` or ``…/<name>.ipynb``), grade each
one, record it in the history, and write into the output folder ``junit.xml``,
``summary.md`` (also appended to ``$GITHUB_STEP_SUMMARY``), ``results/…json`` and,
when :mod:`harness.report` is installed, ``scorecards/…html``. Whether the job fails
is a policy the caller chooses (:class:`Policy`); grading itself never fails the job.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from harness import history, junit, results, tasks
from harness.errors import HarnessError, UsageError
from harness.results import Result
from harness.settings import Settings

SUFFIXES = (".py", ".ipynb")
Rule = Literal["any-failure", "below", "regression", "never"]
_BELOW = re.compile(r"^below:(\d+(?:\.\d+)?)%?$")


@dataclass(frozen=True)
class Policy:
    """When the CI job fails: on any failing check, below a score, on a regression."""

    rules: tuple[Rule, ...] = ("any-failure",)
    threshold: float = 100.0

    @classmethod
    def parse(cls, specs: Sequence[str]) -> Policy:
        """``any-failure``, ``below:<pct>``, ``regression``, ``never`` (combinable)."""
        rules: list[Rule] = []
        threshold = 100.0
        for spec in specs or ("any-failure",):
            match = _BELOW.match(spec.strip())
            if match:
                rules.append("below")
                threshold = float(match[1])
            elif spec in ("any-failure", "regression", "never"):
                rules.append(spec)  # type: ignore[arg-type]  # checked just above
            else:
                raise UsageError(f"unknown --fail-on policy {spec!r}",
                                 hint="use any-failure, below:<percent>, regression or never")
        if "never" in rules and len(rules) > 1:
            raise UsageError("--fail-on never cannot be combined with another policy")
        return cls(tuple(rules), threshold)


@dataclass(frozen=True)
class Graded:
    """One CI grading: the submission's repo path, its result, the previous percent."""

    name: str
    result: Result
    previous_percent: float | None = None


@dataclass(frozen=True)
class CiReport:
    """What `grade ci` did: gradings, submissions it could not grade, why the job fails."""

    base: str
    graded: tuple[Graded, ...]
    problems: tuple[tuple[str, str], ...]
    failures: tuple[str, ...] = field(default_factory=tuple)
    outputs: tuple[Path, ...] = field(default_factory=tuple)


# ------------------------------------------------------------------ git


def _git(repo: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                             timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"git {' '.join(args)} failed: {exc}") from None
    if out.returncode != 0:
        raise UsageError(f"git {' '.join(args)} failed: {out.stderr.strip()}",
                         hint="`grade ci` needs a git checkout with history "
                         "(actions/checkout with fetch-depth: 0)")
    return out.stdout.strip()


def repo_root(folder: Path) -> Path:
    """The top of the git work tree holding ``folder``."""
    return Path(_git(folder, "rev-parse", "--show-toplevel")).resolve()


def default_base(repo: Path) -> str:
    """The merge base with the default branch; on that branch itself, the previous commit.

    A push to the default branch has its merge base at ``HEAD``, which would grade
    nothing, so the base becomes ``HEAD~1`` (the commit before the push's last one);
    a repository with a single commit has no base at all (everything is graded).
    """
    candidates = []
    try:
        candidates.append(_git(repo, "symbolic-ref", "--short", "refs/remotes/origin/HEAD"))
    except UsageError:
        pass
    candidates += ["origin/main", "origin/master", "main", "master"]
    head = _git(repo, "rev-parse", "HEAD")
    for ref in candidates:
        try:
            base = _git(repo, "merge-base", "HEAD", ref)
        except UsageError:
            continue
        if base != head:
            return base
        break
    try:
        return _git(repo, "rev-parse", "HEAD~1")
    except UsageError:
        return ""


def changed_files(repo: Path, base: str) -> list[Path]:
    """Files added or modified between ``base`` and the working tree (absolute paths)."""
    if not base:
        listed = _git(repo, "ls-files")
    else:
        listed = _git(repo, "diff", "--name-only", "--diff-filter=ACMRT", base)
        untracked = _git(repo, "ls-files", "--others", "--exclude-standard")
        listed = "\n".join(x for x in (listed, untracked) if x)
    return [(repo / line).resolve() for line in listed.splitlines() if line.strip()]


# ------------------------------------------------------------------ mapping


def submission_of(path: Path, submissions_dir: Path) -> tuple[str, Path] | None:
    """(task id, submission path) for a file under ``submissions/``, or None.

    ``<phase>/<name>.py`` and ``<phase>/<name>.ipynb`` are single-file submissions;
    any file deeper than that belongs to the folder submission ``<phase>/<name>/``.
    """
    try:
        parts = path.relative_to(submissions_dir).parts
    except ValueError:
        return None
    if len(parts) < 2 or any(p.startswith(".") or p == "__pycache__" for p in parts):
        return None
    phase = parts[0]
    if len(parts) == 2:
        stem, suffix = os.path.splitext(parts[1])
        if suffix not in SUFFIXES:
            return None
        return f"{phase}/{stem}", submissions_dir / phase / parts[1]
    return f"{phase}/{parts[1]}", submissions_dir / phase / parts[1]


def all_submissions(submissions_dir: Path) -> list[Path]:
    """Every file under ``submissions/`` (for ``--all``)."""
    if not submissions_dir.is_dir():
        return []
    return sorted(p.resolve() for p in submissions_dir.rglob("*") if p.is_file())


def select(files: Sequence[Path], submissions_dir: Path) -> dict[str, Path]:
    """The submissions the files belong to, one per task (a module before a notebook)."""
    found: dict[str, Path] = {}
    for f in files:
        hit = submission_of(f, submissions_dir.resolve())
        if hit is None or not hit[1].exists():
            continue
        task_id, sub = hit
        if task_id not in found or found[task_id].suffix == ".ipynb":
            found[task_id] = sub
    return dict(sorted(found.items()))


# ------------------------------------------------------------------ policy


def previous_percent(history_path: Path, task_id: str, mode: str,
                     learner: str = "") -> float | None:
    """The percent of this learner's last recorded grading of ``task_id`` in ``mode``.

    Rows recorded before learners were known (learner ``""``) count as this learner's;
    None when there is no such grading.
    """
    found = [r for r in history.timeline(history_path, (learner, ""), documents=False)
             if r["task"] == task_id and r["mode"] == mode]
    if not found:
        return None
    top = float(found[-1]["max_score"])
    return 100.0 * float(found[-1]["score"]) / top if top else 0.0


def policy_failures(policy: Policy, graded: Sequence[Graded],
                    problems: Sequence[tuple[str, str]]) -> list[str]:
    """Why the job fails under ``policy``, one line per reason (empty: it passes)."""
    if "never" in policy.rules:
        return []
    reasons = [f"{where}: not graded ({msg.splitlines()[0]})" for where, msg in problems]
    for g in graded:
        r = g.result
        failing = [c.id for c in r.checks if c.status in ("fail", "error")]
        if "any-failure" in policy.rules and (r.verdict != "graded" or failing):
            what = r.verdict if r.verdict != "graded" else f"{len(failing)} failing check(s)"
            reasons.append(f"{g.name}: {what}")
        if "below" in policy.rules and r.percent < policy.threshold:
            reasons.append(f"{g.name}: {r.percent:.1f}% is below {policy.threshold:g}%")
        if ("regression" in policy.rules and g.previous_percent is not None
                and r.percent < g.previous_percent - 1e-9):
            reasons.append(f"{g.name}: {r.percent:.1f}% is lower than the last recorded "
                           f"{g.previous_percent:.1f}%")
    return reasons


# ------------------------------------------------------------------ run


def _scorecard_renderer() -> Callable[[Result], str] | None:
    try:
        from harness.report import render_scorecard
    except ImportError:
        return None
    return render_scorecard


def run(settings: Settings, out: Path, since: str | None = None, everything: bool = False,
        policy: Policy = Policy(), mode: Literal["submit", "check"] = "submit",
        progress: Callable[[str], None] = lambda _: None) -> CiReport:
    """Grade the changed submissions, write the artifacts into ``out``, apply ``policy``."""
    from harness import grading

    subs_dir = settings.submissions_dir
    if everything:
        base, files = "", all_submissions(subs_dir)
    else:
        repo = repo_root(settings.workspace.value)
        base = since if since is not None else default_base(repo)
        if base:
            base = _git(repo, "rev-parse", "--verify", f"{base}^{{commit}}")
        files = changed_files(repo, base)
    chosen = select(files, subs_dir)
    graded: list[Graded] = []
    problems: list[tuple[str, str]] = []
    for task_id, path in chosen.items():
        name = _shown(path, settings.workspace.value)
        progress(f"grading {name} as {task_id}")
        try:
            task = tasks.load_task(settings.tasks.value, task_id)
            result = grading.grade(task, path, settings, mode=mode)
        except HarnessError as exc:
            problems.append((name, exc.message))
            continue
        before = previous_percent(settings.history.value, task_id, mode,
                                  settings.learner.value)
        history.record(settings.history.value, result, learner=settings.learner.value)
        graded.append(Graded(name, result, before))
    failures = policy_failures(policy, graded, problems)
    outputs = write_artifacts(out, graded, problems, base, failures)
    return CiReport(base, tuple(graded), tuple(problems), tuple(failures), tuple(outputs))


def _shown(path: Path, workspace: Path) -> str:
    try:
        return path.relative_to(workspace).as_posix()
    except ValueError:
        return str(path)


def write_artifacts(out: Path, graded: Sequence[Graded], problems: Sequence[tuple[str, str]],
                    base: str, failures: Sequence[str]) -> list[Path]:
    """``junit.xml``, ``summary.md``, ``results/`` and ``scorecards/`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    pairs = [(g.name, g.result) for g in graded]
    written = [out / "junit.xml", out / "summary.md"]
    written[0].write_bytes(junit.document(pairs, problems, name="grade ci"))
    notes = [f"Changes since `{base[:12]}`." if base else "All submissions."]
    notes += [f"Regression check: last recorded {g.previous_percent:.0f}%, now "
              f"{g.result.percent:.0f}% for `{g.name}`." for g in graded
              if g.previous_percent is not None]
    if failures:
        notes += ["", "**The job fails:**", *[f"- {f}" for f in failures]]
    text = junit.markdown(pairs, problems, title="Grading results", notes=notes)
    written[1].write_text(text, encoding="utf-8")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(text)
    render = _scorecard_renderer()
    for g in graded:
        written.append(results.save(g.result, out / "results"))
        if render is not None:
            page = out / "scorecards" / f"{g.result.task.replace('/', '__')}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(render(g.result), encoding="utf-8")
            written.append(page)
    return written
