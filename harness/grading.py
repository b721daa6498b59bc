"""The one orchestrator: task + submission -> result.

Flow: locate and stage the submission, check it statically, start the sandbox and
load it, check the interface, run the task's tests in this (the grader's) process
against the sandboxed submission, score, and tear everything down.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import io
import os
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest

import harness
from harness import clock, device, diagnosis, notebook_feedback, notebooks, submissions
from harness.plugin import BoxSession, GraderPlugin
from harness.results import CheckResult, Result, Verdict, credit_working_code, score_checks
from harness.sandbox import BoxFailure, BoxSpec, Budget, capabilities, make_grader_non_dumpable
from harness.sandbox.box import boxes_root
from harness.sandbox.doctor import level_at_least
from harness.sandbox.process import clean_text
from harness.settings import Settings
from harness.tasks import Task

Mode = Literal["submit", "check", "validate"]
#: Environment variables through which pytest would take options or plugins.
PYTEST_ENVIRONMENT = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")


def grade(task: Task, path: Path | None, settings: Settings, mode: Mode = "submit",
          requested_device: str = "auto", required_level: str | None = None,
          fail_fast: bool = False, progress: Callable[[str], None] | None = None) -> Result:
    """Grade one submission of ``task``; learner failures become verdicts, never exceptions.

    ``fail_fast`` stops at the first failing check (``grade validate`` on a mutant only
    needs to know that one check catches it). ``progress`` is told what grading is doing
    (the running check), for a terminal's status line."""
    started = clock.monotonic()
    make_grader_non_dumpable()
    sub = submissions.locate(task, path, settings.submissions_dir)
    staged = submissions.stage(sub, boxes_root())
    try:
        return _grade_staged(task, sub, staged, settings, mode, requested_device, started,
                             required_level, fail_fast, progress or (lambda doing: None))
    finally:
        submissions.unstage(staged)


