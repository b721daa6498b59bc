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
import copy
import functools
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FIT_METHODS = ("fit", "fit_transform", "partial_fit", "fit_predict")
APPLY_METHODS = ("transform", "predict", "predict_proba", "predict_log_proba",
                 "decision_function", "score")
ALL_METHODS = FIT_METHODS + APPLY_METHODS
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
            numeric = frame.select_dtypes(include=["number", "bool"])
            if 0 < numeric.shape[1] < frame.shape[1]:
                # a mixed frame: its numeric columns are what scalers and imputers see (and
                # give back), so they carry the row's identity
                frame = numeric
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
    model: bool = False  # an estimator that predicts (not a transformer)
    searching: bool = False  # fitted inside a hyperparameter search
    target_columns: tuple[str, ...] = ()  # features that are the label in disguise
    future_sites: tuple[tuple[str, int], ...] = ()  # features built from future values
    ordinal: int = 0  # the how-many-th fit at this line


@dataclass
class Frame:
    """One active apply call: collects the fitted objects that ran inside it."""

    contributors: set[int] = field(default_factory=set)


@dataclass
class Split:
    """Where one split (or one cross-validation fold) sent the rows."""

    how: str
    file: str
    line: int
    train: frozenset[int]
    test: frozenset[int]
    shuffled: bool
    temporal: bool
    groups: tuple[str, int, int] | None = None  # (column, groups on both sides, test groups)


#: columns that name an entity several rows may share (a patient, a user, a match)
ENTITY = re.compile(r"(^|_)(patient|subject|user|customer|player|person|session|household|"
                    r"account|individual|group|match)s?(_?id)?$|_id$|^id_", re.IGNORECASE)


def shared_groups(train: Any, test: Any) -> tuple[str, int, int] | None:
    """An entity column whose values (repeated within the data) sit on both sides."""
    if not hasattr(train, "columns") or not hasattr(test, "columns"):
        return None
    for col in train.columns:
        if not ENTITY.search(str(col)) or col not in test.columns:
            continue
        try:
            a, b = set(train[col].dropna().tolist()), set(test[col].dropna().tolist())
        except Exception:
            continue
        rows = len(train) + len(test)
        if not b or len(a | b) > 0.5 * rows:  # (nearly) one row per entity: nothing to share
            continue
        both = len(a & b)
        if both >= max(2, 0.2 * len(b)):
            return (str(col)[:60], both, len(b))
    return None


