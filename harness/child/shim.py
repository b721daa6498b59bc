"""Child side: load the submission and answer the grader's calls, as data only.

Nothing here is trusted by the grader: the submission shares this process and can
patch any of it. The shim's job is only to be a faithful messenger for honest code;
every verdict is computed in the grader from the data it receives.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
import sys
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from harness import wire

MODULE_NAME = "submission"


class Objects:
    """Objects that stay in the child, addressed by integer ids."""

    def __init__(self) -> None:
        self.by_id: dict[int, Any] = {}
        self.next_id = 1

    def add(self, obj: Any) -> int:
        i = self.next_id
        self.next_id += 1
        self.by_id[i] = obj
        return i

    def get(self, i: int) -> Any:
        if i not in self.by_id:
            raise KeyError(f"no object with id {i} (released or never created)")
        return self.by_id[i]

    def to_handle(self, obj: Any) -> wire.Handle:
        t = type(obj)
        try:
            text = repr(obj)[:300]
        except Exception:
            text = f"<{t.__name__}>"
        return wire.Handle(self.add(obj), f"{t.__module__}.{t.__qualname__}", text)


def learner_frames(tb: Any, workdir: str) -> list[dict[str, Any]]:
    """The frames of a traceback that belong to the submission's own files."""
    frames = []
    for fs in traceback.extract_tb(tb):
        if fs.filename.startswith(workdir + os.sep):
            frames.append({"file": os.path.relpath(fs.filename, workdir), "line": fs.lineno,
                           "name": fs.name, "code": (fs.line or "")[:200]})
    return frames[-12:]


def describe_error(exc: BaseException, workdir: str) -> dict[str, Any]:
    """An exception as data: type name, MRO names, message and learner frames."""
    try:
        message = str(exc)[:2000]
    except Exception:
        message = "<unprintable exception>"
    info: dict[str, Any] = {
        "type": type(exc).__name__,
        "mro": [c.__name__ for c in type(exc).__mro__][:12],
        "message": message,
        "frames": learner_frames(exc.__traceback__, workdir),
    }
    if isinstance(exc, SyntaxError):
        info["file"] = os.path.relpath(exc.filename or "?", workdir)
        info["line"] = exc.lineno
    if isinstance(exc, ModuleNotFoundError):
        info["missing_module"] = exc.name
    return info


def describe_names(module: Any, names: list[str]) -> dict[str, Any]:
    """What the module offers under each required name (a claim, checked by the grader)."""
    out: dict[str, Any] = {}
    for name in names:
        if not hasattr(module, name):
            continue
        obj = getattr(module, name)
        entry: dict[str, Any] = {"kind": "class" if inspect.isclass(obj)
                                 else "function" if callable(obj) else "value"}
        try:
            sig = inspect.signature(obj)
            entry["signature"] = str(sig)
            entry["parameters"] = [[p.name, p.kind.name, p.default is not p.empty]
                                   for p in sig.parameters.values()]
        except (TypeError, ValueError):
            pass
        out[name] = entry
    return out


def load_submission(entry: str, workdir: str, folder: bool, name: str = MODULE_NAME) -> Any:
    """Import the submission by file path (it never lands on sys.path unless a folder).

    ``name="__main__"`` runs a program as a script (``grade leakage``)."""
    if folder:
        sys.path.append(workdir)
    spec = importlib.util.spec_from_file_location(name, entry)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {entry}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    if name != MODULE_NAME:
        spec.loader.exec_module(module)
        return module
    with memory_errors(workdir) as seen:
        spec.loader.exec_module(module)
    if seen:
        # The import hit the memory limit and caught it: that is the verdict, whatever
        # the module did next (what it holds may leave nothing for the calls to come).
        sys.modules.pop(name, None)
        del module
        raise seen[0]
    return module


