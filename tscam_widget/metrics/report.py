"""The result of :func:`~tscam_widget.metrics.evaluate`: plain numpy arrays with named axes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: axis names of every array of a :class:`TrustReport`
AXES: dict[str, tuple[str, ...]] = {
    "fractions": ("step",),
    "curves": ("sample", "layer", "method", "order", "step"),
    "logit_curves": ("sample", "layer", "method", "order", "step"),
    "random_curves": ("sample", "draw", "step"),
    "random_logit_curves": ("sample", "draw", "step"),
    "auc": ("sample", "layer", "method", "order"),
    "random_auc": ("sample",),
    "gain": ("layer", "method"),
    "gain_per_sample": ("sample", "layer", "method"),
    "symmetric": ("layer", "method"),
    "localisation": ("layer", "method"),  # per metric name
    "localisation_per_sample": ("sample", "layer", "method"),  # per metric name
    "cascade": ("stage", "layer", "method"),
    "self_agreement": ("layer", "method"),
    "random_logit": ("layer", "method"),
    "passes": ("layer", "method"),
    "target": ("sample",),
}


@dataclass
class TrustReport:
    """Faithfulness, localisation and sanity scores per (layer, method).

    Axis labels: ``layers`` (names), ``methods`` (keys: ``"gradcam"``, ``"activation/mean"``),
    ``orders`` ``("morf", "lerf")``, ``stages`` (randomisation stages, head first), ``axes``
    (array name -> axis names, see :data:`AXES`). Curves hold the target class's softmax
    probability (``curves``) or logit (``logit_curves``) after each deletion step; ``auc`` is the
    area under ``curves`` over the removed fraction; ``random_auc`` the mean over draws of the
    random-chunk curves' areas; ``gain = mean over samples (random_auc - MoRF auc)`` (positive:
    removing what the map points at hurts the prediction more than removing random chunks);
    ``symmetric = mean(LeRF auc - MoRF auc)`` (ROAD's symmetric score). NaN where a method is
    undefined for a layer (``cam`` away from the head, the input attributions away from
    ``input``). ``deletion``: ``"time"`` (a chunk of every channel at a time) or ``"channel"``
    (cells (channel, chunk) ranked by the maps per channel, random cells for the random curves;
    NaN for the layers and methods without maps per channel: every layer but ``input``).
    ``sanity_note``: why the sanity fields are partly empty ("" when they are complete)."""

    layers: list[str]
    methods: list[str]
    orders: tuple[str, ...]
    perturbation: str
    perturbation_description: str
    steps: int
    blocks: int
    random_draws: int
    fractions: np.ndarray
    target: np.ndarray
    curves: np.ndarray
    logit_curves: np.ndarray
    random_curves: np.ndarray
    random_logit_curves: np.ndarray
    auc: np.ndarray
    random_auc: np.ndarray
    gain_per_sample: np.ndarray
    gain: np.ndarray
    symmetric: np.ndarray
    localisation: dict[str, np.ndarray] | None = None
    localisation_per_sample: dict[str, np.ndarray] | None = None
    stages: list[str] = field(default_factory=list)
    cascade: np.ndarray | None = None
    self_agreement: np.ndarray | None = None
    random_logit: np.ndarray | None = None
    passes: np.ndarray | None = None
    sanity_ratio: float = 0.5
    deletion: str = "time"
    sanity_note: str = ""
    forwards: int = 0
    forwards_unshared: int = 0
    forward_calls: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    axes: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(AXES))

    def cell(self, layer: str | int, method: str) -> tuple[int, int]:
        """``(layer index, method index)`` of a layer (name or index) and a method key."""
        li = layer if isinstance(layer, (int, np.integer)) else self.layers.index(layer)
        if method not in self.methods:
            raise KeyError(f"method: {method!r} not evaluated; methods: {self.methods}")
        return int(li), self.methods.index(method)

    def table(self, value: str = "gain", digits: int = 2) -> str:
        """A text table layers (rows) x methods (columns) of ``value``: ``"gain"``,
        ``"symmetric"``, a localisation metric name, ``"random_logit"``, ``"cascade"`` (the
        fully randomised stage) or ``"passes"``."""
        arr = self._value(value)
        w = max(8, *(len(m) for m in self.methods)) + 1
        lw = max(6, *(len(n) for n in self.layers)) + 1
        out = [f"{value:<{lw}}" + "".join(f"{m:>{w}}" for m in self.methods)]
        for li, name in enumerate(self.layers):
            cells = []
            for mi, v in enumerate(arr[li]):
                if value == "passes" and self._no_verdict(li, mi):
                    cells.append(f"{'-':>{w}}")
                elif value == "passes":
                    cells.append(f"{('yes' if v else 'no'):>{w}}")
                elif np.isnan(v):
                    cells.append(f"{'-':>{w}}")
                else:
                    cells.append(f"{v:>{w}.{digits}f}")
            out.append(f"{name:<{lw}}" + "".join(cells))
        return "\n".join(out)

    def _no_verdict(self, li: int, mi: int) -> bool:
        """No pass / fail for the cell: the method is undefined for the layer, or the model had
        no parameters to randomise (an empty cascade)."""
        ref = self.self_agreement if self.self_agreement is not None else self.gain
        return bool(np.isnan(ref[li, mi])) or (self.cascade is not None and len(self.cascade) == 0)

    def _value(self, value: str) -> np.ndarray:
        if value in ("gain", "symmetric", "self_agreement", "random_logit", "passes"):
            arr = getattr(self, value)
        elif value == "cascade":
            arr = None if self.cascade is None else self.cascade[-1]
        elif self.localisation is not None and value in self.localisation:
            arr = self.localisation[value]
        else:
            arr = None
        if arr is None:
            have = ["gain", "symmetric", *(self.localisation or {})]
            if self.passes is not None:
                have += ["cascade", "self_agreement", "random_logit", "passes"]
            raise ValueError(f"value: expected one of {have}, got {value!r}")
        return np.asarray(arr)

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain Python / numpy values (for JSON or the widget)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}
