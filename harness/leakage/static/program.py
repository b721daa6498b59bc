"""One program being read: its top-level flow, each function body, and the findings."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable, Iterable

from harness.leakage import kinds
from harness.leakage.static.facts import survey
from harness.leakage.static.flow import Flow
from harness.leakage.static.names import TARGET_COL, TARGET_NAME
from harness.leakage.static.state import Taint, Val


class Program:
    """One program being read: its facts, and the findings gathered so far."""

    def __init__(self, tree: ast.Module, where: Callable[[int], str]) -> None:
        self.tree = tree
        self.where = where
        self.facts = survey(tree)
        self.found: dict[tuple[str, int], tuple[str, str]] = {}
        self.top_env: dict[str, Val] = {}
        self.active: list[str] = []
        self.uids = itertools.count(1)
        self.search_fits: dict[int, bool] = {}  # uid -> fitted on all rows
        self.nested: set[int] = set()
        self.tested: set[int] = set()
        self.best_reads: list[tuple[int, int, str]] = []
        self.test_evals = 0
        self.cv_choices: list[tuple[int, str, int]] = []  # line, what, loop line
        self.steps = 0  # statements read, to bound the cost of inlining calls

    def run(self) -> None:
        top = Flow(self, self.top_env)
        top.block(self.tree.body)
        classes = {id(n) for c in ast.walk(self.tree) if isinstance(c, ast.ClassDef)
                   for n in ast.walk(c)}
        for fn in self.facts.defs.values():
            if id(fn) not in classes:
                env = dict(self.top_env)
                for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]:
                    env[a.arg] = top.unknown(a.arg)
                self.active.append(fn.name)
                Flow(self, env).block(fn.body)
                self.active.pop()
        if self.test_evals == 0:
            for line, text, loop in self.cv_choices:
                self.emit(
                    "multi-test", line,
                    f"{text} at {self.where(line)} scores each candidate of the loop at "
                    f"{self.where(loop)} on folds of all the rows and the best is kept, so its "
                    "score overstates how well the chosen model does, and no held-out test set "
                    "or outer cross-validation checks it",
                    "wrap the choice in an outer cross-validation (GridSearchCV passed to "
                    "cross_val_score), or choose on the training rows and score the chosen "
                    "model once on held-out test rows")
            for uid, line, text in self.best_reads:
                if self.search_fits.get(uid) and uid not in self.nested | self.tested:
                    self.emit(
                        "multi-test", line,
                        f"{text} at {self.where(line)} is the best of many candidates scored "
                        "on folds of all the rows, so it overstates how well the chosen model "
                        "does, and no held-out test set or outer cross-validation checks it",
                        "report cross_val_score(search, X, y) (nested cross-validation), or "
                        "fit the search on the training rows and score it once on the test "
                        "rows; " + kinds.fix("multi-test"))

    def emit(self, kind: str, line: int, message: str, fix: str) -> None:
        self.found.setdefault((kind, line), (message, fix))

    def confirm(self, taints: Iterable[Taint], sink: str) -> None:
        for t in sorted(taints, key=lambda t: (t.line, t.kind, t.what)):
            self.emit(t.kind, t.line, f"{t.what}, {sink}" if sink else t.what, t.fix)

    def target_name(self, name: str) -> bool:
        return name in self.facts.target_names or bool(TARGET_NAME.fullmatch(name))

    def target_col(self, col: str) -> bool:
        return col in self.facts.target_cols or bool(TARGET_COL.fullmatch(col))
