"""History: migrations, concurrent writers, and a writer killed mid-transaction."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import time
from contextlib import closing

import pytest

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


#: The version-1 schema exactly as harness 0.1.0 created it (kept here, frozen, so that
#: later edits to the migrations cannot make this test build a different old database).
V1_DDL = """
CREATE TABLE IF NOT EXISTS gradings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    task TEXT NOT NULL,
    task_version TEXT NOT NULL,
    task_fingerprint TEXT NOT NULL,
    mode TEXT NOT NULL,
    submission TEXT NOT NULL,
    submission_sha256 TEXT NOT NULL,
    git_commit TEXT,
    verdict TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    harness_version TEXT NOT NULL,
    result_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gradings_task ON gradings(task, timestamp);
PRAGMA user_version = 1;
"""


def test_version_1_database_migrates_and_keeps_its_rows(tmp_path):
    db = tmp_path / "h.sqlite"
    old = _result(score=2.0)
    with closing(sqlite3.connect(db)) as con:
        con.executescript(V1_DDL)
        con.execute("INSERT INTO gradings (timestamp, task, task_version, task_fingerprint,"
                    " mode, submission, submission_sha256, git_commit, verdict, score,"
                    " max_score, harness_version, result_json) VALUES"
                    " (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (old.timestamp, old.task, "1", "f", "submit", "/tmp/s.py", "0" * 64,
                     "abc123", "graded", 2.0, 3.0, "0.1.0",
                     json.dumps({**old.to_dict(), "device": {"used": "cpu"}})))
        con.commit()
    rows = history.rows(db)  # opening with the new code migrates
    assert len(rows) == 1
    assert rows[0]["score"] == 2.0 and rows[0]["git_commit"] == "abc123"
    assert rows[0]["learner"] == "" and rows[0]["machine"] == ""  # unknown for old rows
    assert rows[0]["device"] == "cpu" and rows[0]["week"] == "2026-W48"
    assert history.result_document(db, rows[0]["id"])["score"] == 2.0
    with closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 2
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    history.record(db, _result(score=3.0), learner="ana@example.org")
    new = history.rows(db)[0]
    assert new["learner"] == "ana@example.org" and new["machine"] and new["week"] == "2026-W48"
    assert [r["score"] for r in history.timeline(db, learners=("",))] == [2.0]


def test_a_failing_migration_leaves_the_old_database_as_it_was(tmp_path, monkeypatch):
    db = tmp_path / "h.sqlite"
    with closing(sqlite3.connect(db)) as con:
        con.executescript(V1_DDL)

    def broken(con: sqlite3.Connection) -> None:
        con.execute("ALTER TABLE gradings ADD COLUMN learner TEXT NOT NULL DEFAULT ''")
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(history.MIGRATIONS, 2, broken)
    with pytest.raises(RuntimeError):
        history.rows(db)
    with closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 1
        columns = [r[1] for r in con.execute("PRAGMA table_info(gradings)")]
        assert "learner" not in columns


def test_week_of_timestamps():
    assert history.week_of("2026-11-23T00:00:00+00:00") == "2026-W48"
    assert history.week_of("2027-01-01T12:00:00+00:00") == "2026-W53"
    assert history.week_of("not a time") == ""


def test_concurrent_writers_migrate_a_version_1_database_once(tmp_path):
    db = tmp_path / "h.sqlite"
    with closing(sqlite3.connect(db)) as con:
        con.executescript(V1_DDL)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(db), 5)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(history.rows(db, limit=100)) == 15
    with closing(sqlite3.connect(db)) as con:
        columns = [r[1] for r in con.execute("PRAGMA table_info(gradings)")]
        assert columns.count("learner") == 1 and "week" in columns
