"""Static leakage analysis: read learner source, never run it, and explain leaks in its terms.

The dynamic trace (:mod:`harness.child.provenance`) decides whether leakage happened on the
run it saw; this pass explains it with a file line (or notebook cell and line) and covers
paths that run did not take. It must be precise: a finding on correct code costs more than a
missed leak, so every suspicious step (a fit, a statistic, a duplication, a feature built from
the label) only becomes a finding when its result is seen to reach an evaluation: the split,
cross-validation, or a score on the test rows.

The program is read as one straight-line flow of statements (a notebook's cells in order;
each branch of an ``if`` from the state before it, loop bodies once), with each function body
read again as a flow of its own (parameters as unknown data) and inlined where it is called.
Each name holds a small abstract value (:class:`_Val`): which side of a split its rows are on
(by the split that made them, or by a name such as ``X_test``), which datasets they come from,
which columns carry what, and the *pending* leaks ("taints") riding on them. Order matters by
construction: a fit on all rows after the last evaluation reaches no evaluation, so it is
never reported.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import cast

from harness.leakage import kinds

__all__ = ["StaticFinding", "analyse_cells", "analyse_source"]


@dataclass(frozen=True)
class StaticFinding:
    """One leak found in the source, located and explained in the learner's own names."""

    kind: str  # one of harness.leakage.kinds.KINDS
    line: int  # 1-based line in the module, or in the cell for notebooks
    cell: int | None  # 1-based index among the code cells, None for modules
    message: str
    fix: str


def analyse_source(source: str) -> list[StaticFinding]:
    """Findings for a module's source; a module that does not parse has none."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return _analyse(tree, lambda line: (None, line))


def analyse_cells(cells: list[str]) -> list[StaticFinding]:
    """Findings for a notebook given as its code cells in order.

    IPython magics and shell escapes (lines starting with ``%`` or ``!``) are blanked out,
    cell magics (a cell starting with ``%%``) skip their cell, and a cell that does not parse
    is left out; line numbers are mapped back to (cell, line).
    """
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

    return _analyse(ast.Module(body=body, type_ignores=[]), locate)


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
    if not (isinstance(call, ast.Call) and _call_name(call) in ("run_cell_magic",
                                                                  "run_line_magic")
            and call.args and _is_const_in(call.args[0], _UNWRAPPED)
            and isinstance(call.args[-1], ast.Constant) and isinstance(call.args[-1].value, str)):
        return [stmt]
    try:
        inner = ast.parse(call.args[-1].value)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [stmt]
    cell_magic = _call_name(call) == "run_cell_magic"
    ast.increment_lineno(inner, stmt.lineno - 1 + int(cell_magic))
    return inner.body


def _is_const_in(node: ast.expr, values: set[str]) -> bool:
    return isinstance(node, ast.Constant) and node.value in values


def _analyse(tree: ast.Module,
             locate: Callable[[int], tuple[int | None, int]]) -> list[StaticFinding]:
    def where(line: int) -> str:
        cell, local = locate(line)
        return f"line {local}" if cell is None else f"cell {cell}, line {local}"

    program = _Program(tree, where)
    try:
        program.run()
    except RecursionError:
        pass  # absurdly deep expressions: keep what was found before them
    out = []
    for (kind, line), (message, fix) in program.found.items():
        cell, local = locate(line)
        out.append(StaticFinding(kind, local, cell, message, fix))
    return sorted(set(out), key=lambda f: (f.cell or 0, f.line, f.kind))


# ---------------------------------------------------------------- vocabulary

_TRANSFORMERS = {
    "StandardScaler", "MinMaxScaler", "RobustScaler", "MaxAbsScaler", "SimpleImputer",
    "KNNImputer", "IterativeImputer", "OneHotEncoder", "OrdinalEncoder", "PCA", "TruncatedSVD",
    "QuantileTransformer", "PowerTransformer", "KBinsDiscretizer", "TfidfVectorizer",
    "CountVectorizer", "TfidfTransformer", "KernelPCA", "IncrementalPCA", "FastICA", "NMF",
    "FactorAnalysis", "Nystroem"}
_SELECTORS = {
    "SelectKBest", "SelectPercentile", "VarianceThreshold", "RFE", "RFECV", "SelectFromModel",
    "SequentialFeatureSelector", "GenericUnivariateSelect", "SelectFpr", "SelectFdr",
    "SelectFwe"}
_TARGET_ENCODERS = {
    "TargetEncoder", "MEstimateEncoder", "LeaveOneOutEncoder", "CatBoostEncoder",
    "WOEEncoder", "JamesSteinEncoder", "GLMMEncoder"}
_OVERSAMPLERS = {
    "SMOTE", "RandomOverSampler", "ADASYN", "BorderlineSMOTE", "SVMSMOTE", "SMOTENC",
    "SMOTEN", "KMeansSMOTE", "SMOTETomek", "SMOTEENN"}
#: Fitted only in name: what they learn does not depend on which rows they saw.
_STATELESS = {
    "FunctionTransformer", "Normalizer", "PolynomialFeatures", "Binarizer", "SplineTransformer",
    "LabelEncoder", "LabelBinarizer", "MultiLabelBinarizer", "HashingVectorizer",
    "RandomUnderSampler"}
_PIPELINES = {
    "Pipeline", "make_pipeline", "ColumnTransformer", "make_column_transformer",
    "FeatureUnion", "make_union", "TransformedTargetRegressor"}
_SEARCHES = {
    "GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV",
    "BayesSearchCV"}
_SPLITTERS = {
    "KFold", "StratifiedKFold", "GroupKFold", "ShuffleSplit", "StratifiedShuffleSplit",
    "RepeatedKFold", "RepeatedStratifiedKFold", "TimeSeriesSplit", "LeaveOneOut",
    "GroupShuffleSplit", "StratifiedGroupKFold", "LeaveOneGroupOut", "LeavePGroupsOut",
    "PredefinedSplit"}
_ALWAYS_SHUFFLED = {"ShuffleSplit", "StratifiedShuffleSplit", "RepeatedKFold",
                    "RepeatedStratifiedKFold", "GroupShuffleSplit"}
_CV_CONSUMERS = {"cross_val_score", "cross_validate", "cross_val_predict", "learning_curve",
                 "validation_curve", "permutation_test_score"}
_SCORE_FUNCS = {"mutual_info_classif", "mutual_info_regression", "f_classif", "f_regression",
                "chi2", "r_regression", "f_oneway"}
_FRAME_CONSTRUCTORS = {"DataFrame", "Series", "array", "asarray", "Index", "matrix"}
_STATS = {"mean", "std", "var", "median", "min", "max", "quantile", "sem", "mad", "nanmean",
          "nanstd", "nanvar", "nanmedian", "percentile", "nanpercentile", "nanquantile",
          "amin", "amax", "nanmin", "nanmax", "ptp", "average"}
_APPLY_STAT = {"fillna", "clip", "sub", "subtract", "div", "divide", "truediv", "add", "mul",
               "multiply", "where", "mask", "replace", "combine_first"}
_KEEP_COLUMNS = {"copy", "reset_index", "sort_values", "sort_index", "dropna", "astype",
                 "rename", "infer_objects", "convert_dtypes", "set_index", "ffill",
                 "bfill", "drop_duplicates"}
_ROW_METHODS = {"head", "tail", "sample", "query", "nlargest", "nsmallest", "take"}
_PREDICT = {"predict", "predict_proba", "predict_log_proba", "decision_function"}
_METRIC = re.compile(r".*(_score|_error|_loss)$|accuracy|^f1|^precision|^recall|^roc_auc|"
                     r"^r2|^confusion_matrix$|^classification_report$|^matthews")
_NOT_METRIC = {"make_scorer", "get_scorer", "check_scoring", "cross_val_score"}
_RANDOM = {"rand", "randn", "normal", "uniform", "random", "random_sample", "standard_normal",
           "randint", "integers", "multivariate_normal", "poisson", "binomial", "exponential"}
_MODULES = {"np", "numpy", "pd", "pandas", "sklearn", "scipy", "stats", "plt", "sns",
            "math", "torch", "tf", "random", "os", "sys", "json", "pickle", "joblib",
            "imblearn", "xgb", "lgb", "datasets", "metrics"}
_SELECTING = {"max", "min", "argmax", "argmin", "nanargmax", "nanargmin", "idxmax", "idxmin",
              "sorted", "sort_values", "nlargest", "nsmallest", "sort", "argsort"}
_TARGET_NAME = re.compile(r"y|y_?(tr|te|train|test|val|valid|all|full|\d+)\w*|"
                          r"(target|label|labels)(_\w*)?", re.IGNORECASE)
_TARGET_COL = re.compile(r"y|target|label|labels|class|outcome", re.IGNORECASE)
_DATE_LIKE = re.compile(r"date|time|day|month|year|week|hour|period|^ds$", re.IGNORECASE)
_INLINE_BUDGET = 20_000  # statements read before calls stop being inlined
_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def _name_side(name: str) -> str | None:
    """The side of a split a variable's name claims ("X_train", "Xte", "df_val")."""
    tokens = [t.lower() for t in _TOKEN.findall(name.rsplit(".", 1)[-1])]
    if any(re.fullmatch(r"[xy]?(train\w*|training|trn|tr)", t) for t in tokens):
        return "train"
    if any(re.fullmatch(r"[xy]?(test\w*|tst|te|holdout|heldout)", t) for t in tokens):
        return "test"
    if any(re.fullmatch(r"[xy]?(val|valid|validation|va)", t) for t in tokens):
        return "val"
    return None


