"""The widget's option sets, defined once: Python validates control values with them and sends
them to the frontend in the ``options`` trait, whose menus show them (value, label)."""

from __future__ import annotations

from tscam_widget.explain.explanation import NORMS as _EXPLAIN_NORMS

_NORM_LABELS = {"sample": "per sample", "layer": "per layer"}

#: per control: its values in menu order, each with the label the menu shows
OPTIONS: dict[str, list[tuple[str, str]]] = {
    "view": [("single", "single"), ("grid", "grid"), ("overlay", "overlay"), ("trust", "trust")],
    "mark": [("line", "line"), ("scatter", "scatter")],
    "linestyle": [
        ("solid", "solid"),
        ("dashed", "dashed"),
        ("dashdot", "dash-dot"),
        ("dotted", "dotted"),
    ],  # noqa: E501
    "norm": [(n, _NORM_LABELS.get(n, n)) for n in _EXPLAIN_NORMS],  # the explainer's norms
    "series_view": [("original", "original"), ("input", "model input")],
    # the class indices 0..K-1 follow these, labelled with the class names
    "target": [("pred", "predicted"), ("true", "true")],
}


def values(control: str) -> tuple[str, ...]:
    """The values ``control`` takes (its menu's order)."""
    return tuple(v for v, _ in OPTIONS[control])


VIEWS = values("view")
MARKS = values("mark")
LINESTYLES = values("linestyle")
NORMS = values("norm")
SERIES_VIEWS = values("series_view")
