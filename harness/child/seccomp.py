"""Child side: a seccomp filter that refuses the system calls a submission never needs.

A deny-list (default allow), applied after the lockdown and before the submission loads,
with ``no_new_privs`` set; the kernel keeps it across ``fork`` and ``exec``. It refuses
network sockets (IPv4, IPv6, netlink, packet), tracing and reading other processes'
memory, new namespaces and mounts, BPF, perf events, io_uring, kernel keyrings, module
loading and userfaultfd. ``clone3`` answers ENOSYS so that the C library falls back to
``clone``, whose namespace flags can be inspected. Written as raw classic BPF with
ctypes, so it needs no library; x86_64 only (elsewhere it reports that it was skipped).
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct
from typing import Any

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
AUDIT_ARCH_X86_64 = 0xC000003E
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
# classic BPF opcodes
LD_W_ABS = 0x20
JEQ_K = 0x15
JSET_K = 0x45
RET_K = 0x06

X86_64 = {
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "bpf": 321,
    "perf_event_open": 298, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "keyctl": 250, "add_key": 248, "request_key": 249,
    "mount": 165, "umount2": 166, "pivot_root": 155, "unshare": 272, "setns": 308,
    "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
    "delete_module": 176, "open_by_handle_at": 304, "userfaultfd": 323,
    "mount_setattr": 442, "move_mount": 429, "open_tree": 428, "fsopen": 430,
    "fsconfig": 431, "fsmount": 432, "fspick": 433, "swapon": 167, "swapoff": 168,
    "reboot": 169, "acct": 163, "quotactl": 179,
}
SOCKET, CLONE, CLONE3 = 41, 56, 435
DENIED_FAMILIES = (2, 10, 16, 17)  # AF_INET, AF_INET6, AF_NETLINK, AF_PACKET
NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def program() -> bytes:
    """The filter as bytes of ``struct sock_filter`` (x86_64 numbers)."""
    deny = RET_ERRNO | errno.EPERM
    body = [
        _ins(LD_W_ABS, 4),                             # arch
        _ins(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        _ins(RET_K, RET_ERRNO | errno.ENOSYS),         # a foreign ABI: refuse everything
        _ins(LD_W_ABS, 0),                             # syscall number
    ]
    for nr in sorted(X86_64.values()):
        body += [_ins(JEQ_K, nr, 0, 1), _ins(RET_K, deny)]
    body += [_ins(JEQ_K, CLONE3, 0, 1), _ins(RET_K, RET_ERRNO | errno.ENOSYS)]
    # clone: refuse namespace flags in its first argument
    body += [_ins(JEQ_K, CLONE, 0, 3), _ins(LD_W_ABS, 16),
             _ins(JSET_K, NAMESPACE_FLAGS, 0, 1), _ins(RET_K, deny)]
    # socket: refuse network families in its first argument
    body += [_ins(LD_W_ABS, 0), _ins(JEQ_K, SOCKET, 0, 2 * len(DENIED_FAMILIES) + 1),
             _ins(LD_W_ABS, 16)]
    for family in DENIED_FAMILIES:
        body += [_ins(JEQ_K, family, 0, 1), _ins(RET_K, deny)]
    body.append(_ins(RET_K, RET_ALLOW))
    return b"".join(body)


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def apply() -> dict[str, Any]:
    """Install the filter on this process (and all it starts); returns what was done."""
    if platform.machine() != "x86_64":
        return {"seccomp": False, "seccomp_reason": f"no filter for {platform.machine()}"}
    libc = ctypes.CDLL(None, use_errno=True)
    code = program()
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _Fprog(len(code) // 8, ctypes.addressof(buf))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return {"seccomp": False, "seccomp_reason": "no_new_privs refused"}
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        return {"seccomp": False,
                "seccomp_reason": f"seccomp refused: {errno.errorcode.get(ctypes.get_errno())}"}
    return {"seccomp": True}
