"""Outputs compared with what was expected, and the first difference said in words.

Timing checks compare every timed output with :func:`same`; when one is wrong the learner
reads where and how, as a correctness check would say it (:func:`first_difference`,
:func:`difference_words`), never the harness's internal forms of an output. The words
for a hidden check name only what the learner's code returned. Tests use
:func:`check_python_float` for the return type their interface states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from harness.checks import ShownToLearner
from harness.wire import Handle


class WrongType(ShownToLearner):
    """A function returned another type than its interface states (the learner's own type:
    nothing hidden, so the message is shown for hidden checks too)."""


def check_python_float(value: Any, what: str) -> None:
    """Raise :class:`WrongType` unless ``value`` is a Python float.

    ``np.float64`` passes (it subclasses ``float``); ``np.float32``, ``np.int64``, ``int``
    and 0-d arrays do not: they compare equal to floats but are not what was asked for.
    """
    if isinstance(value, float):
        return
    raise WrongType(f"{what} returned {type_name(value)}, expected a Python float: "
                    "return float(x)")


def type_name(value: Any) -> str:
    """A value's type as the learner would write it: ``int``, ``numpy.float32``, ..."""
    if isinstance(value, Handle):
        return value.type
    kind = type(value)
    module = kind.__module__
    return kind.__name__ if module == "builtins" else f"{module.split('.')[0]}.{kind.__name__}"


def same(got: Any, want: Any, rtol: float, atol: float) -> bool:
    """Whether two decoded outputs agree (numbers within tolerance, containers by item)."""
    if isinstance(want, bool) or isinstance(got, bool):
        return got is want or got == want
    if _number(want) and _number(got):
        x, y = float(got), float(want)
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return math.isclose(x, y, rel_tol=rtol, abs_tol=atol)
    if isinstance(want, np.ndarray) or isinstance(got, np.ndarray):
        try:
            g, w = np.asarray(got), np.asarray(want)
            return g.shape == w.shape and bool(np.allclose(g, w, rtol=rtol, atol=atol,
                                                           equal_nan=True))
        except (TypeError, ValueError):
            return False
    if isinstance(want, dict) and isinstance(got, dict):
        return got.keys() == want.keys() and all(same(got[k], want[k], rtol, atol)
                                                 for k in want)
    if isinstance(want, list | tuple) and isinstance(got, list | tuple):
        return len(got) == len(want) and all(same(g, w, rtol, atol)
                                             for g, w in zip(got, want, strict=True))
    return bool(got == want)


@dataclass(frozen=True)
class Difference:
    """Where two outputs first differ (``[0][3, 1]``: item 0, then array index 3, 1) and
    what each side holds there: values, shapes, lengths, keys or type names."""

    kind: Literal["value", "shape", "length", "keys", "type"]
    where: str
    got: Any
    want: Any


def first_difference(got: Any, want: Any, rtol: float, atol: float,
                     where: str = "") -> Difference | None:
    """The first place where ``got`` and ``want`` differ, in :func:`same`'s terms."""
    if same(got, want, rtol, atol):
        return None
    if _number(got) and _number(want):
        return Difference("value", where, got, want)
    if isinstance(got, np.ndarray) or isinstance(want, np.ndarray):
        return _array_difference(got, want, rtol, atol, where)
    if isinstance(got, dict) and isinstance(want, dict):
        if got.keys() != want.keys():
            return Difference("keys", where, sorted(map(str, got)), sorted(map(str, want)))
        return next((d for k in want
                     if (d := first_difference(got[k], want[k], rtol, atol, f"{where}[{k!r}]"))),
                    Difference("value", where, got, want))
    if isinstance(got, list | tuple) and isinstance(want, list | tuple):
        if len(got) != len(want):
            return Difference("length", where, len(got), len(want))
        return next((d for i, (g, w) in enumerate(zip(got, want, strict=True))
                     if (d := first_difference(g, w, rtol, atol, f"{where}[{i}]"))),
                    Difference("value", where, got, want))
    if type(got) is not type(want):
        return Difference("type", where, type_name(got), type_name(want))
    return Difference("value", where, got, want)


def _array_difference(got: Any, want: Any, rtol: float, atol: float,
                      where: str) -> Difference:
    try:
        g, w = np.asarray(got), np.asarray(want)
    except (TypeError, ValueError):
        return Difference("type", where, type_name(got), type_name(want))
    if g.shape != w.shape:
        return Difference("shape", where, tuple(g.shape), tuple(w.shape))
    try:
        close = np.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
    except TypeError:  # not numbers: compare as they are
        close = np.asarray(g == w, dtype=bool)
    bad = np.argwhere(~np.broadcast_to(close, g.shape))
    if not len(bad):
        return Difference("type", where, type_name(got), type_name(want))
    at = tuple(int(i) for i in bad[0])
    inside = f"[{', '.join(map(str, at))}]" if at else ""
    return Difference("value", where + inside, g[at], w[at])


def difference_words(diff: Difference, got_label: str = "got",
                     want_label: str | None = "expected") -> str:
    """``first difference at [3, 1]: expected 0.5, got 0.25``.

    Without ``want_label`` only the got side is named (a hidden check's expected values
    stay hidden): ``first difference at [3, 1]: got 0.25, which is not the expected value``.
    """
    at = f"at {diff.where}: " if diff.where else ""
    if diff.kind == "value":
        head = f"first difference {at}" if diff.where else ""
        got, want = show(diff.got), show(diff.want)
        if want_label is None:
            return f"{head}{got_label} {got}, which is not the expected value"
        return f"{head}{want_label} {want}, {got_label} {got}"
    noun = {"shape": "shape {}", "length": "length {}", "keys": "keys {}", "type": "a {}"}
    got, want = noun[diff.kind].format(diff.got), noun[diff.kind].format(diff.want)
    if want_label is None:
        expected = {"shape": "shape", "length": "length", "keys": "keys",
                    "type": "type"}[diff.kind]
        return f"{at}{got_label} {got}, not the expected {expected}"
    return f"{at}{want_label} {want}, {got_label} {got}"


def show(value: Any) -> str:
    """A value as a learner reads it: numbers without NumPy's wrapping, others shortened."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        text = f"{value:.12g}"
        return text if any(c in text for c in ".eni") else text + ".0"  # 32.0, not 32
    if isinstance(value, Handle):
        return f"a {value.type} ({value.repr[:60]})"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _number(value: Any) -> bool:
    """A real number: Python's or NumPy's (a bool is not one, nor a complex)."""
    return isinstance(value, int | float | np.integer | np.floating) and \
        not isinstance(value, bool)
