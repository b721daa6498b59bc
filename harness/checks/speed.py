"""The ``timing`` fixture: speed comparisons for task authors, measured by the harness.

A test states what to compare and the ratio it needs; the protocol is the harness's
(:mod:`harness.timing`)::

    def test_numpy_is_faster(timing, rng):
        a, b = rng.normal(size=100_000), rng.normal(size=100_000)
        timing.compare(fast=timing.call("dot_numpy", a, b, label="your NumPy version"),
                       slow=timing.call("dot_loop", a, b, label="your loop"),
                       at_least=20, expect=lambda a, b: float(np.dot(a, b)))

A plain tuple ``("dot_numpy", a, b)`` works too; ``timing.reference("dot_loop", a, b)``
times the reference solution in its own sandbox instead (the learner's process is
stopped meanwhile, so the two never run at the same time).

**Inputs change on every call.** Each NumPy array argument is extended by a few
thousand rows drawn from its own rows, stored once in the sandbox, and every call gets
its own window ``buffer[k:k + n]`` (a view, so no copy is timed). Every output comes back
and is checked, against ``expect`` when given (computed here, in the grader), otherwise
against the other outputs for the same window, including the other side's. A submission
that caches results, or a child that runs fewer calls than asked and repeats an answer,
returns wrong outputs and fails the check; one that only patches its own clocks changes
nothing, because every time is read by the grader.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pytest

from harness import clock, device, timing, wire
from harness.checks.outputs import difference_words, first_difference, same, type_name
from harness.remote import Channel, RemoteException
from harness.sandbox import Box, BoxFailure

#: Extra rows per varied array: distinct windows available before they repeat.
SPAN = 4096
SPAN_BYTES = 32 << 20
PROJECT_ABOVE = 64
#: The protocol's settings unless a test passes its own ``plan``.
DEFAULT_PLAN = timing.Plan()


@dataclass(frozen=True)
class Call:
    """One side of a comparison: a function of the submission or of the reference."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    where: Literal["submission", "reference"] = "submission"
    label: str = ""

    @property
    def title(self) -> str:
        if self.label:
            return self.label
        return f"your {self.name}" if self.where == "submission" else f"the reference {self.name}"


@dataclass
class Inputs:
    """The grader's copies of one comparison's arguments, extended for distinct windows."""

    args: list[Any]
    windows: dict[int, int]
    span: int

    @classmethod
    def build(cls, args: Sequence[Any], rng: np.random.Generator, vary: bool) -> Inputs:
        arrays = [i for i, a in enumerate(args)
                  if vary and isinstance(a, np.ndarray) and a.ndim >= 1 and len(a) > 0]
        span = 1
        if arrays:
            row_bytes = max(int(args[i][:1].nbytes) for i in arrays)
            span = max(2, min(SPAN, SPAN_BYTES // max(1, row_bytes))) + 1
        out: list[Any] = list(args)
        for i in arrays:
            a = args[i]
            extra = a[rng.integers(0, len(a), size=span - 1)]
            out[i] = np.ascontiguousarray(np.concatenate([a, extra]))
        return cls(out, {i: len(args[i]) for i in arrays}, span)

    def window(self, offset: int) -> list[Any]:
        """The arguments of the call at ``offset``, as the child slices them."""
        return [a[offset:offset + self.windows[i]] if i in self.windows else a
                for i, a in enumerate(self.args)]

    def size(self) -> str:
        """``n=1000``: the rows of the first (varied) array argument, as a learner says it."""
        rows = next(iter(self.windows.values()), None)
        if rows is None:
            rows = next((len(a) for a in self.args if isinstance(a, np.ndarray) and a.ndim), None)
        return f" (n={rows})" if rows is not None else ""


def project(out: Any, weights: np.ndarray | None) -> Any:
    """The grader's twin of the child's projection of a large array output."""
    if weights is not None and isinstance(out, np.ndarray) and out.size > PROJECT_ABOVE:
        flat = np.asarray(out, dtype=np.float64).ravel()
        value = float(flat @ weights[:flat.size]) if flat.size <= len(weights) else None
        return {"shape": list(out.shape), "projection": value}
    return out


@contextlib.contextmanager
def paused(box: Box | None) -> Iterator[None]:
    """Stop every process of a box (SIGSTOP) for the duration, so it cannot add noise."""
    pids: list[int] = []
    groups: list[int] = []
    child = box.child if box is not None and box.alive else None
    if child is not None:
        groups = [child.proc.pid]
        if child.cgroup is not None:
            pids = child.cgroup.members()
    for sig in (signal.SIGSTOP,):
        for g in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(g, sig)
        for p in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, sig)
    try:
        yield
    finally:
        for g in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(g, signal.SIGCONT)
        for p in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, signal.SIGCONT)


