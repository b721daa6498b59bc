"""What a top-level name of learner code stands for, read statically (nothing runs).

Static checks ask for "the function ``dot_loop``", but a submission may bind that name
other than by ``def dot_loop``: an alias (``dot_loop = plain_loop``, or a chain of them),
a lambda, an import from another file of a folder submission (``from helpers import
plain_loop as dot_loop``), or a later notebook cell that defines it again. This module
follows those bindings to the ``def`` that runs, and follows the names a function uses to
the submission's own functions it reaches (its helpers), so that a check judges the code
that runs, wherever it is written, and can say where that is (``file:line``).

Only top-level statements bind (the last binding wins, as once the module has run);
bindings inside ``if``/``try`` blocks or made at run time (``globals()``) are not followed.
A name bound to anything but a function, a lambda or another such name
(``functools.partial(...)``, a call's result, an ``async def``) cannot be read statically:
it resolves to ``None`` and checks report it as unreadable rather than guess. A static
reading sees code, not what runs: pair it with a probe of what ran (``modules_used``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

#: A statement binding a name, with the file it is in (a module, a notebook cell).
_Binding = tuple[str, ast.stmt]


@dataclass(frozen=True)
class Namespace:
    """One namespace of learner code: a module, or a notebook's code cells in order.

    ``parts`` are ``(file, tree)`` pairs, ``file`` as the learner knows it (``solution.py``,
    ``pkg/helpers.py``, ``cell[3]``); ``path`` is a folder file's path from the folder
    root (``""`` for the entry of a module or notebook), for relative imports.
    """

    parts: tuple[tuple[str, ast.Module], ...]
    path: str = ""


def _no_files(path: str) -> Namespace | None:
    return None


@dataclass(frozen=True)
class Code:
    """The learner code names are looked up in: the entry, and a folder's other files.

    ``files`` maps a path from the folder root (``helpers.py``, ``pkg/__init__.py``) to its
    namespace, or ``None`` where there is no such file; only a folder submission has any.
    """

    entry: Namespace
    files: Callable[[str], Namespace | None] = field(default=_no_files)


class Resolved(ast.FunctionDef):
    """The ``def`` a name stands for, with where it is and the helpers it reaches.

    It *is* an ``ast.FunctionDef`` (a lambda becomes one whose body returns its
    expression), so checks that walk a function's AST keep working. The added attributes
    are not AST fields, so ``ast.walk`` never enters the helpers:

    ``asked``: the name looked up. ``file``: where the ``def`` is. ``aliases``: the names
    followed from ``asked`` to the ``def`` (empty when ``asked`` is defined directly).
    ``helpers``: on a looked-up function, every function of the submission it reaches by
    name, transitively, nearest first (each with ``helpers`` empty and ``caller`` set to
    the function it was reached from).
    """

    asked: str
    file: str
    aliases: tuple[str, ...]
    helpers: tuple[Resolved, ...]
    caller: str

    def where(self) -> str:
        """``file:line`` of the ``def`` (or lambda)."""
        return f"{self.file}:{self.lineno}" if self.file else f"line {self.lineno}"

    def alias_note(self) -> str:
        """```dot_loop` is `plain_loop`, defined at solution.py:3`` where the name was
        followed (an alias, an import); ``""`` where it is a ``def`` of its own."""
        if not self.aliases:
            return ""
        if self.asked == self.name:
            return f"`{self.asked}` is defined at {self.where()}"
        return f"`{self.asked}` is `{self.name}`, defined at {self.where()}"


def resolved(node: ast.FunctionDef, asked: str, file: str = "",
             aliases: tuple[str, ...] = (), caller: str = "") -> Resolved:
    """``node`` as a :class:`Resolved` (a plain ``def`` from elsewhere gets no helpers)."""
    if isinstance(node, Resolved):
        return node
    out = Resolved(**{f: getattr(node, f) for f in (*node._fields, *node._attributes)
                      if hasattr(node, f)})
    out.asked, out.file, out.aliases, out.helpers, out.caller = asked, file, aliases, (), caller
    return out


def resolve(code: Code, name: str) -> Resolved | None:
    """The function ``name`` stands for in the entry, with its helpers; ``None`` when it
    is not defined or cannot be read statically. ``Class.method`` names a method."""
    found = _lookup(code, code.entry, name)
    if found is None:
        return None
    root, home = found
    reached, queue = [root], [(root, home)]
    seen = {_identity(root)}
    while queue:
        node, space = queue.pop(0)
        for used in sorted(_used_names(node)):
            helper = _lookup(code, space, used)
            if helper is None or _identity(helper[0]) in seen:
                continue
            seen.add(_identity(helper[0]))
            helper[0].caller = node.name
            reached.append(helper[0])
            queue.append(helper)
    root.helpers = tuple(reached[1:])
    return root


def _identity(node: Resolved) -> tuple[str, int, int]:
    return node.file, node.lineno, node.col_offset


def _lookup(code: Code, space: Namespace, name: str,
            chain: tuple[tuple[str, str], ...] = ()) -> tuple[Resolved, Namespace] | None:
    """Follow ``name`` in ``space`` to a function: aliases, lambdas, imports, methods.

    ``chain`` holds the ``(namespace path, name)`` pairs followed so far."""
    if (space.path, name) in chain or len(chain) > 50:
        return None  # a cycle (a = b; b = a) binds nothing that runs
    owner, _, method = name.partition(".")
    binding = _binding(space, owner)
    if binding is None:
        return None
    file, stmt = binding
    asked = chain[0][1] if chain else name
    aliases = tuple(n for _, n in chain[1:]) + (name,) if chain else ()
    followed = chain + ((space.path, name),)
    if method:
        if isinstance(stmt, ast.Import):  # helpers.plain_loop, after `import helpers`
            target = _module_of(code, space, owner)
            return _lookup(code, target, method, followed) if target is not None else None
        if not isinstance(stmt, ast.ClassDef):
            return None
        defs = [s for s in stmt.body if isinstance(s, ast.FunctionDef) and s.name == method]
        return (resolved(defs[-1], asked, file, aliases), space) if defs else None
    if isinstance(stmt, ast.FunctionDef):
        return resolved(stmt, asked, file, aliases), space
    if isinstance(stmt, ast.ImportFrom):
        return _imported(code, space, stmt, name, followed)
    value = _assigned(stmt, name)
    if isinstance(value, ast.Lambda):
        return resolved(_as_def(name, value), asked, file, aliases), space
    if isinstance(value, ast.Name):
        return _lookup(code, space, value.id, followed)
    if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name):
        return _lookup(code, space, f"{value.value.id}.{value.attr}", followed)
    return None


def _binding(space: Namespace, name: str) -> _Binding | None:
    """The last top-level statement that binds ``name`` (what it is once the code ran)."""
    last = None
    for file, tree in space.parts:
        for stmt in tree.body:
            if name in _bound_by(stmt):
                last = (file, stmt)
    return last


def _bound_by(stmt: ast.stmt) -> Iterator[str]:
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield stmt.name
    elif isinstance(stmt, ast.Import | ast.ImportFrom):
        for alias in stmt.names:
            yield alias.asname or alias.name.split(".")[0]
    elif isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, ast.Name):
                    yield node.id


def _assigned(stmt: ast.stmt, name: str) -> ast.expr | None:
    """The expression ``stmt`` binds to ``name`` (``a, b = f, g`` pairs them up)."""
    pairs: list[tuple[ast.expr, ast.expr | None]]
    if isinstance(stmt, ast.AnnAssign):
        pairs = [(stmt.target, stmt.value)]
    elif isinstance(stmt, ast.Assign):
        pairs = [(t, stmt.value) for t in stmt.targets]
    else:
        return None  # an augmented assignment, a class: not a function
    for target, value in pairs:
        if isinstance(target, ast.Name) and target.id == name:
            return value
        if isinstance(target, ast.Tuple | ast.List) and isinstance(value, ast.Tuple | ast.List) \
                and len(target.elts) == len(value.elts):
            for t, v in zip(target.elts, value.elts, strict=True):
                if isinstance(t, ast.Name) and t.id == name:
                    return v
    return None


def _as_def(name: str, lam: ast.Lambda) -> ast.FunctionDef:
    body = ast.copy_location(ast.Return(value=lam.body), lam.body)
    node = ast.FunctionDef(name=name, args=lam.args, body=[body], decorator_list=[],
                           returns=None, type_comment=None)
    return ast.copy_location(node, lam)


def _imported(code: Code, space: Namespace, stmt: ast.ImportFrom, name: str,
              chain: tuple[tuple[str, str], ...]) -> tuple[Resolved, Namespace] | None:
    """A name imported from another file of the folder (a package's module or ``__init__``)."""
    for alias in stmt.names:
        if (alias.asname or alias.name) == name:
            target = _module_file(code, space, stmt.module or "", stmt.level)
            return _lookup(code, target, alias.name, chain) if target is not None else None
    return None


def _module_of(code: Code, space: Namespace, name: str) -> Namespace | None:
    """The folder module a top-level name of ``space`` is bound to by ``import``."""
    binding = _binding(space, name)
    if binding is None or not isinstance(binding[1], ast.Import):
        return None
    for alias in binding[1].names:
        if alias.asname == name or (alias.asname is None and alias.name == name):
            return _module_file(code, space, alias.name, 0)
    return None


def _module_file(code: Code, space: Namespace, module: str, level: int) -> Namespace | None:
    """The folder's file for an import of ``module`` (``level`` dots) from ``space``."""
    parts = space.path.split("/")[:-1] if level else []
    if level > 1:
        if level - 1 > len(parts):
            return None  # above the folder: nothing of the learner's
        parts = parts[:len(parts) - (level - 1)]
    parts += [p for p in module.split(".") if p]
    if not parts:
        return None
    stem = "/".join(parts)
    return code.files(f"{stem}.py") or code.files(f"{stem}/__init__.py")


def _used_names(node: ast.FunctionDef) -> set[str]:
    """Top-level names a function uses (calls, or passes on): its possible helpers.

    Names it binds itself (parameters, assignments, nested ``def``) are local, not helpers.
    ``owner.name`` is returned too: :func:`_lookup` follows it into an imported folder
    module (``helpers.step``) or a class (``Model.fit``), and finds nothing elsewhere.
    """
    local: set[str] = set()
    used: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Attribute) and isinstance(child.value, ast.Name) \
                and isinstance(child.value.ctx, ast.Load):
            used.add(f"{child.value.id}.{child.attr}")
        if isinstance(child, ast.arg):
            local.add(child.arg)
        elif isinstance(child, ast.Name):
            (used if isinstance(child.ctx, ast.Load) else local).add(child.id)
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) \
                and child is not node:
            local.add(child.name)
    return {u for u in used if u.partition(".")[0] not in local}
