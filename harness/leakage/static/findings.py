"""What the static pass reports: :class:`StaticFinding`, and the two ways to ask for them."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from harness.leakage.static.cells import join_cells
from harness.leakage.static.program import Program


@dataclass(frozen=True)
class StaticFinding:
    """One leak found in the source, located and explained in the learner's own names."""

    kind: str  # one of harness.leakage.kinds.KINDS
    line: int  # 1-based line in the module, or in the cell for notebooks
    cell: int | None  # 1-based index among the code cells, None for modules
    message: str
    fix: str


def analyse_source(source: str) -> list[StaticFinding]:
    """Findings for a module's source; a module that does not parse has none."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return _analyse(tree, lambda line: (None, line))


def analyse_cells(cells: list[str]) -> list[StaticFinding]:
    """Findings for a notebook given as its code cells in order.

    IPython magics and shell escapes (lines starting with ``%`` or ``!``) are blanked out,
    cell magics (a cell starting with ``%%``) skip their cell, and a cell that does not parse
    is left out; line numbers are mapped back to (cell, line).
    """
    tree, locate = join_cells(cells)
    return _analyse(tree, locate)


def _analyse(tree: ast.Module,
             locate: Callable[[int], tuple[int | None, int]]) -> list[StaticFinding]:
    """Read ``tree`` and place each finding with ``locate`` (module line to cell and line)."""
    def where(line: int) -> str:
        cell, local = locate(line)
        return f"line {local}" if cell is None else f"cell {cell}, line {local}"

    program = Program(tree, where)
    try:
        program.run()
    except RecursionError:
        pass  # absurdly deep expressions: keep what was found before them
    out = []
    for (kind, line), (message, fix) in program.found.items():
        cell, local = locate(line)
        out.append(StaticFinding(kind, local, cell, message, fix))
    return sorted(set(out), key=lambda f: (f.cell or 0, f.line, f.kind))