class Tracer:
    def __init__(self, workdir: str, restrict: list[dict[str, Any]] | None = None) -> None:
        self.workdir = workdir
        # fingerprint -> (root fingerprints, influences: ids of fitted objects)
        self.lineage: dict[int, tuple[frozenset[int], frozenset[int]]] = {}
        self.fits: dict[int, Fit] = {}
        self.keep: list[Any] = []  # keeps ids stable for the duration of the trace
        self.stack: list[Frame] = []
        self.busy: set[int] = set()  # ids of objects inside one of our wrappers
        self.predictions: dict[int, dict[str, Any]] = {}
        self.evaluations: list[dict[str, Any]] = []
        self.splits: list[Split] = []
        self.input_index: dict[int, int] = {}
        self.objects: dict[int, Any] = {}
        self.evaluating = 0
        self.searching = 0
        self.splitting = 0
        # rows duplicated by the program (oversampling) -> where they were duplicated
        self.created: dict[int, tuple[str, int]] = {}
        self.natural: set[int] = set()  # rows repeated in the data the program was given
        self.temporal: set[int] = set()  # rows of time-indexed data
        self.future: list[tuple[tuple[str, int], Any]] = []  # (site, series of future values)
        self.best_score_reads: list[dict[str, Any]] = []
        self.events = 0
        self.site_counts: dict[tuple[str, int], int] = {}
        # counterfactual runs: (file, line, n-th fit at that line) -> rows to leave out
        self.restrict = {(str(r["file"]), int(r["line"]), int(r["ordinal"])):
                         {int(h) for h in r["rows"]} for r in (restrict or [])}

    def tick(self) -> int:
        self.events += 1
        return self.events

    # ------------------------------------------------------------ identities

    def register_inputs(self, args: list[Any]) -> None:
        """The data a traced function was given: row positions, and its repeated rows
        (natural duplicates, which prove nothing when they turn up on both sides)."""
        for a in args:
            fp = fingerprints(a)
            if fp is not None and fp.size > 1 and getattr(a, "ndim", 2) == 2:
                for i, h in enumerate(fp.tolist()):
                    if h in self.input_index:
                        self.natural.add(h)
                    self.input_index.setdefault(h, i)

    def note_temporal(self, x: Any, fp: np.ndarray | None = None) -> None:
        """Remember the rows of time-indexed pandas data (a DatetimeIndex or PeriodIndex)."""
        if _is_time_indexed(x):
            fp = fingerprints(x) if fp is None else fp
            if fp is not None:
                self.temporal.update(fp.tolist())

    def rows(self, x: Any) -> tuple[list[frozenset[int]], list[frozenset[int]]] | None:
        fp = fingerprints(x)
        if fp is None:
            return None
        self.note_temporal(x, fp)
        roots, infl = [], []
        empty: frozenset[int] = frozenset()
        for h in fp.tolist():
            r, i = self.lineage.get(h, (frozenset((h,)), empty))
            roots.append(r)
            infl.append(i)
        return roots, infl

    def root_set(self, x: Any) -> frozenset[int] | None:
        rows = self.rows(x)
        if rows is None:
            return None
        return frozenset().union(*rows[0]) if rows[0] else frozenset()

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

    def duplicated(self, inputs: list[Any], out: Any) -> None:
        """Rows that occur more often in ``out`` than in any one input were duplicated here."""
        fp = fingerprints(out)
        if fp is None:
            return
        before: dict[int, int] = {}
        for x in inputs:
            f = fingerprints(x)
            if f is None or (f.ndim and getattr(x, "ndim", 2) != getattr(out, "ndim", 2)):
                continue
            vals, counts = np.unique(f, return_counts=True)
            for h, c in zip(vals.tolist(), counts.tolist(), strict=True):
                before[h] = max(before.get(h, 0), c)
        vals, counts = np.unique(fp, return_counts=True)
        site = self.site()
        for h, c in zip(vals.tolist(), counts.tolist(), strict=True):
            if c > max(1, before.get(h, 1)):
                self.created.setdefault(h, site)

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

    def from_learner(self) -> bool:
        """Whether the patched function was called from the learner's own code."""
        return sys._getframe(2).f_code.co_filename.startswith(self.workdir + os.sep)

    def ordinal(self, site: tuple[str, int]) -> int:
        n = self.site_counts.get(site, 0)
        self.site_counts[site] = n + 1
        return n

    # ------------------------------------------------------------ events

    def on_fit(self, obj: Any, x: Any, y: Any, method: str, site: tuple[str, int],
               ordinal: int = 0) -> None:
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
        model = _predicts(obj)
        if not model and callable(getattr(obj, "get_support", None)):
            self.selected_columns(obj, x, rows)
        self.objects[key] = obj
        self.fits[key] = Fit(key, cls.__name__, cls.__module__, site[0], site[1], roots, infl,
                             stateless, self.tick(), model, self.searching > 0,
                             target_columns(x, y) if model and y is not None else (),
                             self.future_columns(x) if model else (), ordinal)

    def selected_columns(self, obj: Any, x: Any,
                         rows: tuple[list[frozenset[int]], list[frozenset[int]]]) -> None:
        """A selector's columns taken by hand (``X[:, sel.get_support()]``) are its output
        too: those rows carry the identity of the full rows, and the selector's influence."""
        try:
            support = np.asarray(obj.get_support(), dtype=bool)
            if support.all():  # nothing dropped: the rows do not depend on the selector
                return
            a = x.iloc[:, support] if hasattr(x, "iloc") else np.asarray(x)[:, support]
        except Exception:
            return
        fp = fingerprints(a)
        if fp is None or fp.size != len(rows[0]):
            return
        extra = frozenset((id(obj),))
        for h, r, i in zip(fp.tolist(), rows[0], rows[1], strict=True):
            self.lineage[h] = (r, i | extra)

    def future_columns(self, x: Any) -> tuple[tuple[str, int], ...]:
        """Sites where a feature column of ``x`` was built from future values."""
        if not self.future or not hasattr(x, "columns") or not hasattr(x, "index"):
            return ()
        found: list[tuple[str, int]] = []
        for site, series in self.future:
            cols = [series[c] for c in series.columns] if hasattr(series, "columns") \
                else [series]
            for fut in cols:
                try:
                    aligned = fut.reindex(x.index).to_numpy(dtype=np.float64)
                except Exception:
                    continue
                for c in x.columns:
                    try:
                        col = x[c].to_numpy(dtype=np.float64)
                    except Exception:
                        continue
                    ok = np.isfinite(aligned) & np.isfinite(col)
                    if ok.sum() >= 10 and np.allclose(aligned[ok], col[ok]) \
                            and np.ptp(col[ok]) > 0:
                        found.append(site)
        return tuple(dict.fromkeys(found))

    def held_out_split(self, evaluated: frozenset[int]) -> Split | None:
        """The split whose test side these rows are, if any (the latest one)."""
        for s in reversed(self.splits):
            if s.test and len(evaluated & s.test) >= 0.9 * len(evaluated) > 0:
                return s
        return None

    def evaluate(self, roots: list[frozenset[int]], infl: list[frozenset[int]],
                 contributors: set[int], how: str, model: int, value: Any = None,
                 site: tuple[str, int] | None = None,
                 model_roots: frozenset[int] | None = None) -> None:
        evaluated = frozenset().union(*roots) if roots else frozenset()
        scored = self.fits.get(model)
        trained_on = model_roots if model_roots is not None else \
            (scored.roots if scored is not None else frozenset())
        split = self.held_out_split(evaluated)
        # A model scored on rows it was trained on (all of them) is a training score, unless
        # those rows are the test side of a split: then the model was trained on them.
        training = bool(scored is not None and evaluated and evaluated <= trained_on
                        and split is None)
        # Rows on both sides of the split are duplicates; those the program did not create
        # itself are natural (repeated records in the data) and prove nothing.
        natural = (((split.train & split.test) if split is not None else frozenset())
                   | self.natural) - self.created.keys()
        behind = set(contributors).union(*infl) if infl else set(contributors)
        # what stands behind a fitted object also stands behind what it predicts
        todo = list(behind)
        while todo:
            fit = self.fits.get(todo.pop())
            if fit is not None:
                for k in fit.influences - behind:
                    behind.add(k)
                    todo.append(k)
        file, line = site if site is not None else self.site()
        leaks = []
        for k in sorted(behind):
            fit = self.fits.get(k)
            if fit is None or fit.stateless:
                continue
            rows = trained_on if k == model and model_roots is not None else fit.roots
            seen = rows & evaluated
            leaks.append({"fit": k, "seen": len(seen - natural), "seq": fit.seq,
                          "copies": len(copies := seen & self.created.keys() - natural),
                          "copied_at": list(self.created[min(copies)]) if copies else None,
                          "state": state_digest(self.objects.get(k))})
        number = None
        try:
            if value is not None and np.ndim(value) == 0:
                number = float(value)
        except (TypeError, ValueError):
            number = None
        self.evaluations.append({
            "how": how, "file": file, "line": line, "training": training, "model": model,
            "ordinal": self.ordinal((f"eval:{file}", line)), "seq": self.tick(),
            "rows": len(evaluated), "behind": leaks, "value": number,
            "held_out": split is not None, "split": self.splits.index(split)
            if split is not None else None, "searching": self.searching > 0,
            "group": _group_key(evaluated),
            "evaluated": np.asarray(sorted(evaluated)[:MAX_ROWS], dtype=np.uint64),
            "input_rows": sorted(self.input_index[h] for h in evaluated
                                 if h in self.input_index)[:MAX_ROWS]})

    def on_split(self, how: str, train: Any, test: Any, shuffled: bool, data: Any) -> None:
        tr, te = self.root_set(train), self.root_set(test)
        if tr is None or te is None:
            return
        self.note_temporal(data)
        rows = tr | te
        temporal = _is_time_indexed(data) or (
            bool(self.temporal) and len(rows & self.temporal) >= 0.9 * max(1, len(rows)))
        file, line = self.site()
        groups = None if how.startswith(("Group", "LeaveOneGroup", "LeavePGroups")) \
            else shared_groups(train, test)
        self.splits.append(Split(how, file, line, tr, te, shuffled, temporal, groups))

    def report(self) -> dict[str, Any]:
        fits = [{"id": f.key, "type": f.type, "module": f.module, "file": f.file,
                 "line": f.line, "rows": len(f.roots), "stateless": f.stateless,
                 "model": f.model, "searching": f.searching, "seq": f.seq,
                 "target_columns": list(f.target_columns),
                 "future_sites": [list(s) for s in f.future_sites], "ordinal": f.ordinal}
                for f in self.fits.values()]
        splits = [{"how": s.how, "file": s.file, "line": s.line, "train": len(s.train),
                   "test": len(s.test), "shuffled": s.shuffled, "temporal": s.temporal,
                   "groups": list(s.groups) if s.groups else None}
                  for s in self.splits]
        return {"available": True, "fits": fits, "evaluations": self.evaluations,
                "splits": splits, "best_score_reads": self.best_score_reads,
                "created_rows": len(self.created)}

    def finish(self) -> None:
        """Held-out predictions that reached no metric still count as evaluations."""
        for pred in list(self.predictions.values()):
            if pred["linked"]:
                continue
            # scored by hand? only a held-out prediction is an evaluation
            model = self.fits.get(pred["by"])
            roots = frozenset().union(*pred["rows"][0]) if pred["rows"][0] else frozenset()
            if model is not None and (not (pred["model_roots"] & roots)
                                      or self.held_out_split(roots) is not None):
                self.evaluate(pred["rows"][0], pred["rows"][1], pred["contributors"],
                              "prediction", pred["by"], site=pred["site"],
                              model_roots=pred["model_roots"])
        self.predictions.clear()


