"""The validation of :class:`~.camwidget.CamWidget`'s controls: each value set from Python or
the frontend is checked against what the widget offers, and a bad one raises a ``TraitError``
naming the control, what it takes and what it got (with close matches for a misspelt name).

:class:`ControlChecks` holds the checks (the allowed values of menus are described in
:mod:`.protocol`); the widget's one validator hands each proposal to
:meth:`ControlChecks.check`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import traitlets as t

from tscam_widget.explain.targets import check_target

from .colormaps import resolve_cmap
from .protocol import fixed_options

#: the controls that take one of a fixed set of values (the target also takes class indices)
FIXED_OPTIONS = fixed_options()


#: the traits :class:`ControlChecks` checks
CHECKED = (
    "layer",
    "sample",
    "method",
    "reduction",
    *FIXED_OPTIONS,
    "filter_true",
    "filter_pred",
    "view_count",
    "play_interval_ms",
    "linewidth",
    "alpha",
    "cmap",
    "target",
    "layers",
    "methods",
    "reductions",
    "precision",
    "n_samples",
    "epoch",
)


class ControlChecks:
    """The checks of :class:`~.camwidget.CamWidget`'s controls. ``widget``: for the traits the
    checks read (``layers``, ``methods``, ``classes``, ...); ``comp()``: the widget's current
    :class:`~.compute.MapComputer`; ``y``: the true labels ``[N]``; ``ready()``: whether the
    widget is made (before that, values are taken as given)."""

    def __init__(self, widget: Any, comp: Callable[[], Any], y: np.ndarray, ready: Any) -> None:
        self.w = widget
        self.comp = comp
        self.y = y
        self.ready = ready
        self._checks: dict[str, Callable[[str, Any], Any]] = {
            "layer": self.index,
            "sample": self.index,
            "method": self.offered,
            "reduction": self.offered,
            **{name: self.option for name in FIXED_OPTIONS},
            "filter_true": self.filter_class,
            "filter_pred": self.filter_class,
            "view_count": self.positive,
            "play_interval_ms": self.positive,
            "linewidth": self.linewidth,
            "alpha": self.alpha,
            "cmap": self.cmap,
            "target": self.target,
            "layers": self.layers,
            "methods": self.offer,
            "reductions": self.offer,
            "precision": self.precision,
            "n_samples": self.n_samples,
        }
        #: checks of other parts' controls (the timeline's ``epoch``)
        self.extra: dict[str, Callable[[Any], Any]] = {}

    def check(self, name: str, value: Any) -> Any:
        """``value`` as the control ``name`` takes it; raises a ``TraitError`` naming the control,
        what it takes and what it got."""
        if name in self.extra:
            return self.extra[name](value)
        return self._checks[name](name, value)

    @staticmethod
    def one_of(name: str, value: Any, options: Sequence[Any]) -> Any:
        if value not in options:
            import difflib

            close = difflib.get_close_matches(str(value), [str(o) for o in options], n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise t.TraitError(f"{name}: expected one of {list(options)}, got {value!r}{hint}")
        return value

    @staticmethod
    def in_range(name: str, value: int, n: int) -> int:
        if not 0 <= value < n:
            raise t.TraitError(f"{name}: expected an int in 0..{n - 1}, got {value!r}")
        return value

    def index(self, name: str, v: int) -> int:
        n = len(self.w.layers) if name == "layer" else self.w.n_samples
        return self.in_range(name, v, n)

    def offered(self, name: str, v: str) -> str:
        """One of the methods / reductions the widget offers now."""
        return self.one_of(name, v, self.w.methods if name == "method" else self.w.reductions)

    def option(self, name: str, v: str) -> str:
        return self.one_of(name, v, FIXED_OPTIONS[name])

    def filter_class(self, name: str, v: int) -> int:
        k = len(self.w.classes) if self.w.classes else self.comp().probs.shape[1]
        if not -1 <= v < k:
            raise t.TraitError(f"{name}: expected a class index 0..{k - 1} or -1 (any), got {v!r}")
        return v

    @staticmethod
    def positive(name: str, v: int) -> int:
        if v < 1:
            raise t.TraitError(f"{name}: expected an int >= 1, got {v!r}")
        return v

    @staticmethod
    def linewidth(name: str, v: float) -> float:
        if not (np.isfinite(v) and v > 0):
            raise t.TraitError(f"linewidth: expected a number > 0 (px), got {v!r}")
        return v

    @staticmethod
    def alpha(name: str, v: float) -> float:
        if not 0.0 <= v <= 1.0:
            raise t.TraitError(f"alpha: expected a number in 0..1, got {v!r}")
        return v

    @staticmethod
    def cmap(name: str, v: Any) -> str:
        try:
            return resolve_cmap(v)
        except ValueError as e:
            raise t.TraitError(str(e)) from None

    def target(self, name: str, v: Any) -> str | int:
        comp = self.comp()
        finite = comp.finite
        classes = self.w.classes
        try:
            return check_target(
                v,
                int(finite.sum()),
                self.y[finite],
                n_classes=len(classes) if classes else comp.probs.shape[1],
                names=classes,
                arrays=False,
                ids=np.flatnonzero(finite),
            )
        except (TypeError, ValueError) as e:
            raise t.TraitError(str(e)) from None

    def layers(self, name: str, value: Any) -> list[str]:
        v = list(value)
        comp = self.comp()
        if not self.ready() or v == comp.layers:
            return v
        try:
            return comp.set_layers(v)
        except Exception as e:  # noqa: BLE001 - reported as a TraitError
            raise t.TraitError(f"layers: {e}") from None

    def offer(self, name: str, value: Any) -> list[str]:
        """A new set of methods / reductions to offer (checked and applied by the computer)."""
        v = list(value)
        comp = self.comp()
        if not self.ready() or v == getattr(comp, name):
            return v
        try:
            return getattr(comp, f"set_{name}")(v)
        except ValueError as e:
            raise t.TraitError(str(e)) from None

    def precision(self, name: str, v: str) -> str:
        if self.ready() and v != self.w.precision:
            raise t.TraitError(
                f"precision is fixed when the widget is made ({self.w.precision!r}); "
                f"pass CamWidget(..., precision={v!r}) instead"
            )
        return v

    def n_samples(self, name: str, v: int) -> int:
        n = self.y.shape[0]
        if self.ready() and v != n:
            raise t.TraitError(f"n_samples is read-only ({n}), got {v!r}")
        return v
