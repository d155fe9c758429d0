"""The checks of ``CamWidget``'s constructor arguments (ValueErrors naming the argument, what it
takes and what it got) and the decisions made from them once."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import numpy as np

from . import protocol
from .source import LabelDecoder, decode_labels

#: the controls whose initial value ``CamWidget(...)`` takes as a keyword
INIT_CONTROLS = protocol.init_controls()


def in_kernel() -> bool:
    """Whether this runs in an IPython kernel (where a widget shows after its cell returns)."""
    ip = sys.modules.get("IPython")
    get = getattr(ip, "get_ipython", None) if ip is not None else None
    shell = get() if get is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def check_controls(controls: dict[str, Any]) -> dict[str, Any]:
    """The initial control values given as keywords (``style`` is the alias of ``mark``)."""
    unknown = sorted(set(controls) - set(INIT_CONTROLS))
    if unknown:
        raise TypeError(
            f"CamWidget() got unexpected keyword argument(s) {unknown}; initial control "
            f"values can be given for {list(INIT_CONTROLS)}"
        )
    if "style" in controls:
        controls["mark"] = controls.pop("style")
    return controls


def check_arguments(
    precompute: Any, batch_size: Any, scale_range: Any, memory_mb: Any, background: Any
) -> None:
    """ValueErrors naming the argument, what it takes and what it got."""
    if precompute not in (True, False, "auto"):
        raise ValueError(f"precompute: expected True, False or 'auto', got {precompute!r}")
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or (batch_size < 1)
    ):
        raise ValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
    lo_hi = np.asarray(scale_range, dtype=float).ravel()
    if lo_hi.size != 2 or not np.isfinite(lo_hi).all() or not lo_hi[0] < lo_hi[1]:
        raise ValueError(f"scale_range: expected (lo, hi) with lo < hi, got {scale_range!r}")
    if isinstance(memory_mb, bool) or not isinstance(memory_mb, (int, float)) or memory_mb <= 0:
        raise ValueError(f"memory_mb: expected a number of MB > 0, got {memory_mb!r}")
    if background not in (True, False, "auto"):
        raise ValueError(f"background: expected True, False or 'auto', got {background!r}")


def background_mode(background: bool | str, loop: asyncio.AbstractEventLoop | None) -> bool:
    """Whether the work after the first picture runs in the background: with ``"auto"``, when
    an event loop runs in this thread (a Jupyter kernel, marimo, any host whose loop turns while
    the widget is shown)."""
    if background is True and loop is None:
        raise ValueError(
            "background=True needs a running event loop (a Jupyter kernel); outside one, "
            "pass background=False or 'auto'"
        )
    return loop is not None and (background is True or (background == "auto" and _turns(loop)))


def _turns(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the running ``loop`` turns while the widget is shown: a Jupyter kernel, marimo,
    or code running in one of the loop's tasks (an async host). Not a loop that is only seen
    running from outside its tasks (Playwright's sync API: its loop turns only while its caller
    waits for it)."""
    if in_kernel() or asyncio.current_task(loop) is not None:
        return True
    marimo = sys.modules.get("marimo")
    running = getattr(marimo, "running_in_notebook", None)
    return bool(running is not None and running())


def class_names(src: Any, n_classes: int, labels: LabelDecoder | None) -> list[str]:
    """One name per model output; checks the names and the labels ``y`` against the outputs."""
    names = src.classes or decode_labels(list(range(n_classes)), labels)
    if len(names) != n_classes:
        raise ValueError(
            f"classes: expected {n_classes} names (the model has {n_classes} outputs), got "
            f"{len(names)}"
        )
    if src.y.size and int(src.y.max()) >= n_classes:
        raise ValueError(
            f"y: expected class indices in 0..{n_classes - 1} (the model has {n_classes} "
            f"outputs; -1 for unknown), got {int(src.y.max())}"
        )
    return list(names)