def _group_key(rows: frozenset[int]) -> str:
    import hashlib

    return hashlib.sha256(np.asarray(sorted(rows), dtype=np.uint64).tobytes()).hexdigest()[:16]


def _is_time_indexed(x: Any) -> bool:
    if not type(x).__module__.startswith("pandas"):
        return False
    import pandas as pd

    return isinstance(getattr(x, "index", None), (pd.DatetimeIndex, pd.PeriodIndex))


def _predicts(obj: Any) -> bool:
    """A model (it predicts), not a transformer; a Pipeline or search ending in one too."""
    from sklearn.base import is_classifier, is_regressor

    if not callable(getattr(type(obj), "predict", None)):
        return False  # a selector may take its estimator's tags, but it does not predict
    try:
        if is_classifier(obj) or is_regressor(obj):
            return True
    except Exception:
        pass
    return callable(getattr(type(obj), "predict", None)) and \
        not callable(getattr(type(obj), "transform", None))


def target_columns(x: Any, y: Any) -> tuple[str, ...]:
    """Feature columns that are an affine copy of the label (|correlation| > 0.999)."""
    try:
        names = [str(c) for c in x.columns] if hasattr(x, "columns") else None
        a = np.asarray(x.to_numpy(dtype=np.float64, na_value=np.nan) if names else x,
                       dtype=np.float64)
        t = np.asarray(y)
        if t.dtype.kind not in "biuf":
            _, t = np.unique(t, return_inverse=True)
        t = t.astype(np.float64).ravel()
    except Exception:
        return ()
    if a.ndim != 2 or a.shape[0] != t.size or a.shape[0] < 10 or a.shape[1] > 2000:
        return ()
    found = []
    with np.errstate(all="ignore"):
        for j in range(a.shape[1]):
            col = a[:, j]
            ok = np.isfinite(col) & np.isfinite(t)
            if ok.sum() < 10 or np.ptp(col[ok]) == 0 or np.ptp(t[ok]) == 0:
                continue
            r = np.corrcoef(col[ok], t[ok])[0, 1]
            if np.isfinite(r) and abs(r) > 0.999:
                found.append(names[j] if names else f"column {j}")
    return tuple(found)


