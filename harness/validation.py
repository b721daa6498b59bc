"""`grade validate`: every spec parses, every reference scores 100%, every mutant fails.

This is how a task pack proves its tests test: a mutant is a known-wrong submission,
and a mutant that passes every check means the hidden tests miss that mistake. Success
is only reported where it was earned: a task whose every check skipped proved nothing,
and a ``[checks.<name>]`` entry that names no test (a typo) silently scores nothing.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness import diagnosis, grading, pathnames, tasks
from harness.errors import HarnessError
from harness.results import Result
from harness.settings import Settings


@dataclass
class ValidationReport:
    """What validation found: how many tasks are sound, and every problem in words."""

    ok_count: int = 0
    problems: list[str] = field(default_factory=list)


def _summary(path: Path) -> str:
    try:
        doc = ast.get_docstring(ast.parse(path.read_text()))
    except (SyntaxError, OSError, ValueError):
        doc = None
    return (doc or "").splitlines()[0] if doc else path.stem


def defined_tests(task: tasks.Task) -> set[str] | None:
    """The names of the task's tests as written in ``public/`` and ``hidden/``, read with
    ``ast`` (nothing is imported or run); ``None`` when a test file cannot be parsed.

    Read statically so the answer does not depend on what ran (a skipped or deselected
    test still counts). Every name starting with ``test`` that a module or a class binds
    counts: functions, methods of ``Test*`` classes and of their base classes, and names
    bound otherwise (``test_x = make_test()``, ``from x import test_y``). Function
    bodies are not read: their names are locals, never tests. A name counted in error
    only hides a typo; it never reports a sound entry.
    """
    names: set[str] = set()
    for path in task.public_tests + task.hidden_tests:
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, OSError, ValueError, RecursionError, MemoryError):
            return None  # grading reports the collection error; nothing to compare here
        pending: list[ast.AST] = [tree]
        while pending:
            for node in ast.iter_child_nodes(pending.pop()):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(node.name)
                    continue
                if isinstance(node, ast.Lambda):
                    continue
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
                elif isinstance(node, ast.alias):
                    names.add(node.asname or node.name.split(".")[-1])
                pending.append(node)
    return {n for n in names if n.startswith("test")}


def unknown_checks(task: tasks.Task) -> list[str]:
    """One problem per ``[checks.<name>]`` of the spec that names no test of the task.

    Points and hints are matched to tests by name, so a misspelt entry is silently
    ignored while grading: its test scores the default point and shows no hint.
    """
    names = defined_tests(task)
    if names is None:
        return []
    problems = []
    for name in sorted(set(task.checks) - names):
        close = difflib.get_close_matches(name, sorted(names), n=1)
        problems.append(f"{task.id}: [checks.{name}] names no test in public/ or hidden/"
                        + (f"; did you mean {close[0]}?" if close else ""))
    return problems


def validate_task(s: Settings, task: tasks.Task, progress: Callable[[str], None]) -> list[str]:
    """Problems with one task's reference and mutants (empty when sound)."""
    problems = []
    ref = grading.reference_of(s, task)
    if ref is None:
        return [f"{task.id}: no reference solution at {s.reference.value / task.id}/solution.py"]
    result = grading.grade(task, ref, s, mode="validate")
    if result.checks and all(c.status == "skip" for c in result.checks):
        # e.g. an accelerator task whose every check needs the accelerator, on a CPU-only
        # machine: nothing was proven, so it is not counted valid. (A device task whose
        # correctness checks run on the CPU and only the speed-up skips is validated.)
        reason = result.checks[0].message or result.message or "no reason given"
        progress(f"  every check skipped on this machine: {reason}")
        return [f"{task.id}: nothing was validated: every check skipped: {reason}"]
    failing = [c.id for c in result.checks if c.status != "pass"]
    if result.verdict != "graded" or result.score != result.max_score or not result.checks:
        problems.append(f"{task.id}: the reference scores {result.score:g}/{result.max_score:g} "
                        f"({result.verdict}; failing: {', '.join(failing) or 'none'}"
                        f"{'; ' + result.message if result.message else ''})")
    progress(f"  reference {result.score:g}/{result.max_score:g} in {result.duration_s:.2f} s")
    if result.diagnosis:
        problems.append(f"{task.id}: the reference is diagnosed with a known mistake: "
                        f"{result.diagnosis[0].get('mistake')}")
    mutants = sorted((s.reference.value / task.id / "mutants").glob("*.py"))
    if not mutants:
        problems.append(f"{task.id}: no mutants in {s.reference.value / task.id / 'mutants'}")
    for mutant in mutants:
        r = grading.grade(task, mutant, s, mode="validate", fail_fast=True)
        caught = [c.name for c in r.checks if c.status in ("fail", "error")]
        named = ", ".join(str(d.get("mutant")) for d in r.diagnosis)
        progress(f"  mutant {mutant.stem}: caught by {', '.join(caught) or 'no check'}"
                 + (f"; diagnosed as {named}" if named else ""))
        if r.verdict == "graded" and r.score == r.max_score and any(
                c.status == "skip" for c in r.checks):
            # Only a check this machine skips (an accelerator's speed-up) can catch it here.
            progress(f"  mutant {mutant.stem}: not provable here, a check that may catch it "
                     "was skipped")
        elif r.verdict == "graded" and r.score == r.max_score:
            problems.append(f"{task.id}: mutant {mutant.name} passes every check, so the tests "
                            f"miss: {_summary(mutant)}")
        elif r.verdict == "graded":
            problems += _diagnosed(task, mutant, r)
    if "notebook" in task.formats:
        problems += _notebook_forms(s, task, ref, result.score, mutants, progress)
    return problems