def _grade_staged(task: Task, sub: submissions.Submission, staged: Path, settings: Settings,
                  mode: Mode, requested_device: str, started: float,
                  required_level: str | None = None, fail_fast: bool = False,
                  progress: Callable[[str], None] = lambda doing: None) -> Result:
    tests = task.public_tests if mode == "check" else task.public_tests + task.hidden_tests
    withheld = ""
    level = capabilities().level
    if required_level and not level_at_least(level, required_level):
        tests = task.public_tests
        withheld = (f"hidden tests not run: this machine's sandbox level is {level}, below the "
                    f"required {required_level} (`grade doctor` says why and how to fix it)")
    prepared = notebooks.prepare(staged, sub.entry, sub.path.name) \
        if sub.format == "notebook" else None
    nb = prepared.notebook if prepared is not None and not prepared.problems else None
    # Hashed before anything runs: a child that can reach the staged copy (no namespaces,
    # no Landlock, the grader's own uid) could otherwise change it, or plant a FIFO there.
    sha256 = digest(staged)
    spec = BoxSpec(staged, notebooks.CELLS_FILE if nb else sub.entry, sub.format == "folder",
                   tuple(i.name for i in task.interface), tuple(hidden_paths(settings, task)),
                   task.limits, task.preload,
                   notebook=notebook_feedback.plan(nb, task.limits) if nb else None)
    session = BoxSession(spec, Budget(task.limits.total_seconds))
    verdict: Verdict = "graded"
    message = ""
    names: dict[str, Any] = {}
    unusable: dict[str, str] = {}  # interface names the checks cannot use, and why
    problems = list(prepared.problems) if prepared else submissions.static_problems(staged, sub)
    if prepared and "notebook" not in task.formats:
        problems = [submissions.StaticProblem("format", f"{task.id} accepts "
                                              f"{', '.join(task.formats)} submissions, not "
                                              "notebooks")]
    selection = device.select(requested_device, task.device)
    if problems:
        verdict, message = "submission_error", "\n".join(p.message for p in problems)
    elif selection.used is None:
        # The task cannot run on this machine: its checks are skipped with the reason, and
        # the submission is not even loaded (it may import what only that device has).
        message = f"not run on this machine: {selection.reason}"
    else:
        try:
            progress("loading your code")
            report = session.start()
        except BoxFailure as failure:
            verdict, message = failure.kind, f"while loading your code: {failure.message}"
        else:
            if not report.ok:
                verdict = "memory_limit" if out_of_memory(report.error or {}) \
                    else "submission_error"
                message = (notebook_feedback.load_error_message(
                    report.error or {}, nb, session.box.cells if session.box else None) if nb
                    else load_error_message(report.error or {}, sub, task))
                if verdict == "memory_limit":
                    message = memory_message(task, message)
            else:
                names = report.names
                unusable = interface_problems(task, names)
                mismatch = notebook_feedback.explain_interface(
                    list(unusable.values()), names, notebooks.module_trees(nb) if nb
                    else notebook_feedback.entry_trees(staged / sub.entry), nb is not None)
                message = "\n".join(mismatch)
                if task.interface and len(unusable) == len(task.interface):
                    # Nothing the checks could call: the submission is not what the task asks.
                    verdict = "submission_error"
    cells = session.box.cells if session.box is not None else None
    not_run = ""
    if verdict != "graded":
        session.close()
        not_run = f"not run: {not_run_reason(verdict, message)}"

    def static(name: str) -> Any:
        if nb is not None:
            return notebooks.function_source(nb, name)
        return submissions.function_source(staged, sub, name)

    plugin = GraderPlugin(task, session, names, static, reference=reference_of(settings, task),
                          device=selection, not_run=not_run, progress=progress,
                          unusable={k: v.splitlines()[0] for k, v in unusable.items()})
    try:
        run_tests(task, tests, plugin, fail_fast, collect_only=bool(not_run))
    finally:
        session.close()
    checks = plugin.checks
    if plugin.collection_errors:
        raise_task_error(task, plugin.collection_errors)
    if nb is not None:
        checks = checks + notebook_feedback.hygiene_checks(nb, cells)
    if verdict == "graded" and session.failures:
        verdict = session.failures[0].kind
        message = session.failures[0].message
    checks = [shown_check(c) for c in credit_working_code(checks)]
    progress("comparing your failures with known mistakes")
    found = diagnose(task, settings, plugin, checks, tests, selection) \
        if verdict == "graded" and not not_run else []
    score, max_score = score_checks(checks)
    stdout = "".join(o for o, _ in session.outputs)[-20_000:]
    stderr = "".join(e for _, e in session.outputs)[-20_000:]
    return Result(
        task=task.id, task_version=task.version, task_fingerprint=task.fingerprint(),
        submission=str(sub.path), submission_sha256=sha256,
        verdict=verdict, score=score, max_score=max_score, checks=tuple(checks),
        message=shown("\n".join(m for m in (message, sub.note, withheld) if m)),
        duration_s=round(clock.monotonic() - started, 3),
        device=device.describe(requested_device, selection),
        sandbox={**session.protections, "no_survivors": session.all_clean,
                 "teardown": shown(teardown_text(session.protections, session.leftovers)),
                 "cpu_time_s": None if session.cpu_seconds is None
                 else round(session.cpu_seconds, 3),
                 "required": required_level, "hidden_tests_run": not withheld},
        harness_version=harness.__version__, timestamp=clock.now_iso(), mode=mode,
        output={"stdout": stdout, "stderr": stderr}, submission_format=sub.format,
        notebook=notebook_feedback.record(nb, cells) if nb else {},
        diagnosis=tuple(found),
    )


def diagnose(task: Task, settings: Settings, plugin: GraderPlugin, checks: list[CheckResult],
             tests: list[Path], selection: device.Selection) -> list[dict[str, Any]]:
    """Known mistakes the failing checks match (see :mod:`harness.diagnosis`)."""
    mutants = diagnosis.mutants_of(settings.reference.value / task.id / "mutants")
    if not mutants or not any(c.status == "fail" for c in checks):
        return []
    reference = reference_of(settings, task)

    def plugin_for(session: BoxSession, names: dict[str, Any],
                   static: Any) -> GraderPlugin:
        return GraderPlugin(task, session, names, static, reference=reference,
                            device=selection)

    learner = diagnosis.Learner(checks, plugin.logs, plugin.selectors)
    return diagnosis.diagnose(task, learner, mutants, plugin_for,
                              lambda selected, p: run_tests(task, selected, p),
                              plugin.session.spec)


def teardown_text(protections: dict[str, Any], leftovers: list[str]) -> str:
    """How the box was torn down, and what of its scratch could not be removed (the
    verdict stands either way; the next start retries, ``grade doctor`` lists them)."""
    how = str(protections.get("teardown", ""))
    if not leftovers:
        return how + ("; scratch removed" if how else "")
    return f"{how}; scratch NOT fully removed: " + "; ".join(leftovers[:5])


