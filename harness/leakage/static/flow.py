"""The abstract interpreter over one flow: statements, branches, loops, bindings, expressions.

What calls do (fits, splits, statistics, evaluations) is in :mod:`.rules`, mixed in.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from harness.leakage.static.loops import mentions, reports, selects, stored_names
from harness.leakage.static.names import MODULES, name_side
from harness.leakage.static.rules import Rules
from harness.leakage.static.state import (
    NONE,
    Split,
    Taint,
    Val,
    all_taints,
    combine,
    with_taints,
)
from harness.leakage.static.syntax import dotted, src

if TYPE_CHECKING:
    from harness.leakage.static.program import Program

#: What follows a statement: (statements, index of the first one that follows) per level.
_Rest = tuple[tuple[list[ast.stmt], int], ...]


@dataclass
class Loop:
    """A loop being read, and the evaluations made inside it."""

    node: ast.For | ast.AsyncFor | ast.While
    evals: list[tuple[int, str, bool]] = field(default_factory=list)  # line, what, by CV


class Flow(Rules):
    """An abstract interpreter over one straight-line flow of statements."""

    def __init__(self, program: Program, env: dict[str, Val]) -> None:
        self.p = program
        self.env = env
        self.where = program.where
        self.loops: list[Loop] = []
        self.guards: list[frozenset[Taint]] = []
        self.returns: list[Val] = []
        self.targets: list[str] = []
        self.line = 0

    # ------------------------------------------------------------ statements

    def block(self, stmts: list[ast.stmt], after: _Rest = ()) -> None:
        for i, s in enumerate(stmts):
            self.p.steps += 1
            self.stmt(s, ((stmts, i + 1), *after))

    def stmt(self, s: ast.stmt, rest: _Rest) -> None:
        """Read one statement; ``rest`` is what follows it, out to the end of the flow."""
        self.line = s.lineno  # findings point at the statement, as a learner reads it
        if isinstance(s, ast.Assign):
            self.targets = [n for t in s.targets for n in self.names(t)]
            v = self.ev(s.value)
            self.targets = []
            for t in s.targets:
                self.bind(t, v, s.lineno)
        elif isinstance(s, ast.AnnAssign) and s.value is not None:
            self.bind(s.target, self.ev(s.value), s.lineno)
        elif isinstance(s, ast.AugAssign):
            old = self.ev(s.target) if isinstance(s.target, (ast.Name, ast.Attribute)) \
                else NONE
            self.bind(s.target, self.join([old, self.ev(s.value)], s.lineno), s.lineno)
        elif isinstance(s, (ast.Expr, ast.Return)) and s.value is not None:
            v = self.ev(s.value)
            if isinstance(s, ast.Return):
                self.returns.append(v)
        elif isinstance(s, (ast.Import, ast.ImportFrom)):
            for alias in s.names:
                self.env[(alias.asname or alias.name).split(".")[0]] = Val(module=True)
        elif isinstance(s, (ast.For, ast.AsyncFor, ast.While)):
            self.loop(s, rest)
        elif isinstance(s, ast.If):
            test = self.ev(s.test)
            self.guards.append(all_taints(test))
            self.branches([s.body, s.orelse], rest)
            self.guards.pop()
        elif isinstance(s, ast.Match):
            self.ev(s.subject)
            self.branches([c.body for c in s.cases], rest)
        elif isinstance(s, (ast.With, ast.AsyncWith)):
            for item in s.items:
                v = self.ev(item.context_expr)
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, v, s.lineno)
            self.block(s.body, rest)
        elif isinstance(s, ast.Try):
            for body in [s.body, *(h.body for h in s.handlers), s.orelse, s.finalbody]:
                self.block(body, rest)
        elif isinstance(s, ast.Assert):
            self.ev(s.test)

    def branches(self, bodies: list[list[ast.stmt]], rest: _Rest) -> None:
        """Alternatives each start from the state before them; afterwards a name holds what
        the last branch that changed it left, carrying the pending leaks of all of them."""
        before = dict(self.env)
        results = []
        for body in bodies:
            self.env.clear()
            self.env.update(before)
            self.block(body, rest)
            results.append(dict(self.env))
        self.env.clear()
        self.env.update(before)
        for result in results:
            for key, v in result.items():
                if before.get(key) is v:
                    continue
                old = self.env.get(key)
                if old is not None and old is not before.get(key):
                    v = with_taints(v, all_taints(old))
                self.env[key] = v

    def loop(self, s: ast.For | ast.AsyncFor | ast.While, rest: _Rest) -> None:
        if isinstance(s, ast.While):
            self.ev(s.test)
        else:
            it = self.ev(s.iter)
            self.bind(s.target, self.element(it), s.lineno)
        frame = Loop(s)
        self.loops.append(frame)
        self.block(s.body, rest)
        self.loops.pop()
        self.block(s.orelse, rest)
        if not frame.evals:
            return
        after = [x for stmts, start in rest for x in stmts[start:]]
        if selects(s, after):
            by_cv = [(line, text) for line, text, cv in frame.evals if cv]
            if by_cv and reports(s, after, {line for line, _ in by_cv}):
                self.p.cv_choices.extend((line, text, s.lineno) for line, text in by_cv)
            tested = [(line, text) for line, text, cv in frame.evals if not cv]
            if not tested or not any(mentions(x, stored_names(s.body)) for x in after):
                return
            line, text = tested[0]
            self.p.emit(
                "multi-test", line,
                f"each candidate is scored on the test rows ({text}) at {self.where(line)} "
                f"on every pass of the loop at {self.where(s.lineno)} and the best is kept, so "
                "the test set chooses the model and its score is no longer an unbiased "
                "estimate",
                "compare the candidates with cross-validation on the training rows "
                "(GridSearchCV or cross_val_score on X_train), then score only the chosen "
                "model once on the test rows")
        elif self.loops:
            self.loops[-1].evals.extend(frame.evals)

    def element(self, it: Val) -> Val:
        if it.elem is not None:
            return it.elem
        if it.items is not None:
            return combine(it.items)
        return replace(it, items=None, strs=None)

    def names(self, t: ast.expr) -> list[str]:
        if isinstance(t, (ast.Tuple, ast.List)):
            return [n for e in t.elts for n in self.names(e)]
        name = dotted(t.value if isinstance(t, ast.Starred) else t)
        return [name] if name is not None else [""]

    def guarded(self, v: Val) -> Val:
        """``v`` as stored under an ``if`` whose test carries leaks (a filter's condition)."""
        return with_taints(v, frozenset().union(*self.guards)) if self.guards else v

    def bind(self, t: ast.expr, v: Val, line: int) -> None:
        v = self.guarded(v)
        if isinstance(t, (ast.Tuple, ast.List)):
            if v.items is not None and len(v.items) == len(t.elts):
                parts = list(v.items)
            else:
                parts = [self.unpacked(v, e) for e in t.elts]
            for e, part in zip(t.elts, parts, strict=True):
                self.bind(e, part, line)
        elif isinstance(t, ast.Starred):
            self.bind(t.value, v, line)
        elif isinstance(t, ast.Subscript):
            self.store_item(t, v, line)
        else:
            key = dotted(t)
            if key is not None:
                self.env[key] = self.named(key, v, line)

    def unpacked(self, v: Val, e: ast.expr) -> Val:
        """One target of ``a, b = f(...)`` when f's result is not known item by item."""
        name = dotted(e) or ""
        side = name_side(name)
        part = replace(v, items=None, tgt=self.p.target_name(name), elem=None)
        if v.side == "full" and side is not None:
            part = replace(part, side=side)
        return part

    def named(self, key: str, v: Val, line: int) -> Val:
        if not v.roots and v.est is None and not v.module:
            v = replace(v, roots=frozenset({f"{key}@{line}"}))
        side = name_side(key)
        if side is not None and v.side == "full" and v.subset and v.data:
            # a manual split: rows of all the data kept under a train or test name
            split = Split(line, key)
            if not v.tgt and not self.p.target_name(key):
                self.p.confirm(all_taints(v),
                               f"before the split at {self.where(line)} that makes {key}")
            v = replace(v, side=side, split=split, fold=False)
        if (key in self.p.facts.x_names and v.tgt and v.side == "full"
                and not self.p.target_name(key)):
            at = v.tgt_at or line
            what = f"the features {key} at {self.where(line)} include the target" if at == line \
                else (f"the features {key} (at {self.where(line)}) are built with a value "
                      f"computed from the target at {self.where(at)}")
            v = with_taints(v, [Taint(
                "target", at, what,
                "take the target and anything computed from it out of the features")])
            v = replace(v, tgt=False, tgt_at=None)
        elif v.tgt and v.tgt_at is None and not self.p.target_name(key):
            v = replace(v, tgt_at=line)
        return v

    def store_item(self, t: ast.Subscript, v: Val, line: int) -> None:
        base_node, index = t.value, t.slice
        rows = False
        if isinstance(base_node, ast.Attribute) and base_node.attr in ("loc", "iloc", "at"):
            base_node = base_node.value
            if isinstance(index, ast.Tuple) and len(index.elts) == 2:
                rows = not (isinstance(index.elts[0], ast.Slice) and index.elts[0].lower is None
                            and index.elts[0].upper is None)
                index = index.elts[1]
        key = dotted(base_node)
        if key is None:
            self.ev(t)
            return
        old = self.env.get(key) or self.unknown(key)
        if old.items is not None and old.est is None and not old.data:  # a list or dict
            self.env[key] = replace(combine([old, v]), items=None)
            return
        index_val = self.ev(index)
        cols = index_val.strs if index_val.strs is not None and len(index_val.strs) == 1 \
            else None
        taints = all_taints(v)
        if v.stat is not None and rows and old.side == "full":
            taints |= {v.stat}
        if cols is not None:
            col = cols[0]
            if self.p.target_col(col):
                taints = frozenset()
            elif v.tgt and old.side == "full":
                at = v.tgt_at or line
                source = f" with a value computed from the target at {self.where(at)}" \
                    if at != line else " from the target"
                taints |= {Taint(
                    "target", at, f"the feature '{col}' of {key} is computed at "
                    f"{self.where(line)}{source}, so it carries the label into the features",
                    f"drop '{col}' from the features; if it is a target encoding, learn it "
                    "on the training rows only (sklearn's TargetEncoder inside a Pipeline)")}
            kept = tuple((c, t_) for c, t_ in old.cols if c != col)
            self.env[key] = replace(old, cols=(*kept, (col, taints)))
        else:
            self.env[key] = with_taints(old, taints)

    def unknown(self, name: str) -> Val:
        """A name with no known value: a parameter, or defined where this pass cannot see."""
        if name.split(".")[0] in MODULES:
            return Val(module=True)
        if name in self.p.facts.consts:
            return Val(strs=(self.p.facts.consts[name],))
        return Val(data=True, side=name_side(name) or "full",
                   roots=frozenset({f"?{name}"}), tgt=self.p.target_name(name))

    # ------------------------------------------------------------ expressions

    def join(self, vals: Sequence[Val], line: int) -> Val:
        return combine(vals, (line, self.where(line)))

    def ev(self, node: ast.expr) -> Val:
        if isinstance(node, ast.Name):
            return self.env[node.id] if node.id in self.env else self.unknown(node.id)
        if isinstance(node, ast.Constant):
            return Val(strs=(node.value,)) if isinstance(node.value, str) else NONE
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.BinOp):
            left, right = self.ev(node.left), self.ev(node.right)
            v = self.join([left, right], self.line)
            if left.strs is not None and right.strs is not None:
                v = replace(v, strs=left.strs + right.strs)
            return v
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = tuple(self.ev(e) for e in node.elts)
            v = replace(combine(items), items=items)
            if items and all(i.strs is not None for i in items):
                v = replace(v, strs=tuple(s for i in items for s in i.strs or ()))
            return v
        if isinstance(node, ast.Dict):
            values = [self.ev(e) for e in node.values]
            return replace(combine(values), items=tuple(values), data=False)
        if isinstance(node, ast.Compare):
            vals = [replace(self.ev(e), stat=None) for e in [node.left, *node.comparators]]
            v = combine(vals)
            if any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops) and v.pred:
                self.evaluated(v, self.line, src(node))
                self.p.confirm([t for t in v.taints if t.kind == "overlap"], "")
            return replace(v, stat=None)
        if isinstance(node, ast.BoolOp):
            return combine([self.ev(e) for e in node.values])
        if isinstance(node, ast.UnaryOp):
            return self.ev(node.operand)
        if isinstance(node, ast.IfExp):
            self.ev(node.test)
            return combine([self.ev(node.body), self.ev(node.orelse)])
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension(node)
        if isinstance(node, ast.NamedExpr):
            v = self.ev(node.value)
            self.bind(node.target, v, self.line)
            return v
        if isinstance(node, (ast.Starred, ast.Await)):
            return self.ev(node.value)
        if isinstance(node, ast.Slice):
            return combine([self.ev(e) for e in (node.lower, node.upper, node.step)
                            if e is not None])
        if isinstance(node, ast.JoinedStr):
            return NONE
        return NONE

    def comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp
                      | ast.DictComp) -> Val:
        saved = dict(self.env)
        guard: list[Taint] = []
        for gen in node.generators:
            self.bind(gen.target, self.element(self.ev(gen.iter)), self.line)
            for cond in gen.ifs:
                guard.extend(all_taints(self.ev(cond)))
        if isinstance(node, ast.DictComp):
            out = combine([self.ev(node.key), self.ev(node.value)])
        else:
            out = self.ev(node.elt)
        self.env.clear()
        self.env.update(saved)
        return replace(with_taints(out, guard), elem=out)

    def attribute(self, node: ast.Attribute) -> Val:
        key = dotted(node)
        if key is not None and key in self.env:
            return self.env[key]
        base = self.ev(node.value)
        attr = node.attr
        if base.module:
            return base
        if base.est is not None:
            if attr == "best_score_" and base.est.role == "search":
                self.p.best_reads.append((base.est.uid, self.line, src(node)))
            if attr == "best_estimator_":
                return base
            fit = base.est.fit
            if attr in ("feature_importances_", "coef_") and fit is not None \
                    and fit.side == "full" and base.est.role == "model":
                return Val(taints=frozenset({Taint(
                    "feature-selection", fit.line, f"{base.est.cls} is fitted on {fit.rows} "
                    f"(all rows) at {self.where(fit.line)} and its {attr} choose the columns",
                    "choose the features inside each fold: SelectFromModel("
                    f"{base.est.cls}()) in a Pipeline with the model")}))
            return Val(taints=frozenset({base.est.taint}) if base.est.taint else frozenset())
        if attr in ("shape", "dtype", "dtypes", "ndim", "size"):
            return NONE
        if attr in ("columns", "index"):
            return Val(taints=all_taints(base), roots=base.roots)
        if attr == "target" or attr in self.p.facts.target_cols:
            return replace(base, tgt=True, bunch=False, cols=(), taints=base.taints)
        col = dict(base.cols).get(attr)
        if col is not None:
            return replace(base, cols=(), taints=base.taints | col)
        return replace(base, bunch=False)

    def subscript(self, node: ast.Subscript) -> Val:
        base_node, index = node.value, node.slice
        loc = isinstance(base_node, ast.Attribute) and base_node.attr in (
            "loc", "iloc", "at", "iat")
        base = self.ev(base_node.value if loc and isinstance(base_node, ast.Attribute)
                       else base_node)
        if base.items is not None and isinstance(index, ast.Constant) and isinstance(
                index.value, int) and -len(base.items) <= index.value < len(base.items):
            return base.items[index.value]
        if base.est is not None or base.module:
            self.ev(index)
            return base
        col_node: ast.expr | None = None
        row_node: ast.expr | None = index
        if isinstance(index, ast.Tuple) and len(index.elts) == 2:
            row_node, col_node = index.elts
            if isinstance(row_node, ast.Slice) and row_node.lower is None and \
                    row_node.upper is None:
                row_node = None
        elif not loc:
            col_node, row_node = index, None
        colv = self.ev(col_node) if col_node is not None else None
        rowv = self.ev(row_node) if row_node is not None else None
        if colv is not None and colv.strs is None and rowv is None and not loc and not \
                isinstance(index, ast.Tuple):
            # df[mask] or X[idx]: a row selection after all
            rowv, colv = colv, None
        v = base
        if colv is not None:
            names = colv.strs
            if names is not None:
                picked = frozenset().union(*(t for c, t in base.cols if c in names))
                v = replace(base, cols=(), taints=base.taints | picked,
                            tgt=base.tgt or any(self.p.target_col(c) for c in names))
            else:
                v = replace(with_taints(base, all_taints(colv)), cols=())
        if rowv is not None:
            joined = combine([v, rowv])
            if rowv.side != "full":
                v = replace(joined, side=rowv.side, fold=rowv.fold, split=rowv.split,
                            roots=base.roots | rowv.roots, data=True, subset=True,
                            tgt=v.tgt)
            else:
                v = replace(v, taints=v.taints | all_taints(rowv), subset=True, stat=None)
        return replace(v, items=None, elem=None, strs=None)

    # ------------------------------------------------------------ the program's functions

    def inline(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, args: list[Val],
               kw: dict[str, Val]) -> Val:
        """The value of a call to ``fn``, its body read as a flow of its own."""
        env = dict(self.p.top_env)
        params = [*fn.args.posonlyargs, *fn.args.args]
        for i, a in enumerate([*params, *fn.args.kwonlyargs]):
            if i < len(params) and i < len(args):
                env[a.arg] = args[i]
            elif a.arg in kw:
                env[a.arg] = kw[a.arg]
            else:
                env[a.arg] = self.unknown(a.arg)
        flow = Flow(self.p, env)
        self.p.active.append(fn.name)
        flow.block(fn.body)
        self.p.active.pop()
        if len(flow.returns) == 1:
            return flow.returns[0]
        return combine(flow.returns)
