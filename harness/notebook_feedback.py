"""Notebook feedback, grader side: cell-level messages, hygiene checks, the kept notebook.

Everything here reads the grader's own parse of the notebook (:mod:`harness.notebooks`)
and the cell log the grader cleaned on receipt (:mod:`harness.sandbox.cells`). Saved
outputs only feed the hygiene findings, which are ``quality`` checks worth 0 points:
visible with a hint, never changing a score, so a notebook and a module holding the
same code score the same.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from harness.limits import Limits
from harness.notebooks import Notebook
from harness.results import CheckResult
from harness.sandbox.cells import CellLog, CellRun, NotebookPlan, clean_error

MAX_SOURCE_CHARS = 5_000
MAX_RECORDED_CELLS = 300
MAX_IMAGE_CHARS_TOTAL = 1_500_000
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_UNSTABLE = ("%time", "timeit", "time.", "datetime", "random", "uuid", "perf_counter")


def plan(notebook: Notebook, limits: Limits) -> NotebookPlan:
    """Which cells the child runs and under which limits: a cell gets a call's time
    (``call_seconds``), the notebook its loading time (``load_seconds``)."""
    cells = notebook.code_cells
    return NotebookPlan(tuple(c.index for c in cells), tuple(c.head(1, 60) for c in cells),
                        min(limits.call_seconds, limits.load_seconds), limits.load_seconds,
                        tuple(c.index for c in cells if "raises-exception" in c.tags))


def _frame_text(frame: Any) -> str:
    if not isinstance(frame, dict):
        return ""
    where = str(frame.get("file", "?"))
    match = re.fullmatch(r"cell\[(\d+)\]", where)
    where = f"cell {match.group(1)}" if match else where
    return f"{where}, line {frame.get('line')}, in {frame.get('name')}: {frame.get('code')}"


def load_error_message(error: dict[str, Any], notebook: Notebook, log: CellLog | None) -> str:
    """Why the notebook did not run to the end: the cell, its first lines, the learner's
    traceback (cells only) and the last output of the cells before it."""
    index = error.get("cell")
    cell = notebook.cell(index) if type(index) is int else None
    missing = error.get("missing_module")
    error = {**clean_error(error), "missing_module": str(missing)[:100]}
    etype, msg = str(error.get("type", "Exception"))[:100], str(error.get("message", ""))[:1000]
    if cell is None:
        return f"your notebook raised {etype}: {msg} while it ran"
    name = f"cell {cell.number}"
    if etype == "ModuleNotFoundError":
        head = (f"{name} imports {error.get('missing_module')!r}, which is not installed in the "
                "grading environment")
    elif etype == "SystemExit":
        head = f"{name} called sys.exit(), which stops the notebook; remove it"
    elif etype in ("SyntaxError", "IndentationError"):
        head = f"syntax error in {name}, line {error.get('line')}: {msg}"
    else:
        head = f"{name} raised {etype}: {msg}"
    lines = [head, f"  {name} starts: `{cell.head(2)}`"]
    frames = [t for t in (_frame_text(f) for f in error["frames"]) if t]
    if frames:
        lines.append("  traceback (your cells only, innermost last):")
        lines.extend(f"    {f}" for f in frames[-6:])
    before = _last_output(log, cell.index) if log is not None else ""
    if before:
        lines.append("  last output before it:")
        lines.extend(f"    {ln}" for ln in before.splitlines()[-5:])
    lines.append("the cells run top to bottom in a fresh kernel (Restart & Run All in Jupyter "
                 "shows the same)")
    return "\n".join(lines)


def _run_text(run: CellRun) -> str:
    parts = []
    for out in run.outputs:
        if out.get("type") == "stream":
            parts.append(str(out.get("text", "")))
        elif isinstance(out.get("data"), dict) and "text/plain" in out["data"]:
            parts.append(str(out["data"]["text/plain"]) + "\n")
    return "".join(parts)


def _last_output(log: CellLog, before: int) -> str:
    for run in reversed(log.runs):
        if run.index < before:
            text = _run_text(run).strip()
            if text:
                return text
    return ""


def missing_name_explanation(trees: list[ast.Module], name: str) -> str:
    """Why a required name is missing when it is defined only under a ``__main__`` guard."""
    for tree in trees:
        for node in tree.body:
            if isinstance(node, ast.If) and _is_main_guard(node.test) and _defines(node, name):
                return (f"`{name}` is defined only inside `if __name__ == \"__main__\":`, "
                        "which does not run when your code is graded (a notebook is graded "
                        "like an imported module), so it is never defined; move it to the "
                        "top level")
    return ""


def explain_interface(problems: list[str], names: dict[str, Any], trees: list[ast.Module],
                      notebook: bool) -> list[str]:
    """Interface problems with the ``__main__``-guard explanation added where it applies."""
    out = []
    for text in problems:
        if notebook:
            text = text.replace("at the top level of your module",
                                "at the top level of a code cell")
        match = re.match(r"missing \w+ `(\w+)", text)
        note = missing_name_explanation(trees, match.group(1)) \
            if match and match.group(1) not in names else ""
        out.append(f"{text}\n  {note}" if note else text)
    return out


def entry_trees(path: Path) -> list[ast.Module]:
    """The entry module's AST (empty when it does not parse) for :func:`explain_interface`."""
    try:
        return [ast.parse(path.read_bytes())]
    except (SyntaxError, RecursionError, MemoryError, ValueError, OSError):
        return []


