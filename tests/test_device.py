"""Device selection with fake accelerator availability; torch is never needed."""

from __future__ import annotations

import sys

import pytest

from harness import device
from harness.device import Availability


def _probe(cuda: bool = False, mps: bool = False):
    names = tuple(n for n in (("cuda", "Fake GPU 80GB"), ("mps", "Apple Metal (MPS)"))
                  if {"cuda": cuda, "mps": mps}[n[0]])
    return lambda: Availability(cuda, mps, names)


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


@pytest.mark.parametrize("task_device", ["cuda", "accelerator"])
def test_accelerator_task_without_one_is_skipped_with_a_reason(task_device):
    sel = device.select("auto", task_device, _probe())
    assert sel.used is None
    assert "needs" in sel.reason and "none is available" in sel.reason


def test_explicit_requests():
    assert device.select("mps", "accelerator", _probe(cuda=True, mps=True)).used == "mps"
    assert device.select("cuda", "cuda", _probe(cuda=True)).used == "cuda"
    missing = device.select("cuda", "any", _probe(mps=True))
    assert missing.used is None and "--device cuda" in missing.reason
    assert device.select("cpu", "any", _probe(cuda=True)).used == "cpu"
    wrong = device.select("cpu", "cuda", _probe(cuda=True))
    assert wrong.used is None and "runs on cuda" in wrong.reason
    assert device.select("mps", "cuda", _probe(cuda=True, mps=True)).used is None
    assert device.select("auto", "mps", _probe(cuda=True)).used is None
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
    skipped = device.describe("auto", device.select("auto", "cuda", _probe()))
    assert skipped["used"] is None and "none is available" in skipped["unavailable"]


def test_accelerator_task_is_skipped_end_to_end(grade_source, workspace):
    toml = workspace / "tasks" / "phase0" / "add" / "task.toml"
    toml.write_text(toml.read_text().replace('description = "Return a + b."',
                                             'description = "Return a + b."\ndevice = "cuda"'))
    r = grade_source("def add(a, b):\n    return a + b\n")
    if r.device["used"] == "cuda":
        pytest.skip("this machine has CUDA")
    assert r.verdict == "graded" and all(c.status == "skip" for c in r.checks)
    assert "needs cuda" in r.checks[0].message and r.max_score == 0
