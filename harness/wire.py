"""The data format that crosses the trust boundary: JSON structure plus ``.npy`` blobs.

A message is one frame: a 4-byte big-endian header length, a UTF-8 JSON header, then
the blobs it refers to, back to back. Only data crosses: numbers, strings, lists,
dicts, NumPy arrays (``.npy`` read with ``allow_pickle=False`` after the header's
dtype, shape and size were checked), pandas objects rebuilt from arrays, tensors as
arrays. Anything else is sent as a *handle*: the object stays in the child and the
grader gets only its id, type name and a short repr.

Both sides use this module. The decoder assumes hostile input: every frame the grader
reads comes from a process the submission controls.
"""

from __future__ import annotations

import io
import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FORMAT_VERSION = 1
MAX_DEPTH = 64
MAX_ITEMS = 2_000_000
MAX_STRING = 1_000_000
#: dtype kinds an array may have: bool, ints, floats, complex, fixed-width text, dates.
ALLOWED_KINDS = frozenset("biufcUMm")


class WireError(ValueError):
    """A frame that does not follow the format (or exceeds its caps)."""


@dataclass(frozen=True)
class Handle:
    """An object that stays in the child; the grader may call its methods by id."""

    id: int
    type: str
    repr: str


@dataclass(frozen=True)
class TensorData:
    """A tensor that crossed as an array, with the torch metadata the child claimed."""

    array: np.ndarray
    dtype: str
    device: str
    requires_grad: bool

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.array if dtype is None else self.array.astype(dtype)


@dataclass(frozen=True)
class Ref:
    """A reference, sent by the grader, to an object stored in the child."""

    id: int


@dataclass
class _Blobs:
    parts: list[bytes] = field(default_factory=list)

    def add(self, data: bytes) -> int:
        self.parts.append(data)
        return len(self.parts) - 1


# ---------------------------------------------------------------- encoding


def pack(header: dict[str, Any], blobs: list[bytes]) -> bytes:
    """Build one frame from a JSON-able header and its blobs."""
    header = dict(header, blobs=[len(b) for b in blobs], v=FORMAT_VERSION)
    raw = json.dumps(header, allow_nan=True, separators=(",", ":")).encode()
    return b"".join([struct.pack(">I", len(raw)), raw, *blobs])


