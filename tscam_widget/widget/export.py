"""Offline HTML export: one self-contained page that works from ``file://`` with no network.

The page inlines, in this order: require.js, @jupyter-widgets/html-manager's ``embed-amd.js``
(both pinned by package-lock.json and copied into ``tscam_widget/static/vendor`` by the JS
build), anywidget's own AMD front end from the installed wheel (registered under the module
name ``anywidget``), then the widget state with every buffer (the precomputed cube included)
and the view spec. Nothing is fetched at export time or when the page opens.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import anywidget
from ipywidgets import Widget
from ipywidgets.embed import dependency_state, escape_script

STATIC = Path(__file__).resolve().parents[1] / "static"
VENDOR = STATIC / "vendor"

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 8px; }}</style>
{scripts}
</head>
<body>
<script type="application/vnd.jupyter.widget-state+json">
{state}
</script>
{views}
</body>
</html>
"""


def _inline(source: str) -> str:
    escaped = re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE)
    return "<script>\n" + escaped + "\n</script>"


def _read_asset(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(
            f"offline export needs {path}, which the JS build provides: run `npm run build` "
            "(or reinstall the package) first"
        )
    return path.read_text(encoding="utf-8")


def _anywidget_amd() -> str:
    """anywidget's AMD front end, given the module name the widget state asks for."""
    source = _read_asset(Path(anywidget.__file__).parent / "nbextension" / "index.js")
    named, count = re.subn(
        r"\bdefine\(\s*\[\s*\"@jupyter-widgets/base\"\s*\]",
        'define("anywidget", ["@jupyter-widgets/base"]',
        source,
    )
    if count != 1:
        raise RuntimeError(
            "could not find anywidget's AMD define() in its nbextension/index.js "
            f"(anywidget {anywidget.__version__}); the export cannot name the module"
        )
    return named


def export_html(widget: Widget, path: str | Path, title: str = "tscam-widget") -> Path:
    """Write ``widget`` as a self-contained HTML page to ``path``; returns the path written.

    The state is taken with ``drop_defaults=False`` so the widget code (``_esm``) is in it.
    """
    path = Path(path)
    state = dependency_state([widget], drop_defaults=False)
    manager_state = Widget.get_manager_state(widgets=[])
    manager_state["state"] = state
    scripts = "\n".join(
        _inline(src)
        for src in (
            _read_asset(VENDOR / "require.js"),
            _read_asset(VENDOR / "embed-amd.js"),
            _anywidget_amd(),
        )
    )
    views = (
        '<script type="application/vnd.jupyter.widget-view+json">\n'
        + escape_script(json.dumps(widget.get_view_spec()))
        + "\n</script>"
    )
    page = _PAGE.format(
        title=html.escape(title),
        scripts=scripts,
        state=escape_script(json.dumps(manager_state)),
        views=views,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
