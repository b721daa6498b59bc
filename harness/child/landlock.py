"""Child side: a Landlock file-system allow-list, for hosts without user namespaces.

Where ``unshare`` is refused (Ubuntu 24.04's default, hardened hosts) the child still
restricts itself before the submission loads: read and execute beneath the allow-listed
paths (system libraries, interpreter, import path, harness package, ``/proc``, ``/dev``),
read and write beneath its scratch folder and ``/dev`` nodes, nothing anywhere else —
task packs, git folders and home directories become unreadable. Raw system calls through
ctypes (Linux >= 5.13); the ABI version decides which access rights exist.
"""

from __future__ import annotations

import ctypes
import os
import struct
from typing import Any

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR, MAKE_REG, MAKE_SOCK = (1 << i for i in range(4, 10))
MAKE_FIFO, MAKE_BLOCK, MAKE_SYM, REFER, TRUNCATE = (1 << i for i in range(10, 15))
READ = EXECUTE | READ_FILE | READ_DIR


def _handled(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    return rights


def apply(read_only: list[str], read_write: list[str]) -> dict[str, Any]:
    """Restrict this process (and all it starts) to the given paths."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(SYS_CREATE_RULESET, None, 0, CREATE_RULESET_VERSION)
    if abi < 1:
        return {"landlock": False, "landlock_reason": "Landlock is not available here"}
    handled = _handled(int(abi))
    attr = ctypes.create_string_buffer(struct.pack("Q", handled))
    ruleset = libc.syscall(SYS_CREATE_RULESET, attr, 8, 0)
    if ruleset < 0:
        return {"landlock": False, "landlock_reason": f"ruleset refused ({ctypes.get_errno()})"}
    added = 0
    try:
        for rights, paths in ((READ, read_only), (handled, read_write)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    allowed = rights if os.path.isdir(path) else rights & (
                        EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE)
                    rule = ctypes.create_string_buffer(struct.pack("=Qi", allowed & handled, fd))
                    if libc.syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, rule, 0) == 0:
                        added += 1
                finally:
                    os.close(fd)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
                libc.syscall(SYS_RESTRICT_SELF, ruleset, 0) != 0:
            return {"landlock": False, "landlock_reason": "restrict_self refused"}
    finally:
        os.close(ruleset)
    return {"landlock": True, "landlock_abi": int(abi), "landlock_rules": added}
