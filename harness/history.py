"""The history database: one row per grading, SQLite, versioned schema, atomic writes.

Each write is one transaction in WAL mode with a busy timeout, so two gradings at once
both land and a grader killed mid-write leaves the file as it was before the write.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.results import Result

SCHEMA_VERSION = 2


def _migrate_to_1(db: sqlite3.Connection) -> None:
    db.execute("""
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
        )""")
    db.execute("CREATE INDEX IF NOT EXISTS gradings_task ON gradings(task, timestamp)")


def _migrate_to_2(db: sqlite3.Connection) -> None:
    """Who was graded, on which machine and device, and in which ISO week.

    Rows written by version 1 keep everything they had; they gain the week of their
    timestamp and the device their result document names; learner and machine stay
    empty (unknown), which the weekly card reads as "the local learner".
    """
    for column in ("learner", "machine", "device", "week"):
        db.execute(f"ALTER TABLE gradings ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
    old = db.execute("SELECT id, timestamp, result_json FROM gradings").fetchall()
    for row_id, stamp, document in old:
        db.execute("UPDATE gradings SET week = ?, device = ? WHERE id = ?",
                   (week_of(stamp), _device_of(document), row_id))
    db.execute("CREATE INDEX IF NOT EXISTS gradings_learner_week ON gradings(learner, week)")


def week_of(timestamp: str) -> str:
    """The ISO week (``2026-W48``) of an ISO-8601 timestamp; empty if it does not parse."""
    try:
        year, week, _ = datetime.fromisoformat(timestamp).isocalendar()
    except ValueError:
        return ""
    return f"{year}-W{week:02d}"


def _device_of(document: str) -> str:
    try:
        used = json.loads(document).get("device", {}).get("used", "")
    except (ValueError, AttributeError):
        return ""
    return used if isinstance(used, str) else ""


#: Migrations by the version they produce; each runs inside the writing transaction.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_to_1,
                                                               2: _migrate_to_2}


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """Open the database (creating and migrating it as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        _migrate(db)
        yield db


def _migrate(db: sqlite3.Connection) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version >= SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for target in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[target](db)
            db.execute(f"PRAGMA user_version = {target}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def git_commit(path: Path) -> str | None:
    """The commit of the repository holding ``path``, if it is in one (clean or not)."""
    folder = path if path.is_dir() else path.parent
    try:
        out = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def record(path: Path, result: Result, learner: str = "") -> int:
    """Append one result in a single transaction; returns its row id."""
    commit = git_commit(Path(result.submission))
    used = result.device.get("used", "")
    with connect(path) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            cur = db.execute(
                "INSERT INTO gradings (timestamp, task, task_version, task_fingerprint, mode,"
                " submission, submission_sha256, git_commit, verdict, score, max_score,"
                " harness_version, result_json, learner, machine, device, week)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (result.timestamp, result.task, result.task_version, result.task_fingerprint,
                 result.mode, result.submission, result.submission_sha256, commit,
                 result.verdict, result.score, result.max_score, result.harness_version,
                 result.to_json(), learner, socket.gethostname(),
                 used if isinstance(used, str) else "", week_of(result.timestamp)))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(cur.lastrowid or 0)


def rows(path: Path, task: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Past gradings, newest first (summary columns only)."""
    if not path.exists():
        return []
    with connect(path) as db:
        db.row_factory = sqlite3.Row
        query = ("SELECT id, timestamp, task, mode, verdict, score, max_score, git_commit,"
                 " submission, learner, machine, device, week FROM gradings")
        args: tuple[Any, ...] = ()
        if task:
            query += " WHERE task = ?"
            args = (task,)
        query += " ORDER BY id DESC LIMIT ?"
        return [dict(r) for r in db.execute(query, (*args, limit))]


def result_document(path: Path, row_id: int) -> dict[str, Any] | None:
    """The full result document of one grading."""
    with connect(path) as db:
        found = db.execute("SELECT result_json FROM gradings WHERE id = ?", (row_id,)).fetchone()
    return json.loads(found[0]) if found else None


def timeline(path: Path, learners: tuple[str, ...] | None = None,
             documents: bool = True) -> list[dict[str, Any]]:
    """Every grading oldest first, for the weekly and cohort cards.

    Parameters
    ----------
    learners
        Only these learners (``""`` is a row recorded before learners were known);
        ``None`` for everyone.
    documents
        Parse each row's result document into ``row["result"]``; leave it out for views
        that only need scores (the cohort of a whole class).
    """
    if not path.exists():
        return []
    columns = ("id, timestamp, task, mode, verdict, score, max_score, learner, machine,"
               " device, week")
    query = f"SELECT {columns}{', result_json' if documents else ''} FROM gradings"
    args: tuple[str, ...] = ()
    if learners is not None:
        query += f" WHERE learner IN ({','.join('?' * len(learners))})"
        args = learners
    with connect(path) as db:
        db.row_factory = sqlite3.Row
        found = [dict(r) for r in db.execute(query + " ORDER BY timestamp, id", args)]
    for row in found:
        if documents:
            row["result"] = json.loads(row.pop("result_json"))
    return found
