"""``grade leakage PATH``: run any script or notebook in the sandbox under the leakage trace.

The flow: stage the program → run it once traced (:mod:`harness.child.provenance`) → judge
the trace here (:mod:`harness.leakage.judge`) → read the source (:mod:`harness.leakage.static`)
to explain and to fill gaps → for each leak that a fitted step caused, re-run the program
with that step fitted without the evaluated rows and report how far the score moved.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness import notebook_feedback, notebooks, submissions
from harness.errors import SubmissionNotFound
from harness.leakage import judge as judging
from harness.leakage.judge import Finding
from harness.limits import Limits
from harness.sandbox import BoxFailure, BoxSpec, Budget, scratch
from harness.sandbox.box import Box, boxes_root

#: at most this many evaluations are re-run to measure a leak's impact
IMPACT_RUNS = 5
DEFAULT_LIMITS = Limits(call_seconds=60.0, total_seconds=600.0, load_seconds=120.0)
#: a static finding of these kinds is overruled when the run saw its line and found nothing
RUN_DECIDES = ("preprocessing", "feature-selection", "overlap")


@dataclass
class Program:
    """A staged script or notebook, ready to run in a box."""

    path: Path
    staged: Path
    entry: str
    notebook: notebooks.Notebook | None = None
    folder: bool = False  # the program's folder was staged with it (its imports work)

    @property
    def format(self) -> str:
        return "notebook" if self.notebook is not None else "module"

    def source_name(self) -> str:
        return self.path.name


@dataclass
class Scan:
    """What ``grade leakage`` found for one program."""

    path: str
    format: str
    findings: list[Finding] = field(default_factory=list)
    verdict: str = "clean"  # clean | leakage | failed
    error: str = ""  # the program raised (its trace up to there was still judged)
    failure: str = ""  # the program could not be run at all
    runs: int = 0
    seconds: float = 0.0
    evaluations: int = 0
    sandbox: str = ""
    output: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "verdict": self.verdict,
                "findings": [f.to_dict() for f in self.findings], "error": self.error,
                "failure": self.failure, "runs": self.runs, "seconds": round(self.seconds, 2),
                "evaluations": self.evaluations, "sandbox": self.sandbox}


def stage(path: Path, parent: Path) -> Program:
    """Copy the program (with its folder, when small, so it finds its data files)."""
    path = path.resolve()
    if not path.is_file() or path.suffix not in (".py", ".ipynb"):
        raise SubmissionNotFound(f"{path} is neither a Python script (.py) nor a notebook "
                                 "(.ipynb)")
    notebook = path.suffix == ".ipynb"
    entry = submissions.NOTEBOOK_ENTRY if notebook else path.name
    try:
        staged = submissions.stage(submissions.Submission(path.parent, "folder", path.name),
                                   parent)
        if notebook:
            shutil.copyfile(staged / path.name, staged / entry)
    except SubmissionNotFound:  # a big folder: the program alone
        staged = submissions.stage(submissions.Submission(
            path, "notebook" if notebook else "module", entry), parent)
    program = Program(path, staged, entry, folder=(staged / path.name).is_file()
                      and any(p.name != path.name for p in staged.iterdir()))
    if notebook:
        prepared = notebooks.prepare(staged, entry, path.name)
        if prepared.notebook is None or prepared.problems:
            problems = "; ".join(p.message for p in prepared.problems) or "unreadable"
            raise SubmissionNotFound(f"{path.name} cannot be run: {problems}")
        program.notebook = prepared.notebook
    return program


Runner = Callable[[Program, list[dict[str, Any]], Limits], tuple[dict[str, Any], str]]


def run_in_box(program: Program, restrict: list[dict[str, Any]], limits: Limits
               ) -> tuple[dict[str, Any], str]:
    """One traced run in a sandboxed child: the trace report and what the program printed."""
    nb = program.notebook
    spec = BoxSpec(program.staged, notebooks.CELLS_FILE if nb else program.entry,
                   program.folder and nb is None, (), (),
                   limits, ("numpy",), notebook=notebook_feedback.plan(nb, limits) if nb
                   else None, trace={"restrict": restrict})
    box = Box(spec, Budget(limits.total_seconds))
    try:
        load = box.start()
        if not load.ok:
            raise BoxFailure("crashed", f"the program did not start: {load.error}")
        report = box.request({"op": "leakage_report"}, {}, timeout=limits.call_seconds)["value"]
        out, err = box.output()
        if not isinstance(report, dict):
            raise BoxFailure("crashed", "the program's trace is not well-formed")
        report["sandbox"] = str(box.protections().get("level", ""))
        return report, out + err
    finally:
        box.close()


def scan(path: Path, limits: Limits = DEFAULT_LIMITS, impact: bool = True,
         runner: Runner = run_in_box, parts: tuple[str, ...] = ("run", "code")) -> Scan:
    """Run the program traced, judge it, explain it, and measure each leak's impact.

    ``parts`` leaves out the run's or the source's findings (to measure each on its own).
    """
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="leakage-", dir=boxes_root()))
    try:
        program = stage(path, work)
        result = Scan(str(path), program.format)
        try:
            report, output = runner(program, [], limits)
        except BoxFailure as failure:
            result.verdict, result.failure = "failed", failure.message
            result.findings = static_findings(program)
            return result
        result.runs, result.output = 1, output[-4000:]
        result.sandbox = str(report.get("sandbox", ""))
        result.evaluations = len(judging.outer_evaluations(report))
        error = report.get("error")
        if isinstance(error, dict):
            result.error = describe_error(error, program)
        run = "run" in parts
        found = merge(judging.judge(report) if run else [],
                      static_findings(program) if "code" in parts else [],
                      report if run else {}, program)
        if impact:
            found, runs = measure_impact(program, report, found, limits, runner)
            result.runs += runs
        result.findings = found
        result.verdict = "leakage" if found else "clean"
        return result
    finally:
        scratch.remove_tree(work)
        try:
            result.seconds = time.monotonic() - started
        except UnboundLocalError:
            pass


def describe_error(error: dict[str, Any], program: Program) -> str:
    frames = error.get("frames") if isinstance(error.get("frames"), list) else []
    where = ""
    if frames and isinstance(frames[-1], dict):
        where = f" at {frames[-1].get('file')}:{frames[-1].get('line')}"
    return f"{error.get('type')}: {str(error.get('message'))[:300]}{where}"


# ------------------------------------------------------------------ static pass


def static_findings(program: Program) -> list[Finding]:
    """The source read without running it, as findings with the run's file names."""
    try:
        from harness.leakage import static
    except ImportError:  # pragma: no cover - the static pass is part of the package
        return []
    out = []
    if program.notebook is not None:
        cells = program.notebook.code_cells
        for s in static.analyse_cells([notebooks.python_source(c.source) for c in cells]):
            cell = cells[(s.cell or 1) - 1]
            out.append(Finding(s.kind, f"cell[{cell.number}]", s.line, s.message, s.fix, "code"))
    else:
        source = (program.staged / program.entry).read_text(encoding="utf-8", errors="replace")
        for s in static.analyse_source(source):
            out.append(Finding(s.kind, program.entry, s.line, s.message, s.fix, "code"))
    return out


