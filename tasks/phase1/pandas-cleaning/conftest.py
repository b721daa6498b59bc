"""Frame comparison for the tests of phase1/pandas-cleaning: pandas decides, words explain.

The ``assert_same_frame`` fixture compares a frame the learner's code returned with the
expected one using ``pandas.testing.assert_frame_equal`` (dtypes checked, floats within a
tolerance), after two normalisations that are free choices for the learner: any
datetime64 resolution, and text held as ``str`` or ``object``. When they differ it says
the first difference in words: missing columns, row count, index, a column's dtype, then
the first row whose value differs. In a public test the message shows the expected value;
in a hidden test it shows only what the learner's code returned.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from harness.checks import ShownToLearner
from harness.wire import Handle

#: dtype families, in the words the task's description uses.
FAMILY_NAMES = {"integer": "int64", "float": "float64", "datetime": "datetime64",
                "text": "text (str)", "bool": "bool", "category": "category"}


def family(dtype):
    """The kind of a column's dtype: integer, float, datetime, text, bool, category, ..."""
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_string_dtype(dtype):
        return "text"
    return str(dtype)


def normalized(frame):
    """The frame with datetimes in nanoseconds and text as ``object``: choices left free."""
    out = frame.copy()
    for column in out.columns:
        kind = family(out[column].dtype)
        if kind == "datetime":
            out[column] = out[column].astype("datetime64[ns]")
        elif kind == "text":
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


def _missing(value):
    return value is None or (pd.api.types.is_scalar(value) and pd.isna(value))


def _type_name(value):
    """A value's type as the learner knows it (objects that stayed in the sandbox too)."""
    return value.type if isinstance(value, Handle) else type(value).__name__


def _show(value):
    if _missing(value):
        return "a missing value (NaN)"
    if isinstance(value, Handle):
        return f"a {value.type} object ({value.repr[:60]})"
    if isinstance(value, pd.Timestamp):
        return repr(value.strftime("%Y-%m-%d") if value == value.normalize() else str(value))
    if isinstance(value, float | np.floating):
        return f"{float(value):.10g}"
    return repr(value.item() if isinstance(value, np.generic) else value)


def _same(a, b, rtol, atol):
    """Element-wise equality of two aligned columns, missing values equal to each other."""
    if family(a.dtype) == family(b.dtype) == "float":
        x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
        return np.isclose(x, y, rtol=rtol, atol=atol) | (np.isnan(x) & np.isnan(y))
    missing = a.isna().to_numpy() & b.isna().to_numpy()
    equal = np.array([x == y if not (pd.isna(x) or pd.isna(y)) else False
                      for x, y in zip(a.tolist(), b.tolist(), strict=True)], dtype=bool)
    return equal | missing


def explain(got, expected, reveal, rtol=1e-6, atol=1e-6):
    """The first difference between two frames, in words (None when none is found)."""
    if not isinstance(got, pd.DataFrame):
        return f"returned a {type(got).__name__}, not a pandas DataFrame"
    want = list(expected.columns)
    have = list(got.columns)
    missing = [c for c in want if c not in have]
    extra = [c for c in have if c not in want]
    if missing or extra:
        parts = [f"missing column(s) {missing}" if missing else "",
                 f"unexpected column(s) {extra}" if extra else ""]
        text = f"{' and '.join(p for p in parts if p)}; the columns should be {want}"
        in_index = [c for c in missing if c in got.index.names]
        if in_index:
            text += f" ({in_index[0]!r} is the index: turn it into a column with reset_index())"
        return text
    if have != want:
        return f"columns are in the order {have}; the order asked for is {want}"
    if len(got) != len(expected):
        if reveal:
            return f"has {len(got)} rows; expected {len(expected)}"
        side = "too many" if len(got) > len(expected) else "too few"
        return f"has {len(got)} rows, {side}"
    if not got.index.equals(pd.RangeIndex(len(got))):
        return ("its index is not 0, 1, ..., n-1 (after filtering, sorting or grouping, "
                "use reset_index(drop=True), or reset_index() to turn a group key into a "
                "column)")
    got_n, expected_n = normalized(got), normalized(expected)
    for column in want:
        g, e = got_n[column], expected_n[column]
        if g.dtype != e.dtype:
            wanted = FAMILY_NAMES.get(family(e.dtype), str(e.dtype))
            return f"column {column!r} has dtype {got[column].dtype}; it should be {wanted}"
    for column in want:
        if family(expected[column].dtype) != "text":
            continue
        odd = [v for v in got[column].tolist() if not isinstance(v, str) and not _missing(v)]
        if odd:
            first = odd[0].repr[:60] if isinstance(odd[0], Handle) else repr(odd[0])
            return (f"column {column!r} holds {_type_name(odd[0])} values (such as {first}); "
                    "it should hold text (str)")
    key = want[0]
    for column in want:
        same = _same(got_n[column], expected_n[column], rtol, atol)
        if same.all():
            continue
        row = int(np.flatnonzero(~same)[0])
        where = f"row {row}" if column == key else \
            f"row {row} ({key} {_show(got_n[key].iloc[row])})"
        text = (f"column {column!r} differs in {int((~same).sum())} of {len(same)} rows; "
                f"first at {where}: you returned {_show(got_n[column].iloc[row])}")
        if reveal:
            text += f", expected {_show(expected_n[column].iloc[row])}"
        return text
    return None


def check_frame(got, expected, what, reveal, rtol=1e-6, atol=1e-6):
    """Fail (in words) unless ``got`` equals ``expected`` as pandas.testing sees it."""
    detail = None
    if isinstance(got, pd.DataFrame):
        try:
            pdt.assert_frame_equal(normalized(got), normalized(expected), check_dtype=True,
                                   check_index_type="equiv", rtol=rtol, atol=atol)
            return
        except AssertionError as exc:
            detail = str(exc)
    problem = explain(got, expected, reveal, rtol, atol)
    if problem is None:  # pandas saw a difference the words above do not cover
        problem = (detail if reveal else
                   "differs from the expected frame (pandas.testing.assert_frame_equal)")
    if reveal:
        raise AssertionError(f"{what}: {problem}")
    raise ShownToLearner(f"{what}: {problem}")


@pytest.fixture
def assert_same_frame(request):
    """``assert_same_frame(got, expected, what="load_orders(...)")``: see the module doc."""
    reveal = "hidden" not in Path(str(request.node.path)).parts[-2:]

    def check(got, expected, what="your result", rtol=1e-6, atol=1e-6):
        check_frame(got, expected, what, reveal, rtol, atol)

    return check
