"""Notebook submissions, grader side: read, validate and sanitise an ``.ipynb`` as data.

The grader never executes a notebook. Here it only *reads* one: the bytes under a
size cap, JSON with every hostile failure caught (bad UTF-8, syntax with line and
column, nesting deep enough to raise ``RecursionError``), the nbformat schema, then
the code cells as text. Saved outputs are kept for hygiene findings only; they can
claim anything and never count. IPython syntax (``%magic``, ``!cmd``) is turned into
Python by IPython's pure string transformer so the cells can be parsed with ``ast``
(syntax errors, ``function_ast``), which executes nothing.

The child gets ``cells.json``: the non-empty code cells, their position in the
notebook and whether Jupyter's ``raises-exception`` tag allows them to fail.
"""

from __future__ import annotations

import ast
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import definitions
from harness.errors import HarnessError
from harness.submissions import MAX_SOURCE_BYTES, NOTEBOOK_ENTRY, StaticProblem, source_too_large
from harness.submissions import NOTEBOOK_MAX_BYTES as MAX_NOTEBOOK_BYTES

MAX_CELLS = 2_000
CELLS_FILE = "cells.json"
_TEXT_MIMES = ("text/plain",)


@dataclass(frozen=True)
class Cell:
    """One cell of a notebook as saved: its position, type, source and saved outputs."""

    index: int
    cell_type: str
    source: str
    execution_count: int | None = None
    saved_text: str = ""
    has_outputs: bool = False
    tags: tuple[str, ...] = ()

    @property
    def number(self) -> int:
        """The cell's 1-based position, as a learner counts cells in Jupyter."""
        return self.index + 1

    @property
    def is_code(self) -> bool:
        return self.cell_type == "code" and bool(self.source.strip())

    def head(self, lines: int = 2, width: int = 80) -> str:
        """The first non-empty lines of the source, for messages."""
        shown = [ln.rstrip()[:width] for ln in self.source.splitlines() if ln.strip()][:lines]
        return " / ".join(shown)


@dataclass(frozen=True)
class Notebook:
    """A parsed, schema-valid notebook."""

    cells: tuple[Cell, ...]
    nbformat: str
    kernel_name: str
    language: str

    @property
    def code_cells(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if c.is_code)

    def cell(self, index: int) -> Cell | None:
        """The cell at notebook position ``index`` (0-based), if there is one."""
        return self.cells[index] if 0 <= index < len(self.cells) else None


@dataclass(frozen=True)
class Prepared:
    """The outcome of reading a staged notebook: the notebook, or why it cannot be graded."""

    notebook: Notebook | None
    problems: tuple[StaticProblem, ...]


def _problem(name: str, text: str, line: int | None = None) -> StaticProblem:
    return StaticProblem("notebook", text, name, line)


