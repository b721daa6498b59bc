"""Find a submission, check it statically, and stage a clean copy for the sandbox.

The grader only *reads* submission files here (as text, parsed with ``ast``); it never
imports or executes them. Links are not followed and sizes are capped.
"""

from __future__ import annotations

import ast
import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import definitions, pathnames
from harness.errors import SubmissionNotFound
from harness.sandbox import scratch
from harness.tasks import Task

MAX_FILE_BYTES = 5 << 20
MAX_TOTAL_BYTES = 50 << 20
MAX_FILES = 500
NOTEBOOK_MAX_BYTES = 20 << 20  # outputs (plots) make notebooks larger than modules
NOTEBOOK_ENTRY = "solution.ipynb"
#: Python source the grader parses itself (syntax errors, static checks), per submission.
#: Parsing runs in the grader, outside every sandbox limit, and costs far more than the
#: text's size: 3 MiB of one-line statements took minutes and gigabytes to parse.
MAX_SOURCE_BYTES = 1 << 20


@dataclass(frozen=True)
class Submission:
    """A located submission: its original path and its format."""

    path: Path
    format: str  # "module", "folder" or "notebook"
    entry: str
    note: str = ""  # e.g. which of two default candidates was picked, and why


@dataclass(frozen=True)
class StaticProblem:
    """A problem found without running anything (a syntax error, a missing entry)."""

    kind: str
    message: str
    file: str = ""
    line: int | None = None


def locate(task: Task, path: Path | None, submissions_dir: Path) -> Submission:
    """The submission for ``task``: the given path, else ``submissions/<task>[.py|/|.ipynb]``.

    When both a module (or folder) and a notebook exist by default, the module wins:
    it is the production form, and the note says so.
    """
    candidates = [path] if path else [submissions_dir / f"{task.id}.py", submissions_dir / task.id,
                                      submissions_dir / f"{task.id}.ipynb"]
    for cand in candidates:
        if cand is None:
            continue
        # Checked before any stat: a name too long, or a folder this user cannot search,
        # is "no submission here", never an OSError out of the grader. A default
        # candidate whose name is too long cannot exist, and the next one may.
        why = pathnames.problem(cand)
        if why and path is None:
            continue
        try:
            is_file, is_dir = (False, False) if why else (cand.is_file(), cand.is_dir())
        except OSError as exc:
            why = exc.strerror or str(exc)
        if why:
            raise SubmissionNotFound(f"cannot use {pathnames.shorten(str(cand))} as a "
                                     f"submission: {why}",
                                     hint="pass the path of a .py module, a .ipynb notebook "
                                     "or a folder that you can read")
        if is_file and cand.suffix == ".py":
            return _with_note(Submission(cand.resolve(), "module", cand.name), path, candidates)
        if is_file and cand.suffix == ".ipynb":
            return Submission(cand.resolve(), "notebook", NOTEBOOK_ENTRY)
        if is_dir:
            if not (cand / task.entry).is_file():
                raise SubmissionNotFound(f"{cand} has no {task.entry}",
                                         hint=f"a folder submission needs {task.entry} as its "
                                         "entry point (the task spec's `entry`)")
            return _with_note(Submission(cand.resolve(), "folder", task.entry), path, candidates)
        if is_file:
            raise SubmissionNotFound(f"{cand} is neither a Python module (.py) nor a notebook "
                                     "(.ipynb)")
    shown = ", ".join(str(c) for c in candidates if c is not None)
    raise SubmissionNotFound(f"no submission found at {shown}",
                             hint=f"run `grade init {task.id}` to get a starter")


def _with_note(sub: Submission, given: Path | None, candidates: Sequence[Path | None]
               ) -> Submission:
    notebook = candidates[-1]
    if given is not None or notebook is None or pathnames.problem(notebook) or \
            not notebook.is_file():
        return sub
    return Submission(sub.path, sub.format, sub.entry,
                      f"found both {sub.path.name} and {notebook.name}; graded the "
                      f"{sub.format} (it wins when both exist): pass {notebook} to grade the "
                      "notebook")


_HELD: dict[Path, int] = {}


def unstage(staged: Path) -> list[str]:
    """Remove a staged copy (a weak box may have written into it); never raises. Returns
    what could not be removed."""
    fd = _HELD.pop(staged, -1)
    if fd >= 0:
        os.close(fd)
    return scratch.remove_tree(staged)