def _diagnosed(task: tasks.Task, mutant: Path, result: Result) -> list[str]:
    """A caught mutant must be diagnosed as itself: the learner who makes that mistake
    reads its description. Several mutants the failing checks cannot tell apart may be
    named together; more than the diagnosis shows means the tests cannot separate them."""
    named = [str(d.get("mutant")) for d in result.diagnosis]
    if mutant.stem in named:
        return []
    return [f"{task.id}: mutant {mutant.name} is caught but diagnosed as "
            f"{', '.join(named) or 'no known mistake'}: the checks it fails cannot tell it "
            f"from {'them' if named else 'a correct submission'} ({_summary(mutant)})"]


def _notebook_forms(s: Settings, task: tasks.Task, ref: Path, module_score: float,
                    mutants: list[Path], progress: Callable[[str], None]) -> list[str]:
    """The notebook form scores the same: ``solution.ipynb`` (else the module reference
    converted, one cell per definition) matches the module reference, and every mutant
    fails as a notebook too (converted on the fly, plus any shipped ``mutants/*.ipynb``)."""
    import json
    import tempfile

    from harness import notebooks

    problems = []
    folder = s.reference.value / task.id
    with tempfile.TemporaryDirectory(prefix="harness-validate-") as tmp:
        def as_notebook(module: Path) -> Path:
            path = Path(tmp) / f"{module.stem}.ipynb"
            path.write_text(json.dumps(notebooks.module_to_notebook(module.read_text())))
            return path

        nb_ref = folder / "solution.ipynb"
        if not nb_ref.is_file() and ref.is_file():
            nb_ref = as_notebook(ref)
        if nb_ref.is_file():
            r = grading.grade(task, nb_ref, s, mode="validate")
            progress(f"  reference (notebook) {r.score:g}/{r.max_score:g} in {r.duration_s:.2f} s")
            if r.verdict != "graded" or r.score != module_score or r.score != r.max_score:
                problems.append(f"{task.id}: the notebook reference scores {r.score:g}/"
                                f"{r.max_score:g} ({r.verdict}), the module {module_score:g}"
                                f"{'; ' + r.message.splitlines()[0] if r.message else ''}")
        forms = [(m.name, as_notebook(m)) for m in mutants if m.suffix == ".py"]
        forms += [(m.name, m) for m in sorted((folder / "mutants").glob("*.ipynb"))]
        for name, path in forms:
            r = grading.grade(task, path, s, mode="validate", fail_fast=True)
            caught = [c.name for c in r.checks if c.status in ("fail", "error")]
            progress(f"  mutant {name} (notebook): caught by {', '.join(caught) or 'no check'}")
            if r.verdict == "graded" and r.score == r.max_score and not any(
                    c.status == "skip" for c in r.checks):  # else: see validate_task
                problems.append(f"{task.id}: mutant {name} passes every check as a notebook")
    return problems


def validate_pack(s: Settings, only: tuple[str, ...] = (),
                  progress: Callable[[str], None] = lambda _: None) -> ValidationReport:
    """Validate every task of the pack (or only the given ids)."""
    report = ValidationReport()
    specs = tasks.discover(s.tasks.value)
    if not specs:
        report.problems.append(f"no tasks found under {s.tasks.value}")
    known = [tasks.task_id_of(p, s.tasks.value) for p in specs]
    for task_id in dict.fromkeys(only):
        if task_id not in known:
            # Asked for by name and not there: "0 problems" would claim it was validated.
            close = difflib.get_close_matches(task_id, known, n=1)
            report.problems.append(f"{pathnames.shorten(task_id)}: no such task under "
                                   f"{s.tasks.value}"
                                   + (f"; did you mean {close[0]}?" if close else ""))
    for spec_path, task_id in zip(specs, known, strict=True):
        if only and task_id not in only:
            continue
        progress(task_id)
        problems = []
        try:
            task = tasks.parse_spec(spec_path, task_id)
            problems += unknown_checks(task)
            with diagnosis.keeping_boxes():  # every mutant is diagnosed against the others
                problems += validate_task(s, task, progress)
        except HarnessError as exc:
            problems.append(f"{task_id}: {exc.message}")
        report.problems.extend(problems)
        report.ok_count += not problems
    return report
