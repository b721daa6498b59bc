"""Device selection with fake accelerator availability; torch is needed only by the test
that grades the shipped device task's reference."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pytest

from harness import device, grading, settings, summary, tasks
from harness.device import Availability

ROOT = Path(__file__).resolve().parent.parent


def _probe(cuda: bool = False, mps: bool = False, torch: bool = True):
    names = tuple(n for n in (("cuda", "Fake GPU 80GB"), ("mps", "Apple Metal (MPS)"))
                  if {"cuda": cuda, "mps": mps}[n[0]])
    return lambda: Availability(cuda, mps, names, torch)


def _never() -> Availability:
    raise AssertionError("CPU tasks must not probe accelerators (torch stays unimported)")


@pytest.mark.parametrize("cuda,mps,used", [(True, True, "cuda"), (False, True, "mps"),
                                           (True, False, "cuda"), (False, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_cpu(cuda, mps, used):
    sel = device.select("auto", "any", _probe(cuda, mps))
    assert sel.used == used and not sel.reason
    if used == "cuda":
        assert sel.name == "Fake GPU 80GB"


@pytest.mark.parametrize("requested", ["auto", "cpu", "cuda", "mps"])
def test_cpu_tasks_run_on_the_cpu_without_probing(requested):
    sel = device.select(requested, "cpu", _never)
    assert sel.used == "cpu" and sel.requested == requested


@pytest.mark.parametrize("task_device", ["cuda", "mps", "accelerator"])
def test_accelerator_task_without_one_runs_on_the_cpu(task_device):
    sel = device.select("auto", task_device, _probe())
    assert sel.used == "cpu" and sel.name
    assert "needs" in sel.reason and "none is available" in sel.reason
    assert sel.accelerator_skip() == sel.reason  # only the accelerator checks skip


@pytest.mark.parametrize("requested", ["auto", "cpu"])
def test_accelerator_task_without_torch_cannot_run_at_all(requested):
    sel = device.select(requested, "accelerator", _probe(torch=False))
    assert sel.used is None and "torch is not installed" in sel.reason


def test_accelerator_checks_run_only_on_an_accelerator():
    assert device.select("auto", "accelerator", _probe(cuda=True)).accelerator_skip() == ""
    assert device.select("auto", "any", _probe(mps=True)).accelerator_skip() == ""
    on_cpu = device.select("auto", "any", _probe())
    assert on_cpu.used == "cpu" and not on_cpu.reason
    assert "needs an accelerator" in on_cpu.accelerator_skip()


def test_explicit_requests():
    assert device.select("mps", "accelerator", _probe(cuda=True, mps=True)).used == "mps"
    assert device.select("cuda", "cuda", _probe(cuda=True)).used == "cuda"
    missing = device.select("cuda", "any", _probe(mps=True))
    assert missing.used is None and "--device cuda" in missing.reason
    assert device.select("cpu", "any", _probe(cuda=True)).used == "cpu"
    on_cpu = device.select("cpu", "cuda", _probe(cuda=True))  # correctness only, on the CPU
    assert on_cpu.used == "cpu" and "--device cpu was given" in on_cpu.accelerator_skip()
    absent = device.select("cuda", "accelerator", _probe())  # asked for, absent: nothing runs
    assert absent.used is None and "--device cuda" in absent.reason
    assert device.select("mps", "cuda", _probe(cuda=True, mps=True)).used is None
    other = device.select("auto", "mps", _probe(cuda=True))  # not its accelerator: the CPU
    assert other.used == "cpu" and "needs mps" in other.accelerator_skip()
    assert device.select("auto", "cuda", _probe(cuda=True, mps=True)).used == "cuda"


def test_real_probe_without_torch_reports_nothing():
    if "torch" in sys.modules or device.importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed here")
    assert device.probe_accelerators() == Availability()
    assert "torch" not in sys.modules


def test_describe_records_the_selection_and_blas():
    sel = device.select("auto", "any", _probe(cuda=True))
    info = device.describe("auto", sel)
    assert info["used"] == "cuda" and info["name"] == "Fake GPU 80GB"
    assert info["requested"] == "auto" and "numpy" in info and "torch" in info
    assert isinstance(info["blas"], list)
    on_cpu = device.describe("auto", device.select("auto", "cuda", _probe()))
    assert on_cpu["used"] == "cpu" and "none is available" in on_cpu["unavailable"]
    skipped = device.describe("cuda", device.select("cuda", "cuda", _probe()))
    assert skipped["used"] is None and "not available" in skipped["unavailable"]


ACCELERATOR_ONLY = """
import pytest

