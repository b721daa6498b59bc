"""Progress on long gradings: the running check and the elapsed time, on a terminal only.

A grading that hangs in learner code for a minute should show where it is, not sit
silent. :class:`Ticker` is the ``progress`` callback of :func:`harness.grading.grade`:
grading says what it is doing, and once ``after`` seconds have passed a background thread
redraws one status line on the terminal every ``every`` seconds; the line is erased when
grading ends. Nothing is written when the stream is not a terminal (pipes, CI logs,
``--json``), so the output people parse never changes.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import TextIO

from harness import clock


class Ticker:
    """Call it with what grading is doing; use it as a context manager around grading."""

    def __init__(self, stream: TextIO | None = None, after: float = 2.0, every: float = 0.5,
                 enabled: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.after, self.every = after, every
        self.enabled = _is_terminal(self.stream) if enabled is None else enabled
        self.doing = "starting"
        self.shown = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0

    def __call__(self, doing: str) -> None:
        self.doing = doing

    def line(self) -> str:
        """The status line as it is drawn now."""
        elapsed = clock.monotonic() - self._started
        return f"grading: {self.doing[:70]}  ({elapsed:.0f} s)"

    def __enter__(self) -> Ticker:
        self._started = clock.monotonic()
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="grade-ticker", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self.shown:
            self._write("\r\x1b[K")

    def _run(self) -> None:
        if self._stop.wait(self.after):
            return
        while not self._stop.is_set():
            self._write("\r\x1b[K" + self.line())
            self.shown = True
            self._stop.wait(self.every)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed terminal must not break grading
            self._stop.set()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
