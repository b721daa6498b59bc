"""The timing protocol on synthetic timings, and timing checks end to end in the sandbox."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness import grading, settings, tasks, timing
from harness.checks import speed
from harness.checks.outputs import show
from harness.checks.speed import Inputs, project, same
from harness.results import Result

# ------------------------------------------------------------------ statistics


def test_median_ci_ranks_match_the_binomial_order_statistics():
    assert timing.median_ci_ranks(15) == (3, 11)  # the 4th and 12th of 15 sorted values
    assert timing.median_ci_ranks(6) == (0, 5)
    assert timing.median_ci_ranks(5) == (0, 4)  # too few for 95 %: the whole range
    lo, hi = timing.median_ci_ranks(45)
    assert (lo, hi) == (15, 29)
    # Coverage of [x_lo, x_hi] is P(lo < B <= hi) for B ~ Binomial(n, 1/2).
    coverage = sum(math.comb(15, j) for j in range(4, 12)) / 2 ** 15
    assert coverage >= 0.95


def test_median_and_interval_of_ratios():
    values = [10.0, 12.0, 11.0, 100.0, 9.0]
    assert timing.median(values) == 11.0
    assert timing.median([4.0, 9.0]) == pytest.approx(6.0)  # geometric mean of the middle two
    assert timing.median_ci(list(range(1, 16))) == (4, 12)


@pytest.mark.parametrize("ci,outcome", [((25.0, 40.0), "pass"), ((20.0, 21.0), "pass"),
                                        ((1.0, 19.9), "fail"), ((15.0, 25.0), "inconclusive")])
def test_decide_needs_the_whole_interval_on_one_side(ci, outcome):
    assert timing.decide(ci, 20.0) == outcome


def test_inner_count_and_overhead_subtraction():
    assert timing.inner_count(25e-6, 0.02, 100_000) == 800
    assert timing.inner_count(0.5, 0.02, 100_000) == 1
    assert timing.inner_count(0.0, 0.02, 5000) == 5000
    assert timing.per_call(0.021, 0.001, 1000) == pytest.approx(20e-6)
    assert timing.per_call(0.001, 0.002, 1) == pytest.approx(1e-5)  # never negative


def test_summary_is_one_learner_line_without_expected_values():
    m = _measurement(ratio=142.3, ci=(131.2, 150.4))
    assert m.summary() == ("your NumPy version is 142x faster than your loop "
                           "(95% CI 131-150x, 15 rounds); needed >= 20x")
    slow = _measurement(ratio=0.8, ci=(0.7, 0.9), outcome="fail")
    assert "1.2x slower than your loop" in slow.summary()
    assert "speed-up 0.8x" in slow.summary()


# ------------------------------------------------------------------ the protocol, synthetic


class FakeSide:
    """A side whose request times follow a model: overhead + per-call cost x noise."""

    def __init__(self, label: str, per_call: float, overhead: float = 5e-4,
                 noise: float = 0.0, seed: int = 0, lie: bool = False) -> None:
        self.label, self.span = label, 4097
        self.per_call, self.overhead, self.noise, self.lie = per_call, overhead, noise, lie
        self.rng = np.random.default_rng(seed)
        self.requests: list[int] = []

    def run(self, offsets: Sequence[int]) -> tuple[float, list[Any]]:
        self.requests.append(len(offsets))
        factor = math.exp(self.rng.normal(0, self.noise)) if self.noise else 1.0
        elapsed = self.overhead + self.per_call * len(offsets) * factor
        outputs = [float(k) for k in offsets]
        if self.lie and outputs:  # ran once, repeated the answer
            outputs = [outputs[0]] * len(outputs)
        return elapsed, outputs


def _exact(which: str, offset: int, out: Any) -> None:
    if out != float(offset):
        raise timing.OutputMismatch(f"{which} returned {out} for window {offset}", offset)


def test_protocol_passes_a_large_ratio_and_calibrates_samples():
    fast, slow = FakeSide("fast", 25e-6, noise=0.1, seed=1), FakeSide("slow", 0.03, seed=2)
    m = timing.measure(fast, slow, 20.0, _exact, timing.Plan(budget_s=60,
                                                             clear_margin=math.inf))
    assert m.outcome == "pass" and m.rounds == 15
    # A verdict far clear of the threshold stops after the minimum number of rounds.
    early = timing.measure(fast, slow, 20.0, _exact, timing.Plan(budget_s=60))
    assert early.outcome == "pass" and early.rounds == timing.Plan().min_rounds
    assert m.ratio == pytest.approx(1200, rel=0.25)
    assert m.ci[0] <= m.ratio <= m.ci[1]
    assert m.numbers["slow"] == 1
    assert 700 <= m.numbers["fast"] <= 1000  # one sample of about 20 ms
    assert {s.side for s in m.samples} == {"fast", "slow"}
    assert m.overhead_s["fast"] == pytest.approx(5e-4)


def test_protocol_fails_a_loop_disguised_as_vectorized():
    fast, slow = FakeSide("fast", 0.03, noise=0.2, seed=3), FakeSide("slow", 0.03, seed=4)
    m = timing.measure(fast, slow, 20.0, _exact)
    assert m.outcome == "fail" and m.ci[1] < 20
    assert m.ratio == pytest.approx(1.0, rel=0.3)


def test_protocol_subtracts_a_large_channel_overhead():
    # Overhead (2 ms) dwarfs the fast call (10 us): without subtraction, ~10x off.
    fast = FakeSide("fast", 10e-6, overhead=2e-3)
    slow = FakeSide("slow", 5e-3, overhead=2e-3)
    m = timing.measure(fast, slow, 20.0, _exact)
    assert m.ratio == pytest.approx(500, rel=0.05)


def test_protocol_alternates_which_side_goes_first():
    order: list[str] = []

    class Logged(FakeSide):
        def run(self, offsets: Sequence[int]) -> tuple[float, list[Any]]:
            if offsets:
                order.append(self.label)
            return super().run(offsets)

    timing.measure(Logged("fast", 1e-4), Logged("slow", 1e-2), 20.0, _exact,
                   timing.Plan(clear_margin=math.inf))
    rounds = order[-30:]
    pairs = [tuple(rounds[i:i + 2]) for i in range(0, 30, 2)]
    assert pairs[0::2] == [("fast", "slow")] * 8
    assert pairs[1::2] == [("slow", "fast")] * 7


def test_interval_straddling_the_threshold_is_inconclusive_after_max_rounds():
    # A speed-up near 20x with large noise: the machine cannot tell, so no verdict.
    fast = FakeSide("fast", 1e-3, noise=0.8, seed=5)
    slow = FakeSide("slow", 20e-3, noise=0.8, seed=6)
    m = timing.measure(fast, slow, 20.0, _exact, timing.Plan(max_rounds=25, budget_s=60))
    assert m.outcome == "inconclusive"
    assert m.rounds == 25 and "straddles" in m.reason
    assert m.noisy


def test_budget_cap_stops_at_the_minimum_rounds():
    fast, slow = FakeSide("fast", 1e-3, noise=0.8), FakeSide("slow", 20e-3, noise=0.8)
    m = timing.measure(fast, slow, 20.0, _exact, timing.Plan(budget_s=0.0, min_rounds=6))
    assert m.rounds == 6


def test_a_child_that_runs_fewer_calls_is_caught_by_its_outputs():
    liar = FakeSide("your NumPy version", 1e-6, lie=True)
    with pytest.raises(timing.OutputMismatch) as info:
        timing.measure(liar, FakeSide("your loop", 1e-2), 20.0, _exact)
    assert isinstance(info.value, timing.TimingFailure)  # shown to the learner
    assert str(info.value).startswith("fast returned ") and info.value.offset >= 0


def test_samples_keep_their_environment():
    m = timing.measure(FakeSide("fast", 1e-4), FakeSide("slow", 1e-2), 20.0, _exact,
                       environment=lambda: {"load": {"cpu_count": 2}})
    assert m.environment["before"] == {"load": {"cpu_count": 2}}
    assert m.environment["after"] == {"load": {"cpu_count": 2}}
    doc = m.to_dict()
    assert isinstance(doc["ci"], list) and doc["schema_version"] == 1
    assert len(doc["samples"]) == 2 * m.rounds


# ------------------------------------------------------------------ inputs and outputs


def test_every_call_gets_its_own_window_of_the_inputs():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=1000), rng.normal(size=1000)
    inputs = Inputs.build((a, b, 3.0, [1, 2]), rng, vary=True)
    assert inputs.windows == {0: 1000, 1: 1000} and inputs.span == 4097
    w0, w7 = inputs.window(0), inputs.window(7)
    assert np.array_equal(w0[0], a) and w0[2:] == [3.0, [1, 2]]
    assert w7[0].shape == a.shape and np.dot(*w7[:2]) != np.dot(a, b)
    dots = {round(float(np.dot(*inputs.window(k)[:2])), 9) for k in range(200)}
    assert len(dots) == 200  # distinct windows give distinct answers
    fixed = Inputs.build((a, b), rng, vary=False)
    assert fixed.windows == {} and fixed.span == 1


def test_large_outputs_are_compared_by_projection():
    rng = np.random.default_rng(1)
    w = rng.standard_normal(100)
    out = rng.normal(size=(10, 10))
    assert project(out, w)["projection"] == pytest.approx(float(out.ravel() @ w))
    assert project(out, w)["shape"] == [10, 10]
    assert project(3.5, w) == 3.5
    assert same(project(out, w), project(out + 1e-12, w), 1e-7, 0.0)
    assert not same(project(out, w), project(out * 1.01, w), 1e-7, 0.0)
    assert same([1.0, {"a": 2.0}], (1.0, {"a": 2.0 + 1e-12}), 1e-9, 0.0)
    assert not same(1.0, "1.0", 1e-9, 0.0)


class FakeBoxSide:
    """A side as :class:`speed.OutputCheck` sees it: a label, a call, one more untimed call."""

    def __init__(self, label: str, fn: Any, inputs: Inputs, where: str = "submission") -> None:
        self.label, self.fn, self.inputs = label, fn, inputs
        self.call = speed.Call("f", where=where)  # type: ignore[arg-type]

    def full_output(self, offset: int) -> Any:
        return self.fn(*self.inputs.window(offset))


def _off_by_one_at_3_1(x: np.ndarray) -> np.ndarray:
    out = x * 2
    out[3, 1] += 1
    return out


def _scale_check(expect: Any, slow_where: str = "submission"):
    rng = np.random.default_rng(2)
    inputs = Inputs.build((rng.normal(size=(400, 50)),), rng, vary=True)
    weights = rng.standard_normal(400 * 50)  # outputs cross as projections, as in a grading
    sides = {"fast": FakeBoxSide("your scale", _off_by_one_at_3_1, inputs),
             "slow": FakeBoxSide("your loop", lambda x: x * 2, inputs, slow_where)}
    check = speed.OutputCheck(sides, inputs, expect, weights, 1e-7, 0.0)  # type: ignore[arg-type]
    window = inputs.window(5)[0]
    return check, window, weights


def test_a_wrong_timed_output_reads_like_a_failed_correctness_check():
    check, x, weights = _scale_check(lambda x: x * 2)
    check("slow", 5, project(x * 2, weights))
    with pytest.raises(timing.OutputMismatch) as info:
        check("fast", 5, project(_off_by_one_at_3_1(x), weights))
    got, want = show(x[3, 1] * 2 + 1), show(x[3, 1] * 2)
    head = ("your scale returned a wrong result on the timed input (n=400): "
            "first difference at [3, 1]: ")
    assert str(info.value) == f"{head}got {got}, which is not the expected value"
    assert info.value.public_message == f"{head}expected {want}, got {got}"
    for text in (str(info.value), info.value.public_message):
        assert "projection" not in text and "shape" not in text and "cache" not in text


def test_two_learner_functions_that_disagree_show_both_values():
    check, x, weights = _scale_check(None)
    check("slow", 5, project(x * 2, weights))
    with pytest.raises(timing.OutputMismatch) as info:
        check("fast", 5, project(_off_by_one_at_3_1(x), weights))
    assert str(info.value) == (
        "your loop and your scale returned different results on the timed input (n=400): "
        f"first difference at [3, 1]: your loop gave {show(x[3, 1] * 2)}, "
        f"your scale gave {show(x[3, 1] * 2 + 1)}")


def test_the_reference_side_values_stay_hidden():
    check, x, weights = _scale_check(None, slow_where="reference")
    check("slow", 5, project(x * 2, weights))
    with pytest.raises(timing.OutputMismatch) as info:
        check("fast", 5, project(_off_by_one_at_3_1(x), weights))
    assert show(x[3, 1] * 2) not in str(info.value)
    assert str(info.value).endswith(f"yours gave {show(x[3, 1] * 2 + 1)}, which is not the "
                                    "expected value")
    assert f"the reference gave {show(x[3, 1] * 2)}" in info.value.public_message


def test_one_function_with_two_answers_for_one_input_is_asked_about_caching():
    check, x, _ = _scale_check(None)
    check.weights = None
    check("fast", 5, 1.0)
    with pytest.raises(timing.OutputMismatch) as info:
        check("fast", 5, 2.0)
    assert str(info.value) == (
        "your scale returned different results for the same timed input (n=400): the first "
        "gave 1.0, a later call gave 2.0; does it cache results, or depend on earlier calls?")


# ------------------------------------------------------------------ helpers


def _measurement(ratio: float, ci: tuple[float, float],
                 outcome: timing.Outcome = "pass") -> timing.Measurement:
    return timing.Measurement(
        fast="your NumPy version", slow="your loop", threshold=20.0, outcome=outcome,
        ratio=ratio, ci=ci, confidence=0.95, rounds=15, numbers={"fast": 800, "slow": 1},
        ratios=(ratio,) * 15, samples=(), overhead_s={"fast": 1e-4, "slow": 1e-4},
        duration_s=1.0, varied_inputs=True, noisy=False)


# ------------------------------------------------------------------ end to end, sandboxed

SPEED_TOML = """
title = "Fast and slow dot products"
phase = "phase0"
description = "fast(a, b) vectorized, slow(a, b) a loop."

