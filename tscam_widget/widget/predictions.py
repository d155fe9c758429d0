"""The widget's predictions as numpy arrays for the user (``w.y_pred``, ``w.probs``,
``w.y_true``); the frontend gets the same as binary traits under their own names
(``y_pred_buffer``, ``probs_buffer``, ``y_true_buffer``).

In a kernel the predictions fill in behind the first picture: a read before every one is in
warns once per widget (``await w.ready()`` waits for them).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


class Predictions:
    """Reads the predictions of a :class:`~.compute.MapComputer` (``comp``) and the labels of
    the widget's data source (``src.y``), as copies."""

    def __init__(self, comp: Any, src: Any) -> None:
        self._comp = comp
        self._src = src
        self._warned = False

    @property
    def complete(self) -> bool:
        """Whether every finite sample's prediction is in."""
        return bool(self._comp.all_predicted)

    def _check(self, name: str) -> None:
        if self._warned or self.complete:
            return
        self._warned = True
        comp = self._comp
        done = int(comp.predicted[comp.finite].sum())
        warnings.warn(
            f"w.{name}: the predictions are still filling in ({done} / {int(comp.finite.sum())} "
            f"samples predicted; the others read -1 in y_pred and NaN in probs); "
            f"`await w.ready()` waits for every one",
            UserWarning,
            stacklevel=4,
        )

    def y_pred(self) -> np.ndarray:
        """int32 ``[N]``: each sample's predicted class; -1 not predicted yet, -2 never (its
        series holds NaN or inf)."""
        self._check("y_pred")
        return self._comp.pred_shown()

    def probs(self) -> np.ndarray:
        """float32 ``[N, K]``: each sample's softmax; NaN rows where not predicted."""
        self._check("probs")
        return np.array(self._comp.probs, np.float32)

    def y_true(self) -> np.ndarray:
        """int32 ``[N]``: each sample's label; -1 where unknown."""
        return np.array(self._src.y, np.int32)