def encode_message(header: dict[str, Any], values: dict[str, Any],
                   to_handle: Any = None) -> bytes:
    """Encode ``values`` (a dict of name -> Python value) into ``header`` and pack it.

    ``to_handle`` turns an object that cannot cross into a :class:`Handle`; without it
    such an object raises :class:`WireError`.
    """
    blobs = _Blobs()
    encoded = {k: _encode(v, blobs, to_handle, 0) for k, v in values.items()}
    return pack(dict(header, values=encoded), blobs.parts)


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    # Memory layout crosses too: a Fortran-order array arrives in Fortran order (tasks
    # test learners' code on both layouts); any other strided view is laid out in C order.
    if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
        arr = arr.copy(order="C")
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _encode(v: Any, blobs: _Blobs, to_handle: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if v is None or isinstance(v, bool | str):
        return v
    if type(v) is int:
        return v if abs(v) < 2**63 else {"$t": "bigint", "s": str(v)}
    if type(v) is float:
        return v if math.isfinite(v) else {"$t": "float", "s": repr(v)}
    if isinstance(v, Ref):
        return {"$t": "ref", "id": v.id}
    if isinstance(v, Handle):
        return {"$t": "ref", "id": v.id}
    if isinstance(v, TensorData):
        return _encode(v.array, blobs, to_handle, depth)
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "O":
            return {"$t": "objarray", "shape": list(v.shape),
                    "items": [_encode(x, blobs, to_handle, depth + 1) for x in v.ravel()]}
        if v.dtype.kind not in ALLOWED_KINDS:
            return _handle(v, to_handle)
        return {"$t": "ndarray", "blob": blobs.add(_npy(v))}
    if isinstance(v, np.generic):
        if v.dtype.kind not in ALLOWED_KINDS:
            return _handle(v, to_handle)
        return {"$t": "npscalar", "blob": blobs.add(_npy(np.asarray(v)))}
    if type(v) is list:
        return [_encode(x, blobs, to_handle, depth + 1) for x in v]
    if type(v) is tuple:
        return {"$t": "tuple", "items": [_encode(x, blobs, to_handle, depth + 1) for x in v]}
    if type(v) in (set, frozenset):
        return {"$t": "set" if type(v) is set else "frozenset",
                "items": [_encode(x, blobs, to_handle, depth + 1) for x in v]}
    if type(v) is dict:
        return {"$t": "dict", "items": [[_encode(k, blobs, to_handle, depth + 1),
                                         _encode(x, blobs, to_handle, depth + 1)]
                                        for k, x in v.items()]}
    if type(v) is bytes:
        return {"$t": "bytes", "blob": blobs.add(v)}
    module = type(v).__module__ or ""
    if module.startswith("pandas"):
        return _encode_pandas(v, blobs, to_handle, depth)
    if module.startswith("torch") and type(v).__name__ == "Tensor":
        t = v.detach()
        return {"$t": "tensor", "dtype": str(t.dtype), "device": str(t.device),
                "requires_grad": bool(v.requires_grad),
                "array": _encode(t.cpu().numpy(), blobs, to_handle, depth + 1)}
    return _handle(v, to_handle)


def _encode_pandas(v: Any, blobs: _Blobs, to_handle: Any, depth: int) -> Any:
    import pandas as pd

    def enc(x: Any) -> Any:
        return _encode(x, blobs, to_handle, depth + 1)

    if isinstance(v, pd.DataFrame):
        return {"$t": "dataframe", "columns": enc(list(v.columns)), "index": enc(v.index),
                "data": [enc(v.iloc[:, i]) for i in range(v.shape[1])]}
    if isinstance(v, pd.Series):
        return {"$t": "series", "name": enc(v.name), "index": enc(v.index),
                "values": _column(v, enc)}
    if isinstance(v, pd.Index):
        return {"$t": "index", "name": enc(v.name), "values": _column(v, enc)}
    return _handle(v, to_handle)


def _column(v: Any, enc: Any) -> Any:
    if str(v.dtype) == "category":
        return {"$t": "categorical", "codes": enc(np.asarray(v.cat.codes if hasattr(v, "cat")
                                                              else v.codes)),
                "categories": enc(list(v.cat.categories if hasattr(v, "cat")
                                       else v.categories))}
    arr = v.to_numpy()
    if arr.dtype.kind == "O" or arr.dtype.kind not in ALLOWED_KINDS:
        return enc(np.asarray([None if _isna(x) else x for x in arr.tolist()], dtype=object))
    return enc(arr)


def _isna(x: Any) -> bool:
    import pandas as pd

    return x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and math.isnan(x))


def _handle(v: Any, to_handle: Any) -> Any:
    if to_handle is None:
        raise WireError(f"a {type(v).__name__} cannot be sent as data")
    h: Handle = to_handle(v)
    return {"$t": "handle", "id": h.id, "type": h.type, "repr": h.repr}


# ---------------------------------------------------------------- decoding