[[interface]]
name = "fast"
signature = "(a, b)"

[[interface]]
name = "slow"
signature = "(a, b)"

[limits]
call_seconds = 10
total_seconds = 60

[checks.test_speed]
points = 2
kind = "timing"
hint = "use np.dot"

[checks.test_speed_vs_reference]
points = 1
kind = "timing"
"""

SPEED_HIDDEN = """
import numpy as np

SECRET_EXPECTED = "HIDDEN-TIMING-7c1"


def _expect(x, y):
    return float(np.dot(x, y))


def test_speed(timing, rng):
    a, b = rng.normal(size=20_000), rng.normal(size=20_000)
    timing.compare(fast=timing.call("fast", a, b, label="your NumPy version"),
                   slow=timing.call("slow", a, b, label="your loop"),
                   at_least=20, expect=_expect, rtol=1e-9, atol=1e-9)


def test_speed_vs_reference(timing, rng):
    a, b = rng.normal(size=20_000), rng.normal(size=20_000)
    timing.compare(fast=("fast", a, b), slow=timing.reference("slow", a, b),
                   at_least=20, expect=_expect, rtol=1e-9, atol=1e-9)
"""

HONEST = """
import numpy as np

def fast(a, b):
    return float(np.dot(a, b))

def slow(a, b):
    total = 0.0
    for x, y in zip(a, b):
        total += float(x) * float(y)
    return total