def shown(text: str) -> str:
    """Text for the learner's eyes with terminal control sequences removed: messages
    carry the learner's exception texts, type names and reprs, which can hold escape
    sequences that retitle, clear or rewrite the terminal showing the result."""
    data = text.encode("utf-8", "replace")
    return clean_text(data, len(data))


def shown_check(check: CheckResult) -> CheckResult:
    """A check whose message and learner lines are :func:`shown` text."""
    return dataclasses.replace(check, message=shown(check.message),
                               where=tuple(shown(w) for w in check.where))


def run_tests(task: Task, tests: Sequence[Path | str], plugin: GraderPlugin,
              fail_fast: bool = False, collect_only: bool = False) -> None:
    """Run the task's test files in this process with the grader plugin, quietly
    (``collect_only``: only list them, for a submission that never loaded)."""
    if not tests:
        return
    pack = task.root.parent.parent
    args = [str(t) for t in tests] + [
        "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:randomly",
        "-p", "no:benchmark", "--import-mode=importlib", "-c", os.devnull,
        "--rootdir", str(pack), "--confcutdir", str(task.root),
        "-W", "ignore::DeprecationWarning", "-W", "ignore::pytest.PytestAssertRewriteWarning",
    ] + (["--maxfail=1"] if fail_fast else []) + (["--collect-only"] if collect_only else [])
    before = set(sys.modules)
    sink = io.StringIO()
    # pytest reads these from the environment on top of ``args``: PYTEST_ADDOPTS="-k public"
    # would deselect the hidden checks (and shrink max_score to what passed), PYTEST_PLUGINS
    # would load modules into the grader. Which checks run is the task's, not the shell's.
    outside = {k: os.environ.pop(k) for k in PYTEST_ENVIRONMENT if k in os.environ}
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            pytest.main(args, plugins=[plugin])
    finally:
        os.environ.update(outside)
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if file.startswith(str(pack)):
                del sys.modules[name]


def reference_of(settings: Settings, task: Task) -> Path | None:
    """The task's reference solution (module or folder), if this grader has one."""
    folder = settings.reference.value / task.id
    for cand in (folder / "solution.py", folder / "solution"):
        if cand.exists():
            return cand
    return None


def raise_task_error(task: Task, errors: list[str]) -> None:
    from harness.errors import SpecError

    raise SpecError(str(task.root), "tests", "a test file failed to import:\n" +
                    "\n".join(errors))


def hidden_paths(settings: Settings, task: Task) -> list[str]:
    """Paths the child must not see: task packs, references, results, history, git dirs."""
    candidates = {settings.tasks.value, settings.reference.value, settings.reports_dir,
                  settings.history.value.parent, settings.submissions_dir, task.root}
    for p in list(candidates):
        for parent in [p, *p.parents]:
            if (parent / ".git").exists():
                candidates.add(parent / ".git")
                break
    needed = [Path(sys.prefix), Path(sys.base_prefix), Path(harness.__file__).parent,
              boxes_root()]
    out = []
    for p in candidates:
        real = Path(os.path.realpath(p))
        if not real.exists():
            continue
        if any(n == real or real in n.parents for n in (Path(os.path.realpath(x))
                                                          for x in needed)):
            continue  # covering it would hide the interpreter or the harness itself
        out.append(str(real))
    return sorted(out)


def load_error_message(error: dict[str, Any], sub: submissions.Submission | None = None,
                       task: Task | None = None) -> str:
    """Explain why the submission did not load, pointing at the learner's own line.

    A module that imports a file lying next to it on the learner's disk (``sub.path``)
    was submitted without that file: the message says to submit the folder."""
    etype = str(error.get("type", "Exception"))
    msg = str(error.get("message", ""))[:1000]
    frames = error.get("frames") if isinstance(error.get("frames"), list) else []
    where = ""
    if frames and isinstance(frames[-1], dict):
        f = frames[-1]
        where = f" at {f.get('file')}:{f.get('line')}"
    if etype == "ModuleNotFoundError":
        name = str(error.get("missing_module") or "").split(".")[0]
        if sub is not None and task is not None and sub.format == "module" and name and (
                (sub.path.parent / f"{name}.py").is_file()
                or any((sub.path.parent / name).glob("*.py"))):
            how = (f"submit the folder (grade submit {task.id} {sub.path.parent})"
                   if sub.path.name == task.entry else
                   f"submit a folder holding both, your file named {task.entry} "
                   f"(grade submit {task.id} FOLDER)")
            return (f"your code imports {name!r}{where}, which is a file next to "
                    f"{sub.path.name} that was not submitted: {how}")
        return (f"your code imports {error.get('missing_module')!r}{where}, which is not "
                "installed in the grading environment")
    if etype == "SystemExit":
        return f"your code called sys.exit(){where} while being imported; remove it"
    if etype == "SyntaxError":
        return f"syntax error at {error.get('file')}:{error.get('line')}: {msg}"
    return f"your code raised {etype}: {msg}{where} while being imported"


