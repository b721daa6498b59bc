"""Loops that choose among candidates: whether a loop keeps its best score and reports it."""

from __future__ import annotations

import ast

from harness.leakage.static.names import POSITIONS, SELECTING
from harness.leakage.static.syntax import call_name, dotted, kwarg


def stored_names(body: list[ast.stmt]) -> set[str]:
    """The names that ``body`` assigns, stores an item in, or appends to."""
    names: set[str] = set()
    for s in body:
        for n in ast.walk(s):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                names.add(n.id)
            elif isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store):
                key = dotted(n.value)
                if key:
                    names.add(key)
            elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                  and n.func.attr in ("append", "extend", "update", "add")):
                key = dotted(n.func.value)
                if key:
                    names.add(key)
    return names


def mentions(node: ast.AST, names: set[str]) -> bool:
    """Whether ``node`` reads one of ``names``."""
    return any(isinstance(n, (ast.Name, ast.Attribute)) and dotted(n) in names
               for n in ast.walk(node))


def selects(loop: ast.For | ast.AsyncFor | ast.While, rest: list[ast.stmt]) -> bool:
    """Whether a loop keeps its best result: a running best inside it, or a max/argmax/sort
    over what it collected afterwards."""
    for n in (n for s in loop.body for n in ast.walk(s)):
        if isinstance(n, ast.If) and isinstance(n.test, ast.Compare) and any(
                isinstance(op, (ast.Gt, ast.Lt, ast.GtE, ast.LtE)) for op in n.test.ops) and \
                any(isinstance(b, (ast.Assign, ast.AugAssign)) for b in n.body) and \
                mentions(n.test, stored_names(loop.body)):
            return True
        if isinstance(n, (ast.Assign, ast.AugAssign)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            if any("best" in (dotted(t) or "").lower() for t in targets):
                return True
    stored = stored_names(loop.body)
    for n in (n for s in rest for n in ast.walk(s)):
        if isinstance(n, ast.Call) and call_name(n) in SELECTING and mentions(n, stored):
            return True
        if isinstance(n, ast.Assign) and any(
                "best" in (dotted(t) or "").lower() for t in n.targets) and mentions(
                n.value, stored):
            return True
    return False


def _carries(node: ast.AST, names: set[str]) -> bool:
    """Whether an expression's value can hold one of the scores in ``names`` (not merely a
    position or key chosen by them)."""
    if isinstance(node, (ast.Name, ast.Attribute)):
        return dotted(node) in names or (
            isinstance(node, ast.Attribute) and _carries(node.value, names))
    if isinstance(node, ast.Subscript):
        return _carries(node.value, names)
    if isinstance(node, ast.Call):
        if call_name(node) in POSITIONS or kwarg(node, "key") is not None:
            return False
        parts: list[ast.AST] = [*node.args, *(k.value for k in node.keywords)]
        if isinstance(node.func, ast.Attribute):
            parts.append(node.func.value)
        return any(_carries(a, names) for a in parts)
    return any(_carries(c, names) for c in ast.iter_child_nodes(node))


def reports(loop: ast.For | ast.AsyncFor | ast.While, rest: list[ast.stmt],
            lines: set[int]) -> bool:
    """Whether a score computed in the loop at ``lines`` (or the best of them) is printed or
    returned after the loop."""
    scores: set[str] = set()
    for s in (n for b in loop.body for n in ast.walk(b)):
        if isinstance(s, ast.stmt) and s.lineno in lines and not isinstance(
                s, (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With)):
            scores |= stored_names([s])
    assigns = [n for b in [*loop.body, *rest] for n in ast.walk(b) if isinstance(n, ast.Assign)]
    for _ in range(3):
        for a in assigns:
            pairs: list[tuple[ast.expr, ast.expr]] = []
            for t in a.targets:
                if isinstance(t, ast.Tuple) and isinstance(a.value, ast.Tuple) and len(
                        t.elts) == len(a.value.elts):
                    pairs.extend(zip(t.elts, a.value.elts, strict=True))
                else:
                    pairs.append((t, a.value))
            for t, v in pairs:
                key = dotted(t)
                if key is not None and _carries(v, scores):
                    scores.add(key)
    for n in (n for s in rest for n in ast.walk(s)):
        if isinstance(n, ast.Return) and n.value is not None and _carries(n.value, scores):
            return True
        if isinstance(n, ast.Call) and call_name(n) in ("print", "display", "info",
                                                        "write") and _carries(n, scores):
            return True
    return False
