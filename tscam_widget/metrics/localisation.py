"""Localisation of maps against a ground-truth mask (where the evidence really is).

All functions take ``maps [..., T]`` (float) and ``mask [..., T]`` (bool, broadcast against the
maps) and return float64 ``[...]``, NaN where the mask is empty (as Quantus 0.6) or the map holds
NaN (a method undefined for a layer). The widget
and :func:`~tscam_widget.metrics.evaluate` feed them the drawn maps: ReLU applied where the
method ends in one, upsampled to the series length, min-max scaled to [0, 1] per sample.

- :func:`pointing_game`: 1 when a maximum of the map lies inside the mask (any of tied maxima),
  else 0 (Zhang et al. 2018).
- :func:`relevance_mass`: share of the map's total inside the mask (Arras et al. 2022).
- :func:`relevance_rank`: of the ``s = |mask|`` highest-ranked steps, the share inside the mask
  (Arras et al. 2022); ties in the map are broken by position (stable sort).
- :func:`roc_auc`: area under the ROC curve of the map as a score for the mask (ties count
  one half: the Mann-Whitney statistic; 0.5 is chance).
"""

from __future__ import annotations

import numpy as np

METRICS = ("pointing_game", "relevance_mass", "relevance_rank", "roc_auc")


def _prepare(maps: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.asarray(maps, dtype=np.float64)
    s = np.broadcast_to(np.asarray(mask, dtype=bool), a.shape)
    undefined = (s.sum(-1) == 0) | np.isnan(a).any(-1)
    return np.nan_to_num(a), s, undefined


def pointing_game(maps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """1.0 where a maximum of ``maps [..., T]`` is inside ``mask``, else 0.0; ``[...]``."""
    a, s, empty = _prepare(maps, mask)
    hit = (s & (a == a.max(-1, keepdims=True))).any(-1).astype(np.float64)
    return np.where(empty, np.nan, hit)


def relevance_mass(maps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``sum(map * mask) / sum(map)`` over the last axis; ``[...]`` (NaN for a zero map)."""
    a, s, empty = _prepare(maps, mask)
    total = a.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (a * s).sum(-1) / total
    return np.where(empty | (total == 0), np.nan, out)


def relevance_rank(maps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Share of the mask inside the ``|mask|`` highest-ranked steps of the map; ``[...]``."""
    a, s, empty = _prepare(maps, mask)
    order = np.argsort(-a, axis=-1, kind="stable")
    size = s.sum(-1, keepdims=True)
    hits = np.take_along_axis(s, order, -1) & (np.arange(a.shape[-1]) < size)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = hits.sum(-1) / size[..., 0]
    return np.where(empty, np.nan, out)


def average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..T along the last axis, ties given their average rank."""
    order = np.argsort(a, axis=-1, kind="stable")
    sa = np.take_along_axis(a, order, -1)
    t = a.shape[-1]
    idx = np.broadcast_to(np.arange(t), a.shape)
    new = np.ones(a.shape, dtype=bool)
    new[..., 1:] = sa[..., 1:] != sa[..., :-1]
    start = np.maximum.accumulate(np.where(new, idx, 0), axis=-1)
    last = np.ones(a.shape, dtype=bool)
    last[..., :-1] = new[..., 1:]
    end = np.flip(np.minimum.accumulate(np.flip(np.where(last, idx, t), -1), -1), -1)
    avg = (start + end) / 2.0 + 1.0
    ranks = np.empty(a.shape)
    np.put_along_axis(ranks, order, avg, -1)
    return ranks


def roc_auc(maps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """ROC-AUC of the map as a detector of the mask (Mann-Whitney U / (|pos| |neg|), ties one
    half); ``[...]``, NaN where the mask is empty or full."""
    a, s, empty = _prepare(maps, mask)
    r = average_ranks(a)
    pos = s.sum(-1).astype(np.float64)
    neg = a.shape[-1] - pos
    u = (r * s).sum(-1) - pos * (pos + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        out = u / (pos * neg)
    return np.where(empty | (neg == 0), np.nan, out)


def localisation(maps: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """All four scores: ``{name: float64 [...]}`` for the names in :data:`METRICS`."""
    return {
        "pointing_game": pointing_game(maps, mask),
        "relevance_mass": relevance_mass(maps, mask),
        "relevance_rank": relevance_rank(maps, mask),
        "roc_auc": roc_auc(maps, mask),
    }
