"""Grader side of a notebook run: follow the child cell by cell, under two time limits.

While it runs a notebook the child sends ``{"op": "cell", "index": i}`` before each
code cell and ``{"op": "cell_done", ...}`` with the outputs it captured after it. The
grader checks every message against the cells it sent (known positions, in order),
cleans and caps the outputs on receipt, and gives each cell ``cell_seconds`` and the
whole notebook ``total_seconds``: the child is killed when either runs out, and the
failure names the cell. A child that sends nothing still meets the total limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness import clock
from harness.sandbox.process import clean_text

MAX_CELL_TEXT = 20_000
MAX_OUTPUTS_PER_CELL = 50
MAX_IMAGES_PER_CELL = 3
MAX_IMAGE_CHARS = 400_000
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]*$")

Receive = Callable[[float, str], tuple[dict[str, Any], dict[str, Any]]]


@dataclass(frozen=True)
class NotebookPlan:
    """The code cells the grader sent, by notebook position, and their time limits."""

    indices: tuple[int, ...]
    heads: tuple[str, ...]
    cell_seconds: float
    total_seconds: float
    allowed: tuple[int, ...] = ()  # cells tagged raises-exception: an error does not stop

    def failed_cell(self, log: CellLog) -> int | None:
        """The cell that stopped the run: still running (a timeout) or raised unallowed."""
        if log.running is not None:
            return log.running
        return next((r.index for r in log.runs
                     if r.error is not None and r.index not in self.allowed), None)

    def completed(self, log: CellLog) -> bool:
        """Whether every cell ran and none stopped the notebook."""
        return len(log.runs) == len(self.indices) and self.failed_cell(log) is None

    def describe(self, index: int) -> str:
        """``cell 3 (`first line`)`` for messages (1-based, as a learner counts)."""
        head = self.heads[self.indices.index(index)] if index in self.indices else ""
        return f"cell {index + 1}" + (f" (`{head}`)" if head else "")


@dataclass(frozen=True)
class CellRun:
    """What one cell did in the sandbox, as cleaned by the grader."""

    index: int
    execution_count: int | None
    outputs: tuple[dict[str, Any], ...]
    error: dict[str, Any] | None
    duration_s: float


class CellProtocolError(Exception):
    """The child sent a cell message that does not fit the plan."""


@dataclass
class CellLog:
    """The cells the grader saw start and finish, in order."""

    plan: NotebookPlan
    runs: list[CellRun] = field(default_factory=list)
    running: int | None = None
    timed_out: str = ""  # "cell" or "notebook" when a limit stopped the run

    def follow(self, header: dict[str, Any], receive: Receive,
               budget_left: Callable[[], float]) -> dict[str, Any]:
        """Consume cell messages until the child's ``ready`` or ``load_error``; return it.

        Raises whatever ``receive`` raises (a ``BoxFailure``) after noting which limit and
        which cell; raises :class:`CellProtocolError` on a message that breaks the plan.
        """
        start = clock.monotonic()
        deadline = start + min(self.plan.total_seconds, budget_left())
        cell_deadline = deadline
        cell_started = start
        pending = list(self.plan.indices)
        while header.get("op") in ("cell", "cell_done"):
            now = clock.monotonic()
            index = header.get("index")
            if header["op"] == "cell":
                if self.running is not None or not pending or index != pending[0]:
                    raise CellProtocolError(f"unexpected start of cell {index!r}")
                pending.pop(0)
                self.running, cell_started = index, now
                cell_deadline = min(deadline, now + self.plan.cell_seconds)
            else:
                if self.running is None or index != self.running:
                    raise CellProtocolError(f"unexpected end of cell {index!r}")
                self.runs.append(_clean_run(header, self.running, now - cell_started))
                self.running, cell_deadline = None, deadline
            limit = max(0.001, cell_deadline - clock.monotonic())
            doing = self.plan.describe(self.running) if self.running is not None \
                else "between cells"
            try:
                header, _ = receive(limit, f"running {doing}")
            except Exception as exc:
                raise self._explain(exc, cell_deadline < deadline) from None
        return header

    def _explain(self, exc: Exception, cell_limit: bool) -> Exception:
        """Name the cell and the limit in a timeout (other failures pass unchanged)."""
        from harness.sandbox.box import BoxFailure  # box imports this module

        if not isinstance(exc, BoxFailure) or exc.kind != "timeout" or self.running is None:
            return exc
        self.timed_out = "cell" if cell_limit else "notebook"
        where = self.plan.describe(self.running)
        if cell_limit:
            text = (f"{where} ran longer than the {self.plan.cell_seconds:g} s a cell may "
                    "take (an infinite loop, or work too slow for grading)")
        else:
            text = (f"the notebook used up its {self.plan.total_seconds:g} s in {where}; "
                    "the cells before it finished")
        return BoxFailure("timeout", text)


def _clean_run(header: dict[str, Any], index: int, seconds: float) -> CellRun:
    count = header.get("execution_count")
    error = header.get("error")
    return CellRun(index, count if type(count) is int else None,
                   clean_outputs(header.get("outputs")),
                   clean_error(error) if isinstance(error, dict) else None, round(seconds, 4))


def _str(value: Any, limit: int) -> str:
    return clean_text(str(value).encode("utf-8", "replace"), limit) if value is not None else ""


def clean_outputs(raw: Any) -> tuple[dict[str, Any], ...]:
    """Keep only plain text and PNG images from the child's claimed outputs, capped."""
    if not isinstance(raw, list):
        return ()
    out: list[dict[str, Any]] = []
    text_left, images = MAX_CELL_TEXT, 0
    for item in raw[:MAX_OUTPUTS_PER_CELL]:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "stream" and item.get("name") in ("stdout", "stderr"):
            text = _str(item.get("text"), text_left)
            text_left -= len(text)
            if text:
                out.append({"type": "stream", "name": item["name"], "text": text})
        elif kind in ("execute_result", "display_data") and isinstance(item.get("data"), dict):
            data: dict[str, str] = {}
            plain = item["data"].get("text/plain")
            if isinstance(plain, str):
                data["text/plain"] = _str(plain, text_left)
                text_left -= len(data["text/plain"])
            png = item["data"].get("image/png")
            if isinstance(png, str) and images < MAX_IMAGES_PER_CELL \
                    and len(png) <= MAX_IMAGE_CHARS and _BASE64.match(png):
                data["image/png"] = "".join(png.split())
                images += 1
            if data:
                out.append({"type": kind, "data": data})
    return tuple(out)


def clean_error(error: dict[str, Any]) -> dict[str, Any]:
    """An error record from the child, with only known fields, as strings, capped."""
    frames = error["frames"] if isinstance(error.get("frames"), list) else []
    return {
        "type": _str(error.get("type", "Exception"), 100),
        "mro": [_str(m, 100) for m in error.get("mro", [])[:12]]
        if isinstance(error.get("mro"), list) else [],
        "message": _str(error.get("message", ""), 2000),
        "frames": [{"file": _str(f.get("file"), 200), "line": f.get("line")
                    if type(f.get("line")) is int else None,
                    "name": _str(f.get("name"), 100), "code": _str(f.get("code"), 200)}
                   for f in frames[-12:] if isinstance(f, dict)],
        **({"line": error["line"]} if type(error.get("line")) is int else {}),
    }