"""

LOOPED = """
def fast(a, b):
    total = 0.0
    for x, y in zip(a, b):
        total += float(x) * float(y)
    return total

slow = fast
"""

#: Patches every clock a timing could read in its own process, then loops anyway.
CLOCK_TAMPERING = LOOPED + """
import time, timeit
_frozen = [0.0]
def _clock():
    _frozen[0] += 1e-9
    return _frozen[0]
for _name in ("perf_counter", "monotonic", "process_time", "time", "thread_time"):
    setattr(time, _name, _clock)
for _name in ("perf_counter_ns", "monotonic_ns", "process_time_ns", "time_ns"):
    setattr(time, _name, lambda: int(_clock() * 1e9))
timeit.default_timer = _clock
"""

#: Patches the child's messenger to run one call per sample and repeat its answer.
REPEAT_LIAR = LOOPED + """
import sys
_shim = sys.modules.get("harness.child.shim")
if _shim is not None:
    def call_each(fn, header, values):
        args = list(values.get("args", []))
        windows = {int(i): int(n) for i, n in dict(header.get("windows", {})).items()}
        offsets = list(header.get("offsets", []))
        if not offsets:
            return []
        k = int(offsets[0])
        out = fn(*[a[k:k + windows[i]] if i in windows else a for i, a in enumerate(args)])
        return [out] * len(offsets)
    _shim.call_each = call_each
