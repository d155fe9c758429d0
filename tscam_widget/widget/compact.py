"""Compact maps: how the widget stores and sends class-activation maps.

A map ``x`` (float, ``[T]``) is stored as its range ``(lo, hi) = (min x, max x)`` (float32) and
its unit values ``u = (x - lo) / (hi - lo)`` in ``precision``:

- ``"uint8"`` (default): ``q = round(255 u)``, so a value comes back within ``(hi - lo) / 510``
  of the original (half a step of 1/255 of the map's range). The colour table has 256 entries,
  so the picture is the same as with float32.
- ``"float16"``: ``u`` as IEEE half (relative error 2**-11, i.e. 1/2048 of the range).
- ``"float32"``: ``u`` as float32 (exact to float32 rounding).

A map with any NaN (a method undefined for a layer, a sample with non-finite values) is stored
as ``(lo, hi) = (NaN, NaN)`` and ``u = 0``. A flat map (``hi - lo <= 1e-12 * max(1, |hi|,
|lo|)``, the explainer's rule) has ``u = 0``.

Every normalisation is an affine function of ``u`` (see :func:`normalise`), which is why the
precomputed cube holds the raw maps once and the frontend offers every ``norm`` offline:

- ``"none"``: ``lo + u (hi - lo)``
- ``"sample"``: ``a + u (b - a)`` with ``(a, b)`` the scale range (min-max per map)
- ``"layer"``: the ``"none"`` value min-max scaled with the layer's range over all samples,
  ``(min lo, max hi)`` over the samples' maps of that layer and method (:func:`layer_ranges`).

The same arithmetic is in ``js/src/compact.ts``; ``docs/protocol.md`` describes the traits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tscam_widget.explain.explanation import EPS, scale_to  # the one flat-map rule

PRECISIONS: tuple[str, ...] = ("uint8", "float16", "float32")


def check_precision(precision: Any) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a ValueError saying which are."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {list(PRECISIONS)}, got {precision!r}")
    return str(precision)


def _flat(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return ~(hi - lo > EPS * np.maximum(1.0, np.maximum(np.abs(hi), np.abs(lo))))


def quantise(maps: np.ndarray, precision: str = "uint8") -> tuple[np.ndarray, np.ndarray]:
    """``maps`` float ``[..., T]`` -> ``(u [..., T] in precision, scale float32 [..., 2])``.

    ``scale[..., 0]``/``[..., 1]`` are each map's min and max (NaN for maps with a NaN)."""
    precision = check_precision(precision)
    x = np.asarray(maps, dtype=np.float64)
    bad = ~np.isfinite(x).all(axis=-1)
    safe = np.where(bad[..., None], 0.0, x)
    lo = safe.min(axis=-1, initial=np.inf) if x.shape[-1] else np.zeros(x.shape[:-1])
    hi = safe.max(axis=-1, initial=-np.inf) if x.shape[-1] else np.zeros(x.shape[:-1])
    flat = _flat(lo, hi) | bad
    span = np.where(flat, 1.0, hi - lo)
    unit = np.where(flat[..., None], 0.0, (safe - lo[..., None]) / span[..., None])
    unit = np.clip(unit, 0.0, 1.0)
    if precision == "uint8":
        u = np.rint(unit * 255.0).astype(np.uint8)
    else:
        u = unit.astype(precision)
    scale = np.stack([np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)], -1)
    return u, scale.astype(np.float32)


def quantise_channels(maps: np.ndarray, precision: str = "uint8") -> tuple[np.ndarray, np.ndarray]:
    """Maps per channel float ``[..., C, T]`` -> ``(u [..., C, T], scale float32 [..., 2])``:
    :func:`quantise` with one range over each map's whole ``[C, T]`` (channels stay comparable)."""
    a = np.asarray(maps)
    u, scale = quantise(a.reshape(*a.shape[:-2], -1), precision)
    return u.reshape(a.shape), scale


