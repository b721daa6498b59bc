"""A first syntactic pass over the whole program: the target, the features, time series."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from harness.leakage.static.names import CV_CONSUMERS, DATE_LIKE, TARGET_NAME
from harness.leakage.static.syntax import call_name, dropped, kwarg, strings


@dataclass
class Facts:
    """What a first syntactic pass learns: the target, the feature names, time series."""

    target_names: set[str] = field(default_factory=set)
    target_cols: set[str] = field(default_factory=set)
    x_names: set[str] = field(default_factory=set)
    consts: dict[str, str] = field(default_factory=dict)
    series: bool = False
    defs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)


def survey(tree: ast.Module) -> Facts:
    """The facts of a whole program, read from its syntax alone."""
    facts = Facts()
    nodes = list(ast.walk(tree))
    for node in nodes:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            facts.consts[node.targets[0].id] = node.value.value
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            facts.defs.setdefault(node.name, node)
    for node in nodes:
        if not isinstance(node, ast.Call):
            continue
        name = call_name(node)
        xs: list[ast.expr | None] = []
        ys: list[ast.expr | None] = []
        if name == "train_test_split":
            xs, ys = list(node.args[:1]), list(node.args[1:2])
        elif name in CV_CONSUMERS:
            xs, ys = [*node.args[1:2], kwarg(node, "X")], [*node.args[2:3], kwarg(node, "y")]
        elif isinstance(node.func, ast.Attribute) and name in (
                "fit", "fit_transform", "fit_resample", "split", "score"):
            xs, ys = [*node.args[:1], kwarg(node, "X")], [*node.args[1:2], kwarg(node, "y")]
        for x in xs:
            if isinstance(x, ast.Name):
                facts.x_names.add(x.id)
        for y in ys:
            if isinstance(y, ast.Name):
                facts.target_names.add(y.id)
            elif isinstance(y, ast.Subscript):
                facts.target_cols.update(strings(y.slice, facts.consts))
    drops: set[str] = set()
    for node in nodes:
        if not isinstance(node, ast.Assign):
            continue
        pairs: list[tuple[ast.expr, ast.expr]] = []
        for t in node.targets:
            if (isinstance(t, ast.Tuple) and isinstance(node.value, ast.Tuple)
                    and len(t.elts) == len(node.value.elts)):
                pairs.extend(zip(t.elts, node.value.elts, strict=True))
            else:
                pairs.append((t, node.value))
        for t, v in pairs:
            if not isinstance(t, ast.Name):
                continue
            if t.id in facts.target_names or TARGET_NAME.fullmatch(t.id):
                if isinstance(v, ast.Subscript):
                    facts.target_cols.update(strings(v.slice, facts.consts))
                elif isinstance(v, ast.Attribute) and v.attr not in ("target", "values"):
                    facts.target_cols.add(v.attr)
                elif isinstance(v, ast.Call) and call_name(v) == "pop" and v.args:
                    facts.target_cols.update(strings(v.args[0], facts.consts))
            elif ((t.id in facts.x_names or t.id.startswith("X")) and isinstance(v, ast.Call)
                  and call_name(v) == "drop"):
                drops.update(dropped(v, facts.consts))
    if not facts.target_cols:
        facts.target_cols = drops
    facts.series = _is_series(nodes, facts.consts)
    return facts


def _is_series(nodes: list[ast.AST], consts: dict[str, str]) -> bool:
    """Whether the data is a time series: ordered by a date, or built with lags and windows."""
    strong = weak = ordered = False
    for node in nodes:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Attribute) and t.attr == "index" for t in node.targets):
            ordered = True
        if not isinstance(node, ast.Call):
            continue
        name = call_name(node)
        method = isinstance(node.func, ast.Attribute)
        if name in ("date_range", "period_range", "bdate_range", "DatetimeIndex",
                    "PeriodIndex", "TimeSeriesSplit", "asfreq"):
            strong = True
        elif method and name in ("shift", "rolling", "ewm", "expanding"):
            strong = True
        elif method and name == "resample" and node.args and isinstance(
                node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            strong = True
        elif name == "to_datetime":
            weak = True
        elif name in ("set_index", "sort_values", "sort_index"):
            ordered = ordered or name != "sort_values"
            keys = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "by")]
            if any(DATE_LIKE.search(s) for k in keys for s in strings(k, consts)) or any(
                    isinstance(k, ast.Call) and call_name(k) == "to_datetime" for k in keys):
                strong = True
        for k in node.keywords:
            if k.arg == "parse_dates":
                weak = True
            if k.arg == "index_col" and any(DATE_LIKE.search(s) for s in strings(k.value, consts)):
                strong = True
    return strong or (weak and ordered)