# ---------------------------------------------------------------- patching

def _take_rows(x: Any, keep: np.ndarray) -> Any:
    if hasattr(x, "iloc"):
        return x.iloc[keep]
    if hasattr(x, "tocsr"):
        return x.tocsr()[keep]
    return np.asarray(x)[keep]


def _restricted(tracer: Tracer, site: tuple[str, int], ordinal: int, x: Any,
                args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
    """In a counterfactual run: the fit's arguments without the rows it must not see."""
    drop = tracer.restrict.get((site[0], site[1], ordinal))
    if drop is None:
        return None
    rows = tracer.rows(x)  # a row is left out when it descends from a dropped row
    if rows is None:
        return None
    keep = np.flatnonzero([not (r & drop) for r in rows[0]])
    n = len(rows[0])
    out = [_take_rows(a, keep) if _n_rows(a) == n else a for a in args]
    for k, v in list(kwargs.items()):
        if _n_rows(v) == n:
            kwargs[k] = _take_rows(v, keep)
    return tuple(out)


def _wrap_fit(tracer: Tracer, orig: Callable[..., Any], method: str) -> Callable[..., Any]:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = id(self)
        if key in tracer.busy:  # fit_transform calling fit: the outer call records
            return orig(self, *args, **kwargs)
        x = args[0] if args else kwargs.get("X", kwargs.get("x"))
        y = args[1] if len(args) > 1 else kwargs.get("y", kwargs.get("Y"))
        site = tracer.site()
        ordinal = tracer.ordinal(site)
        search = _is_search(self)
        tracer.busy.add(key)
        tracer.stack.append(Frame())
        tracer.searching += search
        try:
            fewer = _restricted(tracer, site, ordinal, x, args, kwargs) if tracer.restrict \
                else None
            if fewer is not None and method == "fit_transform":
                fit = type(self).fit
                fit(self, *fewer, **kwargs)
                out = self.transform(x)
            elif fewer is not None:
                out = orig(self, *fewer, **kwargs)
            else:
                out = orig(self, *args, **kwargs)
        finally:
            tracer.busy.discard(key)
            tracer.searching -= search
            frame = tracer.stack.pop()
            if tracer.stack:
                tracer.stack[-1].contributors |= frame.contributors
        tracer.on_fit(self, x, y, method, site, ordinal)
        if method == "fit_transform":
            tracer.inherit(x, out, key)
        return out

    functools.update_wrapper(wrapper, orig)
    return wrapper


def _is_search(obj: Any) -> bool:
    return any(c.__name__ == "BaseSearchCV" for c in type(obj).__mro__)


def _number(out: Any) -> Any:
    return out if isinstance(out, (int, float, np.number)) else None


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
                                ".score", key, _number(out))
        elif method in PREDICT_METHODS and outermost and tracer.evaluating == 0:
            rows = tracer.rows(x)
            if rows is not None and isinstance(out, np.ndarray):
                fit = tracer.fits.get(key)
                tracer.keep.append(out)
                tracer.predictions[id(out)] = {
                    "rows": rows, "by": key, "linked": False,
                    "contributors": frame.contributors, "site": tracer.site(),
                    "model_roots": fit.roots if fit is not None else frozenset()}
        return out

    functools.update_wrapper(wrapper, orig)
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
                            id(estimator), _number(out))
        return out

    functools.update_wrapper(wrapper, orig)
    return wrapper


