"""The per-kind rules: what each call does to the values it touches, and the leaks it shows.

A fit, a statistic, a duplication or a feature built from the label becomes a pending leak
here; a split, a cross-validation or a score on the test rows confirms the leaks reaching it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, cast

from harness.leakage import kinds
from harness.leakage.static.names import (
    ALWAYS_SHUFFLED,
    APPLY_STAT,
    CV_CONSUMERS,
    FRAME_CONSTRUCTORS,
    KEEP_COLUMNS,
    METRIC,
    NOT_METRIC,
    OVERSAMPLERS,
    PIPELINES,
    PREDICT,
    RANDOM,
    ROW_METHODS,
    SCORE_FUNCS,
    SEARCHES,
    SELECTORS,
    SPLITTERS,
    STATELESS,
    STATS,
    TARGET_ENCODERS,
    TRANSFORMERS,
    name_side,
)
from harness.leakage.static.state import (
    NONE,
    Est,
    Fit,
    Split,
    Taint,
    Val,
    all_taints,
    combine,
    ests,
    with_taints,
)
from harness.leakage.static.syntax import call_name, dotted, dropped, is_const, kwarg, src

if TYPE_CHECKING:
    from harness.leakage.static.flow import Loop
    from harness.leakage.static.program import Program

_INLINE_BUDGET = 20_000  # statements read before calls stop being inlined


class Rules:
    """The calls of a :class:`~harness.leakage.static.flow.Flow`, which mixes this in.

    The flow supplies the state declared here and the reading of expressions.
    """

    p: Program
    env: dict[str, Val]
    where: Callable[[int], str]
    loops: list[Loop]
    targets: list[str]
    line: int

    if TYPE_CHECKING:  # the flow's own methods, declared for the rules that use them
        def ev(self, node: ast.expr) -> Val: ...

        def element(self, it: Val) -> Val: ...

        def join(self, vals: Sequence[Val], line: int) -> Val: ...

        def guarded(self, v: Val) -> Val: ...

        def unknown(self, name: str) -> Val: ...

        def inline(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, args: list[Val],
                   kw: dict[str, Val]) -> Val: ...

    # ------------------------------------------------------------ calls

    def call(self, node: ast.Call) -> Val:
        func = node.func
        name = call_name(node)
        recv: Val | None = None
        if isinstance(func, ast.Attribute):
            recv = self.ev(func.value)
            if recv.module:
                recv = None
        elif not isinstance(func, ast.Name):
            self.ev(func)
        args = [self.ev(a) for a in node.args]
        kw = {k.arg: self.ev(k.value) for k in node.keywords if k.arg is not None}
        for k in node.keywords:
            if k.arg is None:
                self.ev(k.value)
        if recv is None:
            return self.function(node, name, args, kw)
        if recv.est is not None:
            return self.method_est(node, recv.est, name, args, kw)
        return self.method_data(node, recv, name, args, kw)

    def function(self, node: ast.Call, name: str, args: list[Val],
                 kw: dict[str, Val]) -> Val:
        line = self.line
        fn = self.p.facts.defs.get(name) if isinstance(node.func, ast.Name) else None
        if (fn is not None and name not in self.p.active and len(self.p.active) < 3
                and self.p.steps < _INLINE_BUDGET):
            return self.inline(fn, args, kw)
        if name == "train_test_split":
            return self.split(node, args, kw)
        if name in CV_CONSUMERS:
            return self.cross_validation(node, name, args, kw)
        if name in SCORE_FUNCS and args and args[0].side == "full":
            return with_taints(combine(args), [Taint(
                "feature-selection", line, f"{name} scores the features on all rows of "
                f"{src(node.args[0])} at {self.where(line)} to choose them",
                "score the features inside each fold: SelectKBest(" + name + ") in a "
                "Pipeline with the model, fitted on the training rows only")])
        if (name in TRANSFORMERS | SELECTORS | TARGET_ENCODERS | OVERSAMPLERS | STATELESS
                | PIPELINES | SEARCHES | SPLITTERS) or (
                name[:1].isupper() and name not in FRAME_CONSTRUCTORS):
            return self.construct(node, name, args, kw)
        if name in STATS and args:
            return self.statistic(node, args[0], node.args[0], line)
        if name == "resample" and isinstance(node.func, ast.Name) and args:
            if not is_const(kwarg(node, "replace"), False) and args[0].side == "full":
                return self.duplicating(combine(args), node, line, "draws rows with replacement")
            return combine(args)
        if name in ("concat", "concatenate", "vstack", "row_stack", "append"):
            return self.stack(node, args, kw)
        if name in ("repeat", "tile") and args and is_const(kwarg(node, "axis"), 0) \
                and args[0].side == "full" and args[0].data:
            return self.duplicating(args[0], node, line, "repeats rows")
        if name == "corrcoef" and args and any(a.data and a.side == "full" for a in args) \
                and any(a.tgt for a in args):
            return self.correlation(node, combine(args), line)
        if METRIC.search(name) and name not in NOT_METRIC:
            v = combine(args + list(kw.values()))
            self.evaluated(v, line, src(node))
            self.p.confirm([t for t in v.taints if t.kind == "overlap"],
                           f"and is then evaluated at {self.where(line)}")
            return Val(taints=v.taints)
        if name in ("print", "display", "len", "isinstance", "type", "range", "str", "repr",
                    "format", "hasattr", "getattr", "setattr", "ones_like", "zeros_like",
                    "empty_like", "full_like", "ones", "zeros", "empty", "full", "arange",
                    "linspace", "shape"):
            return NONE
        if name in ("enumerate", "reversed", "sorted", "list", "tuple", "iter", "set"):
            inner = args[0] if args else NONE
            elem = self.element(inner)
            if name == "enumerate":
                elem = Val(items=(NONE, elem))
            return replace(inner, elem=elem)
        if name == "zip":
            return Val(elem=Val(items=tuple(self.element(a) for a in args)))
        if name.startswith(("load_", "fetch_", "read_")) or name in RANDOM or (
                name.startswith("make_") and name not in PIPELINES) or (
                name in FRAME_CONSTRUCTORS and not any(a.data for a in args)):
            return Val(data=True, roots=frozenset({f"{name}@{line}"}), bunch=True)
        return self.join(args + list(kw.values()), line)

    def construct(self, node: ast.Call, name: str, args: list[Val],
                  kw: dict[str, Val]) -> Val:
        if name in TRANSFORMERS:
            role = "transformer"
        elif name in SELECTORS:
            role = "selector"
        elif name in TARGET_ENCODERS:
            role = "target-encoder"
        elif name in OVERSAMPLERS:
            role = "oversampler"
        elif name in STATELESS:
            role = "stateless"
        elif name in PIPELINES:
            role = "pipeline"
        elif name in SEARCHES:
            role = "search"
        elif name in SPLITTERS:
            role = "splitter"
        else:
            role = "model"
        steps: list[Est] = []
        for v in [*args, *kw.values()]:
            steps.extend(ests(v))
        cv = kw.get("cv")
        shuffle = name in ALWAYS_SHUFFLED or is_const(kwarg(node, "shuffle"), True)
        est = Est(next(self.p.uids), name, role, self.line, tuple(
            s for s in steps if s.role != "splitter"), shuffle=shuffle,
            cv=cv.est if cv is not None and cv.est is not None else None)
        return Val(est=est, roots=frozenset().union(*(a.roots for a in args)) if args
                   else frozenset())

    # ------------------------------------------------------------ evaluations

    def split(self, node: ast.Call, args: list[Val], kw: dict[str, Val]) -> Val:
        line = self.line
        names = self.targets
        made = names[1] if len(names) > 1 and names[1] else "the test rows"
        sink = f"before the split at {self.where(line)} that makes {made}"
        for i, (a, a_node) in enumerate(zip(args, node.args, strict=False)):
            if i == 0 or not self.is_target(a_node, a):
                self.p.confirm(all_taints(a), sink)
        if self.p.facts.series and not is_const(kwarg(node, "shuffle"), False):
            self.p.emit(
                "temporal", line,
                f"train_test_split at {self.where(line)} shuffles the rows of a time series, "
                "so the model trains on rows that come after the rows it is tested on",
                "split by time: train_test_split(..., shuffle=False) or a cut-off date, and "
                "TimeSeriesSplit for cross-validation")
        split = Split(line, made)
        items: list[Val] = []
        for a in args:
            for side in ("train", "test"):
                target = names[len(items)] if len(names) > len(items) else ""
                s = "val" if name_side(target) == "val" else side
                items.append(replace(a, side=s, fold=False, split=split, subset=True, data=True,
                                     items=None, elem=None))
        return Val(items=tuple(items), data=True)

    def is_target(self, node: ast.expr, v: Val) -> bool:
        if isinstance(node, ast.Name):
            return self.p.target_name(node.id)
        return v.tgt

    def cross_validation(self, node: ast.Call, name: str, args: list[Val],
                         kw: dict[str, Val]) -> Val:
        line = self.line
        x = args[1] if len(args) > 1 else kw.get("X")
        model = args[0] if args else kw.get("estimator")
        if x is not None:
            self.p.confirm(all_taints(x),
                           f"before the cross-validation at {self.where(line)} ({name})")
            if x.side == "full" and self.loops and name != "cross_val_predict":
                self.loops[-1].evals.append((line, name, True))
        if model is not None and model.est is not None:
            if model.est.role == "search":
                self.p.nested.add(model.est.uid)
                self.shuffled(model.est.cv)
        cv = kw.get("cv")
        self.shuffled(cv.est if cv is not None else None)
        return Val(taints=x.taints if x is not None else frozenset())

    def shuffled(self, splitter: Est | None) -> None:
        if splitter is None or not self.p.facts.series or not splitter.shuffle:
            return
        what = f"{splitter.cls}(shuffle=True)" if splitter.cls not in ALWAYS_SHUFFLED \
            else splitter.cls
        self.p.emit(
            "temporal", splitter.line,
            f"{what} at {self.where(splitter.line)} shuffles a time series into its folds, so "
            "each fold trains on rows from after the rows it is scored on",
            "use TimeSeriesSplit (or KFold without shuffle on time-ordered rows)")

    def evaluated(self, v: Val, line: int, text: str) -> None:
        if v.side in ("test", "val") and not v.fold:
            self.p.test_evals += 1
        if v.side == "test" and not v.fold and self.loops:
            self.loops[-1].evals.append((line, text, False))

    def overlap(self, est: Est, x: Val, x_node: ast.expr | None, line: int) -> Taint | None:
        f = est.fit
        if (f is None or f.side != "full" or x.side not in ("test", "val")
                or not f.roots & x.roots or est.role in (
                    "transformer", "selector", "target-encoder", "stateless", "splitter")):
            return None
        return Taint(
            "overlap", f.line, f"{est.cls} is fitted on {f.rows} (all rows, the test rows "
            f"included) at {self.where(f.line)} and then evaluated on {src(x_node)} at "
            f"{self.where(line)}, rows it has already seen",
            f"fit {est.cls} on the training rows only (.fit(X_train, y_train)) and evaluate it "
            "on the test rows; refit on all rows only after the last evaluation")

    # ------------------------------------------------------------ estimator methods

    def method_est(self, node: ast.Call, est: Est, name: str, args: list[Val],
                   kw: dict[str, Val]) -> Val:
        line = self.line
        x = args[0] if args else kw.get("X")
        x_node = node.args[0] if node.args else kwarg(node, "X")
        func = cast(ast.Attribute, node.func)
        if name in ("fit", "partial_fit", "fit_transform", "fit_predict", "fit_resample"):
            new = self.fit(est, x, x_node, line)
            key = dotted(func.value)
            if key is not None:
                self.env[key] = Val(est=new)
            if name == "fit_transform":
                return self.applied(new, x, x_node, line)
            if name == "fit_predict":
                return replace(x or NONE, pred=True, est=None)
            if name == "fit_resample":
                return self.oversampled(new, args, node, line)
            return Val(est=new)
        if name in ("transform", "inverse_transform"):
            return self.applied(est, x, x_node, line)
        if name in PREDICT or name == "score":
            if x is None:
                return NONE
            if est.role == "search" and x.side in ("test", "val"):
                self.p.tested.add(est.uid)
            t = self.overlap(est, x, x_node, line)
            if name == "score":
                self.evaluated(x, line, f"{src(func.value)}.score")
                if t is not None:
                    self.p.confirm([t], "")
                return NONE
            out = replace(x, pred=True, est=None, tgt=False, items=None)
            return with_taints(out, [t] if t is not None else [])
        if name == "split":
            if x is not None:
                self.p.confirm(all_taints(x), f"before the cross-validation folds at "
                               f"{self.where(line)} ({est.cls}.split)")
            self.shuffled(est)
            roots = x.roots if x is not None else frozenset()
            folds = (Val(side="train", fold=True, roots=roots),
                     Val(side="test", fold=True, roots=roots))
            return Val(elem=Val(items=folds))
        if name in ("set_params", "set_output"):
            return Val(est=est)
        return Val(taints=frozenset({est.taint}) if est.taint else frozenset())

    def stateful_kind(self, est: Est) -> tuple[str, str] | None:
        """The kind of leak fitting ``est`` on all rows would be, and the class that learns."""
        if est.role == "transformer":
            return "preprocessing", est.cls
        if est.role == "selector":
            return "feature-selection", est.cls
        if est.role == "target-encoder":
            return "target", est.cls
        if est.role == "pipeline":
            if any(s.role in ("model", "search") for s in est.steps):
                return None
            for s in est.steps:
                kind = self.stateful_kind(s)
                if kind is not None:
                    return kind
        return None

    def fit(self, est: Est, x: Val | None, x_node: ast.expr | None, line: int) -> Est:
        if x is None:
            return est
        if est.role == "search":
            self.p.confirm(all_taints(x), f"before the cross-validation at "
                           f"{self.where(line)} ({est.cls}.fit)")
            self.shuffled(est.cv)
            self.p.search_fits[est.uid] = x.side == "full" and not x.fold
        rows = src(x_node)
        scope = "rows from before the split" if x.subset else "all rows"
        taint = None
        kind = self.stateful_kind(est)
        if kind is not None and x.side == "full" and not x.fold:
            k, cls = kind
            what = {"preprocessing": f"{cls} is fitted on {rows} ({scope}) at "
                    f"{self.where(line)}",
                    "feature-selection": f"{cls} chooses the features using {rows} "
                    f"({scope}) at {self.where(line)}",
                    "target": f"{cls} learns its target encoding from {rows} ({scope}) at "
                    f"{self.where(line)}"}[k]
            fix = {"preprocessing": f"fit the {cls} on the training rows only: put it in a "
                   f"Pipeline with the model (make_pipeline({cls}(), model)) and fit that on "
                   "the training rows, or pass the Pipeline to cross_val_score",
                   "feature-selection": f"choose the features inside each fold: "
                   f"make_pipeline({cls}(...), model), fitted on the training rows or passed "
                   "to cross_val_score",
                   "target": f"fit the {cls} on the training rows only, inside a Pipeline "
                   "with the model"}[k]
            taint = Taint(k, line, what, fix)
        return replace(est, taint=taint, fit=Fit(line, x.side if not x.fold else "fold",
                                                 x.roots, rows))

    def applied(self, est: Est, x: Val | None, x_node: ast.expr | None, line: int) -> Val:
        if x is None:
            return NONE
        out = replace(x, est=None, items=None, cols=(), taints=all_taints(x), pred=False,
                      subset=False)
        if est.taint is None:
            return out
        if x.side != "full" and est.fit is not None and est.fit.roots & x.roots:
            sink = (f"before the split at {self.where(x.split.line)} that makes {x.split.made}"
                    if x.split is not None else
                    f"and then applied to {src(x_node)} at {self.where(line)}")
            self.p.confirm([est.taint], sink)
        return with_taints(out, [est.taint])

    def oversampled(self, est: Est, args: list[Val], node: ast.Call, line: int) -> Val:
        items = tuple(replace(a, est=None, items=None) for a in args[:2])
        if est.role != "oversampler" or not items or items[0].side != "full":
            return Val(items=items, data=True)
        t = Taint("overlap", line, f"{est.cls} at {self.where(line)} creates copies and "
                  "near-copies of rows before the data is split, so a row's twin can land on "
                  "the other side", "oversample the training rows only, after the split (or "
                  "use imblearn's Pipeline so it runs inside each fold)")
        return Val(items=tuple(with_taints(i, [t]) for i in items), data=True)

    # ------------------------------------------------------------ data methods

    def method_data(self, node: ast.Call, recv: Val, name: str, args: list[Val],
                    kw: dict[str, Val]) -> Val:
        line = self.line
        func = cast(ast.Attribute, node.func)
        if name in STATS or (name in ("transform", "agg", "aggregate") and args
                             and args[0].strs is not None and args[0].strs[0] in STATS):
            if recv.window:  # per group or per window: a feature, not a global statistic
                return replace(recv, window=False)
            return self.statistic(node, recv, func.value, line)
        if name in ("corr", "corrwith") and recv.side == "full" and recv.data:
            return self.correlation(node, combine([recv, *args]), line)
        if name in APPLY_STAT:
            if any(a.stat is not None for a in [*args, *kw.values()]):
                return self.join([replace(recv, cols=(), taints=all_taints(recv)), *args,
                                  *kw.values()], line)
            return with_taints(recv, all_taints(combine([*args, *kw.values()])))
        if name in ("shift", "diff", "pct_change"):
            k = node.args[0] if node.args else kwarg(node, "periods")
            if isinstance(k, ast.UnaryOp) and isinstance(k.op, ast.USub) or (
                    isinstance(k, ast.Constant) and isinstance(k.value, int) and k.value < 0):
                return with_taints(recv, [Taint(
                    "temporal", line, f"{src(node)} at {self.where(line)} builds a feature "
                    "from a later row, a value from the future",
                    "build features from past values only (shift(k) with k > 0); a value "
                    "from the future belongs in the target")])
            if name == "shift":  # a past value of the target is a fair feature
                return replace(recv, tgt=False, tgt_at=None)
            return recv
        if name == "rolling" and is_const(kwarg(node, "center"), True):
            return with_taints(replace(recv, window=True), [Taint(
                "temporal", line, f"the centred window {src(node)} at {self.where(line)} "
                "averages in later rows, values from the future",
                "use trailing windows only: rolling(...) without center=True, shifted by one "
                "so the current value is not in its own feature")])
        if name in ("rolling", "expanding", "ewm", "groupby") or (
                name == "resample" and args and args[0].strs is not None):
            return replace(recv, window=True)
        if name == "drop":
            gone = set(dropped(node, self.p.facts.consts))
            axis = kwarg(node, "axis")
            if gone or kwarg(node, "columns") is not None or is_const(axis, 1) or \
                    is_const(axis, "columns"):
                chosen = all_taints(combine([*args, *kw.values()]))  # e.g. a filter's list
                return replace(with_taints(recv, chosen), tgt=False, cols=tuple(
                    (c, t) for c, t in recv.cols if c not in gone))
            index = kwarg(node, "index") or (node.args[0] if node.args else None)
            return replace(combine([recv, self.ev(index)]) if index is not None else recv,
                           subset=True, cols=recv.cols, tgt=recv.tgt)
        if name == "pop" and args and args[0].strs is not None:
            col = args[0].strs[0]
            key = dotted(func.value)
            if key is not None:
                self.env[key] = replace(recv, cols=tuple(c for c in recv.cols if c[0] != col))
            return replace(recv, cols=(), tgt=self.p.target_col(col))
        if name == "append" and isinstance(func.value, ast.Name) and not recv.data:
            self.env[func.value.id] = self.guarded(replace(combine([recv, *args]), data=False,
                                                           items=recv.items))
            return NONE
        if name == "assign":
            out = recv
            for col, v in kw.items():
                taints = all_taints(v)
                if v.tgt and recv.side == "full" and not self.p.target_col(col):
                    at = v.tgt_at or line
                    taints |= {Taint(
                        "target", at, f"the feature '{col}' made by assign at "
                        f"{self.where(line)} is computed from the target at {self.where(at)}",
                        f"drop '{col}' from the features; " + kinds.fix("target"))}
                out = replace(out, cols=(*out.cols, (col, taints)))
            return out
        if name == "sample" and is_const(kwarg(node, "replace"), True) \
                and recv.side == "full" and recv.data:
            return self.duplicating(recv, node, line, "draws rows with replacement")
        if name in ROW_METHODS:
            return replace(recv, subset=True, taints=recv.taints | all_taints(combine(args)))
        if name in RANDOM:
            return Val(data=True, roots=frozenset({f"{name}@{line}"}))
        if name in ("items", "values", "keys") and recv.items is not None:
            return Val(elem=Val(items=(NONE, combine(recv.items))) if name == "items"
                       else combine(recv.items))
        if name in ("split", "get_n_splits"):
            return NONE
        if name in KEEP_COLUMNS or name in ("to_numpy", "reshape", "ravel", "flatten",
                                            "to_frame", "squeeze"):
            return with_taints(recv, all_taints(combine(args)))
        return replace(self.join([recv, *args, *kw.values()], line), tgt=recv.tgt or any(
            a.tgt for a in args))

    def statistic(self, node: ast.Call, recv: Val, recv_node: ast.expr, line: int) -> Val:
        axis = kwarg(node, "axis")
        per_row = is_const(axis, 1) or is_const(axis, "columns")
        if recv.side != "full" or not recv.data or per_row or recv.fold:
            return replace(recv, data=False, cols=(), taints=all_taints(recv), subset=False)
        stat = Taint(
            "preprocessing", line, f"{src(node)} at {self.where(line)} is computed on all "
            f"rows of {src(recv_node)}",
            "compute the statistic on the training rows only (on X_train) and apply that "
            "to both sides, or use the matching scaler or imputer inside a Pipeline")
        return Val(stat=stat, taints=all_taints(recv), roots=recv.roots, tgt=recv.tgt)

    def correlation(self, node: ast.Call, v: Val, line: int) -> Val:
        return Val(taints=all_taints(v) | {Taint(
            "feature-selection", line, f"the correlation filter {src(node)} at "
            f"{self.where(line)} uses all rows to choose the columns",
            "choose the columns inside each fold (a selector in a Pipeline with the model), or "
            "compute the correlations on the training rows only")}, roots=v.roots)

    def duplicating(self, v: Val, node: ast.Call, line: int, how: str) -> Val:
        return with_taints(replace(v, subset=True), [Taint(
            "overlap", line, f"{src(node)} at {self.where(line)} {how} before the data is "
            "split, so copies of a row can land on both sides", "oversample or duplicate the "
            "training rows only, after the split")])

    def stack(self, node: ast.Call, args: list[Val], kw: dict[str, Val]) -> Val:
        parts = list(args[0].items or [args[0]]) if args and args[0].items is not None \
            else args
        nodes: list[ast.expr] = []
        if node.args and isinstance(node.args[0], (ast.List, ast.Tuple)):
            nodes = list(node.args[0].elts)
        out = combine(parts + list(kw.values()))
        axis = kwarg(node, "axis")
        if axis is not None and not is_const(axis, 0) and not is_const(axis, "index"):
            return out
        # rows stacked as they are (not shifted or rescaled copies) from all the data
        full = [p for i, p in enumerate(parts) if p.data and p.side == "full" and not (
            i < len(nodes) and isinstance(nodes[i], (ast.BinOp, ast.UnaryOp)))]
        dumps = [ast.dump(n) for n in nodes]
        same = len(set(dumps)) < len(dumps)
        whole_and_part = any(not a.subset and a.roots & b.roots and b is not a
                             for a in full for b in full)
        if len(full) >= 2 and (same or whole_and_part) and not any(
                t.kind == "overlap" for t in out.taints):
            return self.duplicating(out, node, self.line, "stacks the same rows twice")
        return out
