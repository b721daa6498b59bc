"""Small readings of the syntax tree: names of calls, dotted names, keywords, constants."""

from __future__ import annotations

import ast


def src(node: ast.AST | None) -> str:
    """The source text of ``node`` for a message, cut to 60 characters."""
    if node is None:
        return "the data"
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def call_name(node: ast.Call) -> str:
    """The called name: ``f`` for ``f(...)`` and ``m`` for ``obj.m(...)``."""
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return ""


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def kwarg(node: ast.Call, name: str) -> ast.expr | None:
    """The value passed as keyword ``name``, if any."""
    return next((k.value for k in node.keywords if k.arg == name), None)


def is_const(node: ast.expr | None, value: object) -> bool:
    """Whether ``node`` is the literal ``value``."""
    return isinstance(node, ast.Constant) and node.value == value


def strings(node: ast.AST | None, consts: dict[str, str]) -> list[str]:
    """The strings ``node`` spells out: literals, lists of them, names bound to one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and node.id in consts:
        return [consts[node.id]]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [s for e in node.elts for s in strings(e, consts)]
    return []


def dropped(node: ast.Call, consts: dict[str, str]) -> list[str]:
    """The column names a ``drop`` call removes (not row labels)."""
    if kwarg(node, "columns") is not None:
        return strings(kwarg(node, "columns"), consts)
    axis = kwarg(node, "axis")
    if node.args and (is_const(axis, 1) or is_const(axis, "columns")
                      or (len(node.args) > 1 and is_const(node.args[1], 1))):
        return strings(node.args[0], consts)
    return []
