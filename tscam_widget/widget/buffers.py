"""numpy arrays <-> the binary buffer dicts of the widget protocol.

An array travels as ``{"dtype": "float32" | "float16" | "int32" | "uint8", "shape": [...],
"data": bytes}``.
ipywidgets moves ``data`` out of the JSON message into a binary buffer (it separates every
``bytes`` / ``memoryview`` value), so numbers never become JSON lists.

A large array may travel deflated: ``"z": "deflate"`` (zlib) and, for uint8 maps, ``"delta": run``
(each byte minus the previous one, mod 256, within runs of ``run`` bytes, before deflating:
smooth maps become mostly small numbers). The frontend inflates it once (``js/src/buffers.ts``);
the saved notebook's widget state and the offline page carry the deflated bytes.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

DTYPES: tuple[str, ...] = ("float32", "float16", "int32", "uint8")


#: zlib level of deflated traits: level 1 is about twice as fast as 6 and within 5% of its size
#: on the widget's uint8 maps (the export page deflates its own buffers at 9)
ZLIB_LEVEL = 1


def delta(data: bytes, run: int) -> bytes:
    """Each byte minus the previous one (mod 256) within runs of ``run`` bytes (undone by
    ``undelta`` in ``js/src/buffers.ts``)."""
    a = np.frombuffer(data, np.uint8)
    if run <= 1 or a.size % run:
        return data
    rows = a.reshape(-1, run)
    out = rows.copy()
    out[:, 1:] = rows[:, 1:] - rows[:, :-1]  # uint8 arithmetic wraps mod 256
    return out.tobytes()


def undelta(data: bytes, run: int) -> bytes:
    """The inverse of :func:`delta`."""
    a = np.frombuffer(data, np.uint8).reshape(-1, run)
    return np.cumsum(a, axis=1, dtype=np.uint8).tobytes()


def pack(arr: Any, dtype: str | None = None, deflate: bool = False) -> dict[str, Any]:
    """Return the protocol dict of ``arr`` (any shape) as little-endian ``dtype``.

    ``dtype`` defaults to the array's own dtype, which must then be one of :data:`DTYPES`
    (float64 -> pass ``dtype="float32"`` explicitly). ``deflate``: zlib-compress the bytes
    (uint8 delta-coded along the last axis first) when that saves at least 5%; the dict then
    says so in ``"z"`` (and ``"delta"``).
    """
    a = np.asarray(arr)
    name = dtype if dtype is not None else a.dtype.name
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {name!r}")
    a = np.ascontiguousarray(a, dtype=np.dtype(name).newbyteorder("<"))
    out: dict[str, Any] = {"dtype": name, "shape": [int(s) for s in a.shape], "data": a.tobytes()}
    if deflate and a.size:
        run = int(a.shape[-1]) if name == "uint8" and a.ndim else 0
        z = zlib.compress(delta(out["data"], run) if run > 1 else out["data"], ZLIB_LEVEL)
        if len(z) < 0.95 * a.nbytes:
            out.update(data=z, z="deflate")
            if run > 1:
                out["delta"] = run
    return out


def unpack(obj: Mapping[str, Any]) -> np.ndarray:
    """Return the array held by a protocol dict (a read-only view when ``data`` is bytes)."""
    missing = {"dtype", "shape", "data"} - set(obj)
    if missing:
        raise ValueError(
            f"buffer dict must have keys dtype, shape, data; missing {sorted(missing)}"
        )
    if obj["dtype"] not in DTYPES:
        raise ValueError(f"buffer dtype must be one of {DTYPES}, got {obj['dtype']!r}")
    dt = np.dtype(obj["dtype"]).newbyteorder("<")
    shape = tuple(int(s) for s in obj["shape"])
    data = obj["data"]
    if obj.get("z") == "deflate":
        data = zlib.decompress(data)
        if int(obj.get("delta") or 0) > 1:
            data = undelta(data, int(obj["delta"]))
    elif obj.get("z") is not None:
        raise ValueError(f"buffer compression must be 'deflate' or None, got {obj['z']!r}")
    arr = np.frombuffer(data, dtype=dt) if len(data) else np.zeros(0, dt)
    if arr.size != int(np.prod(shape)):
        raise ValueError(
            f"buffer holds {arr.size} values but shape {list(shape)} needs {int(np.prod(shape))}"
        )
    return arr.reshape(shape)


def empty(dtype: str = "float32") -> dict[str, Any]:
    """The protocol's empty array: ``{"dtype": dtype, "shape": [0], "data": b""}``."""
    return {"dtype": dtype, "shape": [0], "data": b""}