class BoxSide:
    """A :class:`harness.timing.Side` that runs ``call_each`` requests in one sandbox."""

    def __init__(self, call: Call, channel: Channel, inputs: Inputs, refs: list[Any],
                 weights: Any, sync: str | None,
                 quiet: Callable[[], contextlib.AbstractContextManager[None]]) -> None:
        self.label = call.title
        self.span = inputs.span
        self.call, self.channel, self.inputs = call, channel, inputs
        self.refs, self.weights, self.sync, self.quiet = refs, weights, sync, quiet

    def run(self, offsets: Sequence[int]) -> tuple[float, list[Any]]:
        header: dict[str, Any] = {"op": "call_each", "path": [self.call.name],
                                  "offsets": [int(k) for k in offsets],
                                  "windows": {str(i): n for i, n in self.inputs.windows.items()}}
        if self.sync:
            header["sync"] = self.sync
        values = {"args": self.refs, "kwargs": self.call.kwargs, "weights": self.weights}
        with self.quiet():
            start = clock.monotonic()
            outputs = self.channel.request(header, values)
            elapsed = clock.monotonic() - start
        if not isinstance(outputs, list):
            raise timing.OutputMismatch(f"{self.label}'s timed request gave "
                                        f"{type_name(outputs)}, not one result per call")
        return elapsed, outputs

    def full_output(self, offset: int) -> Any:
        """One more call at ``offset``, untimed, its whole output sent back: a wrong output
        is shown as values, and a large one is timed only as its projection."""
        header: dict[str, Any] = {"op": "call_each", "path": [self.call.name],
                                  "offsets": [int(offset)],
                                  "windows": {str(i): n for i, n in self.inputs.windows.items()}}
        values = {"args": self.refs, "kwargs": self.call.kwargs, "weights": None}
        outputs = self.channel.request(header, values)
        if not isinstance(outputs, list) or len(outputs) != 1:
            raise ValueError("not one output for one call")
        return outputs[0]


class OutputCheck:
    """Checks every timed output: against ``expect``, else against the same window's.

    A wrong output fails the check as a correctness check would: what the learner's code
    returned on that input and where it first differs; the expected values (``expect``'s,
    or the reference's) only in the public form of the message.
    """

    def __init__(self, sides: dict[str, BoxSide], inputs: Inputs,
                 expect: Callable[..., Any] | None, weights: np.ndarray | None,
                 rtol: float, atol: float) -> None:
        self.sides, self.inputs, self.expect = sides, inputs, expect
        self.weights, self.rtol, self.atol = weights, rtol, atol
        self.known: dict[int, Any] = {}
        self.first: dict[int, Literal["fast", "slow"]] = {}

    def __call__(self, which: Literal["fast", "slow"], offset: int, out: Any) -> None:
        if offset not in self.known:
            self.first[offset] = which
            if self.expect is None:
                self.known[offset] = out
                return
            self.known[offset] = project(self.expect(*self.inputs.window(offset)), self.weights)
        if not same(out, self.known[offset], self.rtol, self.atol):
            raise self.mismatch(which, offset, out)

    def mismatch(self, which: Literal["fast", "slow"], offset: int,
                 out: Any) -> timing.OutputMismatch:
        """The failure for ``out``, a wrong output of ``which`` at ``offset``."""
        label = self.sides[which].label
        on = f"on the timed input{self.inputs.size()}"
        if self.expect is not None:
            return self._wrong(label, on, offset, self._whole(which, offset, out),
                               self.expect(*self.inputs.window(offset)), "expected")
        first = self.first[offset]
        if first == which:  # one function, two answers for one input
            diff = None if self.weights is not None else \
                first_difference(out, self.known[offset], self.rtol, self.atol)
            words = f": {difference_words(diff, 'a later call gave', 'the first gave')}" \
                if diff else ""
            return timing.OutputMismatch(f"{label} returned different results for the same "
                                         f"timed input{self.inputs.size()}{words}; does it "
                                         "cache results, or depend on earlier calls?", offset)
        other = self.sides[first]
        theirs = self._whole(first, offset, self.known[offset])
        if other.call.where == "reference":
            return self._wrong(label, on, offset, self._whole(which, offset, out), theirs,
                               "the reference gave", "yours gave")
        mine = self._whole(which, offset, out)
        diff = None if mine is None or theirs is None else \
            first_difference(mine, theirs, self.rtol, self.atol)
        head = f"{other.label} and {label} returned different results {on}"
        if diff is None:
            return timing.OutputMismatch(f"{head}, so one of them is wrong", offset)
        return timing.OutputMismatch(
            f"{head}: {difference_words(diff, f'{label} gave', f'{other.label} gave')}",
            offset)

    def _wrong(self, label: str, on: str, offset: int, got: Any, want: Any,
               want_label: str, got_label: str = "got") -> timing.OutputMismatch:
        """``your f returned a wrong result on the timed input (n=400): first difference
        at [3, 1]: expected 0.5, got 0.25``, with only the got side for hidden checks."""
        head = f"{label} returned a wrong result {on}"
        diff = None if got is None or want is None else \
            first_difference(got, want, self.rtol, self.atol)
        if diff is None:
            return timing.OutputMismatch(f"{head} in a timed call (but not when called again: "
                                         "does it cache results, or depend on earlier calls?)"
                                         if got is not None else head, offset)
        return timing.OutputMismatch(f"{head}: {difference_words(diff, got_label, None)}",
                                     offset,
                                     f"{head}: {difference_words(diff, got_label, want_label)}")

    def _whole(self, which: Literal["fast", "slow"], offset: int, out: Any) -> Any:
        """``out`` itself, or when it came back as a projection, the output of one more
        call on the same input (None if that call fails: the message then has no values)."""
        if self.weights is None:
            return out
        try:
            return self.sides[which].full_output(offset)
        except (BoxFailure, RemoteException, ValueError, pytest.skip.Exception):
            return None