def merge(run: list[Finding], code: list[Finding], report: dict[str, Any],
          program: Program) -> list[Finding]:
    """The run decides; the source explains it and adds what the run cannot see.

    A run finding that the source also shows (same kind, nearby) takes the source's words.
    A source finding of a kind the run can see, at a line where the run fitted something and
    found no leak, is dropped: the run proved that line clean. Repeated test scoring is
    only a finding when the run saw it and the source shows the best one being kept.
    """
    fitted = {(str(f.get("file")), f.get("line")) for f in judging.dicts(report, "fits")}
    repeated = judging.repeated_test_scoring(report)
    out: dict[tuple[str, str, int], Finding] = {}
    used: set[int] = set()
    for f in run:
        match = next((i for i, c in enumerate(code) if i not in used and c.kind == f.kind
                      and c.file == f.file and abs(c.line - f.line) <= 3), None)
        if match is not None:
            used.add(match)
            c = code[match]
            f = Finding(f.kind, f.file, f.line, f"{f.message}. {c.message}", c.fix, "run+code")
        out.setdefault((f.kind, f.file, f.line), f)
    for i, c in enumerate(code):
        if i in used:
            continue
        if c.kind in RUN_DECIDES and (c.file, c.line) in fitted and not any(
                f.kind == c.kind for f in run):
            continue
        if c.kind == "multi-test" and "best_score_" not in c.message and repeated and not any(
                file == c.file for file, _ in repeated):
            continue
        out.setdefault((c.kind, c.file, c.line), c)
    return sorted(out.values(), key=lambda f: (f.file, f.line, f.kind))


