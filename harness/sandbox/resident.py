"""Resident memory of a box's processes, for the grader's watchdog.

macOS ignores ``RLIMIT_AS``, so there the grader polls the resident set size of the
child's whole process tree and stops the box past its memory limit; on Linux the same
watchdog can be turned on (``HARNESS_RSS_WATCHDOG=on``) beside the address-space limit
and the cgroup. Linux reads ``/proc/<pid>/stat``; macOS asks ``ps`` (no psutil needed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _linux_table() -> dict[int, tuple[int, int]]:
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                raw = fh.read()
            fields = raw[raw.rindex(b")") + 2:].split()
            table[int(entry)] = (int(fields[1]), int(fields[21]) * PAGE)
        except (OSError, ValueError, IndexError):
            continue
    return table


def _ps_table() -> dict[int, tuple[int, int]]:
    out = subprocess.run(["ps", "-A", "-o", "pid=,ppid=,rss="], capture_output=True,
                         text=True, timeout=10, check=False).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            table[int(parts[0])] = (int(parts[1]), int(parts[2]) * 1024)
    return table


def processes() -> dict[int, tuple[int, int]]:
    """Every process as ``pid -> (parent pid, resident bytes)``."""
    return _linux_table() if sys.platform.startswith("linux") else _ps_table()


def tree_resident(root: int, members: Iterable[int] = ()) -> int:
    """Resident bytes of ``root``, its descendants and ``members`` (e.g. the box's cgroup
    or its uid, which also hold the daemons that left the tree)."""
    table = processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    seen: set[int] = set()
    todo = [root, *members]
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        todo.extend(children.get(pid, []))
    return sum(table[pid][1] for pid in seen)
