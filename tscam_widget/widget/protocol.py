"""The Python <-> frontend contract of :class:`~.camwidget.CamWidget`, written once.

Every synced trait is described here by one :class:`Trait`: the widget's traits are declared from
these descriptions, the validators take their allowed values from them, and
``js/src/protocol.gen.ts`` and the tables of ``docs/protocol.md`` are generated from them
(``python -m tscam_widget.widget.protocol``). A part of the widget (trust view, timeline ...)
adds its own list of traits here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Trait:
    """One synced trait.

    kind: ``"int" | "float" | "bool" | "str" | "union" | "list" | "dict" | "array"``;
    an ``"array"`` travels as a binary buffer (``buffers.pack``) with ``dtype`` (None: the
    widget's ``precision``) and ``shape`` (symbolic, e.g. ``"[N, L, M, T]"``).
    values: the allowed values of a menu (None: free or checked elsewhere).
    control: both sides write it (a control); else Python writes it (information).
    kernel: a change of this control needs the kernel (when maps are not precomputed).
    """

    name: str
    kind: str
    default: Any
    doc: str
    dtype: str | None = None
    shape: str | None = None
    values: tuple[Any, ...] | None = None
    control: bool = False
    kernel: bool = False