def scale_extent(scale: np.ndarray) -> list[float]:
    """``[min lo, max hi]`` over maps' ranges ``scale`` float ``[..., 2]`` (NaN lo: a map with no
    values, skipped); ``[0, 1]`` when there is none."""
    sc = np.asarray(scale, np.float64).reshape(-1, 2)
    ok = np.isfinite(sc[:, 0])
    if not ok.any():
        return [0.0, 1.0]
    return [float(sc[ok, 0].min()), float(sc[ok, 1].max())]


def unit_of(u: np.ndarray) -> np.ndarray:
    """The unit values (float64 in 0..1) of stored ``u``."""
    if u.dtype == np.uint8:
        return u.astype(np.float64) / 255.0
    return u.astype(np.float64)


def dequantise(u: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The maps back (``norm="none"``): float32 ``lo + u (hi - lo)``; NaN where ``lo`` is."""
    lo = scale[..., 0:1].astype(np.float64)
    hi = scale[..., 1:2].astype(np.float64)
    return (lo + unit_of(u) * (hi - lo)).astype(np.float32)


def step(scale: np.ndarray, precision: str) -> np.ndarray:
    """Largest error of a stored value, per map: half a quantisation step of its range."""
    span = (scale[..., 1] - scale[..., 0]).astype(np.float64)
    return span * {"uint8": 0.5 / 255, "float16": 2.0**-11, "float32": 2.0**-24}[precision]


def layer_ranges(scale: np.ndarray) -> np.ndarray:
    """``scale [N, L, M, 2]`` of the maps of one target -> float32 ``[L, M, 2]``: per layer and
    method, (min lo, max hi) over the samples, ignoring NaN (NaN where all are NaN)."""
    lo = scale[..., 0]
    hi = scale[..., 1]
    ok = np.isfinite(lo)
    out_lo = np.where(ok, lo, np.inf).min(axis=0)
    out_hi = np.where(ok, hi, -np.inf).max(axis=0)
    none = ~ok.any(axis=0)
    return np.stack([np.where(none, np.nan, out_lo), np.where(none, np.nan, out_hi)], -1).astype(
        np.float32
    )


def normalise(
    u: np.ndarray,
    scale: np.ndarray,
    norm: str,
    scale_range: Sequence[float] = (0.0, 1.0),
    layer_range: np.ndarray | None = None,
) -> np.ndarray:
    """Float32 maps ``[..., T]`` under ``norm`` from stored ``u`` and ``scale`` ``[..., 2]``.

    ``layer_range`` (``norm="layer"``): ``[..., 2]`` broadcastable to ``scale``, the layer's
    range (:func:`layer_ranges`)."""
    a, b = (float(v) for v in scale_range)
    nan = ~np.isfinite(scale[..., 0:1])
    if norm == "none":
        return dequantise(u, scale)
    if norm == "sample":
        out = a + unit_of(u) * (b - a)
        return np.where(nan, np.nan, out).astype(np.float32)
    if norm == "layer":
        if layer_range is None:
            raise ValueError("normalise: norm='layer' needs layer_range")
        x = dequantise(u, scale).astype(np.float64)
        return scale_to(x, layer_range[..., 0:1], layer_range[..., 1:2], (a, b))
    raise ValueError(f"norm: expected one of ['none', 'sample', 'layer'], got {norm!r}")


class MapStore:
    """The precomputed maps of every sample for the classes it was explained for.

    ``u [R, L, M, T]`` and ``scale [R, L, M, 2]`` hold one row per (sample, class) pair;
    ``rows [N, K]`` (int32) gives the row of sample n explained for class k, -1 where absent.
    A sample whose prediction equals its label has one row for both targets. With
    ``channels = (Kc, C)``, the same rows also hold the ``input`` layer's maps per channel of
    Kc map kinds: ``cu [R, Kc, C, T]`` with one range per row and kind, ``cscale [R, Kc, 2]``,
    over the whole ``[C, T]`` (so channels stay comparable)."""

    def __init__(
        self,
        n: int,
        k: int,
        layers: int,
        keys: int,
        length: int,
        precision: str,
        channels: tuple[int, int] = (0, 0),
    ):
        self.precision = check_precision(precision)
        self.rows = np.full((n, k), -1, np.int32)
        self.u = np.zeros((0, layers, keys, length), np.dtype(precision))
        self.scale = np.zeros((0, layers, keys, 2), np.float32)
        kc, c = channels
        self.cu = np.zeros((0, kc, c, length), np.dtype(precision))
        self.cscale = np.zeros((0, kc, 2), np.float32)

    @property
    def nbytes(self) -> int:
        parts = (self.u, self.scale, self.rows, self.cu, self.cscale)
        return int(sum(a.nbytes for a in parts))

    def missing(self, classes: np.ndarray, samples: np.ndarray) -> np.ndarray:
        """Of ``samples`` explained for ``classes[samples]``: those with no row (sorted)."""
        s = np.asarray(samples, np.int64)
        c = np.asarray(classes, np.int64)[s]
        known = c >= 0
        s, c = s[known], c[known]
        return s[self.rows[s, c] < 0]

    def add(
        self,
        samples: np.ndarray,
        classes: np.ndarray,
        maps: np.ndarray,
        channels: np.ndarray | None = None,
    ) -> None:
        """Store float ``maps [S, L, M, T]`` of ``samples`` explained for ``classes``, and their
        maps per channel ``[S, Kc, C, T]`` when the store holds them (NaN if not given)."""
        u, scale = quantise(maps, self.precision)
        start = self.u.shape[0]
        self.u = np.concatenate([self.u, u])
        self.scale = np.concatenate([self.scale, scale])
        if self.cu.shape[1]:
            s, (kc, c, t) = len(samples), self.cu.shape[1:]
            if channels is None:
                channels = np.full((s, kc, c, t), np.nan, np.float32)
            cu, cscale = quantise_channels(channels, self.precision)
            self.cu = np.concatenate([self.cu, cu])
            self.cscale = np.concatenate([self.cscale, cscale])
        self.rows[np.asarray(samples), np.asarray(classes)] = np.arange(
            start, start + len(samples), dtype=np.int32
        )

    def select(self, classes: np.ndarray) -> np.ndarray:
        """Row per sample for ``classes [N]`` (-1 where absent or the class is unknown)."""
        c = np.asarray(classes, np.int64)
        n = np.arange(len(c))
        out = np.full(len(c), -1, np.int32)
        ok = c >= 0
        out[ok] = self.rows[n[ok], c[ok]]
        return out

    def maps(
        self,
        classes: np.ndarray,
        norm: str,
        scale_range: Sequence[float],
        samples: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Float32 ``[S, L, M, T]`` of ``samples`` (default all) for ``classes [N]`` under
        ``norm``; NaN where a row is absent."""
        rows = self.select(classes)
        sel = np.arange(len(rows)) if samples is None else np.asarray(samples, np.int64)
        r = rows[sel]
        have = r >= 0
        u = self.u[np.where(have, r, 0)]
        scale = np.where(have[:, None, None, None], self.scale[np.where(have, r, 0)], np.nan)
        lr = self.layer_range(classes) if norm == "layer" else None
        out = normalise(u, scale, norm, scale_range, None if lr is None else lr[None])
        out[~have] = np.nan
        return out

    def layer_range(self, classes: np.ndarray) -> np.ndarray:
        """``[L, M, 2]``: :func:`layer_ranges` over the rows of ``classes [N]``."""
        rows = self.select(classes)
        rows = rows[rows >= 0]
        if rows.size == 0:
            return np.full((*self.scale.shape[1:3], 2), np.nan, np.float32)
        return layer_ranges(self.scale[rows])

    def value_range(
        self, classes: np.ndarray, layer: int | None = None, key: int | None = None
    ) -> list[float]:
        """``[lo, hi]`` of the ``norm="none"`` colour bar: the extent of the stored maps used by
        ``classes`` at ``layer`` for map kind ``key`` (an index into the store's keys; None:
        every layer / kind); ``[0, 1]`` when there is none."""
        rows = self.select(classes)
        sc = self.scale[rows[rows >= 0]]  # [r, L, M, 2]
        if layer is not None:
            sc = sc[:, layer : layer + 1]
        if key is not None:
            sc = sc[:, :, key : key + 1]
        return scale_extent(sc)
