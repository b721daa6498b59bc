"""Path names the operating system can take, checked before a path is used.

A name longer than the file system allows makes every ``stat``, ``open`` and
``Path.is_file`` raise ``OSError: File name too long``: an id or a path typed on the
command line would end in a traceback instead of a message. The places where input
enters (task lookup, submission lookup, the CLI's path arguments) ask :func:`problem`
first and raise their own error, with their own exit code, when it answers.
"""

from __future__ import annotations

import os


def _limit(name: str, default: int) -> int:
    # The root file system's limits: 255 bytes a name and 4096 a path on Linux, 1024 a
    # path on macOS. Other mounts rarely allow more, and what they allow less still
    # ends in an OSError that the callers turn into their own message.
    try:
        return int(os.pathconf("/", name))
    except (OSError, ValueError, AttributeError):
        return default


NAME_MAX = _limit("PC_NAME_MAX", 255)
#: Bytes of a whole path, counting the terminating NUL the system call adds.
PATH_MAX = _limit("PC_PATH_MAX", 4096)


def problem(path: str | os.PathLike[str]) -> str:
    """Why ``path`` cannot name a file on this system, in words; empty when it can.

    The absolute form is measured: a short relative path under a deep working folder
    is as unusable as a long one. Only the text is looked at; nothing is opened.
    """
    text = os.fspath(path)
    if "\0" in text:
        return "it contains a NUL character, which no file name can hold"
    raw = os.fsencode(os.path.abspath(text))
    if len(raw) >= PATH_MAX:
        return (f"it is {len(raw):,} bytes long as an absolute path; this system takes at "
                f"most {PATH_MAX - 1:,}")
    longest = max(raw.split(b"/"), key=len)
    if len(longest) > NAME_MAX:
        name = shorten(os.fsdecode(longest), 30)
        return (f"its part {name!r} is {len(longest):,} bytes long; a file or folder name "
                f"takes at most {NAME_MAX}")
    return ""


def shorten(text: str, width: int = 60) -> str:
    """``text`` cut in the middle to ``width`` characters, so one message stays one line."""
    if len(text) <= width:
        return text
    keep = (width - 3) // 2
    return f"{text[:keep]}...{text[len(text) - keep:]}"