def unpack(frame: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """Split a frame into its header and blobs, checking every length."""
    if len(frame) < 4:
        raise WireError("frame too short")
    (n,) = struct.unpack(">I", frame[:4])
    if n > len(frame) - 4:
        raise WireError("header length beyond the frame")
    raw = frame[4:4 + n]
    # json.loads builds every container before any cap applies: bound them up front.
    if raw.count(b"[") + raw.count(b"{") + raw.count(b",") > 2 * MAX_ITEMS:
        raise WireError("header has too many items")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError(f"header is not valid JSON: {type(exc).__name__}") from None
    if not isinstance(header, dict):
        raise WireError("header is not an object")
    sizes = header.get("blobs", [])
    if not isinstance(sizes, list) or not all(type(s) is int and s >= 0 for s in sizes):
        raise WireError("bad blob table")
    blobs, pos = [], 4 + n
    for s in sizes:
        blobs.append(frame[pos:pos + s])
        pos += s
    if pos != len(frame):
        raise WireError("blob table does not match the frame length")
    return header, blobs


@dataclass
class Decoder:
    """Rebuilds values from a header's JSON and blobs, under caps.

    ``max_elements`` caps the total number of array elements in one message;
    ``resolve`` maps a ``ref`` id to a stored object (child side only).
    """

    blobs: list[bytes]
    max_elements: int = 50_000_000
    resolve: Any = None
    handle_factory: Any = None
    _elements: int = 0
    _items: int = 0

    def value(self, v: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        self._items += 1
        if self._items > MAX_ITEMS:
            raise WireError("too many items in one message")
        if v is None or isinstance(v, bool | int | float):
            return v
        if isinstance(v, str):
            if len(v) > MAX_STRING:
                raise WireError("string too long")
            return v
        if isinstance(v, list):
            return [self.value(x, depth + 1) for x in v]
        if not isinstance(v, dict):
            raise WireError("unexpected JSON value")
        tag = v.get("$t")
        method = getattr(self, f"_t_{tag}", None) if isinstance(tag, str) else None
        if method is None:
            raise WireError(f"unknown value tag {tag!r}")
        try:
            return method(v, depth + 1)
        except WireError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
            raise WireError(f"malformed {tag} value: {type(exc).__name__}") from None

    def _items_of(self, v: dict[str, Any], depth: int) -> list[Any]:
        items = v["items"]
        if not isinstance(items, list):
            raise WireError("items is not a list")
        return [self.value(x, depth) for x in items]

    def _t_bigint(self, v: dict[str, Any], depth: int) -> int:
        s = v["s"]
        if not isinstance(s, str) or len(s) > 4000:
            raise WireError("bad integer")
        return int(s)

    def _t_float(self, v: dict[str, Any], depth: int) -> float:
        if v["s"] not in ("nan", "inf", "-inf"):
            raise WireError("bad float")
        return float(v["s"])

    def _t_tuple(self, v: dict[str, Any], depth: int) -> tuple[Any, ...]:
        return tuple(self._items_of(v, depth))

    def _t_set(self, v: dict[str, Any], depth: int) -> set[Any]:
        return set(self._items_of(v, depth))

    def _t_frozenset(self, v: dict[str, Any], depth: int) -> frozenset[Any]:
        return frozenset(self._items_of(v, depth))

    def _t_dict(self, v: dict[str, Any], depth: int) -> dict[Any, Any]:
        out = {}
        for pair in v["items"]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise WireError("bad dict item")
            out[self.value(pair[0], depth)] = self.value(pair[1], depth)
        return out

    def _blob(self, v: dict[str, Any]) -> bytes:
        i = v["blob"]
        if type(i) is not int or not 0 <= i < len(self.blobs):
            raise WireError("bad blob index")
        return self.blobs[i]

    def _t_bytes(self, v: dict[str, Any], depth: int) -> bytes:
        return self._blob(v)

    def _t_ndarray(self, v: dict[str, Any], depth: int) -> np.ndarray:
        return self._array(self._blob(v))

    def _t_npscalar(self, v: dict[str, Any], depth: int) -> Any:
        arr = self._array(self._blob(v))
        if arr.ndim != 0:
            raise WireError("scalar is not 0-dimensional")
        return arr[()]

    def _array(self, data: bytes) -> np.ndarray:
        fp = io.BytesIO(data)
        try:
            major, _ = np.lib.format.read_magic(fp)
            if major == 1:
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
            elif major in (2, 3):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise WireError("unsupported npy version")
        except WireError:
            raise
        except Exception as exc:  # numpy raises several types on a bad header
            raise WireError(f"bad npy header: {type(exc).__name__}") from None
        if dtype.kind not in ALLOWED_KINDS or dtype.hasobject or dtype.names is not None:
            raise WireError(f"array dtype {dtype.str!r} is not allowed")
        n = 1
        for d in shape:
            if type(d) is not int or d < 0 or d > self.max_elements:
                raise WireError("bad array shape")
            n *= d
        self._elements += n
        if self._elements > self.max_elements:
            raise WireError(f"arrays larger than {self.max_elements} elements")
        if len(data) - fp.tell() != n * dtype.itemsize:
            raise WireError("array data does not match its header")
        fp.seek(0)
        arr = np.lib.format.read_array(fp, allow_pickle=False)
        return np.asarray(arr)

    def _t_objarray(self, v: dict[str, Any], depth: int) -> np.ndarray:
        shape = tuple(v["shape"])
        items = self._items_of(v, depth)
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out.reshape(shape)

    def _t_tensor(self, v: dict[str, Any], depth: int) -> TensorData:
        arr = self.value(v["array"], depth)
        if not isinstance(arr, np.ndarray):
            raise WireError("tensor payload is not an array")
        return TensorData(arr, str(v["dtype"])[:40], str(v["device"])[:40],
                          bool(v["requires_grad"]))

    def _t_categorical(self, v: dict[str, Any], depth: int) -> Any:
        import pandas as pd

        codes = self.value(v["codes"], depth)
        cats = self.value(v["categories"], depth)
        return pd.Categorical.from_codes(codes, categories=cats)

    def _t_index(self, v: dict[str, Any], depth: int) -> Any:
        import pandas as pd

        return pd.Index(self.value(v["values"], depth), name=self._label(v["name"], depth))

    def _t_series(self, v: dict[str, Any], depth: int) -> Any:
        import pandas as pd

        return pd.Series(self.value(v["values"], depth), index=self.value(v["index"], depth),
                         name=self._label(v["name"], depth))

    def _t_dataframe(self, v: dict[str, Any], depth: int) -> Any:
        import pandas as pd

        columns = self.value(v["columns"], depth)
        data = [self.value(c, depth) for c in v["data"]]
        if not isinstance(columns, list) or len(columns) != len(data):
            raise WireError("frame columns do not match its data")
        if not all(isinstance(c, pd.Series | pd.Categorical | np.ndarray | list) for c in data):
            raise WireError("dataframe column is not an array")
        index = self.value(v["index"], depth)
        frame = pd.DataFrame({i: (c.array if isinstance(c, pd.Series) else c)
                              for i, c in enumerate(data)}, index=index)
        frame.columns = pd.Index(columns)
        return frame

    def _label(self, v: Any, depth: int) -> Any:
        label = self.value(v, depth)
        if not isinstance(label, str | int | float | tuple | type(None)):
            raise WireError("bad label")
        return label

    def _t_handle(self, v: dict[str, Any], depth: int) -> Any:
        h = Handle(int(v["id"]), str(v["type"])[:200], str(v["repr"])[:500])
        return self.handle_factory(h) if self.handle_factory else h

    def _t_ref(self, v: dict[str, Any], depth: int) -> Any:
        if self.resolve is None:
            raise WireError("references are only valid towards the child")
        return self.resolve(int(v["id"]))


def decode_message(frame: bytes, **decoder_options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Unpack a frame and decode its ``values``; returns ``(header, values)``."""
    header, blobs = unpack(frame)
    raw = header.pop("values", {})
    if not isinstance(raw, dict):
        raise WireError("values is not an object")
    dec = Decoder(blobs, **decoder_options)
    return header, {str(k): dec.value(x) for k, x in raw.items()}
