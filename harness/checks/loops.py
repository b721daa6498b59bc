"""A static check that named functions contain no Python-level loops.

For tasks that demand vectorization: finds ``for`` and ``while`` statements,
comprehensions and generator expressions, and calls that loop in Python under a
NumPy name (``np.vectorize``, ``np.apply_along_axis``, ``np.frompyfunc``, ``map``), in the
named functions, in functions nested in them, and in the module's own top-level
functions they call (so moving the loop into a helper does not hide it). Works on source
text plus a file name, so modules and notebooks (as the source the grader extracted from
them) are checked alike. Each finding carries ``file:line``.

A static check sees the code, not what runs: pair it with a timing check.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from harness.checks import ShownToLearner

LOOP_NODES: dict[type[ast.AST], str] = {
    ast.For: "for loop", ast.AsyncFor: "async for loop", ast.While: "while loop",
    ast.ListComp: "list comprehension", ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension", ast.GeneratorExp: "generator expression",
}
#: Calls that run a Python function once per element.
LOOPING_CALLS = frozenset({"vectorize", "apply_along_axis", "apply_over_axes", "frompyfunc",
                           "map", "reduce"})


@dataclass(frozen=True)
class Loop:
    """One Python-level loop: where it is and which function it belongs to."""

    function: str
    kind: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.kind} in {self.function}()"


class LoopsFound(ShownToLearner):
    """Loops where the task asks for vectorized code (the learner's own lines only)."""


def find_loops(source: str, filename: str, functions: Iterable[str],
               follow_calls: bool = True) -> list[Loop]:
    """Loops in the named top-level functions of ``source`` (``Class.method`` for methods).

    Parameters
    ----------
    source : str
        Python source (a module, or the code a notebook's cells were turned into).
    filename : str
        Reported in each finding, e.g. ``solution.py`` or ``analysis.ipynb``.
    functions : iterable of str
        Names to check; a name that is not defined is reported as a ``LookupError``.
    follow_calls : bool
        Also check the module's own top-level functions that these call, transitively.

    Raises
    ------
    SyntaxError
        When ``source`` does not parse (the grader reports syntax errors earlier).
    LookupError
        When a named function is not defined at the top level.
    """
    tree = ast.parse(source, filename=filename)
    defs = _definitions(tree)
    found: list[Loop] = []
    seen: set[str] = set()
    queue = list(functions)
    for name in queue:
        if name not in defs:
            raise LookupError(f"{filename} defines no function {name!r}")
    while queue:
        name = queue.pop(0)
        if name in seen or name not in defs:
            continue
        seen.add(name)
        node = defs[name]
        found.extend(loops_in(node, filename, name))
        if follow_calls:
            queue.extend(c for c in _called_names(node) if c in defs and c not in seen)
    return sorted(found, key=lambda loop: (loop.line, loop.kind))


def loops_in(node: ast.AST, filename: str, function: str) -> list[Loop]:
    """Loops anywhere inside one function's AST (nested functions included)."""
    out = []
    for child in ast.walk(node):
        kind = LOOP_NODES.get(type(child))
        if kind is not None:
            out.append(Loop(function, kind, filename, getattr(child, "lineno", 0)))
        elif isinstance(child, ast.Call):
            called = _call_name(child.func)
            if called in LOOPING_CALLS:
                out.append(Loop(function, f"{called}() (a Python loop per element)", filename,
                                child.lineno))
    return out


def assert_no_loops(source: str, filename: str, functions: Iterable[str],
                    follow_calls: bool = True) -> None:
    """Raise :class:`LoopsFound`, listing each loop as ``file:line``, if there are any."""
    loops = find_loops(source, filename, functions, follow_calls)
    if loops:
        lines = "\n".join(f"  {loop}" for loop in loops[:20])
        more = f"\n  ... and {len(loops) - 20} more" if len(loops) > 20 else ""
        raise LoopsFound(f"this task asks for vectorized code, but found {len(loops)} Python "
                         f"loop(s):\n{lines}{more}")


def _definitions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    defs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            defs[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    defs[f"{node.name}.{item.name}"] = item
    return defs


def _called_names(node: ast.AST) -> set[str]:
    names = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Call) and isinstance(child.func, ast.Name):
            names.add(child.func.id)
    return names


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""
