"""The validation of :class:`~.camwidget.CamWidget`'s controls: each value set from Python or
the frontend is checked against what the widget offers, and a bad one raises a ``TraitError``
naming the control, what it takes and what it got (with close matches for a misspelt name).

:class:`ValidationMixin` holds the validators; the traits and their allowed values are described
in :mod:`.protocol`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import traitlets as t

from tscam_widget.explain.targets import check_target

from .colormaps import resolve_cmap
from .protocol import fixed_options

#: the controls that take one of a fixed set of values (the target also takes class indices)
FIXED_OPTIONS = fixed_options()


class ValidationMixin(t.HasTraits):
    """The validators of :class:`~.camwidget.CamWidget`'s controls."""

    @staticmethod
    def _one_of(name: str, value: Any, options: Sequence[Any]) -> Any:
        if value not in options:
            import difflib

            close = difflib.get_close_matches(str(value), [str(o) for o in options], n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise t.TraitError(f"{name}: expected one of {list(options)}, got {value!r}{hint}")
        return value

    @staticmethod
    def _in_range(name: str, value: int, n: int) -> int:
        if not 0 <= value < n:
            raise t.TraitError(f"{name}: expected an int in 0..{n - 1}, got {value!r}")
        return value

    @t.validate("layer", "sample")
    def _v_index(self, proposal: Any) -> int:
        name = proposal["trait"].name
        n = len(self.layers) if name == "layer" else self.n_samples
        return self._in_range(name, proposal["value"], n)

    @t.validate("method", "reduction")
    def _v_offered(self, proposal: Any) -> str:
        """One of the methods / reductions the widget offers now."""
        name = proposal["trait"].name
        return self._one_of(name, proposal["value"], getattr(self, f"{name}s"))

    @t.validate(*FIXED_OPTIONS)
    def _v_option(self, proposal: Any) -> str:
        name = proposal["trait"].name
        return self._one_of(name, proposal["value"], FIXED_OPTIONS[name])

    @t.validate("filter_true", "filter_pred")
    def _v_filter_class(self, proposal: Any) -> int:
        v = proposal["value"]
        k = len(self.classes) if self.classes else self._comp.probs.shape[1]
        if not -1 <= v < k:
            raise t.TraitError(
                f"{proposal['trait'].name}: expected a class index 0..{k - 1} or -1 (any), "
                f"got {v!r}"
            )
        return v

    @t.validate("view_count", "play_interval_ms")
    def _v_positive(self, proposal: Any) -> int:
        v = proposal["value"]
        if v < 1:
            raise t.TraitError(f"{proposal['trait'].name}: expected an int >= 1, got {v!r}")
        return v

    @t.validate("linewidth")
    def _v_linewidth(self, proposal: Any) -> float:
        v = proposal["value"]
        if not (np.isfinite(v) and v > 0):
            raise t.TraitError(f"linewidth: expected a number > 0 (px), got {v!r}")
        return v

    @t.validate("alpha")
    def _v_alpha(self, proposal: Any) -> float:
        v = proposal["value"]
        if not 0.0 <= v <= 1.0:
            raise t.TraitError(f"alpha: expected a number in 0..1, got {v!r}")
        return v

    @t.validate("cmap")
    def _v_cmap(self, proposal: Any) -> str:
        try:
            return resolve_cmap(proposal["value"])
        except ValueError as e:
            raise t.TraitError(str(e)) from None

    @t.validate("target")
    def _v_target(self, proposal: Any) -> str | int:
        finite = self._comp.finite
        try:
            return check_target(
                proposal["value"],
                int(finite.sum()),
                self._src.y[finite],
                n_classes=len(self.classes) if self.classes else self._comp.probs.shape[1],
                names=self.classes,
                arrays=False,
                ids=np.flatnonzero(finite),
            )
        except (TypeError, ValueError) as e:
            raise t.TraitError(str(e)) from None

    @t.validate("layers")
    def _v_layers(self, proposal: Any) -> list[str]:
        v = list(proposal["value"])
        if not self._ready or v == self._comp.layers:
            return v
        try:
            return self._comp.set_layers(v)
        except Exception as e:  # noqa: BLE001 - reported as a TraitError
            raise t.TraitError(f"layers: {e}") from None

    @t.validate("methods", "reductions")
    def _v_offer(self, proposal: Any) -> list[str]:
        """A new set of methods / reductions to offer (checked and applied by the computer)."""
        name = proposal["trait"].name
        v = list(proposal["value"])
        if not self._ready or v == getattr(self._comp, name):
            return v
        try:
            return getattr(self._comp, f"set_{name}")(v)
        except ValueError as e:
            raise t.TraitError(str(e)) from None

    @t.validate("precision")
    def _v_precision(self, proposal: Any) -> str:
        v = proposal["value"]
        if self._ready and v != self.precision:
            raise t.TraitError(
                f"precision is fixed when the widget is made ({self.precision!r}); "
                f"pass CamWidget(..., precision={v!r}) instead"
            )
        return v

    @t.validate("n_samples")
    def _v_n_samples(self, proposal: Any) -> int:
        v = proposal["value"]
        if self._ready and v != self._src.X.shape[0]:
            raise t.TraitError(f"n_samples is read-only ({self._src.X.shape[0]}), got {v!r}")
        return v