class Timing:
    """The ``timing`` fixture: compare two callables' speed and assert a minimum ratio."""

    def __init__(self, learner: Callable[[], Box], reference: Callable[[], Box] | None,
                 seed: int, record: Callable[[timing.Measurement], None],
                 device_name: str = "cpu", plan: timing.Plan | None = None) -> None:
        self._learner, self._reference = learner, reference
        self._seed, self._record, self._plan = seed, record, plan
        self.device = device_name
        self.measurements: list[timing.Measurement] = []

    def call(self, name: str, *args: Any, label: str = "", **kwargs: Any) -> Call:
        """A function of the learner's submission, with its arguments."""
        return Call(name, args, kwargs, "submission", label)

    def reference(self, name: str, *args: Any, label: str = "", **kwargs: Any) -> Call:
        """A function of the task's reference solution (timed in its own sandbox)."""
        return Call(name, args, kwargs, "reference", label)

    def compare(self, fast: Call | tuple[Any, ...], slow: Call | tuple[Any, ...],
                at_least: float, *, expect: Callable[..., Any] | None = None,
                rtol: float = 1e-7, atol: float = 0.0, vary: bool = True,
                plan: timing.Plan | None = None) -> timing.Measurement:
        """Measure ``slow / fast`` (seconds per call) and require at least ``at_least``.

        Parameters
        ----------
        fast, slow : Call or tuple
            ``timing.call(name, *args)``, ``timing.reference(name, *args)`` or a tuple
            ``(name, *args)`` for the submission. Both sides get the same inputs.
        at_least : float
            The smallest acceptable speed ratio.
        expect : callable, optional
            Computes the right output from the same arguments, in the grader; without it,
            outputs are checked against each other window by window.
        rtol, atol : float
            Tolerances for comparing outputs.
        vary : bool
            Give every call its own window of the array arguments (default).

        Returns
        -------
        Measurement
            Ratio, interval, samples, overhead and environment (also kept in the result).

        Raises
        ------
        TimingFailure
            The ratio is below ``at_least`` (or a timed output was wrong), with a message
            for the learner. An inconclusive measurement skips the check instead.
        """
        m = self.measure(fast, slow, at_least, expect=expect, rtol=rtol, atol=atol, vary=vary,
                         plan=plan)
        self._record(m)
        if m.outcome == "fail":
            raise timing.TimingFailure(m.summary())
        if m.outcome == "inconclusive":
            pytest.skip(f"timing inconclusive, re-run the grading ({m.reason}): {m.summary()}")
        return m

    def measure(self, fast: Call | tuple[Any, ...], slow: Call | tuple[Any, ...],
                threshold: float = 1.0, *, expect: Callable[..., Any] | None = None,
                rtol: float = 1e-7, atol: float = 0.0, vary: bool = True,
                plan: timing.Plan | None = None) -> timing.Measurement:
        """Like :meth:`compare`, but return the measurement whatever its outcome."""
        f, s = _as_call(fast), _as_call(slow)
        if not _same_args(f.args, s.args):
            raise ValueError("both sides of a timing comparison must get the same arguments")
        rng = np.random.default_rng(self._seed)
        inputs = Inputs.build(f.args, rng, vary)
        weights = self._weights(f, inputs, rng)
        sides = {"fast": self._side(f, inputs, weights), "slow": self._side(s, inputs, weights)}
        check = OutputCheck(sides, inputs, expect, weights, rtol, atol)
        m = timing.measure(sides["fast"], sides["slow"], float(threshold), check,
                           plan or self._plan or DEFAULT_PLAN, seed=self._seed,
                           environment=self._environment, varied_inputs=bool(inputs.windows))
        self.measurements.append(m)
        return m

    # ---------------------------------------------------------------- internals

    def _box(self, where: str) -> Box:
        if where == "submission":
            return self._learner()
        if self._reference is None:
            pytest.skip("no reference solution is available to this grader, so the timing "
                        "comparison with it was not run")
        return self._reference()

    def _channel(self, where: str) -> Channel:
        if where == "reference":
            return ReferenceChannel(lambda: self._box(where))
        return Channel(lambda: self._box(where))

    def _weights(self, call: Call, inputs: Inputs, rng: np.random.Generator
                 ) -> np.ndarray | None:
        """Projection weights when the output is a large array (one untimed call tells)."""
        first = self._channel(call.where).request(
            {"op": "call_each", "path": [call.name], "offsets": [0],
             "windows": {str(i): n for i, n in inputs.windows.items()}},
            {"args": inputs.args, "kwargs": call.kwargs, "weights": None})
        out = first[0] if isinstance(first, list) and first else None
        if isinstance(out, np.ndarray) and out.size > PROJECT_ABOVE:
            return rng.standard_normal(out.size)
        return None

    def _side(self, call: Call, inputs: Inputs, weights: np.ndarray | None) -> BoxSide:
        channel = self._channel(call.where)
        refs = self._store(channel, inputs.args)
        stored_weights = self._store(channel, [weights])[0] if weights is not None else None
        learner = self._learner

        def quiet() -> contextlib.AbstractContextManager[None]:
            if call.where == "reference":
                return paused(_box_or_none(learner))
            return contextlib.nullcontext()

        sync = self.device if self.device in ("cuda", "mps") else None
        return BoxSide(call, channel, inputs, refs, stored_weights, sync, quiet)

    @staticmethod
    def _store(channel: Channel, values: list[Any]) -> list[Any]:
        ids = channel.request({"op": "store"}, {"items": list(values)})
        if not isinstance(ids, list) or not all(type(i) is int for i in ids):
            raise TypeError("the sandbox did not return object ids for stored values")
        return [wire.Ref(i) for i in ids]

    def _environment(self) -> dict[str, Any]:
        return {"load": timing.machine_load(), "device": self.device,
                "grader_blas": device.blas_pools(), "child_threads_env": 1}


class ReferenceChannel(Channel):
    """The reference's channel: its failures are the task's problem, never the learner's."""

    def request(self, header: dict[str, Any], values: dict[str, Any],
                timeout: float | None = None) -> Any:
        try:
            return super().request(header, values, timeout)
        except (BoxFailure, RemoteException) as exc:
            pytest.skip(f"the reference solution could not be timed ({exc}); this is a "
                        "problem of the task, not of your code")


def _box_or_none(get: Callable[[], Box]) -> Box | None:
    try:
        return get()
    except BoxFailure:
        return None


def _as_call(value: Call | tuple[Any, ...]) -> Call:
    if isinstance(value, Call):
        return value
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        return Call(value[0], tuple(value[1:]))
    raise TypeError("a side is timing.call(name, *args), timing.reference(name, *args) or "
                    "a tuple (name, *args)")


def _same_args(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return len(a) == len(b) and all(x is y or (isinstance(x, np.ndarray) and
                                               isinstance(y, np.ndarray) and
                                               np.array_equal(x, y)) or x == y
                                    for x, y in zip(a, b, strict=True))