def _is_main_guard(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return bool(names and consts)


def _defines(node: ast.AST, name: str) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) \
                and sub.name == name:
            return True
        if isinstance(sub, ast.Name) and sub.id == name and isinstance(sub.ctx, ast.Store):
            return True
    return False


# ------------------------------------------------------------------ hygiene checks


def _check(cid: str, status: str, message: str, hint: str) -> CheckResult:
    return CheckResult(id=f"notebook/{cid}", name=cid, kind="quality", visibility="public",
                       status=status, points=0.0, max_points=0.0,  # type: ignore[arg-type]
                       message=message, hint=hint)


def hygiene_checks(notebook: Notebook, log: CellLog | None) -> list[CheckResult]:
    """Findings about the saved notebook: run order, stale outputs, kernel language."""
    return [_run_order(notebook), _stale_outputs(notebook, log), _kernel(notebook)]


def _run_order(notebook: Notebook) -> CheckResult:
    hint = "Kernel > Restart Kernel and Run All Cells, then save: the saved notebook then " \
           "shows one top-to-bottom run"
    counts = [(c, c.execution_count) for c in notebook.code_cells]
    if all(n is None for _, n in counts):
        return _check("run_in_order", "pass", "no saved execution counts (outputs cleared)", hint)
    problems = []
    never = [c.number for c, n in counts if n is None]
    if never:
        problems.append(f"cell(s) {_list(never)} were never run")
    seen = [(c, n) for c, n in counts if n is not None]
    for (a, m), (b, n) in zip(seen, seen[1:], strict=False):
        assert m is not None and n is not None
        if n <= m:
            problems.append(f"cell {b.number} [{n}] ran before cell {a.number} [{m}]")
        elif n != m + 1:
            problems.append(f"a gap between cell {a.number} [{m}] and cell {b.number} [{n}] "
                            "(code ran in between and is not in the notebook)")
    if seen and seen[0][1] != 1:
        problems.append(f"the first count is [{seen[0][1]}], not [1] (the kernel was not "
                        "restarted)")
    if not problems:
        return _check("run_in_order", "pass", "saved execution counts run 1, 2, 3, ... top to "
                      "bottom", hint)
    return _check("run_in_order", "fail", "the saved notebook was not run top to bottom: " +
                  "; ".join(problems[:4]), hint)


def _normal(text: str) -> str:
    return " ".join(_ADDRESS.sub("0x…", text).split())


