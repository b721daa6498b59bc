"""Task specs: load ``task.toml``, validate every field, discover the tasks of a pack.

A task lives in ``<pack>/<phase>/<name>/``::

    task.toml        the spec (see README: "Writing a task")
    public/test_*.py tests the learner may read and run (`grade check`)
    hidden/test_*.py tests whose code never leaves the grader
    starter/         what `grade init` copies into submissions/
    data/            files the tests may read through the ``task_data`` fixture
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness import pathnames
from harness.checks.loops import LoopRule, loop_rule
from harness.errors import SpecError, TaskNotFound
from harness.limits import Limits

SPEC_FILE = "task.toml"
CheckKind = Literal["correctness", "leakage", "timing", "quality", "style"]
CHECK_KINDS = ("correctness", "leakage", "timing", "quality", "style")
TASK_KINDS = ("exercise", "project")
FORMATS = ("module", "notebook")
DEVICES = ("cpu", "any", "cuda", "mps", "accelerator")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9_-]*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class InterfaceItem:
    """One name the submission must provide."""

    name: str
    signature: str
    doc: str
    kind: Literal["function", "class", "value"] = "function"


@dataclass(frozen=True)
class CheckSpec:
    """Points, hint and kind of one test, as the spec states them."""

    points: float = 1.0
    hint: str = ""
    kind: CheckKind = "correctness"
    loops: LoopRule | None = None  # which Python loops the check allows where


@dataclass(frozen=True)
class Task:
    """A validated task spec and the files around it."""

    id: str
    root: Path
    title: str
    phase: str
    kind: str
    version: str
    description: str
    interface: tuple[InterfaceItem, ...]
    formats: tuple[str, ...]
    limits: Limits
    device: str
    datasets: tuple[str, ...]
    preload: tuple[str, ...]
    entry: str
    checks: dict[str, CheckSpec] = field(default_factory=dict)

    @property
    def public_tests(self) -> list[Path]:
        return sorted((self.root / "public").glob("test_*.py"))

    @property
    def hidden_tests(self) -> list[Path]:
        return sorted((self.root / "hidden").glob("test_*.py"))

    @property
    def starter(self) -> Path:
        return self.root / "starter"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def fingerprint(self) -> str:
        """A hash of every file of the task: results say exactly what graded them."""
        h = hashlib.sha256()
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            name, data = path.relative_to(self.root).as_posix().encode(), path.read_bytes()
            h.update(len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big"))
            h.update(data)
        return h.hexdigest()[:16]


_TOP_KEYS = {"title", "phase", "kind", "version", "description", "interface", "formats",
             "limits", "device", "datasets", "checks", "preload", "entry"}
_LIMIT_KEYS = {"call_seconds": float, "total_seconds": float, "load_seconds": float,
               "cpu_seconds": int, "memory_mb": int, "output_kb": int, "processes": int,
               "disk_mb": int, "files": int}


def _need(data: dict[str, Any], key: str, typ: type, path: Path, where: str = "") -> Any:
    if key not in data:
        raise SpecError(str(path), where + key, "is required")
    return _typed(data[key], typ, path, where + key)


def _typed(value: Any, typ: type, path: Path, name: str) -> Any:
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, typ) or isinstance(value, bool) and typ is not bool:
        raise SpecError(str(path), name, f"must be a {typ.__name__}, got {value!r}")
    return value


def _choice(value: Any, allowed: tuple[str, ...], path: Path, name: str) -> str:
    if value not in allowed:
        raise SpecError(str(path), name, f"must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def _unknown(data: dict[str, Any], allowed: set[str], path: Path, where: str = "") -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise SpecError(str(path), where + extra[0],
                        f"unknown field (allowed: {', '.join(sorted(allowed))})")


def parse_spec(path: Path, task_id: str) -> Task:
    """Parse and validate one ``task.toml``; raise :class:`SpecError` naming the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(str(path), "(file)", f"not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(str(path), "(file)", f"cannot be read: {exc}") from None
    _unknown(data, _TOP_KEYS, path)
    if not _ID.match(task_id):
        raise SpecError(str(path), "(folder)", f"task id {task_id!r} must look like phase/name "
                        "(lower case, digits, - and _)")
    phase = _need(data, "phase", str, path)
    if phase != task_id.split("/")[0]:
        raise SpecError(str(path), "phase", f"is {phase!r} but the task folder is under "
                        f"{task_id.split('/')[0]!r}")
    interface = []
    raw_interface = _need(data, "interface", list, path)
    if not raw_interface:
        raise SpecError(str(path), "interface", "must name at least one function or class")
    for i, item in enumerate(raw_interface):
        where = f"interface[{i}]."
        item = _typed(item, dict, path, f"interface[{i}]")
        _unknown(item, {"name", "signature", "doc", "kind"}, path, where)
        name = _need(item, "name", str, path, where)
        if not _NAME.match(name):
            raise SpecError(str(path), where + "name", f"{name!r} is not a Python identifier")
        interface.append(InterfaceItem(
            name, _typed(item.get("signature", "(...)"), str, path, where + "signature"),
            _typed(item.get("doc", ""), str, path, where + "doc"),
            _choice(item.get("kind", "function"), ("function", "class", "value"), path,
                    where + "kind"),  # type: ignore[arg-type]
        ))
    formats = tuple(_choice(f, FORMATS, path, "formats")
                    for f in _typed(data.get("formats", ["module"]), list, path, "formats"))
    checks = {}
    for name, raw in _typed(data.get("checks", {}), dict, path, "checks").items():
        where = f"checks.{name}."
        raw = _typed(raw, dict, path, f"checks.{name}")
        _unknown(raw, {"points", "hint", "kind", "loops"}, path, where)
        points = _typed(raw.get("points", 1.0), float, path, where + "points")
        if not math.isfinite(points) or points < 0:
            raise SpecError(str(path), where + "points", "must not be negative")
        try:
            loops = loop_rule(raw["loops"]) if "loops" in raw else None
        except ValueError as exc:
            raise SpecError(str(path), where + "loops", str(exc)) from None
        checks[name] = CheckSpec(points, _typed(raw.get("hint", ""), str, path, where + "hint"),
                                 _choice(raw.get("kind", "correctness"), CHECK_KINDS, path,
                                         where + "kind"), loops)  # type: ignore[arg-type]
    return Task(
        id=task_id, root=path.parent,
        title=_need(data, "title", str, path),
        phase=phase,
        kind=_choice(data.get("kind", "exercise"), TASK_KINDS, path, "kind"),
        version=str(_typed(data.get("version", "1"), str, path, "version")),
        description=_need(data, "description", str, path).strip(),
        interface=tuple(interface),
        formats=formats,
        limits=_limits(data.get("limits", {}), path),
        device=_choice(data.get("device", "cpu"), DEVICES, path, "device"),
        datasets=_strs(data.get("datasets", []), path, "datasets"),
        preload=_strs(data.get("preload", ["numpy"]), path, "preload"),
        entry=_typed(data.get("entry", "solution.py"), str, path, "entry"),
        checks=checks,
    )


def _strs(raw: Any, path: Path, name: str) -> tuple[str, ...]:
    return tuple(_typed(x, str, path, name) for x in _typed(raw, list, path, name))


def _limits(raw: Any, path: Path) -> Limits:
    raw = _typed(raw, dict, path, "limits")
    _unknown(raw, set(_LIMIT_KEYS), path, "limits.")
    values = {k: _typed(v, _LIMIT_KEYS[k], path, f"limits.{k}") for k, v in raw.items()}
    for k, v in values.items():
        if not math.isfinite(v) or v <= 0:
            raise SpecError(str(path), f"limits.{k}", "must be positive")
    base = Limits()
    return Limits(
        call_seconds=values.get("call_seconds", base.call_seconds),
        total_seconds=values.get("total_seconds", base.total_seconds),
        load_seconds=values.get("load_seconds", base.load_seconds),
        cpu_seconds=values.get("cpu_seconds", base.cpu_seconds),
        memory_bytes=values["memory_mb"] << 20 if "memory_mb" in values else base.memory_bytes,
        output_bytes=values["output_kb"] << 10 if "output_kb" in values else base.output_bytes,
        processes=values.get("processes", base.processes),
        disk_bytes=values["disk_mb"] << 20 if "disk_mb" in values else base.disk_bytes,
        files=values.get("files", base.files),
    )


def discover(pack: Path) -> list[Path]:
    """Every ``task.toml`` two levels below the pack root."""
    return sorted(pack.glob(f"*/*/{SPEC_FILE}"))


def task_id_of(spec_path: Path, pack: Path) -> str:
    return spec_path.parent.relative_to(pack).as_posix()


def load_task(pack: Path, task_id: str) -> Task:
    """Load one task by id, e.g. ``phase1/dot-product``.

    The id is checked before it becomes a path: only a well-formed id (the shape
    :func:`parse_spec` accepts) is looked up, so ``../`` cannot leave the pack and a
    name too long for the file system is "no such task", not an ``OSError``.
    """
    path = pack / task_id / SPEC_FILE
    if not _ID.fullmatch(task_id) or pathnames.problem(path) or not path.is_file():
        known = [task_id_of(p, pack) for p in discover(pack)]
        name = task_id.rstrip("/").split("/")[-1]
        close = [k for k in known if name and name in k] or \
            difflib.get_close_matches(task_id, known, n=1)
        why = pathnames.problem(path)
        raise TaskNotFound(f"no task {pathnames.shorten(task_id)!r} in {pack}"
                           + (f" (the id cannot name a folder: {why})" if why else ""),
                           hint=f"did you mean {close[0]}?" if close else
                           "`grade list` shows the tasks")
    return parse_spec(path, task_id)


def load_all(pack: Path) -> list[Task]:
    """Every task of a pack (raises on the first broken spec)."""
    return [parse_spec(p, task_id_of(p, pack)) for p in discover(pack)]
