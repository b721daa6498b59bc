"""The macOS layer: a Seatbelt (``sandbox-exec``) profile generated from data.

Deny by default; read-only access to the interpreter, the folders Python imports from
and the system libraries; read-write access to the box's scratch only; no network;
signals only within the sandbox. macOS ignores ``RLIMIT_AS``, so memory is bounded by
the grader's resident-memory watchdog instead (:mod:`harness.sandbox.resident`). The
launcher (:func:`harness.sandbox.process.child_command`) prefixes the child with
``sandbox-exec -p PROFILE`` on macOS. Not testable on Linux: the profile text and the
command are unit-tested; the profile still needs checking on a real Mac.
"""

from __future__ import annotations

from collections.abc import Iterable

SYSTEM_READ = ("/usr/lib", "/usr/share", "/System", "/Library/Frameworks",
               "/private/etc", "/private/var/db/timezone", "/dev")
DEVICES_RW = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/dtracehelper")


def quote(path: str) -> str:
    """An SBPL string literal; refuses paths that could break out of the literal."""
    if any(c in path for c in ("\n", "\r", "\x00")) or not path.startswith("/"):
        raise ValueError(f"path not allowed in a sandbox profile: {path!r}")
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rule(action: str, kind: str, paths: Iterable[str]) -> str:
    items = " ".join(f"(subpath {quote(p)})" for p in sorted(set(paths)))
    return f"({action} {kind} {items})" if items else ""


def profile(read_only: Iterable[str], scratch: str, executables: Iterable[str]) -> str:
    """The profile text for one box."""
    lines = [
        "(version 1)",
        "(deny default)",
        "(allow process-fork)",
        _rule("allow", "process-exec", executables),
        _rule("allow", "file-read*", [*SYSTEM_READ, *read_only]),
        _rule("allow", "file-read* file-write*", [scratch]),
        "(allow file-write-data " + " ".join(f"(literal {quote(d)})" for d in DEVICES_RW) + ")",
        "(allow sysctl-read)",
        "(allow signal (target same-sandbox))",
        "(deny network*)",
    ]
    return "\n".join(line for line in lines if line) + "\n"


def command(profile_text: str, argv: list[str],
            sandbox_exec: str = "/usr/bin/sandbox-exec") -> list[str]:
    """The launch command: ``sandbox-exec -p PROFILE argv...`` (no profile file to clean)."""
    return [sandbox_exec, "-p", profile_text, *argv]
