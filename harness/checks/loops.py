"""A static check of the Python-level loops in named functions, and of where a task allows them.

For tasks that demand vectorization: finds ``for`` and ``while`` statements,
comprehensions and generator expressions, and calls that loop in Python under a
NumPy name (``np.vectorize``, ``np.apply_along_axis``, ``np.frompyfunc``, ``map``), in the
named functions, in functions nested in them, and in the submission's own functions they
reach (so moving a loop into a helper neither hides it nor, where a task allows that loop,
counts against the learner). Names are resolved as the code binds them, by
:mod:`harness.definitions`: ``dot_loop = plain_loop`` is judged by ``plain_loop``'s body.
Works on source text plus a file name, or on what ``submission.function_ast`` returns, so
modules, folders and notebooks are checked alike. Each finding carries ``file:line``.

A task states which loops it allows where with a :class:`LoopRule` (a check's ``loops`` in
``task.toml``); :func:`assert_loops_allowed` follows it. A static check sees the code, not
what runs: pair it with a timing check.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from harness.checks import ShownToLearner
from harness.definitions import Code, Namespace, Resolved, resolve, resolved

LOOP_NODES: dict[type[ast.AST], str] = {
    ast.For: "for loop", ast.AsyncFor: "async for loop", ast.While: "while loop",
    ast.ListComp: "list comprehension", ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension", ast.GeneratorExp: "generator expression",
}
#: Calls that run a Python function once per element.
LOOPING_CALLS = frozenset({"vectorize", "apply_along_axis", "apply_over_axes", "frompyfunc",
                           "map", "reduce"})
#: The kinds a :class:`LoopRule` names: each loop belongs to one.
LOOP_KINDS = ("for", "while", "comprehension", "call")
_KIND_OF: dict[type[ast.AST], str] = {ast.For: "for", ast.AsyncFor: "for", ast.While: "while"}


@dataclass(frozen=True)
class Loop:
    """One Python-level loop: where it is and which function it belongs to.

    ``caller`` is the function a helper was reached from (``""`` in a named function).
    """

    function: str
    kind: str
    file: str
    line: int
    rule_kind: str = "comprehension"  # one of LOOP_KINDS
    caller: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file else f"line {self.line}"
        called = f" (called from {self.caller})" if self.caller else ""
        return f"{where}: {self.kind} in {self.function}(){called}"


@dataclass(frozen=True)
class LoopRule:
    """Which Python loops a check allows, and where: a check's ``loops`` in ``task.toml``.

    For example, gradient descent allows one loop, over the iterations, in ``fit_gd`` or a
    helper of it::

        [checks.test_only_the_iteration_loop]
        loops = { in = ["fit_gd"], allowed = 1, kinds = ["for", "while"] }

    ``in``: the functions the rule covers, each with every function of the submission it
    reaches (helpers; aliases and imports resolved). ``allowed``: how many loops they may
    hold in all (default 0); the first ones found, the named functions' own before their
    helpers', in the order of the code, are the allowed ones. ``kinds``: what an allowed
    loop may be (default ``for`` and ``while``; ``comprehension`` and ``call`` for
    ``map``/``np.vectorize`` can be named too); a loop of another kind is never allowed.
    A loop counts once per place in the code, however often it runs.
    """

    functions: tuple[str, ...]
    allowed: int = 0
    kinds: tuple[str, ...] = ("for", "while")

    def describe(self) -> str:
        """The rule in words, for messages."""
        where = ", ".join(self.functions)
        if not self.allowed:
            return f"{where} (with the functions of yours they call) may hold no Python loop"
        kinds = " or ".join(self.kinds)
        return (f"{where} (with the functions of yours they call) may hold at most "
                f"{self.allowed} Python loop(s), a {kinds} loop")


def loop_rule(raw: Any) -> LoopRule:
    """Read a ``loops`` table of ``task.toml``; ``ValueError`` says what is wrong with it."""
    if not isinstance(raw, dict):
        raise ValueError("must be a table: { in = [...], allowed = N, kinds = [...] }")
    unknown = set(raw) - {"in", "allowed", "kinds"}
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}: use in, allowed, kinds")
    functions = raw.get("in")
    if not isinstance(functions, list) or not functions or \
            not all(isinstance(f, str) and f for f in functions):
        raise ValueError("`in` must list the functions the rule covers")
    allowed = raw.get("allowed", 0)
    if type(allowed) is not int or allowed < 0:
        raise ValueError("`allowed` must be a whole number, 0 or more")
    kinds = raw.get("kinds", ["for", "while"])
    if not isinstance(kinds, list) or not all(k in LOOP_KINDS for k in kinds):
        raise ValueError(f"`kinds` must list some of {', '.join(LOOP_KINDS)}")
    return LoopRule(tuple(functions), allowed, tuple(kinds))


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
        Names to check, resolved through aliases; a name that is not defined (or is bound
        to something that cannot be read statically) is reported as a ``LookupError``.
    follow_calls : bool
        Also check the module's own functions that these use, transitively.

    Raises
    ------
    SyntaxError
        When ``source`` does not parse (the grader reports syntax errors earlier).
    LookupError
        When a named function is not defined at the top level.
    """
    code = Code(Namespace(((filename, ast.parse(source, filename=filename)),)))
    roots = []
    for name in functions:
        found = resolve(code, name)
        if found is None:
            raise LookupError(f"{filename} defines no function {name!r} that can be read "
                              "statically")
        roots.append(found)
    loops = loops_reached(roots, follow_calls)
    return sorted(loops, key=lambda loop: (loop.file, loop.line, loop.kind))


