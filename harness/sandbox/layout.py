"""What a box's new root holds: the allow-list of read-only paths (level ``strong``).

Only the interpreter, the folders Python imports from, the harness package and a few
system folders and files are bound; everything else on the host (task packs, git
folders, home directories, other programs' temp files) simply does not exist inside.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import harness

SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
          "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
          "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/hosts", "/etc/os-release",
          "/etc/ssl", "/etc/ca-certificates", "/etc/alternatives", "/etc/mime.types")


def allow_list() -> list[str]:
    """Host paths to bind read-only into every box's new root."""
    paths = [p for p in SYSTEM if os.path.lexists(p)]
    python = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
              os.path.dirname(os.path.realpath(sys.executable))}
    python.update(p for p in child_sys_path() if p and os.path.exists(p))
    python.add(str(Path(harness.__file__).resolve().parent))
    for p in sorted(python):
        real = os.path.realpath(p)
        if real.startswith(("/usr/", "/lib")) or real in paths:
            continue
        paths.append(real)
    return _outermost(paths)


@functools.cache
def child_sys_path() -> tuple[str, ...]:
    """The import path of ``python -I`` (the child's), not the grader's: a grader started
    from a checkout has the checkout on its path, and that must not be bound."""
    code = "import json, sys; print(json.dumps(sys.path))"
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                         timeout=60, cwd="/")
    paths = json.loads(out.stdout) if out.returncode == 0 else []
    return tuple(str(p) for p in paths if isinstance(p, str))


def _outermost(paths: list[str]) -> list[str]:
    """Drop paths already inside another listed folder."""
    out: list[str] = []
    for p in sorted(set(paths), key=len):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out
                   if not os.path.islink(q)):
            out.append(p)
    return sorted(out)