def parse(data: bytes, name: str = NOTEBOOK_ENTRY) -> Prepared:
    """Parse notebook bytes; every way a hostile file fails becomes a :class:`StaticProblem`."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        return Prepared(None, (_problem(name, f"{name} is larger than "
                                        f"{MAX_NOTEBOOK_BYTES >> 20} MiB; clear its outputs "
                                        "(Edit > Clear Outputs of All Cells) and save it"),))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Prepared(None, (_problem(name, f"{name} is not UTF-8 text (bad byte at offset "
                                        f"{exc.start}); a notebook is a UTF-8 JSON file"),))
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        return Prepared(None, (_problem(name, f"{name} is not valid JSON: {exc.msg} at line "
                                        f"{exc.lineno}, column {exc.colno}; was it saved "
                                        "completely? Open it in Jupyter and save it again",
                                        exc.lineno),))
    except RecursionError:
        return Prepared(None, (_problem(name, f"{name} is nested too deeply to be a "
                                        "notebook"),))
    except (ValueError, MemoryError) as exc:
        return Prepared(None, (_problem(name, f"{name} is not valid JSON: {exc}"[:300]),))
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        return Prepared(None, (_problem(name, f"{name} is JSON but not a Jupyter notebook "
                                        "(no `cells`)"),))
    major, minor = raw.get("nbformat"), raw.get("nbformat_minor", 0)
    if type(major) is not int or type(minor) is not int:
        return Prepared(None, (_problem(name, f"{name} has no valid `nbformat` version "
                                        "number"),))
    if major < 4:
        return Prepared(None, (_problem(name, f"{name} uses notebook format {major}, which is "
                                        "too old to grade; open it in Jupyter and save it "
                                        "(that converts it to format 4)"),))
    if major > 4:
        return Prepared(None, (_problem(name, f"{name} uses notebook format {major}.{minor}, "
                                        "newer than this grader understands (4.x)"),))
    problem = _schema_problem(raw, minor)
    if problem:
        return Prepared(None, (_problem(name, f"{name} is not a valid notebook: {problem}"),))
    try:
        notebook = _build(raw)
    except (TypeError, ValueError, AttributeError, RecursionError) as exc:
        return Prepared(None, (_problem(name, f"{name} is not a valid notebook: {exc}"[:300]),))
    if not notebook.code_cells:
        return Prepared(None, (_problem(name, f"{name} has no code: every code cell is empty; "
                                        "write the task's functions in code cells"),))
    code = sum(len(c.source.encode("utf-8", "replace")) for c in notebook.code_cells)
    if code > MAX_SOURCE_BYTES:  # checked before IPython's transformer and ast see any of it
        return Prepared(None, (source_too_large(name, code),))
    return Prepared(notebook, tuple(syntax_problems(notebook)))


def _schema_problem(raw: dict[str, Any], minor: int) -> str:
    """nbformat's own validation, with its warnings silenced; '' when valid."""
    try:
        import nbformat
    except ImportError:
        raise HarnessError("grading notebooks needs nbformat and IPython",
                           hint="pip install 'ml-harness[ml]'") from None
    if not isinstance(raw.get("cells"), list) or len(raw["cells"]) > MAX_CELLS:
        return f"`cells` must be a list of at most {MAX_CELLS} cells"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbformat.validate(raw, version=4, version_minor=minor)
    except nbformat.ValidationError as exc:
        where = "/".join(str(p) for p in getattr(exc, "absolute_path", ()) or ())
        first = str(getattr(exc, "message", exc)).splitlines()[0][:200]
        return f"{first}" + (f" (at {where})" if where else "")
    except (RecursionError, ValueError, TypeError, KeyError, AttributeError) as exc:
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return ""


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else ""


def _saved_text(outputs: Any) -> str:
    parts = []
    for out in outputs if isinstance(outputs, list) else []:
        if not isinstance(out, dict):
            continue
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(_text(out.get("text")))
        elif kind in ("execute_result", "display_data") and isinstance(out.get("data"), dict):
            parts.extend(_text(out["data"].get(m)) for m in _TEXT_MIMES)
        elif kind == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "".join(parts)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _build(raw: dict[str, Any]) -> Notebook:
    cells = []
    for i, c in enumerate(raw["cells"]):
        meta = _dict(c.get("metadata"))
        tags = meta["tags"] if isinstance(meta.get("tags"), list) else []
        count = c.get("execution_count")
        outputs = c.get("outputs")
        cells.append(Cell(i, str(c.get("cell_type")), _text(c.get("source")),
                          count if type(count) is int else None,
                          _saved_text(outputs), bool(outputs),
                          tuple(str(t) for t in tags[:20])))
    meta = _dict(raw.get("metadata"))
    spec, info = _dict(meta.get("kernelspec")), _dict(meta.get("language_info"))
    language = spec.get("language") or info.get("name") or ""
    return Notebook(tuple(cells), f"{raw['nbformat']}.{raw.get('nbformat_minor', 0)}",
                    str(spec.get("name", ""))[:100], str(language)[:100])


# ------------------------------------------------------------------ static view of the code


def python_source(source: str) -> str:
    """A cell's source with IPython syntax turned into Python (pure text; nothing runs)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        raise HarnessError("grading notebooks needs IPython",
                           hint="pip install 'ml-harness[ml]'") from None
    manager = TransformerManager()  # type: ignore[no-untyped-call]  # IPython is untyped
    return str(manager.transform_cell(source))


def _trees(notebook: Notebook) -> Iterator[tuple[Cell, ast.Module]]:
    for cell in notebook.code_cells:
        try:
            yield cell, ast.parse(python_source(cell.source), filename=f"cell[{cell.number}]")
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            continue


def syntax_problems(notebook: Notebook) -> list[StaticProblem]:
    """Syntax errors, cell by cell, found by parsing (IPython syntax allowed)."""
    problems = []
    for cell in notebook.code_cells:
        where = f"cell {cell.number}"
        try:
            ast.parse(python_source(cell.source), filename=f"cell[{cell.number}]")
        except SyntaxError as exc:
            text = (exc.text or "").strip()
            problems.append(StaticProblem(
                "syntax", f"syntax error in {where}, line {exc.lineno}: {exc.msg}"
                + (f"\n    {text}" if text else ""), f"cell[{cell.number}]", exc.lineno))
        except (RecursionError, MemoryError, ValueError):
            problems.append(StaticProblem("syntax", f"{where} is too deeply nested or "
                                          "malformed for Python to parse", f"cell[{cell.number}]"))
        except Exception as exc:  # IPython's transformer on hostile text: still learner data
            problems.append(StaticProblem("syntax", f"{where} could not be read as IPython "
                                          f"code ({type(exc).__name__})", f"cell[{cell.number}]"))
    return problems


def function_source(notebook: Notebook, name: str) -> ast.FunctionDef | None:
    """The AST of the function a top-level name stands for, resolved as in a module
    (:func:`harness.submissions.function_source`); the cells share one namespace, and a
    later cell's binding wins, as when run. Files are named ``cell[N]``."""
    cells = tuple((f"cell[{cell.number}]", tree) for cell, tree in _trees(notebook))
    return definitions.resolve(definitions.Code(definitions.Namespace(cells)), name)


