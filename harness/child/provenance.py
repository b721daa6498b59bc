"""Child side of the dynamic leakage check: run a learner function under instrumentation.

``trace(fn, args, kwargs, workdir)`` patches scikit-learn for the duration of one call and
returns a report *as data*: which fitted objects saw which rows, which rows were evaluated,
and, for every evaluation, the fitted objects behind it that had already seen the evaluated
rows. Like everything in the child, the report is a claim; the grader decides.

Rows are identified by fingerprints (a hash of the row's values quantised to about 1e-6, so
copies, reorderings and float noise keep their identity). A transform's output rows inherit
the identities of its input rows, plus the transformer as an *influence*; so a scaler fitted
on all rows stays behind a test row after the split, even though its values changed.

What counts as an evaluation: ``estimator.score``, scikit-learn scorers (what
``cross_val_score`` and the search classes use), and ``sklearn.metrics`` functions given the
output of a ``predict``-like call. A prediction that reaches no metric counts as an
evaluation only when the predicting model did not train on those rows (a held-out
prediction scored by hand, not a training-set prediction).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FIT_METHODS = ("fit", "fit_transform", "partial_fit", "fit_predict")
APPLY_METHODS = ("transform", "predict", "predict_proba", "predict_log_proba",
                 "decision_function", "score")
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")
#: Fitted only in name: their output does not depend on the rows they were fitted on.
STATELESS = {"FunctionTransformer", "Normalizer", "PolynomialFeatures", "Binarizer",
             "SplineTransformer"}
MAX_ROWS = 200_000
_rng = np.random.default_rng(20240607)
_COEFFS = (_rng.integers(1, 2**62, size=4096, dtype=np.int64) * 2 + 1).astype(np.uint64)


def fingerprints(x: Any) -> np.ndarray | None:
    """One uint64 per row of a 2-D array-like (or per element of a 1-D one), else None."""
    try:
        if hasattr(x, "toarray") and hasattr(x, "shape"):  # scipy.sparse
            if x.shape[0] * max(1, x.shape[1]) > 20_000_000:
                return None
            x = x.toarray()
        if type(x).__module__.startswith("pandas"):
            import pandas as pd

            frame = x.to_frame() if isinstance(x, pd.Series) else x
            try:
                a = frame.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
                return np.asarray(hashed, dtype=np.uint64)
        else:
            a = np.asarray(x)
            if a.dtype == object or a.dtype.kind in "USV":
                return None
            a = a.astype(np.float64, copy=False)
    except Exception:
        return None
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[0] > MAX_ROWS:
        return None
    with np.errstate(all="ignore"):
        q = np.round(a * 2.0**20)
        q = np.where(np.isfinite(q), np.clip(q, -2.0**62, 2.0**62), 2.0**62 + 1)
    qi = q.astype(np.int64).view(np.uint64)
    d = qi.shape[1]
    coeffs = _COEFFS[np.arange(d) % len(_COEFFS)] + np.uint64(d)
    with np.errstate(over="ignore"):
        h = (qi * coeffs).sum(axis=1, dtype=np.uint64)
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(32)
    return np.asarray(h, dtype=np.uint64)


def state_digest(obj: Any) -> str:
    """A hash of an estimator's fitted attributes (``name_``), rounded to 26 significant
    bits: the same training rows give the same digest, whatever else happened."""
    import hashlib

    h = hashlib.sha256()
    try:
        items = sorted(vars(obj).items())
    except TypeError:
        return ""
    for name, value in items:
        if not name.endswith("_") or name.startswith("_"):
            continue
        try:
            a = np.asarray(value)
            if a.dtype.kind in "fc":
                mantissa, exponent = np.frexp(np.nan_to_num(a.real.ravel()))
                a = np.concatenate([np.round(mantissa * 2.0**26), exponent])
            elif a.dtype.kind not in "iub":
                continue
        except Exception:
            continue
        h.update(name.encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _n_rows(x: Any) -> int | None:
    shape = getattr(x, "shape", None)
    if shape is not None and len(shape) >= 1:
        return int(shape[0])
    return None


@dataclass
class Fit:
    key: int
    type: str
    module: str
    file: str
    line: int
    roots: frozenset[int]
    influences: frozenset[int]
    stateless: bool
    seq: int


@dataclass
class Frame:
    """One active apply call: collects the fitted objects that ran inside it."""

    contributors: set[int] = field(default_factory=set)


class Tracer:
    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        # fingerprint -> (root fingerprints, influences: ids of fitted objects)
        self.lineage: dict[int, tuple[frozenset[int], frozenset[int]]] = {}
        self.fits: dict[int, Fit] = {}
        self.keep: list[Any] = []  # keeps ids stable for the duration of the trace
        self.stack: list[Frame] = []
        self.busy: set[int] = set()  # ids of objects inside one of our wrappers
        self.predictions: dict[int, dict[str, Any]] = {}
        self.evaluations: list[dict[str, Any]] = []
        self.splits: list[dict[str, Any]] = []
        self.input_index: dict[int, int] = {}
        self.objects: dict[int, Any] = {}
        self.evaluating = 0

    # ------------------------------------------------------------ identities

    def register_inputs(self, args: list[Any]) -> None:
        for a in args:
            fp = fingerprints(a)
            if fp is not None and fp.size > 1 and getattr(a, "ndim", 2) == 2:
                for i, h in enumerate(fp.tolist()):
                    self.input_index.setdefault(h, i)

    def rows(self, x: Any) -> tuple[list[frozenset[int]], list[frozenset[int]]] | None:
        fp = fingerprints(x)
        if fp is None:
            return None
        roots, infl = [], []
        empty: frozenset[int] = frozenset()
        for h in fp.tolist():
            r, i = self.lineage.get(h, (frozenset((h,)), empty))
            roots.append(r)
            infl.append(i)
        return roots, infl

    def inherit(self, x: Any, out: Any, obj_id: int | None) -> None:
        """Output row i of a transform carries the identity and influences of input row i."""
        src = self.rows(x)
        fp = fingerprints(out)
        fp_in = fingerprints(x)
        if src is None or fp is None or fp_in is None or len(src[0]) != fp.size:
            return
        extra = frozenset((obj_id,)) if obj_id is not None else frozenset()
        # A row the transform left as it was does not depend on what the transform learnt
        # (an imputer with nothing to fill, a filter that kept every column). Otherwise the
        # latest transform that produced these values wins: a column subset gives the same
        # values in every fold, and the fold that produced them last is the one whose
        # output is about to be used.
        for h, h_in, r, i in zip(fp.tolist(), fp_in.tolist(), src[0], src[1], strict=True):
            if h != h_in:
                self.lineage[h] = (r, i | extra)

    # ------------------------------------------------------------ call sites

    def site(self) -> tuple[str, int]:
        f = sys._getframe(2)
        prefix = self.workdir + os.sep
        while f is not None:
            name = f.f_code.co_filename
            if name.startswith(prefix):
                return os.path.relpath(name, self.workdir), f.f_lineno
            f = f.f_back  # type: ignore[assignment]
        return "?", 0

    # ------------------------------------------------------------ events

    def on_fit(self, obj: Any, x: Any, method: str) -> None:
        rows = self.rows(x)
        if rows is None:
            return
        roots = frozenset().union(*rows[0]) if rows[0] else frozenset()
        infl = frozenset().union(*rows[1]) if rows[1] else frozenset()
        key = id(obj)
        self.keep.append(obj)
        old = self.fits.get(key)
        if method == "partial_fit" and old is not None:
            roots, infl = roots | old.roots, infl | old.influences
        cls = type(obj)
        try:
            stateless = cls.__name__ in STATELESS or not obj.__sklearn_tags__().requires_fit
        except Exception:
            stateless = cls.__name__ in STATELESS
        file, line = self.site()
        self.objects[key] = obj
        self.fits[key] = Fit(key, cls.__name__, cls.__module__, file, line, roots, infl,
                             stateless, len(self.keep))

    def evaluate(self, roots: list[frozenset[int]], infl: list[frozenset[int]],
                 contributors: set[int], how: str, model: int) -> None:
        evaluated = frozenset().union(*roots) if roots else frozenset()
        scored = self.fits.get(model)
        # A model scored on rows it was trained on (all of them) is a training score.
        training = bool(scored is not None and evaluated and evaluated <= scored.roots)
        behind = set(contributors).union(*infl) if infl else set(contributors)
        # what stands behind a fitted object also stands behind what it predicts
        todo = list(behind)
        while todo:
            fit = self.fits.get(todo.pop())
            if fit is not None:
                for k in fit.influences - behind:
                    behind.add(k)
                    todo.append(k)
        file, line = self.site()
        leaks = []
        for k in sorted(behind):
            fit = self.fits.get(k)
            if fit is None or fit.stateless:
                continue
            seen = len(fit.roots & evaluated)
            leaks.append({"fit": k, "seen": seen, "seq": fit.seq,
                          "state": state_digest(self.objects.get(k))})
        self.evaluations.append({"how": how, "file": file, "line": line, "training": training,
                                 "model": model,
                                 "rows": len(evaluated), "behind": leaks,
                                 "input_rows": sorted(self.input_index[h] for h in evaluated
                                                      if h in self.input_index)[:MAX_ROWS]})

    def report(self) -> dict[str, Any]:
        fits = [{"id": f.key, "type": f.type, "module": f.module, "file": f.file,
                 "line": f.line, "rows": len(f.roots), "stateless": f.stateless}
                for f in self.fits.values()]
        return {"available": True, "fits": fits, "evaluations": self.evaluations,
                "splits": self.splits}


# ---------------------------------------------------------------- patching

def _wrap_fit(tracer: Tracer, orig: Callable[..., Any], method: str) -> Callable[..., Any]:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = id(self)
        if key in tracer.busy:  # fit_transform calling fit: the outer call records
            return orig(self, *args, **kwargs)
        x = args[0] if args else kwargs.get("X", kwargs.get("x"))
        tracer.busy.add(key)
        tracer.stack.append(Frame())
        try:
            out = orig(self, *args, **kwargs)
        finally:
            tracer.busy.discard(key)
            frame = tracer.stack.pop()
            if tracer.stack:
                tracer.stack[-1].contributors |= frame.contributors
        tracer.on_fit(self, x, method)
        if method == "fit_transform":
            tracer.inherit(x, out, key)
        return out

    wrapper.__wrapped__ = orig  # type: ignore[attr-defined]
    return wrapper


def _wrap_apply(tracer: Tracer, orig: Callable[..., Any], method: str) -> Callable[..., Any]:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = id(self)
        if key in tracer.busy:
            return orig(self, *args, **kwargs)
        x = args[0] if args else kwargs.get("X", kwargs.get("x"))
        outermost = not tracer.stack
        tracer.busy.add(key)
        tracer.stack.append(Frame({key}))
        if method == "score":
            tracer.evaluating += 1
        try:
            out = orig(self, *args, **kwargs)
        finally:
            tracer.busy.discard(key)
            frame = tracer.stack.pop()
            if tracer.stack:
                tracer.stack[-1].contributors |= frame.contributors
            if method == "score":
                tracer.evaluating -= 1
        if method == "transform":
            tracer.inherit(x, out, key)
        elif method == "score" and tracer.evaluating == 0:
            rows = tracer.rows(x)
            if rows is not None:
                tracer.evaluate(rows[0], rows[1], frame.contributors, f"{type(self).__name__}"
                                ".score", key)
        elif method in PREDICT_METHODS and outermost and tracer.evaluating == 0:
            rows = tracer.rows(x)
            if rows is not None and isinstance(out, np.ndarray):
                tracer.keep.append(out)
                tracer.predictions[id(out)] = {"rows": rows, "by": key, "linked": False,
                                               "contributors": frame.contributors,
                                               "site": tracer.site()}
        return out

    wrapper.__wrapped__ = orig  # type: ignore[attr-defined]
    return wrapper


def _wrap_scorer(tracer: Tracer, orig: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: Any, estimator: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
        if tracer.evaluating:
            return orig(self, estimator, X, *args, **kwargs)
        tracer.evaluating += 1
        tracer.stack.append(Frame())
        try:
            out = orig(self, estimator, X, *args, **kwargs)
        finally:
            tracer.evaluating -= 1
            frame = tracer.stack.pop()
        rows = tracer.rows(X)
        if rows is not None:
            tracer.evaluate(rows[0], rows[1], frame.contributors | {id(estimator)}, "scorer",
                            id(estimator))
        return out

    wrapper.__wrapped__ = orig  # type: ignore[attr-defined]
    return wrapper


def _wrap_metric(tracer: Tracer, orig: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not tracer.evaluating:
            for a in [*args, *kwargs.values()]:
                pred = tracer.predictions.get(id(a))
                if pred is not None:
                    pred["linked"] = True
                    tracer.evaluate(pred["rows"][0], pred["rows"][1], pred["contributors"],
                                    orig.__name__, pred["by"])
                    break
        return orig(*args, **kwargs)

    wrapper.__wrapped__ = orig  # type: ignore[attr-defined]
    return wrapper


def _wrap_split(tracer: Tracer, orig: Callable[..., Any], name: str) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = orig(*args, **kwargs)
        if name == "train_test_split" and isinstance(out, list) and len(out) >= 2:
            train, test = _n_rows(out[0]), _n_rows(out[1])
            file, line = tracer.site()
            tracer.splits.append({"how": name, "file": file, "line": line, "train": train,
                                  "test": test})
        return out

    wrapper.__wrapped__ = orig  # type: ignore[attr-defined]
    return wrapper


def _estimator_classes() -> list[type]:
    import sklearn.base
    from sklearn.utils import all_estimators

    classes: list[type] = []
    seen: set[type] = set()
    for _, cls in all_estimators():
        for c in cls.__mro__:
            if c not in seen and c.__module__.startswith("sklearn") and c is not object:
                seen.add(c)
                classes.append(c)
    for c in (sklearn.base.TransformerMixin, sklearn.base.ClusterMixin):
        if c not in seen:
            classes.append(c)
    return classes


@contextlib.contextmanager
def instrumented(tracer: Tracer, modules: list[Any]) -> Iterator[None]:
    """Patch scikit-learn (classes, metrics, splitters) and the learner's imported names."""
    import joblib
    import sklearn.metrics
    import sklearn.model_selection
    from sklearn.metrics._scorer import _BaseScorer

    undo: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, new: Any) -> None:
        undo.append((owner, name, owner.__dict__[name] if isinstance(owner, type)
                     else getattr(owner, name)))
        setattr(owner, name, new)

    replaced: dict[int, Any] = {}
    try:
        for cls in _estimator_classes():
            for name in FIT_METHODS + APPLY_METHODS:
                orig = cls.__dict__.get(name)
                if orig is None or not callable(orig) or isinstance(orig, (staticmethod,
                                                                           classmethod)):
                    continue
                wrap = _wrap_fit if name in FIT_METHODS else _wrap_apply
                patch(cls, name, wrap(tracer, orig, name))
        patch(_BaseScorer, "__call__", _wrap_scorer(tracer, _BaseScorer.__call__))
        for name in getattr(sklearn.metrics, "__all__", []):
            fn = getattr(sklearn.metrics, name, None)
            if callable(fn) and not isinstance(fn, type) and (
                    name.endswith(("_score", "_error", "_loss"))
                    or name in ("confusion_matrix", "classification_report")):
                new = _wrap_metric(tracer, fn)
                replaced[id(fn)] = new
                patch(sklearn.metrics, name, new)
        fn = sklearn.model_selection.train_test_split
        new = _wrap_split(tracer, fn, "train_test_split")
        replaced[id(fn)] = new
        patch(sklearn.model_selection, "train_test_split", new)
        for module in modules:  # names the learner imported before the trace
            for name, value in list(vars(module).items()):
                if id(value) in replaced:
                    patch(module, name, replaced[id(value)])
        with joblib.parallel_config(backend="sequential"):  # hooks live in this process only
            yield
    finally:
        for owner, name, old in reversed(undo):
            setattr(owner, name, old)


def trace(fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any], workdir: str,
          modules: list[Any]) -> dict[str, Any]:
    """Call ``fn`` under instrumentation; the report (and the call's result) as data."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return {"available": False, "result": fn(*args, **kwargs), "fits": [],
                "evaluations": [], "splits": []}
    tracer = Tracer(workdir)
    tracer.register_inputs([*args, *kwargs.values()])
    with instrumented(tracer, modules):
        result = fn(*args, **kwargs)
    for pred in list(tracer.predictions.values()):
        if pred["linked"]:
            continue
        # scored by hand? only a held-out prediction is an evaluation
        model = tracer.fits.get(pred["by"])
        roots = frozenset().union(*pred["rows"][0]) if pred["rows"][0] else frozenset()
        if model is not None and not (model.roots & roots):
            tracer.evaluate(pred["rows"][0], pred["rows"][1], pred["contributors"],
                            "prediction", pred["by"])
            tracer.evaluations[-1]["file"], tracer.evaluations[-1]["line"] = pred["site"]
    report = tracer.report()
    report["result"] = result
    return report
