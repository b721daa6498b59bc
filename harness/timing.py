"""Timing verdicts: interleaved, calibrated, paired measurements on the grader's clock.

The protocol (see ``shared/research/timing.md``, Part C) compares two sides, ``fast`` and
``slow`` (e.g. a learner's vectorized and looped functions, or the learner's function and
the reference's):

1. measure the channel's own overhead (empty samples) on each side, to subtract and report;
2. warm up each side once;
3. calibrate an inner call count per side, so one sample lasts at least ``target_sample_s``;
4. run rounds of one sample per side, alternating which side goes first;
5. per round, the ratio ``slow / fast`` of seconds per call; the statistic is the median
   ratio with a distribution-free confidence interval (order statistics of the median);
6. decide against the threshold: the whole interval above it passes, the whole interval
   below it fails; an interval that straddles it asks for more rounds, up to
   ``max_rounds`` and the time budget, and is then **inconclusive**. An inconclusive
   measurement is not a verdict on the learner: the check is skipped with the reason and
   counts for neither score nor maximum (a correct solution must never fail because the
   machine was too noisy to tell).

Every number is read by the grader (:mod:`harness.clock`); a side is anything with a
``run(offsets)`` that returns the grader-clock seconds of one request and the outputs the
child sent back. The statistics are pure functions, tested on synthetic timings.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from harness import clock
from harness.checks import ShownToLearner

Outcome = Literal["pass", "fail", "inconclusive"]
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Plan:
    """The measurement protocol's knobs (the harness's defaults suit CPU checks)."""

    target_sample_s: float = 0.02
    rounds: int = 15
    min_rounds: int = 6
    max_rounds: int = 45
    budget_s: float = 30.0
    max_number: int = 100_000
    overhead_samples: int = 15
    confidence: float = 0.95
    #: After ``min_rounds``, stop early when the whole interval is this factor clear of
    #: the threshold (a verdict that more rounds could not change).
    clear_margin: float = 3.0


class Side(Protocol):
    """One side of a comparison, as the protocol drives it."""

    label: str
    span: int

    def run(self, offsets: Sequence[int]) -> tuple[float, list[Any]]:
        """Call once per offset in one request; grader-clock seconds and the outputs."""
        ...


class TimingFailure(ShownToLearner):
    """A timing check failed; its message is meant for the learner, hidden checks included.

    The message states measured ratios and the threshold only, never expected values, so
    the plugin shows it even when the check's code is hidden.
    """


class OutputMismatch(TimingFailure):
    """A timed call returned something other than what its input must give.

    A correctness failure found while timing: the message says so as a correctness check
    would (what was wrong and where, see :mod:`harness.checks.outputs`), naming only what
    the learner's code returned; ``public_message`` adds the expected values, for a public
    check. ``offset`` is the window of the wrong call (-1: not one call's fault).
    """

    def __init__(self, message: str, offset: int = -1,
                 public_message: str | None = None) -> None:
        super().__init__(message, public_message=public_message)
        self.offset = offset


@dataclass(frozen=True)
class Sample:
    """One timed request: which side, which round, inner calls, grader-clock seconds."""

    side: Literal["fast", "slow"]
    round: int
    number: int
    elapsed_s: float
    per_call_s: float


@dataclass(frozen=True)
class Measurement:
    """Everything one comparison established, kept with its environment."""

    fast: str
    slow: str
    threshold: float
    outcome: Outcome
    ratio: float
    ci: tuple[float, float]
    confidence: float
    rounds: int
    numbers: dict[str, int]
    ratios: tuple[float, ...]
    samples: tuple[Sample, ...]
    overhead_s: dict[str, float]
    duration_s: float
    varied_inputs: bool
    noisy: bool
    reason: str = ""
    environment: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-native form (lists, not tuples), as it is stored in the result document."""
        return json.loads(json.dumps(asdict(self)))  # type: ignore[no-any-return]

    def summary(self) -> str:
        """One learner-facing line: the ratio, its interval and what was needed."""
        lo, hi = self.ci
        level = f"{self.confidence:.0%} CI"
        head = f"{self.fast} is {speed_words(self.ratio, self.slow)}"
        if math.isfinite(self.ratio) and self.ratio >= 1:
            detail = f"{level} {_fmt(lo)}-{_fmt(hi)}x"
        else:
            detail = f"speed-up {_fmt(self.ratio)}x, {level} {_fmt(lo)}-{_fmt(hi)}x"
        return f"{head} ({detail}, {self.rounds} rounds); needed >= {_fmt(self.threshold)}x"


# ------------------------------------------------------------------ statistics


def median(values: Sequence[float]) -> float:
    """The median; for an even count, the geometric mean of the middle two (ratios)."""
    if not values:
        raise ValueError("no values")
    xs = sorted(values)
    n = len(xs)
    if n % 2:
        return xs[n // 2]
    a, b = xs[n // 2 - 1], xs[n // 2]
    return math.sqrt(a * b) if a > 0 and b > 0 else (a + b) / 2


def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int]:
    """0-based ranks of the order-statistic interval for the median of ``n`` values.

    The interval ``[x_(k), x_(n-1-k)]`` covers the median with probability at least
    ``confidence`` for any continuous distribution; ``k`` is the largest rank with
    ``P(Binomial(n, 1/2) <= k) <= (1 - confidence) / 2``. With too few values for that
    (n <= 5 at 95 %), the interval is the whole range.
    """
    if n < 1:
        raise ValueError("no values")
    alpha = (1.0 - confidence) / 2
    cumulative, k = 0.0, -1
    for j in range(n):
        cumulative += math.comb(n, j) / 2.0 ** n
        if cumulative > alpha:
            break
        k = j
    k = max(k, 0)
    return k, n - 1 - k


def median_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free confidence interval for the median of ``values``."""
    xs = sorted(values)
    lo, hi = median_ci_ranks(len(xs), confidence)
    return xs[lo], xs[hi]


def decide(ci: tuple[float, float], threshold: float) -> Outcome:
    """Pass when the whole interval clears the threshold, fail when it lies below."""
    lo, hi = ci
    if lo >= threshold:
        return "pass"
    if hi < threshold:
        return "fail"
    return "inconclusive"


def is_noisy(ratios: Sequence[float]) -> bool:
    """Relative IQR above 10 % (torch.utils.benchmark's convention): information only."""
    if len(ratios) < 4:
        return False
    q1, q3 = np.percentile(np.asarray(ratios, dtype=float), [25, 75])
    mid = median(ratios)
    return bool(mid > 0 and (q3 - q1) / mid > 0.10)


def inner_count(per_call_s: float, target_s: float, max_number: int) -> int:
    """Calls per sample so that one sample lasts about ``target_s`` (at least one)."""
    if per_call_s <= 0 or not math.isfinite(per_call_s):
        return max_number
    return max(1, min(max_number, math.ceil(target_s / per_call_s)))


def per_call(elapsed_s: float, overhead_s: float, number: int) -> float:
    """Seconds per call with the channel's overhead taken off (never below 1 % of it)."""
    return max(elapsed_s - overhead_s, 0.01 * elapsed_s, 1e-12) / max(1, number)


# ------------------------------------------------------------------ the protocol


Check = Callable[[Literal["fast", "slow"], int, Any], None]


@dataclass
class _Run:
    """Mutable state of one measurement while it runs (never leaves this module)."""

    fast: Side
    slow: Side
    plan: Plan
    check: Check
    rng: np.random.Generator
    samples: list[Sample] = field(default_factory=list)
    last_fast_offsets: list[int] = field(default_factory=list)
    last_gross: float = math.inf

    def offsets(self, side: Side, number: int) -> list[int]:
        """Distinct windows for each call of a sample (cycling only past the span)."""
        span = max(1, side.span)
        if number <= span:
            return [int(x) for x in self.rng.choice(span, size=number, replace=False)]
        return [int(x) for x in self.rng.permutation(np.resize(np.arange(span), number))]

    def sample(self, which: Literal["fast", "slow"], rnd: int, number: int,
               overhead: float) -> float:
        side = self.fast if which == "fast" else self.slow
        if which == "slow" and self.last_fast_offsets:
            # The slow side's windows are drawn from the fast side's last sample, after it
            # ran: each slow sample spot-checks outputs the fast side could not predict.
            pool = self.last_fast_offsets
            offsets = [pool[int(i)] for i in self.rng.integers(0, len(pool), size=number)]
        else:
            offsets = self.offsets(side, number)
        elapsed, outputs = side.run(offsets)
        if len(outputs) != len(offsets):
            raise OutputMismatch(f"{side.label} gave {len(outputs)} results for {len(offsets)} "
                                 "calls in one timed request: every call must return its own")
        for k, out in zip(offsets, outputs, strict=True):
            self.check(which, k, out)
        if which == "fast":
            self.last_fast_offsets = offsets
        t = per_call(elapsed, overhead, number)
        self.last_gross = elapsed / max(1, number)
        if rnd >= 0:
            self.samples.append(Sample(which, rnd, number, elapsed, t))
        return t

    def calibrate(self, which: Literal["fast", "slow"], overhead: float) -> int:
        """Calls per sample so one sample lasts ``target_sample_s``.

        Noise only ever adds time, so the estimate is the *fastest* per-call time seen over
        at least three tries, and the count never shrinks: one preempted try cannot make
        the samples short (short samples are dominated by the channel's overhead). The
        estimate is the gross time per call, overhead included: an over-measured overhead
        must not make calls look nearly free and the count explode.
        """
        number, best = 1, math.inf
        for attempt in range(8):
            self.sample(which, -1, number, overhead)
            best = min(best, self.last_gross)
            wanted = inner_count(best, self.plan.target_sample_s * 1.1, self.plan.max_number)
            if wanted <= number and attempt >= 2:
                break
            number = max(number, wanted)
        return number


def measure(fast: Side, slow: Side, threshold: float, check: Check,
            plan: Plan = Plan(), seed: int = 0,
            environment: Callable[[], dict[str, Any]] | None = None,
            varied_inputs: bool = True) -> Measurement:
    """Run the protocol and decide whether ``slow / fast`` is at least ``threshold``.

    Parameters
    ----------
    fast, slow : Side
        The two sides; each ``run`` is one request timed on the grader's clock.
    threshold : float
        The smallest acceptable ratio of seconds per call, slow over fast.
    check : callable
        ``check(side, offset, output)`` raises :class:`OutputMismatch` when an output is
        wrong for its window; called on every output of every sample.
    plan : Plan
        Sample length, round counts, time budget, confidence.
    seed : int
        Seeds the choice of windows (which differ between calls and rounds).
    environment : callable, optional
        Returns the environment to keep with the samples (BLAS pools, load, device).
    varied_inputs : bool
        Whether the sides' inputs differ between calls (recorded, for the reader).

    Raises
    ------
    OutputMismatch
        When a timed call returned a wrong result (a learner failure; ``check`` raises it).
    """
    started = clock.monotonic()
    env_before = environment() if environment else {}
    run = _Run(fast, slow, plan, check, np.random.default_rng(seed))
    # Empty requests: the channel's own cost, subtracted from every sample. One more is
    # taken before each sample, so the estimate follows the machine's load as it drifts.
    empties: dict[str, list[float]] = {
        "fast": [fast.run([])[0] for _ in range(max(1, plan.overhead_samples))],
        "slow": [slow.run([])[0] for _ in range(max(1, plan.overhead_samples))]}
    overhead = {k: median(v) for k, v in empties.items()}
    run.sample("fast", -1, 1, overhead["fast"])  # warm-up: imports, caches, page faults
    run.sample("slow", -1, 1, overhead["slow"])
    numbers = {"fast": run.calibrate("fast", overhead["fast"]),
               "slow": run.calibrate("slow", overhead["slow"])}
    ratios: list[float] = []
    outcome: Outcome = "inconclusive"
    reason = ""
    ci = (0.0, math.inf)
    for rnd in range(plan.max_rounds):
        order: tuple[Literal["fast", "slow"], ...] = ("fast", "slow") if rnd % 2 == 0 \
            else ("slow", "fast")
        t: dict[str, float] = {}
        for which in order:
            side = fast if which == "fast" else slow
            empties[which].append(side.run([])[0])
            overhead[which] = median(empties[which])
            t[which] = run.sample(which, rnd, numbers[which], overhead[which])
        ratios.append(t["slow"] / t["fast"])
        done = len(ratios)
        spent = clock.monotonic() - started
        if done >= plan.min_rounds:
            ci = median_ci(ratios, plan.confidence)
            outcome = decide(ci, threshold)
            clear = ci[0] >= threshold * plan.clear_margin or \
                ci[1] * plan.clear_margin <= threshold
            if outcome != "inconclusive" and (done >= plan.rounds or clear):
                break
            if spent >= plan.budget_s:
                break
    if outcome == "inconclusive":
        if len(ratios) < plan.min_rounds:
            reason = (f"only {len(ratios)} rounds fitted in the {plan.budget_s:g} s "
                      "budget")
        else:
            reason = (f"the {plan.confidence:.0%} interval still straddles "
                      f"{_fmt(threshold)}x after {len(ratios)} rounds")
    env = {"before": env_before, "after": environment() if environment else {}}
    return Measurement(
        fast=fast.label, slow=slow.label, threshold=threshold, outcome=outcome,
        ratio=median(ratios) if ratios else math.nan,
        ci=(ci[0], ci[1]) if ratios else (math.nan, math.nan),
        confidence=plan.confidence, rounds=len(ratios), numbers=numbers,
        ratios=tuple(ratios), samples=tuple(run.samples), overhead_s=overhead,
        duration_s=clock.monotonic() - started, varied_inputs=varied_inputs,
        noisy=is_noisy(ratios), reason=reason, environment=env,
    )


# ------------------------------------------------------------------ environment and words


def machine_load() -> dict[str, Any]:
    """Load average and CPU pressure (Linux PSI) now: a saturated machine is recognisable."""
    out: dict[str, Any] = {"cpu_count": os.cpu_count()}
    try:
        out["loadavg"] = list(os.getloadavg())
    except OSError:
        pass
    try:
        with open("/proc/pressure/cpu", encoding="ascii") as fh:
            out["psi_cpu"] = fh.readline().strip()
    except OSError:
        pass
    return out


def speed_words(ratio: float, other: str) -> str:
    """``142x faster than your loop`` or ``3.1x slower than your loop``."""
    if not math.isfinite(ratio) or ratio <= 0:
        return f"not measurable against {other}"
    if ratio >= 1:
        return f"{_fmt(ratio)}x faster than {other}"
    return f"{_fmt(1 / ratio)}x slower than {other}"


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "inf" if x > 0 else "nan"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.0f}"
    return f"{x:.2g}" if x < 1 else f"{x:.1f}"