def _src(node: ast.AST | None) -> str:
    if node is None:
        return "the data"
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _call_name(node: ast.Call) -> str:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return ""


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _kwarg(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def _is_const(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value == value


# ---------------------------------------------------------------- abstract values

@dataclass(frozen=True)
class _Taint:
    """A leak waiting for its evidence: it becomes a finding when it reaches an evaluation."""

    kind: str
    line: int
    what: str
    fix: str


@dataclass(frozen=True)
class _Split:
    line: int
    made: str  # what the split made, for messages ("X_test")


@dataclass(frozen=True)
class _Fit:
    line: int
    side: str
    roots: frozenset[str]
    rows: str  # source text of the rows it was fitted on


@dataclass(frozen=True)
class _Est:
    uid: int
    cls: str
    role: str  # transformer selector target-encoder oversampler stateless pipeline search
    #            splitter model
    line: int
    steps: tuple[_Est, ...] = ()
    taint: _Taint | None = None
    fit: _Fit | None = None
    shuffle: bool = False
    cv: _Est | None = None


@dataclass(frozen=True)
class _Val:
    """What the analysis knows about the value of one expression."""

    data: bool = False
    side: str = "full"  # full, train, test or val
    fold: bool = False  # a cross-validation fold, not a held-out split
    roots: frozenset[str] = frozenset()
    taints: frozenset[_Taint] = frozenset()
    cols: tuple[tuple[str, frozenset[_Taint]], ...] = ()
    stat: _Taint | None = None
    split: _Split | None = None
    est: _Est | None = None
    pred: bool = False
    tgt: bool = False
    tgt_at: int | None = None  # where a value derived from the target was first kept
    window: bool = False  # rolling, expanding, ewm or groupby: statistics here are not global
    subset: bool = False
    items: tuple[_Val, ...] | None = None
    elem: _Val | None = None
    strs: tuple[str, ...] | None = None
    module: bool = False
    bunch: bool = False


_NONE = _Val()


def _all_taints(v: _Val) -> frozenset[_Taint]:
    return v.taints.union(*(t for _, t in v.cols)) if v.cols else v.taints


def _with(v: _Val, taints: Iterable[_Taint]) -> _Val:
    extra = frozenset(taints)
    return replace(v, taints=v.taints | extra) if extra - v.taints else v


def _join(vals: Sequence[_Val], at: tuple[int, str] | None = None) -> _Val:
    """The value of an operation over several values.

    A statistic of all rows (of the features, not the target) applied to data there becomes
    a preprocessing taint at ``at``, the line and place of the operation.
    """
    if not vals:
        return _NONE
    sides = {v.side for v in vals if v.side != "full"}
    if "train" in sides and sides & {"test", "val"}:
        side = "full"  # train and test put back together
    else:
        side = next((s for s in ("test", "val", "train") if s in sides), "full")
    taints = frozenset().union(*(_all_taints(v) for v in vals))
    stats = [v.stat for v in vals if v.stat is not None and not v.tgt]
    plain = any(v.data and v.stat is None for v in vals)
    stat = stats[0] if stats else None
    if stat is not None and plain:
        if at is not None and at[0] != stat.line:
            stat = replace(stat, line=at[0], what=f"{stat.what} and used at {at[1]} to "
                           "transform the data")
        else:
            stat = replace(stat, what=f"{stat.what} and used there to transform the data")
        taints, stat = taints | {stat}, None
    return _Val(
        data=any(v.data for v in vals), side=side,
        fold=side != "full" and any(v.fold for v in vals if v.side == side),
        roots=frozenset().union(*(v.roots for v in vals)), taints=taints, stat=stat,
        split=next((v.split for v in vals if v.split is not None and v.side == side), None),
        est=next((v.est for v in vals if v.est is not None), None),
        pred=any(v.pred for v in vals), tgt=any(v.tgt for v in vals),
        tgt_at=next((v.tgt_at for v in vals if v.tgt and v.tgt_at is not None), None),
        bunch=False)


def _ests(v: _Val) -> list[_Est]:
    found = [v.est] if v.est is not None else []
    for item in v.items or ():
        found.extend(_ests(item))
    return found


# ---------------------------------------------------------------- the program

@dataclass
class _Facts:
    """What a first syntactic pass learns: the target, the feature names, time series."""

    target_names: set[str] = field(default_factory=set)
    target_cols: set[str] = field(default_factory=set)
    x_names: set[str] = field(default_factory=set)
    consts: dict[str, str] = field(default_factory=dict)
    series: bool = False
    defs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)


def _strs(node: ast.AST | None, consts: dict[str, str]) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and node.id in consts:
        return [consts[node.id]]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [s for e in node.elts for s in _strs(e, consts)]
    return []


def _dropped(node: ast.Call, consts: dict[str, str]) -> list[str]:
    """The column names a ``drop`` call removes (not row labels)."""
    if _kwarg(node, "columns") is not None:
        return _strs(_kwarg(node, "columns"), consts)
    axis = _kwarg(node, "axis")
    if node.args and (_is_const(axis, 1) or _is_const(axis, "columns")
                      or (len(node.args) > 1 and _is_const(node.args[1], 1))):
        return _strs(node.args[0], consts)
    return []


def _survey(tree: ast.Module) -> _Facts:
    facts = _Facts()
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
        name = _call_name(node)
        xs: list[ast.expr | None] = []
        ys: list[ast.expr | None] = []
        if name == "train_test_split":
            xs, ys = list(node.args[:1]), list(node.args[1:2])
        elif name in _CV_CONSUMERS:
            xs, ys = [*node.args[1:2], _kwarg(node, "X")], [*node.args[2:3], _kwarg(node, "y")]
        elif isinstance(node.func, ast.Attribute) and name in (
                "fit", "fit_transform", "fit_resample", "split", "score"):
            xs, ys = [*node.args[:1], _kwarg(node, "X")], [*node.args[1:2], _kwarg(node, "y")]
        for x in xs:
            if isinstance(x, ast.Name):
                facts.x_names.add(x.id)
        for y in ys:
            if isinstance(y, ast.Name):
                facts.target_names.add(y.id)
            elif isinstance(y, ast.Subscript):
                facts.target_cols.update(_strs(y.slice, facts.consts))
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
            if t.id in facts.target_names or _TARGET_NAME.fullmatch(t.id):
                if isinstance(v, ast.Subscript):
                    facts.target_cols.update(_strs(v.slice, facts.consts))
                elif isinstance(v, ast.Attribute) and v.attr not in ("target", "values"):
                    facts.target_cols.add(v.attr)
                elif isinstance(v, ast.Call) and _call_name(v) == "pop" and v.args:
                    facts.target_cols.update(_strs(v.args[0], facts.consts))
            elif ((t.id in facts.x_names or t.id.startswith("X")) and isinstance(v, ast.Call)
                  and _call_name(v) == "drop"):
                drops.update(_dropped(v, facts.consts))
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
        name = _call_name(node)
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
            if any(_DATE_LIKE.search(s) for k in keys for s in _strs(k, consts)) or any(
                    isinstance(k, ast.Call) and _call_name(k) == "to_datetime" for k in keys):
                strong = True
        for k in node.keywords:
            if k.arg == "parse_dates":
                weak = True
            if k.arg == "index_col" and any(_DATE_LIKE.search(s) for s in _strs(k.value, consts)):
                strong = True
    return strong or (weak and ordered)


class _Program:
    """One program being read: its facts, and the findings gathered so far."""

    def __init__(self, tree: ast.Module, where: Callable[[int], str]) -> None:
        self.tree = tree
        self.where = where
        self.facts = _survey(tree)
        self.found: dict[tuple[str, int], tuple[str, str]] = {}
        self.top_env: dict[str, _Val] = {}
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
        top = _Flow(self, self.top_env)
        top.block(self.tree.body)
        classes = {id(n) for c in ast.walk(self.tree) if isinstance(c, ast.ClassDef)
                   for n in ast.walk(c)}
        for fn in self.facts.defs.values():
            if id(fn) not in classes:
                env = dict(self.top_env)
                for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]:
                    env[a.arg] = top.unknown(a.arg)
                self.active.append(fn.name)
                _Flow(self, env).block(fn.body)
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

    def confirm(self, taints: Iterable[_Taint], sink: str) -> None:
        for t in sorted(taints, key=lambda t: (t.line, t.kind, t.what)):
            self.emit(t.kind, t.line, f"{t.what}, {sink}" if sink else t.what, t.fix)

    def target_name(self, name: str) -> bool:
        return name in self.facts.target_names or bool(_TARGET_NAME.fullmatch(name))

    def target_col(self, col: str) -> bool:
        return col in self.facts.target_cols or bool(_TARGET_COL.fullmatch(col))


