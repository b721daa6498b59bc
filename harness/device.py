"""The device a grading ran on, and the numerical stack around it.

Torch is never imported here: its presence is detected from package metadata, so the
harness stays fast and importable without it. Device selection for timing checks
(``auto`` -> CUDA, then MPS, then CPU) arrives with the timing issue.
"""

from __future__ import annotations

import importlib.metadata
import platform
from typing import Any


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def describe(requested: str = "auto") -> dict[str, Any]:
    """Device and library versions for the result document."""
    info: dict[str, Any] = {
        "requested": requested,
        "used": "cpu",
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "torch": _version("torch"),
        "child_threads": 1,
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "num_threads",
                                                "architecture")}
                        for p in threadpool_info() if p.get("user_api") == "blas"]
    except Exception:  # threadpoolctl inspects shared libraries; never fail a grading on it
        info["blas"] = []
    return info
