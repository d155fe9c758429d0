"""Offline HTML export: one self-contained page that works from ``file://`` with no network.

The page carries only what this widget needs: its state (every synced trait; the arrays as
base64, deflated where that helps, the uint8 maps delta-coded along time first so smooth maps
compress well), the widget's own ESM module (``static/widget.js``, deflated) and a minimal host
(``static/host.js``, built from ``js/host/``) that inflates them with the browser's
``DecompressionStream``, imports the module from a ``blob:`` URL and renders it with a model
implementing ``get``/``set``/``on``/``off``/``save_changes``/``send`` over the state. No widget
manager, no require.js. Nothing is fetched at export time or when the page opens.
"""

from __future__ import annotations

import base64
import html
import json
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from ipywidgets import Widget
from ipywidgets.widgets.widget import _remove_buffers

from .buffers import delta, pack

STATIC = Path(__file__).resolve().parents[1] / "static"
MIME = "application/vnd.tscam-widget+json"
#: arrays whose bytes are delta-coded along their last axis before deflating (uint8 maps, the
#: colour tables channel by channel)
DELTA_TRAITS = ("maps", "cmap_tables")

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 8px; }}</style>
</head>
<body>
<script type="{mime}">
{spec}
</script>
<script>
{host}
</script>
</body>
</html>
"""


def _read_asset(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(
            f"offline export needs {path}, which the JS build provides: run `npm run build` "
            "(or reinstall the package) first"
        )
    return path.read_text(encoding="utf-8")


def _script_safe(source: str) -> str:
    """JavaScript source that cannot end the ``<script>`` element it is inlined in."""
    return re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE)


def encode(data: bytes, run: int = 0) -> dict[str, Any]:
    """``{"b64", "z", "delta"}``: base64 of the bytes, deflated (zlib, the ``"deflate"``
    format of ``DecompressionStream``) when that makes them smaller."""
    raw = delta(data, run) if run > 1 else data
    packed = zlib.compress(raw, 9)
    out: dict[str, Any] = {}
    if len(packed) < 0.95 * len(raw):
        out = {"b64": base64.b64encode(packed).decode("ascii"), "z": "deflate"}
    else:
        raw = data
        run = 0
        out = {"b64": base64.b64encode(raw).decode("ascii"), "z": None}
    if run > 1:
        out["delta"] = run
    return out


def page_spec(widget: Widget) -> dict[str, Any]:
    """The JSON the host reads: ``{"state", "buffers": [{"path", "data"}], "esm"}``."""
    full = widget.get_state()
    state = {k: v for k, v in full.items() if not k.startswith("_")}
    for k in ("layout", "tabbable", "tooltip"):  # DOMWidget traits the widget does not read
        state.pop(k, None)
    from .colormaps import cmap_names, cmap_table

    known = set(cmap_names())
    names = [n for n in state.get("cmaps") or [] if n in known]
    if names:
        # no Python answers a colour map change in the page: every table of the menu travels,
        # channel-planar [n, 4, 256] so that each run of 256 bytes is smooth
        planar = np.stack([cmap_table(n) for n in names]).transpose(0, 2, 1)
        state["cmap_tables"] = {"names": names, "planar": pack(planar, "uint8")}
    plain, paths, buffers = _remove_buffers(state)
    out = []
    for path, buf in zip(paths, buffers):
        data = bytes(buf)
        run = 0
        holder: Any = state
        for k in path[:-1]:
            holder = holder[k]
        if holder.get("z"):  # deflated already (buffers.pack(..., deflate=True)); the page is
            data = zlib.compress(zlib.decompress(data), 9)  # written once: deflate harder
            out.append({"path": list(path), "data": {"b64": base64.b64encode(data).decode()}})
            continue
        if path[0] in DELTA_TRAITS and holder.get("dtype") == "uint8":
            run = int((holder.get("shape") or [0])[-1])
        out.append({"path": list(path), "data": encode(data, run)})
    source = full.get("_esm")  # anywidget holds the module's source in this trait
    if not isinstance(source, str) or "export" not in source:
        source = _read_asset(STATIC / "widget.js")
    return {"state": plain, "buffers": out, "esm": encode(source.encode("utf-8"))}


def export_html(widget: Widget, path: str | Path, title: str = "tscam-widget") -> Path:
    """Write ``widget`` as a self-contained HTML page to ``path``; returns the path written."""
    path = Path(path)
    flush = getattr(widget, "flush", None)
    if callable(flush):
        flush()  # pending work (a CamWidget computes on the event loop in a kernel)
    page = _PAGE.format(
        title=html.escape(title),
        mime=MIME,
        # JSON with every "<" escaped cannot end (or comment out) its <script> element
        spec=json.dumps(page_spec(widget), separators=(",", ":")).replace("<", "\\u003c"),
        host=_script_safe(_read_asset(STATIC / "host.js")),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