def _wrap_metric(tracer: Tracer, orig: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = orig(*args, **kwargs)
        if not tracer.evaluating:
            for a in [*args, *kwargs.values()]:
                pred = tracer.predictions.get(id(a))
                if pred is not None:
                    pred["linked"] = True
                    tracer.evaluate(pred["rows"][0], pred["rows"][1], pred["contributors"],
                                    orig.__name__, pred["by"], _number(out),
                                    model_roots=pred["model_roots"])
                    break
        return out

    functools.update_wrapper(wrapper, orig)
    return wrapper


def _wrap_train_test_split(tracer: Tracer, orig: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        tracer.splitting += 1
        try:
            out = orig(*args, **kwargs)
        finally:
            tracer.splitting -= 1
        if isinstance(out, list) and len(out) >= 2 and args:
            tracer.on_split("train_test_split", out[0], out[1],
                            kwargs.get("shuffle", True) is not False, args[0])
        return out

    functools.update_wrapper(wrapper, orig)
    return wrapper


def _wrap_cv_split(tracer: Tracer, orig: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
        key = id(self)
        if key in tracer.busy:
            yield from orig(self, X, *args, **kwargs)
            return
        if tracer.splitting:  # inside train_test_split, which records the split itself
            yield from orig(self, X, *args, **kwargs)
            return
        shuffled = bool(getattr(self, "shuffle", False)) or \
            any(c.__name__ == "BaseShuffleSplit" for c in type(self).__mro__)
        folds = orig(self, X, *args, **kwargs)
        while True:  # folds are recorded as they are used, not all that could be made
            tracer.busy.add(key)
            try:
                fold = next(folds)
            except StopIteration:
                return
            finally:
                tracer.busy.discard(key)
            try:
                tracer.on_split(type(self).__name__, _take_rows(X, fold[0]),
                                _take_rows(X, fold[1]), shuffled, X)
            except Exception:
                pass
            yield fold

    functools.update_wrapper(wrapper, orig)
    return wrapper


def _wrap_duplicating(tracer: Tracer, orig: Callable[..., Any]) -> Callable[..., Any]:
    """``pd.concat``, ``np.concatenate``, ``np.vstack``, ``np.repeat``, ``resample``."""
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = orig(*args, **kwargs)
        if tracer.from_learner() and not tracer.stack and kwargs.get("axis", 0) in (0, "index"):
            first = args[0] if args else None
            parts = list(first) if isinstance(first, (list, tuple)) else list(args[:1])
            try:
                tracer.duplicated(parts, out)
            except Exception:
                pass
        return out

    functools.update_wrapper(wrapper, orig)
    return wrapper


def _wrap_resample(tracer: Tracer, orig: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = orig(*args, **kwargs)
        if kwargs.get("replace", True):
            first = out[0] if isinstance(out, list) else out
            try:
                tracer.duplicated([], first)
            except Exception:
                pass
        return out

    functools.update_wrapper(wrapper, orig)
    return wrapper


def _wrap_future(tracer: Tracer, orig: Callable[..., Any], how: str) -> Callable[..., Any]:
    """``shift(-k)`` and centred rolling windows: values from the future of each row."""
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = orig(self, *args, **kwargs)
        if how == "shift":
            periods = args[0] if args else kwargs.get("periods", 1)
            future = isinstance(periods, (int, np.integer)) and periods < 0
        else:
            future = bool(getattr(self, "center", False))
        if future and len(tracer.future) < 64 and tracer.from_learner():
            tracer.future.append((tracer.site(), out))
        return out

    functools.update_wrapper(wrapper, orig)
    return wrapper


def _wrap_to_numpy(tracer: Tracer, orig: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = orig(self, *args, **kwargs)
        if tracer.from_learner() and _is_time_indexed(self):
            tracer.note_temporal(self)
        return out

    functools.update_wrapper(wrapper, orig)
    return wrapper


def _best_score_property(tracer: Tracer, touched: list[Any]) -> property:
    """``best_score_`` on the search classes: reads from the learner's code are recorded."""
    slot = "_harness_best_score_"

    def get(self: Any) -> Any:
        if slot not in self.__dict__:
            raise AttributeError("best_score_")
        file, line = tracer.site()
        if file != "?":
            tracer.best_score_reads.append({
                "file": file, "line": line, "seq": tracer.tick(),
                "search": type(self).__name__,
                "fit_seq": fit.seq if (fit := tracer.fits.get(id(self))) is not None else 0,
                "searched_in_fold": bool(
                    self.__dict__.get("_harness_in_fold_", False))})
        return self.__dict__[slot]

    def set_(self: Any, value: Any) -> None:
        self.__dict__[slot] = value
        self.__dict__["_harness_in_fold_"] = tracer.evaluating > 0 or tracer.searching > 1
        touched.append(self)

    return property(get, set_)


def _estimator_classes() -> list[type]:
    """The scikit-learn classes already imported (walking modules, not importing them all:
    classes defined later are patched as they are created, see ``instrumented``)."""
    import sklearn.base

    classes: list[type] = [sklearn.base.TransformerMixin, sklearn.base.ClusterMixin]
    bases = (sklearn.base.BaseEstimator, *classes)
    seen: set[type] = set(classes)
    for name, module in list(sys.modules.items()):
        if not name.startswith("sklearn") or module is None:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, type) and value not in seen and \
                    (issubclass(value, bases) or value.__name__.endswith("Mixin")) and \
                    value.__module__ == name and \
                    any(m in value.__dict__ for m in ALL_METHODS):
                seen.add(value)
                classes.append(value)
    return classes


def _splitter_classes() -> list[type]:
    from sklearn.model_selection import _split

    return [c for c in vars(_split).values()
            if inspect.isclass(c) and "split" in c.__dict__ and c.__name__ not in
            ("_UnsupportedGroupCVMixin", "_CVIterableWrapper", "PredefinedSplit")]


@contextlib.contextmanager
def instrumented(tracer: Tracer, modules: list[Any]) -> Iterator[None]:
    """Patch scikit-learn (classes, metrics, splitters), the pandas and NumPy functions that
    duplicate rows or look into the future, and the learner's already-imported names."""
    import joblib
    import pandas as pd
    import sklearn.metrics
    import sklearn.model_selection
    import sklearn.utils
    from pandas.core.window.rolling import Rolling
    from sklearn.base import BaseEstimator
    from sklearn.metrics._scorer import _BaseScorer
    from sklearn.model_selection._search import BaseSearchCV

    undo: list[tuple[Any, str, Any, bool]] = []

    def patch(owner: Any, name: str, new: Any) -> None:
        present = name in owner.__dict__ if isinstance(owner, type) else hasattr(owner, name)
        old = (owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)) \
            if present else None
        setattr(owner, name, new)
        undo.append((owner, name, old, present))

    replaced: dict[int, Any] = {}
    touched: list[Any] = []

    def replace(owner: Any, name: str, new: Any) -> None:
        replaced[id(getattr(owner, name))] = new
        patch(owner, name, new)

    try:
        def wrap_class(cls: type) -> None:
            for name in ALL_METHODS:
                orig = cls.__dict__.get(name)
                wrap = _wrap_fit if name in FIT_METHODS else _wrap_apply
                fn = getattr(orig, "fn", None)
                if callable(fn) and hasattr(orig, "check"):
                    # ``available_if`` (Pipeline.score, .predict, ...): wrap the function
                    new = copy.copy(orig)
                    new.fn = wrap(tracer, fn, name)  # type: ignore[union-attr]
                    patch(cls, name, new)
                    continue
                if orig is None or not callable(orig) or isinstance(orig, (staticmethod,
                                                                           classmethod)):
                    continue
                try:
                    patch(cls, name, wrap(tracer, orig, name))
                except TypeError:  # an extension type (immutable): not an estimator
                    return

        for cls in _estimator_classes():
            wrap_class(cls)
        own = BaseEstimator.__dict__.get("__init_subclass__")

        def init_subclass(cls: type, /, **kwargs: Any) -> None:
            # estimators defined from now on: scikit-learn modules imported later, and the
            # learner's own estimators
            if own is not None:
                own.__get__(None, cls)(**kwargs)
            else:
                super(BaseEstimator, cls).__init_subclass__(**kwargs)
            wrap_class(cls)

        patch(BaseEstimator, "__init_subclass__", classmethod(init_subclass))
        patch(_BaseScorer, "__call__", _wrap_scorer(tracer, _BaseScorer.__call__))
        patch(BaseSearchCV, "best_score_", _best_score_property(tracer, touched))
        for cls in _splitter_classes():
            patch(cls, "split", _wrap_cv_split(tracer, cls.__dict__["split"]))
        for name in getattr(sklearn.metrics, "__all__", []):
            fn = getattr(sklearn.metrics, name, None)
            if callable(fn) and not isinstance(fn, type) and (
                    name.endswith(("_score", "_error", "_loss"))
                    or name in ("confusion_matrix", "classification_report")):
                replace(sklearn.metrics, name, _wrap_metric(tracer, fn))
        replace(sklearn.model_selection, "train_test_split",
                _wrap_train_test_split(tracer, sklearn.model_selection.train_test_split))
        replace(sklearn.utils, "resample", _wrap_resample(tracer, sklearn.utils.resample))
        replace(pd, "concat", _wrap_duplicating(tracer, pd.concat))
        for name in ("concatenate", "vstack", "repeat", "row_stack"):
            if hasattr(np, name):
                replace(np, name, _wrap_duplicating(tracer, getattr(np, name)))
        for cls in (pd.Series, pd.DataFrame):
            for name in ("shift", "diff", "pct_change"):  # negative periods look ahead
                patch(cls, name, _wrap_future(tracer, getattr(cls, name), "shift"))
            patch(cls, "to_numpy", _wrap_to_numpy(tracer, cls.to_numpy))
            values = inspect.getattr_static(cls, "values")
            patch(cls, "values", property(_wrap_to_numpy(tracer, values.fget)))
        for name in ("mean", "sum", "median", "std", "var", "min", "max"):
            patch(Rolling, name, _wrap_future(tracer, getattr(Rolling, name), "rolling"))
        for module in modules:  # names the learner imported before the trace
            for name, value in list(vars(module).items()):
                if id(value) in replaced:
                    patch(module, name, replaced[id(value)])
        with joblib.parallel_config(backend="sequential"):  # hooks live in this process only
            yield
    finally:
        for owner, name, old, present in reversed(undo):
            if present:
                setattr(owner, name, old)
            else:
                delattr(owner, name)
        for obj in touched:  # give searches their plain attribute back
            d = obj.__dict__
            if "_harness_best_score_" in d:
                d["best_score_"] = d.pop("_harness_best_score_")
            d.pop("_harness_in_fold_", None)


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
    tracer.finish()
    report = tracer.report()
    report["result"] = result
    return report


class Program:
    """``grade leakage``: a whole script or notebook run under the trace, in the child.

    ``begin`` patches before the learner's code runs (so the names it imports are the
    traced ones); ``end`` undoes the patches and returns the report.
    """

    def __init__(self, workdir: str, restrict: list[dict[str, Any]] | None = None) -> None:
        self.tracer = Tracer(workdir, restrict)
        self.context: contextlib.AbstractContextManager[None] | None = None
        self.error: dict[str, Any] | None = None
        self.result: dict[str, Any] = {"available": False}

    def begin(self) -> None:
        import random

        random.seed(0)
        np.random.seed(0)  # the same program gives the same run, counterfactuals included
        self.context = instrumented(self.tracer, [])
        self.context.__enter__()

    def failed(self, error: dict[str, Any]) -> Any:
        """The program raised: keep the error; the trace so far is still the report."""
        import types

        self.error = error
        return types.ModuleType("submission")

    def end(self) -> dict[str, Any]:
        if self.context is not None:
            self.context.__exit__(None, None, None)
            self.context = None
            self.tracer.finish()
            self.result = self.tracer.report()
            self.result["error"] = self.error
        return self.result


PROGRAM: Program | None = None  # set by the child's entry point when it runs a program


def start_program(workdir: str, config: dict[str, Any]) -> Program:
    """Begin tracing a whole program (the child calls this before loading it)."""
    global PROGRAM
    restrict = config.get("restrict")
    PROGRAM = Program(workdir, restrict if isinstance(restrict, list) else None)
    PROGRAM.begin()
    return PROGRAM