"""


@pytest.fixture
def speed_workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    task = root / "tasks" / "phase0" / "speed"
    (task / "hidden").mkdir(parents=True)
    (task / "task.toml").write_text(SPEED_TOML)
    (task / "hidden" / "test_hidden.py").write_text(SPEED_HIDDEN)
    ref = root / "reference" / "phase0" / "speed"
    ref.mkdir(parents=True)
    (ref / "solution.py").write_text(HONEST)
    (root / "submissions").mkdir()
    return root


def _grade(workspace: Path, source: str, tmp_path: Path) -> Result:
    path = tmp_path / "learner" / "solution.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(source))
    s = settings.resolve(workspace=str(workspace))
    return grading.grade(tasks.load_task(s.tasks.value, "phase0/speed"), path, s)


def _checks(result: Result) -> dict[str, Any]:
    return {c.name: c for c in result.checks}


def test_vectorized_submission_passes_and_keeps_its_measurements(speed_workspace, tmp_path):
    r = _grade(speed_workspace, HONEST, tmp_path)
    checks = _checks(r)
    assert r.verdict == "graded" and r.score == r.max_score == 3, r.checks
    (m,) = checks["test_speed"].timing
    assert m["outcome"] == "pass" and m["ratio"] >= 20 and m["varied_inputs"]
    assert m["overhead_s"]["fast"] > 0 and m["rounds"] >= 6
    assert m["environment"]["after"]["load"]["cpu_count"] >= 1
    (ref,) = checks["test_speed_vs_reference"].timing
    assert ref["slow"] == "the reference slow" and ref["outcome"] == "pass"


@pytest.mark.parametrize("source", [LOOPED, CLOCK_TAMPERING], ids=["looped", "clock_tampering"])
def test_looped_submission_fails_with_a_learner_message_even_when_hidden(
        speed_workspace, tmp_path, source):
    r = _grade(speed_workspace, source, tmp_path)
    checks = _checks(r)
    assert r.verdict == "graded" and r.score == 0
    msg = checks["test_speed"].message
    assert checks["test_speed"].status == "fail" and checks["test_speed"].visibility == "hidden"
    assert msg.startswith("your NumPy version is ") and "needed >= 20x" in msg
    assert "95% CI" in msg and "HIDDEN-TIMING" not in msg
    assert checks["test_speed"].timing[0]["ratio"] < 5
    assert "than the reference slow" in checks["test_speed_vs_reference"].message


def test_child_that_repeats_one_answer_instead_of_calling_fails(speed_workspace, tmp_path):
    r = _grade(speed_workspace, REPEAT_LIAR, tmp_path)
    check = _checks(r)["test_speed"]
    assert check.status == "fail"
    assert check.message.startswith("your NumPy version returned a wrong result on the timed "
                                    "input (n=20000): got ")
    assert check.message.endswith(", which is not the expected value")


def test_inconclusive_measurement_skips_the_check_instead_of_failing(
        speed_workspace, tmp_path, monkeypatch):
    monkeypatch.setattr(timing, "decide", lambda ci, threshold: "inconclusive")
    monkeypatch.setattr(speed, "DEFAULT_PLAN", timing.Plan(max_rounds=8))
    r = _grade(speed_workspace, HONEST, tmp_path)
    check = _checks(r)["test_speed"]
    assert check.status == "skip" and check.points == 0
    assert check.message.startswith("timing inconclusive, re-run the grading")
    assert _checks(r)["test_speed_vs_reference"].status == "skip"
    assert r.score == r.max_score == 0  # skipped checks count for neither


SCALE_TOML = """
title = "Scale a matrix"
phase = "phase0"
description = "scale(x) returns 2 * x; scale_loop(x) the same with loops."