# ------------------------------------------------------------------ impact


def _value(report: dict[str, Any], file: str, line: int, ordinal: int) -> float | None:
    for e in judging.dicts(report, "evaluations"):
        if (e.get("file"), e.get("line"), e.get("ordinal")) == (file, line, ordinal):
            v = e.get("value")
            return float(v) if isinstance(v, (int, float)) and np.isfinite(v) else None
    return None


def measure_impact(program: Program, report: dict[str, Any], found: list[Finding],
                   limits: Limits, runner: Runner) -> tuple[list[Finding], int]:
    """Re-run with each leaky step fitted without the rows it was evaluated on."""
    by_place: dict[tuple[str, int], list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for ev in judging.outer_evaluations(report):
        if not isinstance(ev.get("value"), (int, float)):
            continue
        for fit, kind in judging.leaky_steps(report, ev):
            if kind in ("preprocessing", "feature-selection", "overlap"):
                by_place.setdefault((str(fit.get("file")), int(fit.get("line", 0))),
                                    []).append((fit, ev))
    runs = 0
    out = []
    for f in found:
        pairs = by_place.get((f.file, f.line), [])[:IMPACT_RUNS]
        if not pairs or f.how == "code":
            out.append(f)
            continue
        before, after = [], []
        for fit, ev in pairs:
            restrict = [{"file": fit["file"], "line": fit["line"],
                         "ordinal": fit.get("ordinal", 0), "rows": ev["evaluated"]}]
            runs += 1
            try:
                again, _ = runner(program, restrict, limits)
            except BoxFailure:
                break
            v = _value(again, str(ev["file"]), int(ev["line"]), int(ev.get("ordinal", 0)))
            if v is None:
                break
            before.append(float(ev["value"]))
            after.append(v)
        if after and len(after) == len(pairs):
            b, a = float(np.mean(before)), float(np.mean(after))
            mean = "" if len(after) == 1 else f" (mean of {len(after)} evaluations)"
            fitted = "fitted on the training rows only" if f.kind != "overlap" \
                else "trained without the evaluated rows"
            out.append(judging.with_impact(f, f"score {b:.3f} → {a:.3f} with the step "
                                              f"{fitted}{mean}"))
        else:
            out.append(f)
    return out, runs


def run_in_process(program: Program, restrict: list[dict[str, Any]], limits: Limits
                   ) -> tuple[dict[str, Any], str]:
    """One traced run in *this* process, no sandbox: for the test suite and the corpus
    benchmark on trusted programs only (same trace, same report, a tenth of the time)."""
    import contextlib
    import io
    import os
    import types

    from harness.child import provenance

    workdir = str(program.staged)
    traced = provenance.Program(workdir, restrict)
    out = io.StringIO()
    here = os.getcwd()
    module = types.ModuleType("__main__")
    module.__file__ = os.path.join(workdir, program.entry)
    if program.notebook is not None:
        codes = [(os.path.join(workdir, f"cell[{c.number}]"), notebooks.python_source(c.source))
                 for c in program.notebook.code_cells]
    else:
        codes = [(module.__file__, (program.staged / program.entry).read_text(encoding="utf-8"))]
    traced.begin()
    try:
        os.chdir(workdir)
        with contextlib.redirect_stdout(out):
            for name, source in codes:
                exec(compile(source, name, "exec"), module.__dict__)  # noqa: S102
    except Exception as exc:
        from harness.child.shim import describe_error

        traced.failed(describe_error(exc, workdir))
    finally:
        os.chdir(here)
        report = traced.end()
    report["sandbox"] = "none (in-process)"
    return report, out.getvalue()