#: What follows a statement: (statements, index of the first one that follows) per level.
_Rest = tuple[tuple[list[ast.stmt], int], ...]


@dataclass
class _Loop:
    node: ast.For | ast.AsyncFor | ast.While
    evals: list[tuple[int, str, bool]] = field(default_factory=list)  # line, what, by CV


class _Flow:
    """An abstract interpreter over one straight-line flow of statements."""

    def __init__(self, program: _Program, env: dict[str, _Val]) -> None:
        self.p = program
        self.env = env
        self.where = program.where
        self.loops: list[_Loop] = []
        self.guards: list[frozenset[_Taint]] = []
        self.returns: list[_Val] = []
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
                else _NONE
            self.bind(s.target, self.join([old, self.ev(s.value)], s.lineno), s.lineno)
        elif isinstance(s, (ast.Expr, ast.Return)) and s.value is not None:
            v = self.ev(s.value)
            if isinstance(s, ast.Return):
                self.returns.append(v)
        elif isinstance(s, (ast.Import, ast.ImportFrom)):
            for alias in s.names:
                self.env[(alias.asname or alias.name).split(".")[0]] = _Val(module=True)
        elif isinstance(s, (ast.For, ast.AsyncFor, ast.While)):
            self.loop(s, rest)
        elif isinstance(s, ast.If):
            test = self.ev(s.test)
            self.guards.append(_all_taints(test))
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
                    v = _with(v, _all_taints(old))
                self.env[key] = v

    def loop(self, s: ast.For | ast.AsyncFor | ast.While, rest: _Rest) -> None:
        if isinstance(s, ast.While):
            self.ev(s.test)
        else:
            it = self.ev(s.iter)
            self.bind(s.target, self.element(it), s.lineno)
        frame = _Loop(s)
        self.loops.append(frame)
        self.block(s.body, rest)
        self.loops.pop()
        self.block(s.orelse, rest)
        if not frame.evals:
            return
        after = [x for stmts, start in rest for x in stmts[start:]]
        if _selects(s, after):
            by_cv = [(line, text) for line, text, cv in frame.evals if cv]
            if by_cv and _reports(s, after, {line for line, _ in by_cv}):
                self.p.cv_choices.extend((line, text, s.lineno) for line, text in by_cv)
            tested = [(line, text) for line, text, cv in frame.evals if not cv]
            if not tested or not any(_mentions(x, _stored_names(s.body)) for x in after):
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

    def element(self, it: _Val) -> _Val:
        if it.elem is not None:
            return it.elem
        if it.items is not None:
            return _join(it.items)
        return replace(it, items=None, strs=None)

    def names(self, t: ast.expr) -> list[str]:
        if isinstance(t, (ast.Tuple, ast.List)):
            return [n for e in t.elts for n in self.names(e)]
        name = _dotted(t.value if isinstance(t, ast.Starred) else t)
        return [name] if name is not None else [""]

    def guarded(self, v: _Val) -> _Val:
        """``v`` as stored under an ``if`` whose test carries leaks (a filter's condition)."""
        return _with(v, frozenset().union(*self.guards)) if self.guards else v

    def bind(self, t: ast.expr, v: _Val, line: int) -> None:
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
            key = _dotted(t)
            if key is not None:
                self.env[key] = self.named(key, v, line)

    def unpacked(self, v: _Val, e: ast.expr) -> _Val:
        """One target of ``a, b = f(...)`` when f's result is not known item by item."""
        name = _dotted(e) or ""
        side = _name_side(name)
        part = replace(v, items=None, tgt=self.p.target_name(name), elem=None)
        if v.side == "full" and side is not None:
            part = replace(part, side=side)
        return part

    def named(self, key: str, v: _Val, line: int) -> _Val:
        if not v.roots and v.est is None and not v.module:
            v = replace(v, roots=frozenset({f"{key}@{line}"}))
        side = _name_side(key)
        if side is not None and v.side == "full" and v.subset and v.data:
            # a manual split: rows of all the data kept under a train or test name
            split = _Split(line, key)
            if not v.tgt and not self.p.target_name(key):
                self.p.confirm(_all_taints(v),
                               f"before the split at {self.where(line)} that makes {key}")
            v = replace(v, side=side, split=split, fold=False)
        if (key in self.p.facts.x_names and v.tgt and v.side == "full"
                and not self.p.target_name(key)):
            at = v.tgt_at or line
            what = f"the features {key} at {self.where(line)} include the target" if at == line \
                else (f"the features {key} (at {self.where(line)}) are built with a value "
                      f"computed from the target at {self.where(at)}")
            v = _with(v, [_Taint(
                "target", at, what,
                "take the target and anything computed from it out of the features")])
            v = replace(v, tgt=False, tgt_at=None)
        elif v.tgt and v.tgt_at is None and not self.p.target_name(key):
            v = replace(v, tgt_at=line)
        return v

    def store_item(self, t: ast.Subscript, v: _Val, line: int) -> None:
        base_node, index = t.value, t.slice
        rows = False
        if isinstance(base_node, ast.Attribute) and base_node.attr in ("loc", "iloc", "at"):
            base_node = base_node.value
            if isinstance(index, ast.Tuple) and len(index.elts) == 2:
                rows = not (isinstance(index.elts[0], ast.Slice) and index.elts[0].lower is None
                            and index.elts[0].upper is None)
                index = index.elts[1]
        key = _dotted(base_node)
        if key is None:
            self.ev(t)
            return
        old = self.env.get(key) or self.unknown(key)
        if old.items is not None and old.est is None and not old.data:  # a list or dict
            self.env[key] = replace(_join([old, v]), items=None)
            return
        index_val = self.ev(index)
        cols = index_val.strs if index_val.strs is not None and len(index_val.strs) == 1 \
            else None
        taints = _all_taints(v)
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
                taints |= {_Taint(
                    "target", at, f"the feature '{col}' of {key} is computed at "
                    f"{self.where(line)}{source}, so it carries the label into the features",
                    f"drop '{col}' from the features; if it is a target encoding, learn it "
                    "on the training rows only (sklearn's TargetEncoder inside a Pipeline)")}
            kept = tuple((c, t_) for c, t_ in old.cols if c != col)
            self.env[key] = replace(old, cols=(*kept, (col, taints)))
        else:
            self.env[key] = _with(old, taints)

    def unknown(self, name: str) -> _Val:
        """A name with no known value: a parameter, or defined where this pass cannot see."""
        if name.split(".")[0] in _MODULES:
            return _Val(module=True)
        if name in self.p.facts.consts:
            return _Val(strs=(self.p.facts.consts[name],))
        return _Val(data=True, side=_name_side(name) or "full",
                    roots=frozenset({f"?{name}"}), tgt=self.p.target_name(name))

    # ------------------------------------------------------------ expressions

    def join(self, vals: Sequence[_Val], line: int) -> _Val:
        return _join(vals, (line, self.where(line)))

    def ev(self, node: ast.expr) -> _Val:
        if isinstance(node, ast.Name):
            return self.env[node.id] if node.id in self.env else self.unknown(node.id)
        if isinstance(node, ast.Constant):
            return _Val(strs=(node.value,)) if isinstance(node.value, str) else _NONE
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
            v = replace(_join(items), items=items)
            if items and all(i.strs is not None for i in items):
                v = replace(v, strs=tuple(s for i in items for s in i.strs or ()))
            return v
        if isinstance(node, ast.Dict):
            values = [self.ev(e) for e in node.values]
            return replace(_join(values), items=tuple(values), data=False)
        if isinstance(node, ast.Compare):
            vals = [replace(self.ev(e), stat=None) for e in [node.left, *node.comparators]]
            v = _join(vals)
            if any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops) and v.pred:
                self.evaluated(v, self.line, _src(node))
                self.p.confirm([t for t in v.taints if t.kind == "overlap"], "")
            return replace(v, stat=None)
        if isinstance(node, ast.BoolOp):
            return _join([self.ev(e) for e in node.values])
        if isinstance(node, ast.UnaryOp):
            return self.ev(node.operand)
        if isinstance(node, ast.IfExp):
            self.ev(node.test)
            return _join([self.ev(node.body), self.ev(node.orelse)])
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension(node)
        if isinstance(node, ast.NamedExpr):
            v = self.ev(node.value)
            self.bind(node.target, v, self.line)
            return v
        if isinstance(node, (ast.Starred, ast.Await)):
            return self.ev(node.value)
        if isinstance(node, ast.Slice):
            return _join([self.ev(e) for e in (node.lower, node.upper, node.step)
                          if e is not None])
        if isinstance(node, ast.JoinedStr):
            return _NONE
        return _NONE

    def comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp
                      | ast.DictComp) -> _Val:
        saved = dict(self.env)
        guard: list[_Taint] = []
        for gen in node.generators:
            self.bind(gen.target, self.element(self.ev(gen.iter)), self.line)
            for cond in gen.ifs:
                guard.extend(_all_taints(self.ev(cond)))
        if isinstance(node, ast.DictComp):
            out = _join([self.ev(node.key), self.ev(node.value)])
        else:
            out = self.ev(node.elt)
        self.env.clear()
        self.env.update(saved)
        return replace(_with(out, guard), elem=out)

    def attribute(self, node: ast.Attribute) -> _Val:
        key = _dotted(node)
        if key is not None and key in self.env:
            return self.env[key]
        base = self.ev(node.value)
        attr = node.attr
        if base.module:
            return base
        if base.est is not None:
            if attr == "best_score_" and base.est.role == "search":
                self.p.best_reads.append((base.est.uid, self.line, _src(node)))
            if attr == "best_estimator_":
                return base
            fit = base.est.fit
            if attr in ("feature_importances_", "coef_") and fit is not None \
                    and fit.side == "full" and base.est.role == "model":
                return _Val(taints=frozenset({_Taint(
                    "feature-selection", fit.line, f"{base.est.cls} is fitted on {fit.rows} "
                    f"(all rows) at {self.where(fit.line)} and its {attr} choose the columns",
                    "choose the features inside each fold: SelectFromModel("
                    f"{base.est.cls}()) in a Pipeline with the model")}))
            return _Val(taints=frozenset({base.est.taint}) if base.est.taint else frozenset())
        if attr in ("shape", "dtype", "dtypes", "ndim", "size"):
            return _NONE
        if attr in ("columns", "index"):
            return _Val(taints=_all_taints(base), roots=base.roots)
        if attr == "target" or attr in self.p.facts.target_cols:
            return replace(base, tgt=True, bunch=False, cols=(), taints=base.taints)
        col = dict(base.cols).get(attr)
        if col is not None:
            return replace(base, cols=(), taints=base.taints | col)
        return replace(base, bunch=False)

    def subscript(self, node: ast.Subscript) -> _Val:
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
                v = replace(_with(base, _all_taints(colv)), cols=())
        if rowv is not None:
            joined = _join([v, rowv])
            if rowv.side != "full":
                v = replace(joined, side=rowv.side, fold=rowv.fold, split=rowv.split,
                            roots=base.roots | rowv.roots, data=True, subset=True,
                            tgt=v.tgt)
            else:
                v = replace(v, taints=v.taints | _all_taints(rowv), subset=True, stat=None)
        return replace(v, items=None, elem=None, strs=None)

    # ------------------------------------------------------------ calls

    def call(self, node: ast.Call) -> _Val:
        func = node.func
        name = _call_name(node)
        recv: _Val | None = None
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

    def function(self, node: ast.Call, name: str, args: list[_Val],
                 kw: dict[str, _Val]) -> _Val:
        line = self.line
        fn = self.p.facts.defs.get(name) if isinstance(node.func, ast.Name) else None
        if (fn is not None and name not in self.p.active and len(self.p.active) < 3
                and self.p.steps < _INLINE_BUDGET):
            return self.inline(fn, args, kw)
        if name == "train_test_split":
            return self.split(node, args, kw)
        if name in _CV_CONSUMERS:
            return self.cross_validation(node, name, args, kw)
        if name in _SCORE_FUNCS and args and args[0].side == "full":
            return _with(_join(args), [_Taint(
                "feature-selection", line, f"{name} scores the features on all rows of "
                f"{_src(node.args[0])} at {self.where(line)} to choose them",
                "score the features inside each fold: SelectKBest(" + name + ") in a "
                "Pipeline with the model, fitted on the training rows only")])
        if (name in _TRANSFORMERS | _SELECTORS | _TARGET_ENCODERS | _OVERSAMPLERS | _STATELESS
                | _PIPELINES | _SEARCHES | _SPLITTERS) or (
                name[:1].isupper() and name not in _FRAME_CONSTRUCTORS):
            return self.construct(node, name, args, kw)
        if name in _STATS and args:
            return self.statistic(node, args[0], node.args[0], line)
        if name == "resample" and isinstance(node.func, ast.Name) and args:
            if not _is_const(_kwarg(node, "replace"), False) and args[0].side == "full":
                return self.duplicating(_join(args), node, line, "draws rows with replacement")
            return _join(args)
        if name in ("concat", "concatenate", "vstack", "row_stack", "append"):
            return self.stack(node, args, kw)
        if name in ("repeat", "tile") and args and _is_const(_kwarg(node, "axis"), 0) \
                and args[0].side == "full" and args[0].data:
            return self.duplicating(args[0], node, line, "repeats rows")
        if name == "corrcoef" and args and any(a.data and a.side == "full" for a in args) \
                and any(a.tgt for a in args):
            return self.correlation(node, _join(args), line)
        if _METRIC.search(name) and name not in _NOT_METRIC:
            v = _join(args + list(kw.values()))
            self.evaluated(v, line, _src(node))
            self.p.confirm([t for t in v.taints if t.kind == "overlap"],
                           f"and is then evaluated at {self.where(line)}")
            return _Val(taints=v.taints)
        if name in ("print", "display", "len", "isinstance", "type", "range", "str", "repr",
                    "format", "hasattr", "getattr", "setattr", "ones_like", "zeros_like",
                    "empty_like", "full_like", "ones", "zeros", "empty", "full", "arange",
                    "linspace", "shape"):
            return _NONE
        if name in ("enumerate", "reversed", "sorted", "list", "tuple", "iter", "set"):
            inner = args[0] if args else _NONE
            elem = self.element(inner)
            if name == "enumerate":
                elem = _Val(items=(_NONE, elem))
            return replace(inner, elem=elem)
        if name == "zip":
            return _Val(elem=_Val(items=tuple(self.element(a) for a in args)))
        if name.startswith(("load_", "fetch_", "read_")) or name in _RANDOM or (
                name.startswith("make_") and name not in _PIPELINES) or (
                name in _FRAME_CONSTRUCTORS and not any(a.data for a in args)):
            return _Val(data=True, roots=frozenset({f"{name}@{line}"}), bunch=True)
        return self.join(args + list(kw.values()), line)

    def inline(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, args: list[_Val],
               kw: dict[str, _Val]) -> _Val:
        env = dict(self.p.top_env)
        params = [*fn.args.posonlyargs, *fn.args.args]
        for i, a in enumerate([*params, *fn.args.kwonlyargs]):
            if i < len(params) and i < len(args):
                env[a.arg] = args[i]
            elif a.arg in kw:
                env[a.arg] = kw[a.arg]
            else:
                env[a.arg] = self.unknown(a.arg)
        flow = _Flow(self.p, env)
        self.p.active.append(fn.name)
        flow.block(fn.body)
        self.p.active.pop()
        if len(flow.returns) == 1:
            return flow.returns[0]
        return _join(flow.returns)

    def construct(self, node: ast.Call, name: str, args: list[_Val],
                  kw: dict[str, _Val]) -> _Val:
        if name in _TRANSFORMERS:
            role = "transformer"
        elif name in _SELECTORS:
            role = "selector"
        elif name in _TARGET_ENCODERS:
            role = "target-encoder"
        elif name in _OVERSAMPLERS:
            role = "oversampler"
        elif name in _STATELESS:
            role = "stateless"
        elif name in _PIPELINES:
            role = "pipeline"
        elif name in _SEARCHES:
            role = "search"
        elif name in _SPLITTERS:
            role = "splitter"
        else:
            role = "model"
        steps: list[_Est] = []
        for v in [*args, *kw.values()]:
            steps.extend(_ests(v))
        cv = kw.get("cv")
        shuffle = name in _ALWAYS_SHUFFLED or _is_const(_kwarg(node, "shuffle"), True)
        est = _Est(next(self.p.uids), name, role, self.line, tuple(
            s for s in steps if s.role != "splitter"), shuffle=shuffle,
            cv=cv.est if cv is not None and cv.est is not None else None)
        return _Val(est=est, roots=frozenset().union(*(a.roots for a in args)) if args
                    else frozenset())

    # ------------------------------------------------------------ evaluations

    def split(self, node: ast.Call, args: list[_Val], kw: dict[str, _Val]) -> _Val:
        line = self.line
        names = self.targets
        made = names[1] if len(names) > 1 and names[1] else "the test rows"
        sink = f"before the split at {self.where(line)} that makes {made}"
        for i, (a, a_node) in enumerate(zip(args, node.args, strict=False)):
            if i == 0 or not self.is_target(a_node, a):
                self.p.confirm(_all_taints(a), sink)
        if self.p.facts.series and not _is_const(_kwarg(node, "shuffle"), False):
            self.p.emit(
                "temporal", line,
                f"train_test_split at {self.where(line)} shuffles the rows of a time series, "
                "so the model trains on rows that come after the rows it is tested on",
                "split by time: train_test_split(..., shuffle=False) or a cut-off date, and "
                "TimeSeriesSplit for cross-validation")
        split = _Split(line, made)
        items: list[_Val] = []
        for a in args:
            for side in ("train", "test"):
                target = names[len(items)] if len(names) > len(items) else ""
                s = "val" if _name_side(target) == "val" else side
                items.append(replace(a, side=s, fold=False, split=split, subset=True, data=True,
                                     items=None, elem=None))
        return _Val(items=tuple(items), data=True)

    def is_target(self, node: ast.expr, v: _Val) -> bool:
        if isinstance(node, ast.Name):
            return self.p.target_name(node.id)
        return v.tgt

    def cross_validation(self, node: ast.Call, name: str, args: list[_Val],
                         kw: dict[str, _Val]) -> _Val:
        line = self.line
        x = args[1] if len(args) > 1 else kw.get("X")
        model = args[0] if args else kw.get("estimator")
        if x is not None:
            self.p.confirm(_all_taints(x),
                           f"before the cross-validation at {self.where(line)} ({name})")
            if x.side == "full" and self.loops and name != "cross_val_predict":
                self.loops[-1].evals.append((line, name, True))
        if model is not None and model.est is not None:
            if model.est.role == "search":
                self.p.nested.add(model.est.uid)
                self.shuffled(model.est.cv)
        cv = kw.get("cv")
        self.shuffled(cv.est if cv is not None else None)
        return _Val(taints=x.taints if x is not None else frozenset())

    def shuffled(self, splitter: _Est | None) -> None:
        if splitter is None or not self.p.facts.series or not splitter.shuffle:
            return
        what = f"{splitter.cls}(shuffle=True)" if splitter.cls not in _ALWAYS_SHUFFLED \
            else splitter.cls
        self.p.emit(
            "temporal", splitter.line,
            f"{what} at {self.where(splitter.line)} shuffles a time series into its folds, so "
            "each fold trains on rows from after the rows it is scored on",
            "use TimeSeriesSplit (or KFold without shuffle on time-ordered rows)")

    def evaluated(self, v: _Val, line: int, text: str) -> None:
        if v.side in ("test", "val") and not v.fold:
            self.p.test_evals += 1
        if v.side == "test" and not v.fold and self.loops:
            self.loops[-1].evals.append((line, text, False))

    def overlap(self, est: _Est, x: _Val, x_node: ast.expr | None, line: int) -> _Taint | None:
        f = est.fit
        if (f is None or f.side != "full" or x.side not in ("test", "val")
                or not f.roots & x.roots or est.role in (
                    "transformer", "selector", "target-encoder", "stateless", "splitter")):
            return None
        return _Taint(
            "overlap", f.line, f"{est.cls} is fitted on {f.rows} (all rows, the test rows "
            f"included) at {self.where(f.line)} and then evaluated on {_src(x_node)} at "
            f"{self.where(line)}, rows it has already seen",
            f"fit {est.cls} on the training rows only (.fit(X_train, y_train)) and evaluate it "
            "on the test rows; refit on all rows only after the last evaluation")

    # ------------------------------------------------------------ estimator methods

    def method_est(self, node: ast.Call, est: _Est, name: str, args: list[_Val],
                   kw: dict[str, _Val]) -> _Val:
        line = self.line
        x = args[0] if args else kw.get("X")
        x_node = node.args[0] if node.args else _kwarg(node, "X")
        func = cast(ast.Attribute, node.func)
        if name in ("fit", "partial_fit", "fit_transform", "fit_predict", "fit_resample"):
            new = self.fit(est, x, x_node, line)
            key = _dotted(func.value)
            if key is not None:
                self.env[key] = _Val(est=new)
            if name == "fit_transform":
                return self.applied(new, x, x_node, line)
            if name == "fit_predict":
                return replace(x or _NONE, pred=True, est=None)
            if name == "fit_resample":
                return self.oversampled(new, args, node, line)
            return _Val(est=new)
        if name in ("transform", "inverse_transform"):
            return self.applied(est, x, x_node, line)
        if name in _PREDICT or name == "score":
            if x is None:
                return _NONE
            if est.role == "search" and x.side in ("test", "val"):
                self.p.tested.add(est.uid)
            t = self.overlap(est, x, x_node, line)
            if name == "score":
                self.evaluated(x, line, f"{_src(func.value)}.score")
                if t is not None:
                    self.p.confirm([t], "")
                return _NONE
            out = replace(x, pred=True, est=None, tgt=False, items=None)
            return _with(out, [t] if t is not None else [])
        if name == "split":
            if x is not None:
                self.p.confirm(_all_taints(x), f"before the cross-validation folds at "
                               f"{self.where(line)} ({est.cls}.split)")
            self.shuffled(est)
            roots = x.roots if x is not None else frozenset()
            folds = (_Val(side="train", fold=True, roots=roots),
                     _Val(side="test", fold=True, roots=roots))
            return _Val(elem=_Val(items=folds))
        if name in ("set_params", "set_output"):
            return _Val(est=est)
        return _Val(taints=frozenset({est.taint}) if est.taint else frozenset())

    def stateful_kind(self, est: _Est) -> tuple[str, str] | None:
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

    def fit(self, est: _Est, x: _Val | None, x_node: ast.expr | None, line: int) -> _Est:
        if x is None:
            return est
        if est.role == "search":
            self.p.confirm(_all_taints(x), f"before the cross-validation at "
                           f"{self.where(line)} ({est.cls}.fit)")
            self.shuffled(est.cv)
            self.p.search_fits[est.uid] = x.side == "full" and not x.fold
        rows = _src(x_node)
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
            taint = _Taint(k, line, what, fix)
        return replace(est, taint=taint, fit=_Fit(line, x.side if not x.fold else "fold",
                                                  x.roots, rows))

    def applied(self, est: _Est, x: _Val | None, x_node: ast.expr | None, line: int) -> _Val:
        if x is None:
            return _NONE
        out = replace(x, est=None, items=None, cols=(), taints=_all_taints(x), pred=False,
                      subset=False)
        if est.taint is None:
            return out
        if x.side != "full" and est.fit is not None and est.fit.roots & x.roots:
            sink = (f"before the split at {self.where(x.split.line)} that makes {x.split.made}"
                    if x.split is not None else
                    f"and then applied to {_src(x_node)} at {self.where(line)}")
            self.p.confirm([est.taint], sink)
        return _with(out, [est.taint])

    def oversampled(self, est: _Est, args: list[_Val], node: ast.Call, line: int) -> _Val:
        items = tuple(replace(a, est=None, items=None) for a in args[:2])
        if est.role != "oversampler" or not items or items[0].side != "full":
            return _Val(items=items, data=True)
        t = _Taint("overlap", line, f"{est.cls} at {self.where(line)} creates copies and "
                   "near-copies of rows before the data is split, so a row's twin can land on "
                   "the other side", "oversample the training rows only, after the split (or "
                   "use imblearn's Pipeline so it runs inside each fold)")
        return _Val(items=tuple(_with(i, [t]) for i in items), data=True)

    # ------------------------------------------------------------ data methods

    def method_data(self, node: ast.Call, recv: _Val, name: str, args: list[_Val],
                    kw: dict[str, _Val]) -> _Val:
        line = self.line
        func = cast(ast.Attribute, node.func)
        if name in _STATS or (name in ("transform", "agg", "aggregate") and args
                              and args[0].strs is not None and args[0].strs[0] in _STATS):
            if recv.window:  # per group or per window: a feature, not a global statistic
                return replace(recv, window=False)
            return self.statistic(node, recv, func.value, line)
        if name in ("corr", "corrwith") and recv.side == "full" and recv.data:
            return self.correlation(node, _join([recv, *args]), line)
        if name in _APPLY_STAT:
            if any(a.stat is not None for a in [*args, *kw.values()]):
                return self.join([replace(recv, cols=(), taints=_all_taints(recv)), *args,
                                  *kw.values()], line)
            return _with(recv, _all_taints(_join([*args, *kw.values()])))
        if name in ("shift", "diff", "pct_change"):
            k = node.args[0] if node.args else _kwarg(node, "periods")
            if isinstance(k, ast.UnaryOp) and isinstance(k.op, ast.USub) or (
                    isinstance(k, ast.Constant) and isinstance(k.value, int) and k.value < 0):
                return _with(recv, [_Taint(
                    "temporal", line, f"{_src(node)} at {self.where(line)} builds a feature "
                    "from a later row, a value from the future",
                    "build features from past values only (shift(k) with k > 0); a value "
                    "from the future belongs in the target")])
            if name == "shift":  # a past value of the target is a fair feature
                return replace(recv, tgt=False, tgt_at=None)
            return recv
        if name == "rolling" and _is_const(_kwarg(node, "center"), True):
            return _with(replace(recv, window=True), [_Taint(
                "temporal", line, f"the centred window {_src(node)} at {self.where(line)} "
                "averages in later rows, values from the future",
                "use trailing windows only: rolling(...) without center=True, shifted by one "
                "so the current value is not in its own feature")])
        if name in ("rolling", "expanding", "ewm", "groupby") or (
                name == "resample" and args and args[0].strs is not None):
            return replace(recv, window=True)
        if name == "drop":
            gone = set(_dropped(node, self.p.facts.consts))
            axis = _kwarg(node, "axis")
            if gone or _kwarg(node, "columns") is not None or _is_const(axis, 1) or \
                    _is_const(axis, "columns"):
                chosen = _all_taints(_join([*args, *kw.values()]))  # e.g. a filter's list
                return replace(_with(recv, chosen), tgt=False, cols=tuple(
                    (c, t) for c, t in recv.cols if c not in gone))
            index = _kwarg(node, "index") or (node.args[0] if node.args else None)
            return replace(_join([recv, self.ev(index)]) if index is not None else recv,
                           subset=True, cols=recv.cols, tgt=recv.tgt)
        if name == "pop" and args and args[0].strs is not None:
            col = args[0].strs[0]
            key = _dotted(func.value)
            if key is not None:
                self.env[key] = replace(recv, cols=tuple(c for c in recv.cols if c[0] != col))
            return replace(recv, cols=(), tgt=self.p.target_col(col))
        if name == "append" and isinstance(func.value, ast.Name) and not recv.data:
            self.env[func.value.id] = self.guarded(replace(_join([recv, *args]), data=False,
                                                           items=recv.items))
            return _NONE
        if name == "assign":
            out = recv
            for col, v in kw.items():
                taints = _all_taints(v)
                if v.tgt and recv.side == "full" and not self.p.target_col(col):
                    at = v.tgt_at or line
                    taints |= {_Taint(
                        "target", at, f"the feature '{col}' made by assign at "
                        f"{self.where(line)} is computed from the target at {self.where(at)}",
                        f"drop '{col}' from the features; " + kinds.fix("target"))}
                out = replace(out, cols=(*out.cols, (col, taints)))
            return out
        if name == "sample" and _is_const(_kwarg(node, "replace"), True) \
                and recv.side == "full" and recv.data:
            return self.duplicating(recv, node, line, "draws rows with replacement")
        if name in _ROW_METHODS:
            return replace(recv, subset=True, taints=recv.taints | _all_taints(_join(args)))
        if name in _RANDOM:
            return _Val(data=True, roots=frozenset({f"{name}@{line}"}))
        if name in ("items", "values", "keys") and recv.items is not None:
            return _Val(elem=_Val(items=(_NONE, _join(recv.items))) if name == "items"
                        else _join(recv.items))
        if name in ("split", "get_n_splits"):
            return _NONE
        if name in _KEEP_COLUMNS or name in ("to_numpy", "reshape", "ravel", "flatten",
                                             "to_frame", "squeeze"):
            return _with(recv, _all_taints(_join(args)))
        return replace(self.join([recv, *args, *kw.values()], line), tgt=recv.tgt or any(
            a.tgt for a in args))

    def statistic(self, node: ast.Call, recv: _Val, recv_node: ast.expr, line: int) -> _Val:
        axis = _kwarg(node, "axis")
        per_row = _is_const(axis, 1) or _is_const(axis, "columns")
        if recv.side != "full" or not recv.data or per_row or recv.fold:
            return replace(recv, data=False, cols=(), taints=_all_taints(recv), subset=False)
        stat = _Taint(
            "preprocessing", line, f"{_src(node)} at {self.where(line)} is computed on all "
            f"rows of {_src(recv_node)}",
            "compute the statistic on the training rows only (on X_train) and apply that "
            "to both sides, or use the matching scaler or imputer inside a Pipeline")
        return _Val(stat=stat, taints=_all_taints(recv), roots=recv.roots, tgt=recv.tgt)

    def correlation(self, node: ast.Call, v: _Val, line: int) -> _Val:
        return _Val(taints=_all_taints(v) | {_Taint(
            "feature-selection", line, f"the correlation filter {_src(node)} at "
            f"{self.where(line)} uses all rows to choose the columns",
            "choose the columns inside each fold (a selector in a Pipeline with the model), or "
            "compute the correlations on the training rows only")}, roots=v.roots)

    def duplicating(self, v: _Val, node: ast.Call, line: int, how: str) -> _Val:
        return _with(replace(v, subset=True), [_Taint(
            "overlap", line, f"{_src(node)} at {self.where(line)} {how} before the data is "
            "split, so copies of a row can land on both sides", "oversample or duplicate the "
            "training rows only, after the split")])

    def stack(self, node: ast.Call, args: list[_Val], kw: dict[str, _Val]) -> _Val:
        parts = list(args[0].items or [args[0]]) if args and args[0].items is not None \
            else args
        nodes: list[ast.expr] = []
        if node.args and isinstance(node.args[0], (ast.List, ast.Tuple)):
            nodes = list(node.args[0].elts)
        out = _join(parts + list(kw.values()))
        axis = _kwarg(node, "axis")
        if axis is not None and not _is_const(axis, 0) and not _is_const(axis, "index"):
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