[[interface]]
name = "scale"
signature = "(x)"

[[interface]]
name = "scale_loop"
signature = "(x)"

[limits]
call_seconds = 10
total_seconds = 60
"""

SCALE_TEST = """
import numpy as np


def test_scale_timed(timing, rng):
    x = rng.normal(size=(400, 50))
    timing.compare(fast=timing.call("scale", x, label="your scale"),
                   slow=timing.call("scale_loop", x, label="your loop"),
                   at_least=1, expect=lambda x: 2 * x)
"""

OFF_BY_ONE = """
import numpy as np

def scale(x):
    out = 2 * x
    out[3, 1] += 1
    return out

def scale_loop(x):
    return np.array([[2 * v for v in row] for row in x])
"""


def test_a_wrong_large_output_fails_with_its_values_not_internal_data(tmp_path):
    # A (400, 50) output crosses as a projection while timed; the failure still shows the
    # first differing element, the expected value only in the public check.
    root = tmp_path / "ws"
    task = root / "tasks" / "phase0" / "speed"
    for visibility in ("public", "hidden"):
        (task / visibility).mkdir(parents=True)
        (task / visibility / f"test_{visibility}.py").write_text(SCALE_TEST)
    (task / "task.toml").write_text(SCALE_TOML)
    r = _grade(root, OFF_BY_ONE, tmp_path)
    public, hidden = (c.message for c in sorted(r.checks, key=lambda c: c.visibility != "public"))
    head = ("your scale returned a wrong result on the timed input (n=400): first difference "
            "at [3, 1]: ")
    assert public.startswith(head + "expected ") and ", got " in public, public
    assert hidden.startswith(head + "got ") and hidden.endswith("not the expected value")
    for text in (public, hidden):
        assert "projection" not in text and "cache" not in text and "{" not in text
