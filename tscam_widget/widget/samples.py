"""The sample menu's filters and sort ("show me the mistakes"), computed from the predictions as
they arrive. The frontend does the same in ``js/src/samples.ts`` (so the menu works offline);
this is the Python side behind ``CamWidget.sample_list``.

Traits: ``sample_filter`` (``"all"``, ``"mistakes"``: predicted class differs from the true one,
``"correct"``), ``filter_true`` / ``filter_pred`` (a class index, -1 for any) and ``sample_sort``
(``"index"``, ``"confidence"``: least confident first, ``"-confidence"``: most confident first;
confidence is the predicted class's probability). Samples without a prediction yet, and those
whose series holds NaN or inf (they never get one: ``y_pred`` -2 in the frontend), are left out
of every filter that needs one and sorted last.
"""

from __future__ import annotations

import numpy as np

from .protocol import SAMPLE_FILTERS, SAMPLE_SORTS


def sample_list(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    probs: np.ndarray,
    sample_filter: str = "all",
    filter_true: int = -1,
    filter_pred: int = -1,
    sort: str = "index",
) -> np.ndarray:
    """int64: the samples the menu lists, in order (see the module docstring)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    keep = np.ones(len(y_true), bool)
    known = y_pred >= 0
    if sample_filter == "mistakes":
        keep &= known & (y_true >= 0) & (y_true != y_pred)
    elif sample_filter == "correct":
        keep &= known & (y_true >= 0) & (y_true == y_pred)
    elif sample_filter != "all":
        raise ValueError(
            f"sample_filter: expected one of {list(SAMPLE_FILTERS)}, got {sample_filter!r}"
        )
    if filter_true >= 0:
        keep &= y_true == filter_true
    if filter_pred >= 0:
        keep &= y_pred == filter_pred
    idx = np.flatnonzero(keep)
    if sort == "index":
        return idx
    if sort not in SAMPLE_SORTS:
        raise ValueError(f"sample_sort: expected one of {list(SAMPLE_SORTS)}, got {sort!r}")
    conf = confidence(y_pred, probs)[idx]
    key = np.where(np.isfinite(conf), conf if sort == "confidence" else -conf, np.inf)
    return idx[np.argsort(key, kind="stable")]


def confidence(y_pred: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """float ``[N]``: the probability of each sample's predicted class (NaN: not predicted)."""
    y_pred = np.asarray(y_pred)
    out = np.full(len(y_pred), np.nan)
    ok = y_pred >= 0
    if probs.size and ok.any():
        out[ok] = probs[np.flatnonzero(ok), y_pred[ok]]
    return out


def is_filtered(sample_filter: str, filter_true: int, filter_pred: int, sort: str) -> bool:
    """Whether the menu lists other samples, or in another order, than all by index."""
    return sample_filter != "all" or filter_true >= 0 or filter_pred >= 0 or sort != "index"


def visible_samples(
    view: str, sample: int, count: int, n: int, listed: np.ndarray | None = None
) -> list[int]:
    """The samples a view shows: ``sample`` alone (single view), else up to ``count`` samples
    from ``sample`` on: the next indices, or (``listed``: the menu's list when filtered) the
    next listed ones (``sample`` first when it is not listed). The same rule as
    ``viewSamples`` in ``js/src/layout.ts``."""
    s = min(max(0, int(sample)), n - 1)
    if view not in ("grid", "overlay"):
        return [s]
    k = max(1, int(count))
    if listed is None:
        return list(range(s, min(n, s + k)))
    order = [int(i) for i in listed]
    at = order.index(s) if s in order else -1
    return order[at : at + k] if at >= 0 else [s, *order[: k - 1]]


__all__ = [
    "SAMPLE_FILTERS",
    "SAMPLE_SORTS",
    "confidence",
    "is_filtered",
    "sample_list",
    "visible_samples",
]