def _stored_names(body: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for s in body:
        for n in ast.walk(s):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                names.add(n.id)
            elif isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store):
                key = _dotted(n.value)
                if key:
                    names.add(key)
            elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                  and n.func.attr in ("append", "extend", "update", "add")):
                key = _dotted(n.func.value)
                if key:
                    names.add(key)
    return names


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, (ast.Name, ast.Attribute)) and _dotted(n) in names
               for n in ast.walk(node))


def _selects(loop: ast.For | ast.AsyncFor | ast.While, rest: list[ast.stmt]) -> bool:
    """Whether a loop keeps its best result: a running best inside it, or a max/argmax/sort
    over what it collected afterwards."""
    for n in (n for s in loop.body for n in ast.walk(s)):
        if isinstance(n, ast.If) and isinstance(n.test, ast.Compare) and any(
                isinstance(op, (ast.Gt, ast.Lt, ast.GtE, ast.LtE)) for op in n.test.ops) and \
                any(isinstance(b, (ast.Assign, ast.AugAssign)) for b in n.body) and \
                _mentions(n.test, _stored_names(loop.body)):
            return True
        if isinstance(n, (ast.Assign, ast.AugAssign)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            if any("best" in (_dotted(t) or "").lower() for t in targets):
                return True
    stored = _stored_names(loop.body)
    for n in (n for s in rest for n in ast.walk(s)):
        if isinstance(n, ast.Call) and _call_name(n) in _SELECTING and _mentions(n, stored):
            return True
        if isinstance(n, ast.Assign) and any(
                "best" in (_dotted(t) or "").lower() for t in n.targets) and _mentions(
                n.value, stored):
            return True
    return False


_POSITIONS = {"argmax", "argmin", "nanargmax", "nanargmin", "idxmax", "idxmin", "index"}


def _carries(node: ast.AST, names: set[str]) -> bool:
    """Whether an expression's value can hold one of the scores in ``names`` (not merely a
    position or key chosen by them)."""
    if isinstance(node, (ast.Name, ast.Attribute)):
        return _dotted(node) in names or (
            isinstance(node, ast.Attribute) and _carries(node.value, names))
    if isinstance(node, ast.Subscript):
        return _carries(node.value, names)
    if isinstance(node, ast.Call):
        if _call_name(node) in _POSITIONS or _kwarg(node, "key") is not None:
            return False
        parts: list[ast.AST] = [*node.args, *(k.value for k in node.keywords)]
        if isinstance(node.func, ast.Attribute):
            parts.append(node.func.value)
        return any(_carries(a, names) for a in parts)
    return any(_carries(c, names) for c in ast.iter_child_nodes(node))


def _reports(loop: ast.For | ast.AsyncFor | ast.While, rest: list[ast.stmt],
             lines: set[int]) -> bool:
    """Whether a score computed in the loop at ``lines`` (or the best of them) is printed or
    returned after the loop."""
    scores: set[str] = set()
    for s in (n for b in loop.body for n in ast.walk(b)):
        if isinstance(s, ast.stmt) and s.lineno in lines and not isinstance(
                s, (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With)):
            scores |= _stored_names([s])
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
                key = _dotted(t)
                if key is not None and _carries(v, scores):
                    scores.add(key)
    for n in (n for s in rest for n in ast.walk(s)):
        if isinstance(n, ast.Return) and n.value is not None and _carries(n.value, scores):
            return True
        if isinstance(n, ast.Call) and _call_name(n) in ("print", "display", "info",
                                                          "write") and _carries(n, scores):
            return True
    return False
