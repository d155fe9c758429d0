"""numpy arrays <-> the binary buffer dicts of the widget protocol.

An array travels as ``{"dtype": "float32" | "float16" | "int32" | "uint8", "shape": [...],
"data": bytes}``.
ipywidgets moves ``data`` out of the JSON message into a binary buffer (it separates every
``bytes`` / ``memoryview`` value), so numbers never become JSON lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

DTYPES: tuple[str, ...] = ("float32", "float16", "int32", "uint8")


def pack(arr: Any, dtype: str | None = None) -> dict[str, Any]:
    """Return the protocol dict of ``arr`` (any shape) as little-endian ``dtype``.

    ``dtype`` defaults to the array's own dtype, which must then be one of :data:`DTYPES`
    (float64 -> pass ``dtype="float32"`` explicitly).
    """
    a = np.asarray(arr)
    name = dtype if dtype is not None else a.dtype.name
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {name!r}")
    a = np.ascontiguousarray(a, dtype=np.dtype(name).newbyteorder("<"))
    return {"dtype": name, "shape": [int(s) for s in a.shape], "data": a.tobytes()}


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
    arr = np.frombuffer(data, dtype=dt) if len(data) else np.zeros(0, dt)
    if arr.size != int(np.prod(shape)):
        raise ValueError(
            f"buffer holds {arr.size} values but shape {list(shape)} needs {int(np.prod(shape))}"
        )
    return arr.reshape(shape)


def empty(dtype: str = "float32") -> dict[str, Any]:
    """The protocol's empty array: ``{"dtype": dtype, "shape": [0], "data": b""}``."""
    return {"dtype": dtype, "shape": [0], "data": b""}
