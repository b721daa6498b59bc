"""Resource limits for one submission: spec defaults, overridable per task."""

from __future__ import annotations

from dataclasses import dataclass

GiB = 1 << 30
MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission (spec defaults, overridable per task)."""

    call_seconds: float = 10.0
    total_seconds: float = 120.0
    load_seconds: float = 30.0
    cpu_seconds: int = 120
    memory_bytes: int = 3 * GiB  # address space (RLIMIT_AS)
    resident_bytes: int = 0  # cgroup memory.max and the RSS watchdog; 0: memory_bytes
    output_bytes: int = 1 * MiB
    processes: int = 64
    open_files: int = 256
    file_size_bytes: int = 64 * MiB
    frame_bytes: int = 256 * MiB
    max_elements: int = 50_000_000
    disk_bytes: int = 256 * MiB  # scratch: a tmpfs of this size, or the grader's watchdog
    files: int = 10_000  # scratch: files and folders (tmpfs inodes, or the watchdog)