def _stale_outputs(notebook: Notebook, log: CellLog | None) -> CheckResult:
    hint = "saved outputs are ignored for grading; re-run the notebook top to bottom and " \
           "save, so what it shows is what the code does"
    if log is None or not log.plan.completed(log):
        return CheckResult(id="notebook/outputs_match_fresh_run", name="outputs_match_fresh_run",
                           kind="quality", visibility="public", status="skip", points=0.0,
                           max_points=0.0, message="not compared: the notebook did not run to "
                           "the end", hint=hint)
    fresh = {run.index: _run_text(run) for run in log.runs}
    if not any(c.saved_text.strip() for c in notebook.code_cells):
        return _check("outputs_match_fresh_run", "pass", "no saved outputs to compare", hint)
    differ = []
    for cell in notebook.code_cells:
        if not cell.saved_text.strip() or cell.index not in fresh:
            continue
        if any(word in cell.source for word in _UNSTABLE):
            continue  # timings and random draws differ on every run
        if _normal(cell.saved_text) != _normal(fresh[cell.index]):
            saved, now = _normal(cell.saved_text)[:60], _normal(fresh[cell.index])[:60]
            differ.append(f"cell {cell.number} saved `{saved}` but printed `{now}`")
    if not differ:
        return _check("outputs_match_fresh_run", "pass", "saved outputs match a fresh run", hint)
    return _check("outputs_match_fresh_run", "fail", f"{len(differ)} cell(s) show outputs a "
                  "fresh run does not produce: " + "; ".join(differ[:3]), hint)


def _kernel(notebook: Notebook) -> CheckResult:
    hint = "choose a Python 3 kernel (Kernel > Change Kernel) and save"
    lang, name = notebook.language.lower(), notebook.kernel_name.lower()
    if lang and lang != "python" or not lang and name and not name.startswith("python"):
        return _check("python_kernel", "fail", f"the notebook was saved with the kernel "
                      f"{notebook.kernel_name or '?'} (language {notebook.language or '?'}); "
                      "it is graded as Python", hint)
    return _check("python_kernel", "pass", f"kernel {notebook.kernel_name or 'not named'} "
                  f"(language {notebook.language or 'not named'})", hint)


def _list(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:5])
    return shown + (" ..." if len(numbers) > 5 else "")


# ------------------------------------------------------------------ the kept notebook


def record(notebook: Notebook, log: CellLog | None) -> dict[str, Any]:
    """The executed notebook as data for the result: sources, fresh outputs, status."""
    runs = {run.index: run for run in log.runs} if log is not None else {}
    running = log.running if log is not None else None
    failed_cell = log.plan.failed_cell(log) if log is not None else None
    images_left = MAX_IMAGE_CHARS_TOTAL
    cells = []
    for cell in notebook.cells[:MAX_RECORDED_CELLS]:
        entry: dict[str, Any] = {"index": cell.index, "cell_type": cell.cell_type,
                                 "source": cell.source[:MAX_SOURCE_CHARS]}
        if cell.cell_type == "code":
            run = runs.get(cell.index)
            outputs = []
            for out in run.outputs if run else ():
                data = out.get("data")
                if isinstance(data, dict) and "image/png" in data:
                    size = len(data["image/png"])
                    if size > images_left:
                        data = {k: v for k, v in data.items() if k != "image/png"}
                        out = {**out, "data": data, "image_dropped": True}
                    else:
                        images_left -= size
                outputs.append(out)
            status = ("error" if run is not None and run.error is not None else "ok") if run \
                else "timeout" if cell.index == running else "not_run"
            entry.update(status=status if cell.is_code else "empty",
                         execution_count=run.execution_count if run else None,
                         saved_execution_count=cell.execution_count, outputs=outputs,
                         error=run.error if run else None,
                         duration_s=run.duration_s if run else None)
        cells.append(entry)
    return {"nbformat": notebook.nbformat, "kernel": notebook.kernel_name,
            "language": notebook.language, "cell_count": len(notebook.cells),
            "failed_cell": failed_cell, "cells": cells}
