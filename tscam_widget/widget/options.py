"""The widget's option sets: Python validates control values with them and sends them to the
frontend in the ``options`` trait, whose menus show them (value, label). Defined once in
:mod:`.protocol` (the controls' ``values`` and :data:`~.protocol.MENU_LABELS`)."""

from __future__ import annotations

from . import protocol

#: per control: its values in menu order, each with the label the menu shows
OPTIONS: dict[str, list[tuple[str, str]]] = protocol.menus()


def values(control: str) -> tuple[str, ...]:
    """The values ``control`` takes (its menu's order)."""
    return tuple(v for v, _ in OPTIONS[control])


VIEWS = protocol.VIEWS
MARKS = protocol.MARKS
LINESTYLES = protocol.LINESTYLES
NORMS = protocol.trait("norm").values
SERIES_VIEWS = protocol.SERIES_VIEWS