@contextlib.contextmanager
def memory_errors(workdir: str) -> Iterator[list[BaseException]]:
    """Collect a MemoryError raised in (or through) the learner's own frames, even if the
    learner catches it. Only learner frames are traced, and only while importing."""
    seen: list[BaseException] = []

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "exception" and not seen and isinstance(arg[1], MemoryError):
            seen.append(arg[1])
        return local

    def calls(frame: Any, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename.startswith(workdir) else None

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        yield seen
    finally:
        sys.settrace(previous)


class Server:
    """Answers requests until the grader closes the channel."""

    def __init__(self, conn: Connection, module: Any, workdir: str, max_frame: int) -> None:
        self.conn = conn
        self.module = module
        self.workdir = workdir
        self.max_frame = max_frame
        self.objects = Objects()
        # Memory held back so that a MemoryError can still be described and sent.
        self.reserve: bytearray | None = bytearray(8 << 20)
        self.out_of_memory = wire.encode_message({"ok": False, "error": {
            "type": "MemoryError", "mro": ["MemoryError", "Exception", "BaseException"],
            "message": "out of memory", "frames": []}}, {})

    def send(self, header: dict[str, Any], values: dict[str, Any]) -> None:
        # What the call printed reaches the pipes before its reply: ``-I`` ignores
        # PYTHONUNBUFFERED, and a child killed at teardown never flushes its buffers.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # the learner's own replacement stream: its problem
                pass
        try:
            frame = wire.encode_message(header, values, self.objects.to_handle)
        except MemoryError:
            self.reserve = None
            frame = self.out_of_memory
        except (wire.WireError, RecursionError, ValueError, TypeError) as exc:
            frame = wire.encode_message({"ok": False, "error": {
                "type": "ResultNotData", "mro": ["ResultNotData"],
                "message": f"the value could not be sent to the grader: {exc}", "frames": []}},
                {})
        self.conn.send_bytes(frame)

    def serve(self) -> None:
        while True:
            if self.reserve is None:
                try:
                    self.reserve = bytearray(8 << 20)
                except MemoryError:
                    pass
            try:
                frame = self.conn.recv_bytes(self.max_frame)
            except EOFError:
                return
            header, values = wire.decode_message(frame, resolve=self.objects.get)
            try:
                result = self.dispatch(header, values)
            except BaseException as exc:  # learner failure is data
                if isinstance(exc, KeyboardInterrupt):
                    raise
                if isinstance(exc, MemoryError):
                    self.reserve = None
                try:
                    error = describe_error(exc, self.workdir)
                except MemoryError:
                    self.conn.send_bytes(self.out_of_memory)
                    continue
                self.send({"ok": False, "error": error}, {})
                continue
            self.send({"ok": True}, {"result": result})

    def target(self, header: dict[str, Any]) -> Any:
        if "handle" in header:
            obj = self.objects.get(int(header["handle"]))
        else:
            obj = self.module
        for part in header.get("path", []):
            obj = getattr(obj, part)
        return obj

    def dispatch(self, header: dict[str, Any], values: dict[str, Any]) -> Any:
        op = header.get("op")
        if op == "call":
            fn = self.target(header)
            args, kwargs = values.get("args", []), values.get("kwargs", {})
            return fn(*args, **kwargs)
        if op == "getattr":
            return self.target(header)
        if op == "store":
            return [self.objects.add(v) for v in values.get("items", [])]
        if op == "release":
            for i in header.get("ids", []):
                self.objects.by_id.pop(int(i), None)
            return None
        if op == "modules_used":
            return modules_used(self.target(header), values.get("args", []),
                                values.get("kwargs", {}))
        if op == "ping":
            return None
        if op == "call_each":
            return call_each(self.target(header), header, values)
        if op == "threadpools":
            return threadpools()
        if op == "trace_leakage":
            from harness.child import provenance

            return provenance.trace(self.target(header), values.get("args", []),
                                    values.get("kwargs", {}), self.workdir,
                                    learner_modules(self.module, self.workdir))
        if op == "leakage_report":
            from harness.child import provenance

            if provenance.PROGRAM is None:
                raise ValueError("this program was not run under the leakage trace")
            return provenance.PROGRAM.end()
        raise ValueError(f"unknown request {op!r}")


def learner_modules(module: Any, workdir: str) -> list[Any]:
    """The submission's module and any module loaded from its folder."""
    prefix = workdir + os.sep
    found = [m for m in list(sys.modules.values())
             if str(getattr(m, "__file__", None) or "").startswith(prefix)]
    return [module, *(m for m in found if m is not module)]


def call_each(fn: Any, header: dict[str, Any], values: dict[str, Any]) -> list[Any]:
    """Call ``fn`` once per offset, on windows of the stored buffers; return every output.

    A timing sample. The grader times the whole request on its own clock and checks the
    outputs it gets back, so this code need not be trusted: running fewer calls than
    asked, or caching, shows up as outputs that do not match their windows.
    """
    import gc

    args, kwargs = list(values.get("args", [])), values.get("kwargs", {})
    windows = {int(i): int(n) for i, n in dict(header.get("windows", {})).items()}
    weights = values.get("weights")
    outputs: list[Any] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection inside one sample but not another is noise, not speed
    try:
        for offset in header.get("offsets", []):
            k = int(offset)
            call_args = [a[k:k + windows[i]] if i in windows else a for i, a in enumerate(args)]
            outputs.append(fn(*call_args, **kwargs))
        if header.get("sync"):
            synchronize(str(header["sync"]))
    finally:
        if gc_was_enabled:
            gc.enable()
    return [project(out, weights) for out in outputs] if weights is not None else outputs


def project(out: Any, weights: Any) -> Any:
    """A large array output as one number (its dot with the grader's weights) plus its shape."""
    import numpy as np

    if isinstance(out, np.ndarray) and out.size > 64:
        flat = np.asarray(out, dtype=np.float64).ravel()
        if flat.size <= len(weights):
            return {"shape": list(out.shape), "projection": float(flat @ weights[:flat.size])}
        return {"shape": list(out.shape), "projection": None}
    return out


def synchronize(device: str) -> None:
    """Wait for queued accelerator work (torch launches are asynchronous)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def threadpools() -> list[dict[str, Any]]:
    """The thread pools this process has loaded (threadpoolctl), as a claim for the record."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{k: str(v) for k, v in pool.items() if k in ("user_api", "internal_api", "version",
                                                          "num_threads", "architecture")}
            for pool in threadpool_info()]


def modules_used(fn: Any, args: list[Any], kwargs: dict[str, Any]) -> list[str]:
    """Top-level packages whose C functions ``fn`` called (a probe: a claim, not a verdict)."""
    seen: set[str] = set()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "c_call":
            owner = getattr(arg, "__self__", None)
            mod = getattr(arg, "__module__", None) or type(owner).__module__
            if mod:
                seen.add(mod.split(".")[0])
        elif event == "call":
            mod = frame.f_globals.get("__name__", "")
            if mod:
                seen.add(mod.split(".")[0])

    sys.setprofile(profile)
    try:
        fn(*args, **kwargs)
    finally:
        sys.setprofile(None)
    seen.discard(MODULE_NAME)
    return sorted(seen)