def stage(sub: Submission, parent: Path) -> Path:
    """Copy the submission into a fresh folder under ``parent``: regular files only, capped.
    The folder stays locked (a live grading's, never swept) until :func:`unstage`."""
    dest = Path(tempfile.mkdtemp(prefix="stage-", dir=parent))
    _HELD[dest] = scratch.hold(dest)
    if sub.format in ("module", "notebook"):
        # An oversized notebook is staged cut short: parsing it reports a submission error.
        notebook = sub.format == "notebook"
        _copy_file(sub.path, dest / sub.entry, NOTEBOOK_MAX_BYTES if notebook else MAX_FILE_BYTES,
                   truncate=notebook)
        return dest
    count = total = 0
    for root, dirs, files in os.walk(sub.path, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        rel = Path(root).relative_to(sub.path)
        for name in files:
            src = Path(root) / name
            st = src.lstat()
            if not stat.S_ISREG(st.st_mode):
                continue
            count += 1
            total += st.st_size
            if count > MAX_FILES or total > MAX_TOTAL_BYTES:
                unstage(dest)
                raise SubmissionNotFound(f"{sub.path} is too large to grade "
                                         f"(over {MAX_FILES} files or {MAX_TOTAL_BYTES >> 20} MiB)")
            (dest / rel).mkdir(parents=True, exist_ok=True)
            _copy_file(src, dest / rel / name)
    return dest


def _copy_file(src: Path, dst: Path, limit: int = MAX_FILE_BYTES, truncate: bool = False) -> None:
    fd = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SubmissionNotFound(f"{src} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit and not truncate:
        raise SubmissionNotFound(f"{src} is larger than {limit >> 20} MiB")
    dst.write_bytes(data)


def static_problems(staged: Path, sub: Submission) -> list[StaticProblem]:
    """Parse every Python file of the staged copy; report syntax errors with file:line."""
    problems = []
    files = [staged / sub.entry] if sub.format == "module" else sorted(staged.rglob("*.py"))
    size = sum(p.stat().st_size for p in files)
    if size > MAX_SOURCE_BYTES:
        return [source_too_large(sub.path.name, size)]
    for path in files:
        rel = path.relative_to(staged).as_posix()
        try:
            source = path.read_bytes()
            ast.parse(source, filename=rel)
        except SyntaxError as exc:
            where = f"{rel}:{exc.lineno}" if exc.lineno else rel
            text = (exc.text or "").strip()
            problems.append(StaticProblem(
                "syntax", f"syntax error at {where}: {exc.msg}" + (f"\n    {text}" if text else ""),
                rel, exc.lineno))
        except (RecursionError, MemoryError, ValueError):
            problems.append(StaticProblem("syntax", f"{rel} is too deeply nested or malformed "
                                          "for Python to parse", rel))
    return problems


def source_too_large(name: str, size: int) -> StaticProblem:
    """The problem of a submission with more Python source than the grader parses."""
    return StaticProblem("size", f"{name} holds {size / (1 << 20):.1f} MiB of Python code; the "
                         f"grader analyses at most {MAX_SOURCE_BYTES >> 20} MiB: move data out "
                         "of the code (into a file the code reads) and grade it again", name)


def function_source(staged: Path, sub: Submission, name: str) -> ast.FunctionDef | None:
    """The AST of the function a top-level name of the entry module stands for (for static
    checks): a :class:`~harness.definitions.Resolved`, followed through aliases, lambdas
    and, in a folder, imports from its other files; with the helpers it reaches."""
    entry = _namespace(staged, sub.entry)
    if entry is None:
        return None
    if sub.format != "folder":
        return definitions.resolve(definitions.Code(entry), name)
    parsed: dict[str, definitions.Namespace | None] = {}

    def files(rel: str) -> definitions.Namespace | None:
        if rel not in parsed:
            parsed[rel] = _namespace(staged, rel)
        return parsed[rel]

    return definitions.resolve(definitions.Code(entry, files), name)


def _namespace(staged: Path, rel: str) -> definitions.Namespace | None:
    """One staged file, parsed, or ``None`` (absent, unparsable, over the size cap)."""
    path = staged / rel
    try:
        if not path.is_file() or path.is_symlink():
            return None
        source = path.read_bytes()
        if len(source) > MAX_SOURCE_BYTES:
            return None  # refused by static_problems; never parsed
        tree = ast.parse(source, filename=rel)
    except (SyntaxError, RecursionError, MemoryError, ValueError, OSError):
        return None
    return definitions.Namespace(((rel, tree),), rel)