@pytest.mark.accelerator
def test_add_hidden(submission, device):
    assert device in ("cuda", "mps") and submission.add(40, 2) == 42
"""


def _cuda_task(workspace: Path) -> None:
    """phase0/add as a CUDA task whose hidden check needs the accelerator."""
    toml = workspace / "tasks" / "phase0" / "add" / "task.toml"
    toml.write_text(toml.read_text().replace('description = "Return a + b."',
                                             'description = "Return a + b."\ndevice = "cuda"'))
    (workspace / "tasks" / "phase0" / "add" / "hidden" / "test_hidden.py").write_text(
        ACCELERATOR_ONLY)


def _machine(monkeypatch: pytest.MonkeyPatch, avail: Availability) -> None:
    """Grade as on a machine whose torch reports ``avail``."""
    real = device.select
    monkeypatch.setattr(device, "select", lambda requested, task_device:
                        real(requested, task_device, lambda: avail))


def test_device_task_on_a_cpu_machine_runs_its_correctness_checks(grade_source, workspace,
                                                                  monkeypatch):
    _cuda_task(workspace)
    _machine(monkeypatch, Availability(torch=True))
    r = grade_source("def add(a, b):\n    return a + b\n")
    by_name = {c.name: c for c in r.checks}
    assert r.device["used"] == "cpu" and r.verdict == "graded"
    assert by_name["test_add_public"].status == "pass"  # ran, on the CPU
    hidden = by_name["test_add_hidden"]
    assert hidden.status == "skip" and "needs cuda" in hidden.message
    assert r.gradable and r.score == r.max_score == by_name["test_add_public"].max_points
    wrong = grade_source("def add(a, b):\n    return a - b\n")
    assert wrong.gradable and wrong.score == 0 < wrong.max_score  # still graded, and caught


def test_nothing_gradable_reads_not_gradable_never_zero_percent(grade_source, workspace,
                                                                 monkeypatch):
    _cuda_task(workspace)
    _machine(monkeypatch, Availability())  # no torch: the task's code cannot run here
    r = grade_source("def add(a, b):\n    return a + b\n")
    assert r.verdict == "graded" and all(c.status == "skip" for c in r.checks)
    assert "torch is not installed" in r.checks[0].message and r.max_score == 0
    assert not r.gradable
    text = click.unstyle(summary.render(r))
    assert "not gradable on this machine: this task needs cuda and torch" in text
    assert "0%" not in text and "score:" not in text


def test_explicit_device_that_is_absent_skips_everything(workspace, tmp_path, monkeypatch):
    _cuda_task(workspace)
    _machine(monkeypatch, Availability(torch=True))
    path = tmp_path / "solution.py"
    path.write_text("def add(a, b):\n    return a + b\n")
    s = settings.resolve(workspace=str(workspace))
    r = grading.grade(tasks.load_task(s.tasks.value, "phase0/add"), path, s,
                      requested_device="cuda")
    assert all(c.status == "skip" for c in r.checks) and not r.gradable
    assert "--device cuda was given" in r.checks[0].message


@pytest.mark.slow
def test_shipped_device_task_scores_its_correctness_points_on_the_cpu():
    pytest.importorskip("torch")
    if device.probe_accelerators().cuda or device.probe_accelerators().mps:
        pytest.skip("this machine has an accelerator")
    s = settings.resolve(workspace=str(ROOT))
    task = tasks.load_task(s.tasks.value, "phase3/device-speedup")
    ref = ROOT / "reference" / "phase3" / "device-speedup"
    r = grading.grade(task, ref / "solution.py", s)
    assert r.device["used"] == "cpu" and r.verdict == "graded", r.message
    skipped = [c for c in r.checks if c.status == "skip"]
    assert [c.name for c in skipped] == ["test_accelerator_is_faster"]
    assert "none is available" in skipped[0].message
    assert all(c.status == "pass" for c in r.checks if c.status != "skip"), r.checks
    assert r.max_score == 8 and r.score == r.max_score  # 2 public + 6 hidden points
    mutant = grading.grade(task, ref / "mutants" / "sum_loss.py", s)
    assert 0 < mutant.score < mutant.max_score == 8  # the CPU still catches wrong maths
