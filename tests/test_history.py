"""History: migrations, concurrent writers, and a writer killed mid-transaction."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time

from harness import history
from harness.results import Result


def _result(task: str = "phase0/add", score: float = 1.0) -> Result:
    return Result(task=task, task_version="1", task_fingerprint="f", submission="/tmp/s.py",
                  submission_sha256="0" * 64, verdict="graded", score=score, max_score=3.0,
                  checks=(), message="", duration_s=0.1, device={}, sandbox={},
                  harness_version="0", timestamp="2026-11-24T00:00:00+00:00")


def test_record_and_read_back(tmp_path):
    db = tmp_path / "h.sqlite"
    row = history.record(db, _result(score=2.0))
    rows = history.rows(db)
    assert rows[0]["id"] == row and rows[0]["score"] == 2.0
    assert history.result_document(db, row)["score"] == 2.0
    assert history.rows(db, task="other/task") == []


def test_schema_version_is_set_and_migration_is_idempotent(tmp_path):
    db = tmp_path / "h.sqlite"
    history.record(db, _result())
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == history.SCHEMA_VERSION
    history.record(db, _result())
    assert len(history.rows(db)) == 2


def _writer(path: str, n: int) -> None:
    from pathlib import Path

    for i in range(n):
        history.record(Path(path), _result(score=float(i)))


def test_concurrent_writers_all_land(tmp_path):
    db = tmp_path / "h.sqlite"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(db), 15)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(history.rows(db, limit=1000)) == 45


def _stuck_writer(path: str) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO gradings (timestamp, task, task_version, task_fingerprint, mode,"
                " submission, submission_sha256, verdict, score, max_score, harness_version,"
                " result_json) VALUES ('t','half/written','1','f','submit','s','x','graded',"
                " 0, 1, '0', '{}')")
    time.sleep(60)


def test_writer_killed_mid_transaction_loses_nothing(tmp_path):
    db = tmp_path / "h.sqlite"
    history.record(db, _result(score=1.0))
    ctx = multiprocessing.get_context("spawn")
    p = ctx.Process(target=_stuck_writer, args=(str(db),))
    p.start()
    time.sleep(1.5)
    os.kill(p.pid, signal.SIGKILL)
    p.join(10)
    history.record(db, _result(score=2.0))
    rows = history.rows(db)
    assert [r["score"] for r in rows] == [2.0, 1.0]
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
