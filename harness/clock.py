"""All time is read here: the grader's clocks, which no submission can touch."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def monotonic() -> float:
    """Seconds from an arbitrary origin, for durations and deadlines."""
    return time.perf_counter()


def now_iso() -> str:
    """The current UTC time as an ISO-8601 string (seconds precision)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)
