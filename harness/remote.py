"""What test authors hold: a proxy for the submission that lives in the sandbox.

``submission.dot_loop(a, b)`` sends the call across the channel and returns the value
the grader decoded; an exception raised by learner code comes back as a
:class:`RemoteException` that is also an instance of the matching built-in class, so
``pytest.raises(ValueError)`` works. Objects that cannot cross come back as
:class:`RemoteObject` handles whose methods can be called the same way.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

from harness import wire
from harness.sandbox import Box


class RemoteException(Exception):
    """An exception raised by learner code in the sandbox, rebuilt from data."""

    remote_type: str = "Exception"
    remote_mro: tuple[str, ...] = ()
    frames: tuple[dict[str, Any], ...] = ()

    def where(self) -> str:
        """The learner's innermost frame as ``file:line``, or an empty string."""
        if not self.frames:
            return ""
        f = self.frames[-1]
        return f"{f.get('file')}:{f.get('line')}"


class MissingName(Exception):
    """A check needs a name of the task's interface that the submission does not define.

    Raised in the grader before anything is sent, so the check is reported as not run
    (the name is missing) instead of failing with an error from the child."""

    def __init__(self, name: str, reason: str = "") -> None:
        super().__init__(f"not run: {reason or f'your code does not define `{name}`'}")
        self.name = name


_classes: dict[str, type[RemoteException]] = {}


def _exception_class(mro: list[str]) -> type[RemoteException]:
    """A RemoteException subclass that also derives from the closest built-in exception."""
    for name in mro:
        base = getattr(builtins, name, None)
        if not (isinstance(base, type) and issubclass(base, Exception)):
            continue
        if name not in _classes:
            try:
                cls = type(f"Remote{name}", (RemoteException, base), {})
                _blank(cls)
            except TypeError:  # layout conflict or special constructor: try a more general one
                continue
            _classes[name] = cls
        return _classes[name]
    return RemoteException


def _blank(cls: type[RemoteException]) -> RemoteException:
    """An instance made without calling the class's own constructor (it may need arguments)."""
    try:
        return cls.__new__(cls)
    except TypeError:
        return BaseException.__new__(cls)  # e.g. MemoryError refuses subclass __new__


def rebuild_exception(error: dict[str, Any]) -> RemoteException:
    """Turn an error record from the child into an exception (data only, no unpickling)."""
    mro = [str(x) for x in error.get("mro", []) if isinstance(x, str)][:12]
    cls = _exception_class(mro)
    exc = _blank(cls)
    message = str(error.get("message", ""))[:2000]
    exc.args = (f"{str(error.get('type', 'Exception'))[:100]}: {message}",)
    exc.remote_type = str(error.get("type", "Exception"))[:100]
    exc.remote_mro = tuple(mro)
    frames = error.get("frames", [])
    exc.frames = tuple(f for f in frames if isinstance(f, dict)) if isinstance(frames, list) else ()
    return exc


class Channel:
    """Sends requests through whichever box is current (restarted after a crash)."""

    def __init__(self, box: Callable[[], Box]) -> None:
        self._box = box

    def request(self, header: dict[str, Any], values: dict[str, Any],
                timeout: float | None = None) -> Any:
        reply = self._box().request(header, values, timeout)
        if not reply.get("ok"):
            error = reply.get("error")
            raise rebuild_exception(error if isinstance(error, dict) else {})
        return self._wrap(reply.get("value"))

    def _wrap(self, value: Any) -> Any:
        if isinstance(value, wire.Handle):
            return RemoteObject(self, value)
        if isinstance(value, list):
            return [self._wrap(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self._wrap(v) for v in value)
        if isinstance(value, dict):
            return {k: self._wrap(v) for k, v in value.items()}
        return value


class RemoteCallable:
    """A function or method in the sandbox; calling it is a round trip."""

    def __init__(self, channel: Channel, path: list[str], handle: int | None = None) -> None:
        self._channel, self._path, self._handle = channel, path, handle

    def _header(self, op: str, **extra: Any) -> dict[str, Any]:
        header: dict[str, Any] = {"op": op, "path": self._path, **extra}
        if self._handle is not None:
            header["handle"] = self._handle
        return header

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._channel.request(self._header("call"), {"args": list(args),
                                                            "kwargs": kwargs})

    def __getattr__(self, name: str) -> RemoteCallable:
        if name.startswith("__"):
            raise AttributeError(name)
        return RemoteCallable(self._channel, [*self._path, name], self._handle)

    def __repr__(self) -> str:
        return f"<remote {'.'.join(self._path)}>"


class RemoteObject(RemoteCallable):
    """An object that stayed in the sandbox (a model, a pipeline, a custom result)."""

    def __init__(self, channel: Channel, handle: wire.Handle) -> None:
        super().__init__(channel, [], handle.id)
        self.remote_type = handle.type
        self.remote_repr = handle.repr

    def __eq__(self, other: object) -> bool:
        return other is self  # a handle equals only itself, whatever the child's __eq__ says

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"<remote {self.remote_type}: {self.remote_repr[:80]}>"

    def fetch(self, attribute: str) -> Any:
        """Read an attribute of the remote object as data (e.g. ``coef_``)."""
        return self._channel.request(self._header("getattr", path=[attribute]), {})


class SubmissionProxy:
    """The ``submission`` fixture: names of the learner's module, called remotely."""

    def __init__(self, channel: Channel, names: dict[str, Any],
                 static: Callable[[str], Any]) -> None:
        self._channel = channel
        self._names = names
        self._static = static

    def __getattr__(self, name: str) -> RemoteCallable:
        if name.startswith("_"):
            raise AttributeError(name)
        return RemoteCallable(self._channel, [name])

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``name`` in the sandbox (same as ``submission.<name>(...)``)."""
        return RemoteCallable(self._channel, [name])(*args, **kwargs)

    def has(self, name: str) -> bool:
        """Whether the submission claims to define ``name`` (a claim, for messages)."""
        return name in self._names

    def store(self, *values: Any) -> list[wire.Ref]:
        """Send values once; pass the returned refs to later calls to avoid re-sending."""
        refs = self._channel.request({"op": "store"}, {"items": list(values)})
        if not isinstance(refs, list) or not all(type(r) is int for r in refs):
            raise TypeError("the sandbox did not return object ids for stored values")
        return [wire.Ref(r) for r in refs]

    def modules_used(self, name: str, *args: Any, **kwargs: Any) -> list[str]:
        """Packages whose functions ``name`` called (a probe run in the child: a claim)."""
        result = self._channel.request({"op": "modules_used", "path": [name]},
                                       {"args": list(args), "kwargs": kwargs})
        return [str(x) for x in result] if isinstance(result, list) else []

    def function_ast(self, name: str) -> Any:
        """The ``ast.FunctionDef`` of a top-level function, parsed by the grader."""
        return self._static(name)