def loops_reached(functions: Iterable[Resolved], follow_calls: bool = True) -> list[Loop]:
    """Loops in resolved functions and (``follow_calls``) in the helpers they reach.

    In the order a :class:`LoopRule` counts them: each function's own loops by line, then
    its helpers', nearest first; a function reached twice counts once.
    """
    out: list[Loop] = []
    seen: set[tuple[str, int, int]] = set()
    for root in functions:
        for node in (root, *(root.helpers if follow_calls else ())):
            key = (node.file, node.lineno, node.col_offset)
            if key not in seen:
                seen.add(key)
                out.extend(_loops(node, node.file, node.name, node.caller))
    return out


def loops_in(node: ast.AST, filename: str, function: str) -> list[Loop]:
    """Loops anywhere inside one function's AST (nested functions included)."""
    return _loops(node, filename, function, "")


def _loops(node: ast.AST, filename: str, function: str, caller: str) -> list[Loop]:
    out = []
    for child in ast.walk(node):
        kind = LOOP_NODES.get(type(child))
        if kind is not None:
            out.append(Loop(function, kind, filename, getattr(child, "lineno", 0),
                            _KIND_OF.get(type(child), "comprehension"), caller))
        elif isinstance(child, ast.Call):
            called = _call_name(child.func)
            if called in LOOPING_CALLS:
                out.append(Loop(function, f"{called}() (a Python loop per element)", filename,
                                child.lineno, "call", caller))
    return sorted(out, key=lambda loop: (loop.line, loop.kind))


def assert_no_loops(source: str, filename: str, functions: Iterable[str],
                    follow_calls: bool = True) -> None:
    """Raise :class:`LoopsFound`, listing each loop as ``file:line``, if there are any."""
    loops = find_loops(source, filename, functions, follow_calls)
    if loops:
        raise LoopsFound(f"this task asks for vectorized code, but found {len(loops)} Python "
                         f"loop(s):\n{_listed(loops)}", where=_where(loops))


def assert_loops_allowed(function_ast: Callable[[str], Any], rule: LoopRule) -> None:
    """Raise :class:`LoopsFound` when the functions ``rule`` covers hold loops it does not allow.

    ``function_ast`` is ``submission.function_ast`` (or any name -> ``ast.FunctionDef``
    lookup; a plain ``FunctionDef`` is checked without helpers). A covered name the grader
    cannot read statically (bound to ``functools.partial(...)``, a call's result) fails the
    check with that reason, not as a loop.
    """
    roots, notes = [], []
    for name in rule.functions:
        node = function_ast(name)
        if not isinstance(node, ast.FunctionDef):
            raise LoopsFound(f"`{name}` cannot be read statically: the grader finds no `def` "
                             f"(nor an alias of one) bound to it. Define {name} with `def` so "
                             "that this check can read its loops")
        found = resolved(node, name)
        roots.append(found)
        if found.alias_note():
            notes.append(found.alias_note())
    loops = loops_reached(roots)
    fits = [i for i, loop in enumerate(loops) if loop.rule_kind in rule.kinds]
    allowed = set(fits[:rule.allowed])
    extra = [loop for i, loop in enumerate(loops) if i not in allowed]
    if not extra:
        return
    shown = [(loop, "  (allowed)") for i, loop in enumerate(loops) if i in allowed]
    note = "".join(f"\n{n}" for n in notes)
    raise LoopsFound(f"{rule.describe()}, but found {len(loops)}:\n"
                     f"{_listed(extra, shown)}{note}", where=_where(extra))


def _listed(loops: list[Loop], first: list[tuple[Loop, str]] | None = None) -> str:
    """The loops one a line (at most 20), after ``first``: loops with a tag each."""
    tagged = (first or []) + [(loop, "") for loop in loops]
    lines = "\n".join(f"  {loop}{tag}" for loop, tag in tagged[:20])
    more = f"\n  ... and {len(tagged) - 20} more" if len(tagged) > 20 else ""
    return lines + more


def _where(loops: list[Loop]) -> tuple[str, ...]:
    return tuple(f"{loop.file}:{loop.line}" for loop in loops[:20] if loop.file)


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""