def interface_problems(task: Task, names: dict[str, Any]) -> dict[str, str]:
    """Missing names, wrong kinds and signatures that cannot accept the task's arguments,
    by interface name (the checks that use one of them are reported as not run)."""
    problems = {}
    for item in task.interface:
        got = names.get(item.name)
        if not isinstance(got, dict):
            problems[item.name] = (f"missing {item.kind} `{item.name}{item.signature}`: define "
                                   "it at the top level of your module")
            continue
        if got.get("kind") != item.kind:
            problems[item.name] = (f"`{item.name}` should be a {item.kind}, but yours is a "
                                   f"{got.get('kind')}")
            continue
        if item.kind == "function":
            mismatch = signature_mismatch(item.signature, got.get("parameters"))
            if mismatch:
                problems[item.name] = (f"`{item.name}{got.get('signature', '')}` {mismatch}; the "
                                       f"task's interface is `{item.name}{item.signature}`")
    return problems


def out_of_memory(error: dict[str, Any]) -> bool:
    """Whether loading failed because the submission ran out of memory (a MemoryError
    raised while importing, caught by the loader)."""
    mro = error.get("mro") if isinstance(error.get("mro"), list) else []
    return error.get("type") == "MemoryError" or "MemoryError" in (mro or [])


def memory_message(task: Task, message: str) -> str:
    limit = task.limits.memory_bytes >> 20
    return f"your code ran out of memory while being imported (the limit is {limit} MiB): " + \
        message.removeprefix("your code raised ")


def not_run_reason(verdict: Verdict, message: str) -> str:
    """Why no check ran, in one line: the checks all share this one cause."""
    first = message.splitlines()[0] if message else ""
    if verdict == "submission_error" and first.startswith("syntax error"):
        return f"your module did not load ({first})"
    if verdict in ("submission_error", "crashed"):
        return f"your module did not load: {first}" if first else "your module did not load"
    return f"your module did not load ({VERDICT_WORDS.get(verdict, verdict)})"


#: A verdict that stopped the loading, as the reason of the checks it prevented.
VERDICT_WORDS = {"timeout": "time limit reached while importing",
                 "memory_limit": "memory limit reached while importing",
                 "output_limit": "output limit reached while importing",
                 "disk_limit": "disk limit reached while importing"}


def signature_mismatch(expected: str, parameters: Any) -> str:
    """Whether a learner signature can be called as the spec's positional signature."""
    try:
        fn = ast.parse(f"def f{expected}: pass").body[0]
    except SyntaxError:
        return ""
    assert isinstance(fn, ast.FunctionDef)
    args = fn.args
    if args.vararg or expected.strip() == "(...)":
        return ""
    n_required = len(args.posonlyargs) + len(args.args) - len(args.defaults)
    n_total = len(args.posonlyargs) + len(args.args)
    if not isinstance(parameters, list):
        return ""
    positional = [p for p in parameters if isinstance(p, list) and len(p) == 3 and
                  p[1] in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")]
    if any(isinstance(p, list) and p[1:2] == ["VAR_POSITIONAL"] for p in parameters):
        return ""
    learner_required = sum(1 for p in positional if not p[2])
    if len(positional) < n_total and n_required > len(positional):
        return f"takes {len(positional)} positional parameter(s) but is called with {n_required}"
    if learner_required > n_total:
        return f"requires {learner_required} parameters but is called with at most {n_total}"
    return ""


def digest(folder: Path) -> str:
    """A hash of the staged submission's files (what exactly was graded): regular files
    only, opened without following a link or waiting on a FIFO."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if not stat.S_ISREG(p.lstat().st_mode):
            continue
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(fh.read())
    return h.hexdigest()
