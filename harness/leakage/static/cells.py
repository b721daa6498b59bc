"""Notebook cells as one module: IPython magics blanked or unwrapped, lines mapped back."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import cast

from harness.leakage.static.syntax import call_name


def join_cells(cells: list[str]) -> tuple[ast.Module, Callable[[int], tuple[int | None, int]]]:
    """The code cells in order as one module, and the map from its lines to (cell, line)."""
    body: list[ast.stmt] = []
    starts: list[int] = []
    offset = 0
    for source in cells:
        starts.append(offset)
        tree = _parse_cell(source)
        span = source.count("\n") + 1
        if tree is not None:
            # code unwrapped from a magic's string can reach past the transformed text
            span = max([span, *(getattr(n, "end_lineno", 0) or 0 for n in ast.walk(tree))])
            ast.increment_lineno(tree, offset)
            body.extend(tree.body)
        offset += span

    def locate(line: int) -> tuple[int | None, int]:
        cell = max(i for i, start in enumerate(starts) if start < line) if starts else 0
        return cell + 1, line - starts[cell]

    return ast.Module(body=body, type_ignores=[]), locate


_MAGIC = re.compile(r"\s*([%!]|[\w.]+\s*=\s*[%!])")  # %matplotlib, !pip, files = !ls
#: Magics whose body runs as ordinary code in the notebook's namespace.
_UNWRAPPED = {"time", "capture"}


def _parse_cell(source: str) -> ast.Module | None:
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        if lines[first].lstrip()[2:].split(" ", 1)[0].strip() not in _UNWRAPPED:
            return None  # %%bash, %%writefile, %%timeit ...: not code of this namespace
        lines[first] = ""
    for i, line in enumerate(lines):
        time = re.match(r"(\s*)%time\s+(.*)", line)
        if time:
            lines[i] = time.group(1) + time.group(2)
        elif _MAGIC.match(line) or line.rstrip().endswith("?"):
            lines[i] = ""
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    try:
        tree = cast(ast.Module, compile("\n".join(lines), "<cell>", "exec", flags=flags,
                                        dont_inherit=True))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    tree.body = [s for stmt in tree.body for s in _unwrapped(stmt)]
    return tree


def _unwrapped(stmt: ast.stmt) -> list[ast.stmt]:
    """The code inside ``get_ipython().run_cell_magic('time', '', code)`` (what IPython makes
    of ``%%time``, ``%time`` and ``%%capture``), at its lines in the cell; else ``stmt``."""
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    if not (isinstance(call, ast.Call) and call_name(call) in ("run_cell_magic",
                                                               "run_line_magic")
            and call.args and _is_const_in(call.args[0], _UNWRAPPED)
            and isinstance(call.args[-1], ast.Constant) and isinstance(call.args[-1].value, str)):
        return [stmt]
    try:
        inner = ast.parse(call.args[-1].value)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [stmt]
    cell_magic = call_name(call) == "run_cell_magic"
    ast.increment_lineno(inner, stmt.lineno - 1 + int(cell_magic))
    return inner.body


def _is_const_in(node: ast.expr, values: set[str]) -> bool:
    return isinstance(node, ast.Constant) and node.value in values