def module_trees(notebook: Notebook) -> list[ast.Module]:
    """Every parsable code cell as a module AST (for the ``__main__`` guard explanation)."""
    return [tree for _, tree in _trees(notebook)]


# ------------------------------------------------------------------ staging


def prepare(staged: Path, entry: str, shown: str = "") -> Prepared:
    """Read the staged notebook; when it is gradable, write ``cells.json`` for the child.

    ``shown`` is the file name the learner knows, for messages.
    """
    prepared = parse((staged / entry).read_bytes(), shown or entry)
    if prepared.notebook is not None and not prepared.problems:
        cells = [{"index": c.index, "source": c.source,
                  "allow_error": "raises-exception" in c.tags}
                 for c in prepared.notebook.code_cells]
        (staged / CELLS_FILE).write_text(json.dumps({"cells": cells}), encoding="utf-8")
    return prepared


# ------------------------------------------------------------------ building notebooks


def _cell_id(kind: str, i: int) -> str:
    return f"{kind}-{i}"


def new_notebook(cells: list[tuple[str, str]]) -> dict[str, Any]:
    """A valid nbformat 4.5 notebook from ``(cell_type, source)`` pairs, with no outputs."""
    out: list[dict[str, Any]] = []
    for i, (kind, source) in enumerate(cells):
        cell: dict[str, Any] = {"cell_type": kind, "id": _cell_id(kind, i), "metadata": {},
                                "source": source}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return {"cells": out, "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}


def module_cells(source: str) -> list[tuple[str, str]]:
    """Split trusted module source into cells: a markdown docstring, then one cell per
    top-level definition, with the statements between them grouped."""
    tree = ast.parse(source)
    lines = source.splitlines()
    cells: list[tuple[str, str]] = []
    body = list(tree.body)
    doc = ast.get_docstring(tree)
    if doc and body and isinstance(body[0], ast.Expr):
        cells.append(("markdown", doc))
        body = body[1:]
    group: list[str] = []
    for node in body:
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        chunk = "\n".join(lines[start - 1:node.end_lineno]).strip("\n")
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if group:
                cells.append(("code", "\n".join(group)))
                group = []
            cells.append(("code", chunk))
        else:
            group.append(chunk)
    if group:
        cells.append(("code", "\n".join(group)))
    return cells


def module_to_notebook(source: str) -> dict[str, Any]:
    """The notebook form of a (trusted) module: for references, mutants and starters."""
    return new_notebook(module_cells(source))


def starter_notebook(task: Any, starter_source: str, check_command: str) -> dict[str, Any]:
    """A starter notebook: the task as markdown, the starter's stubs as code cells, and a
    last cell that runs the public tests through the harness (skipped while grading)."""
    interface = "\n".join(f"- `{i.name}{i.signature}`: {i.doc}" for i in task.interface)
    intro = (f"# {task.title}\n\n`{task.id}`\n\n{task.description}\n\n## Interface\n\n"
             f"{interface}\n\nDefine these at the top level of a code cell (not inside "
             "`if __name__ == \"__main__\":`). Grading runs the notebook top to bottom in a "
             "fresh sandbox, then calls your functions; saved outputs are ignored.")
    cells = [("markdown", intro)]
    cells += [c for c in module_cells(starter_source) if c[0] == "code"]
    cells.append(("markdown", "## Check your work\n\nSave the notebook, then run the cell "
                  "below: it grades the *saved* file with the public tests in a sandbox, "
                  "outside this kernel. Grading skips it."))
    cells.append(("code", "import os, sys\n"
                  "if not os.environ.get(\"HARNESS_GRADING\"):\n"
                  f"    !{{sys.executable}} -m harness {check_command}"))
    return new_notebook(cells)
