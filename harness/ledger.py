"""The batch ledger: which gradings of a cohort batch are finished, for resuming.

A small SQLite file (``batch.sqlite``) in the batch's output folder, not a table in the
history: the history is the record of gradings, shared with `grade submit` and its own
migrations; the ledger only remembers, per output folder, which work is done. A
grading is finished for a key of (learner, task, submission content hash, task
fingerprint, harness version): changing the submission, the task's files or the
harness grades it again; re-running an interrupted batch does not.

The ledger is written after the history, so an interruption between the two can
record a grading twice in the history, never lose it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import clock
from harness.results import Result, result_from_dict

SCHEMA_VERSION = 1
FILE = "batch.sqlite"


@dataclass(frozen=True)
class Key:
    """What makes a grading the same grading again."""

    learner: str
    task: str
    submission_sha256: str
    task_fingerprint: str
    harness_version: str


def _migrate_to_1(db: sqlite3.Connection) -> None:
    db.execute("""
        CREATE TABLE IF NOT EXISTS finished (
            learner TEXT NOT NULL,
            task TEXT NOT NULL,
            submission_sha256 TEXT NOT NULL,
            task_fingerprint TEXT NOT NULL,
            harness_version TEXT NOT NULL,
            history_id INTEGER,
            finished_at TEXT NOT NULL,
            result_json TEXT NOT NULL,
            PRIMARY KEY (learner, task, submission_sha256, task_fingerprint, harness_version)
        )""")


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_to_1}


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """Open (creating and migrating) the ledger."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{path} was written by a newer harness (schema {version})")
        if version < SCHEMA_VERSION:
            db.execute("BEGIN IMMEDIATE")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[target](db)
                db.execute(f"PRAGMA user_version = {target}")
            db.execute("COMMIT")
        yield db


def finished(path: Path) -> dict[Key, Result]:
    """Every finished grading recorded in the ledger, by key."""
    if not path.exists():
        return {}
    with connect(path) as db:
        found = db.execute("SELECT learner, task, submission_sha256, task_fingerprint,"
                           " harness_version, result_json FROM finished").fetchall()
    out: dict[Key, Result] = {}
    for *parts, document in found:
        try:
            out[Key(*parts)] = result_from_dict(json.loads(document))
        except (ValueError, TypeError):
            continue  # an unreadable old result is graded again
    return out


def mark(path: Path, key: Key, result: Result, history_id: int | None) -> None:
    """Record one finished grading (replacing an older record of the same key)."""
    row: tuple[Any, ...] = (key.learner, key.task, key.submission_sha256, key.task_fingerprint,
                            key.harness_version, history_id, clock.now_iso(), result.to_json())
    with connect(path) as db:
        db.execute("INSERT OR REPLACE INTO finished VALUES (?,?,?,?,?,?,?,?)", row)
