"""`grade batch`: discovery, resume after an interrupt, a hanging submission, the pool."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import batch, ledger, settings
from harness.cli import cli
from harness.pool import InProcess, usable_cores

RIGHT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"
HANGS = "def add(a, b):\n    while True:\n        pass\n"
CRASHES = "import os\n\ndef add(a, b):\n    os._exit(3)\n"
HOGS = "def add(a, b):\n    hog = bytearray(8 << 30)\n    return len(hog)\n"


def cohort(root: Path, sources: dict[str, str]) -> Path:
    """``root/<learner>/phase0/add.py`` for each learner."""
    for learner, source in sources.items():
        path = root / learner / "phase0" / "add.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


def learners_in_history(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("SELECT learner, verdict FROM gradings"))


def test_discover_and_manifest(tmp_path):
    root = cohort(tmp_path / "cohort", {"ann": RIGHT, "bob": WRONG})
    (root / "bob" / "phase0" / "add.ipynb").write_text("{}")  # the module wins
    (root / "cy" / "phase1" / "knn").mkdir(parents=True)
    (root / ".git").mkdir()
    jobs = batch.discover(root)
    assert [(j.learner, j.task_id, j.path.name) for j in jobs] == [
        ("ann", "phase0/add", "add.py"), ("bob", "phase0/add", "add.py"),
        ("cy", "phase1/knn", "knn")]
    manifest = tmp_path / "m.csv"
    manifest.write_text("learner,task,path\nann,phase0/add,cohort/ann/phase0/add.py\n")
    assert batch.read_manifest(manifest) == [jobs[0]]
    manifest.write_text("learner,task\nann,phase0/add\n")
    with pytest.raises(Exception, match="learner, task and path"):
        batch.read_manifest(manifest)


def test_hanging_submission_affects_only_itself_and_resume_skips_finished(workspace,
                                                                          tmp_path):
    root = cohort(tmp_path / "cohort", {"ann": RIGHT, "bob": WRONG, "cy": HANGS,
                                        "eve": CRASHES, "fay": HOGS})
    s = settings.resolve(workspace=str(workspace))
    out = tmp_path / "out"
    jobs = batch.discover(root) + [batch.Job("dee", "phase9/nope", root / "ann")]
    seen: list[batch.Outcome] = []

    def interrupt_after_two_gradings(outcome: batch.Outcome) -> None:
        seen.append(outcome)  # the unknown task is reported first, before any grading
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batch.run(jobs, s, out, InProcess(), on_outcome=interrupt_after_two_gradings)
    assert len(ledger.finished(out / ledger.FILE)) == 2

    report = batch.run(jobs, s, out, InProcess())
    assert report.resumed == 2 and report.graded_now == 3
    by_learner = {o.job.learner: o for o in report.outcomes}
    assert by_learner["ann"].result.percent == 100
    assert by_learner["bob"].result.verdict == "graded" and by_learner["bob"].failing
    assert by_learner["cy"].result.verdict == "timeout"
    assert by_learner["dee"].result is None and "phase9/nope" in by_learner["dee"].error
    for learner in ("eve", "fay"):
        assert by_learner[learner].result.score == 0 and by_learner[learner].failing
    history_rows = learners_in_history(s.history.value)
    assert history_rows.keys() == {"ann", "bob", "cy", "eve", "fay"}
    assert history_rows["cy"] == "timeout" and history_rows["eve"] == "crashed"
    assert history_rows["fay"] == "memory_limit"
    with (out / "gradebook.csv").open() as fh:
        rows = {r["learner"]: r for r in csv.DictReader(fh)}
    assert rows["ann"]["phase0/add"] == "100.0" and rows["dee"]["phase0/add"] == ""
    text = "\n".join(batch.summary_lines(report))
    assert "2 already finished (resumed)" in text and "phase0/add" in text

    (root / "bob" / "phase0" / "add.py").write_text(RIGHT)  # a new submission is graded
    again = batch.run(jobs, s, out, InProcess())
    assert again.graded_now == 1 and again.resumed == 4


def test_cli_batch_on_a_warm_pool(workspace, tmp_path):
    root = cohort(tmp_path / "cohort", {"ann": RIGHT, "bob": WRONG, "cy": RIGHT})
    out = CliRunner().invoke(cli, ["--workspace", str(workspace), "batch", str(root),
                                   "--workers", "2", "--out", str(tmp_path / "out")])
    assert out.exit_code == 0, out.output
    assert "3 graded now" in out.output and "bob" in out.output
    docs = [json.loads(p.read_text()) for p in (tmp_path / "out" / "results").rglob("*.json")]
    assert len(docs) == 3
    workers = {d["environment"]["batch"]["worker"] for d in docs}
    if len(usable_cores()) >= 2:  # each worker pinned to its own core
        assert all("core" in w for w in workers), workers
        cores = {w.split("core ")[1] for w in workers}
        pids = {w.split(",")[0] for w in workers}
        assert len(cores) == len(pids)
    again = CliRunner().invoke(cli, ["--workspace", str(workspace), "batch", str(root),
                                     "--workers", "0", "--out", str(tmp_path / "out")])
    assert "0 graded now, 3 already finished" in again.output


def test_batch_through_a_local_dask_cluster(workspace, tmp_path):
    pytest.importorskip("distributed")
    from harness.cluster import DaskCluster

    root = cohort(tmp_path / "cohort", {"ann": RIGHT, "bob": WRONG, "cy": RIGHT})
    s = settings.resolve(workspace=str(workspace))
    cluster = DaskCluster(workers=2)  # a LocalCluster, each worker pinned to a core
    by_address = CliRunner().invoke(cli, [
        "--workspace", str(workspace), "batch", str(root), "--out", str(tmp_path / "cli"),
        "--scheduler", cluster.local.scheduler_address])
    assert by_address.exit_code == 0, by_address.output
    assert "3 graded now" in by_address.output
    report = batch.run(batch.discover(root), s, tmp_path / "out", cluster)
    scores = {o.job.learner: o.result.percent for o in report.outcomes if o.result}
    assert scores["ann"] == scores["cy"] == 100 and scores["bob"] < 100
    assert all(o.worker.startswith("dask") for o in report.outcomes)
    assert all(str(root) in o.result.submission for o in report.outcomes if o.result)
    assert learners_in_history(s.history.value).keys() == {"ann", "bob", "cy"}
