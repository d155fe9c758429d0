"""The result of :meth:`Explainer.explain`: raw maps per (method, reduction, layer), upsampled and
normalised on demand, and the model's logits/probabilities/predictions/targets."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

NORMS = ("none", "sample", "layer")
EPS = 1e-12


def upsample(m: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of ``m [N, T']`` to ``[N, length]`` as ``torch.nn.functional.interpolate
    (mode="linear", align_corners=False)``. Returns float32."""
    if m.shape[-1] == length:
        return m.astype(np.float32, copy=True)
    t = torch.from_numpy(np.ascontiguousarray(m, dtype=np.float32))[:, None, :]
    return F.interpolate(t, size=length, mode="linear", align_corners=False)[:, 0].numpy()


def map_key(method: str, reduction: str | None) -> str:
    """The name of a map kind: ``"gradcam"``, or ``"activation/mean"`` for a method that takes
    a reduction (the widget's ``cube_keys``; ``mapKey`` in ``js/src/state.ts``)."""
    return method if reduction is None else f"{method}/{reduction}"


def scale_to(x: np.ndarray, lo: Any, hi: Any, scale_range: tuple[float, float]) -> np.ndarray:
    """Min-max scale ``x`` with bounds ``lo``/``hi`` (broadcast) into ``scale_range``: where
    ``hi - lo <= 1e-12 * max(1, |hi|, |lo|)`` (a flat map) the result is ``scale_range[0]``.
    NaN stays NaN. Returns float32 of the broadcast shape. The one min-max rule of the package
    (``js/src/compact.ts`` repeats it for the frontend)."""
    lo = np.asarray(lo, np.float64)
    hi = np.asarray(hi, np.float64)
    span = hi - lo
    ok = span > EPS * np.maximum(1.0, np.maximum(np.abs(hi), np.abs(lo)))
    unit = np.where(ok, (x - lo) / np.where(ok, span, 1.0), x * 0.0)  # x * 0 keeps NaN
    a, b = scale_range
    return (a + unit * (b - a)).astype(np.float32)


def minmax(m: np.ndarray, axis: Any, scale_range: tuple[float, float]) -> np.ndarray:
    """Min-max scale ``m`` over ``axis`` into ``scale_range`` (:func:`scale_to` with the min and
    max over ``axis``). Never NaN for finite input. Returns float32 of ``m``'s shape."""
    lo = np.min(m, axis=axis, keepdims=True)
    hi = np.max(m, axis=axis, keepdims=True)
    return scale_to(m, lo, hi, scale_range)


def scale_bounds(scale_range: Any) -> tuple[float, float]:
    """``scale_range`` as two floats ``(low, high)``; ValueError naming it unless it is a pair of
    numbers (it may be infinite or NaN: :func:`check_norm` adds that check)."""
    try:
        a, b = (float(v) for v in scale_range)
    except Exception as e:  # noqa: BLE001
        raise ValueError(
            f"scale_range: expected two numbers (low, high), got {scale_range!r}"
        ) from e
    return a, b


def check_norm(norm: str, scale_range: Any) -> tuple[str, tuple[float, float]]:
    """Validate ``norm`` and ``scale_range``; returns them normalised."""
    if norm not in NORMS:
        raise ValueError(f"norm: expected one of {list(NORMS)}, got {norm!r}")
    a, b = scale_bounds(scale_range)
    if not (np.isfinite(a) and np.isfinite(b)):
        raise ValueError(f"scale_range: expected finite numbers, got {scale_range!r}")
    return norm, (a, b)


class Explanation:
    """Maps for every (method, reduction) and layer of one :meth:`Explainer.explain` call.

    Attributes: ``layers`` (names), ``methods`` (names), ``reductions``, ``keys`` (list of
    ``(method, reduction)``; reduction None for methods without one), ``logits``/``probs``
    float32 ``[N, K]``, ``pred``/``target`` int64 ``[N]``, ``x`` float32 ``[N, C, T]`` (the input),
    ``length`` T, ``norm``, ``scale_range``, ``relu`` (method -> whether its map ends in a ReLU),
    ``layouts`` (layer -> the layout its output was read with, e.g. ``"NCT"``, ``"[0] NTC"``),
    ``channel_keys`` (the (method, reduction) with maps per channel on the ``input`` layer: see
    :meth:`channel_maps`).
    """

    def __init__(
        self,
        *,
        raw: dict[tuple[str, str | None, str], np.ndarray],
        channels: dict[tuple[str, str | None], np.ndarray] | None = None,
        layers: list[str],
        methods: list[str],
        reductions: list[str],
        keys: list[tuple[str, str | None]],
        relu: dict[str, bool],
        layouts: dict[str, str] | None = None,
        logits: np.ndarray,
        target: np.ndarray,
        x: np.ndarray,
        norm: str = "sample",
        scale_range: tuple[float, float] = (0.0, 1.0),
    ):
        self._raw = raw
        self._channels = dict(channels or {})
        self.channel_keys = [k for k in keys if k in self._channels]
        self.layers = list(layers)
        self.methods = list(methods)
        self.reductions = list(reductions)
        self.keys = list(keys)
        self.relu = dict(relu)
        self.layouts = dict(layouts or {})
        self.logits = logits.astype(np.float32)
        self.probs = torch.softmax(torch.from_numpy(self.logits).double(), 1).float().numpy()
        self.pred = self.logits.argmax(1).astype(np.int64)
        self.target = np.asarray(target, dtype=np.int64)
        self.x = x.astype(np.float32)
        self.length = int(x.shape[-1])
        self.norm, self.scale_range = check_norm(norm, scale_range)

    def __repr__(self) -> str:
        return (
            f"Explanation(n={len(self.target)}, length={self.length}, layers={self.layers}, "
            f"keys={[map_key(*k) for k in self.keys]}, norm={self.norm!r})"
        )

    def _layer_name(self, layer: str | int) -> str:
        if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
            n = len(self.layers)
            if not -n <= layer < n:
                raise IndexError(f"layer: index {layer} out of range (valid: {-n}..{n - 1})")
            return self.layers[int(layer)]
        if layer not in self.layers:
            import difflib

            close = difflib.get_close_matches(str(layer), self.layers, n=3)
            raise KeyError(f"layer: {layer!r} not explained; layers: {self.layers}; close: {close}")
        return layer

    def _key(self, method: str, reduction: str | None) -> tuple[str, str | None]:
        if method not in self.methods:
            raise KeyError(f"method: {method!r} not computed; methods: {self.methods}")
        if (method, None) in self.keys:
            return (method, None)
        if (method, reduction) not in self.keys:
            raise KeyError(
                f"reduction: {reduction!r} not computed for {method!r}; "
                f"reductions: {self.reductions}"
            )
        return (method, reduction)

    def raw(self, method: str, layer: str | int, reduction: str | None = "mean") -> np.ndarray:
        """The map before normalisation (and before the final ReLU of methods that have one),
        float32 ``[N, T']`` at the layer's own length. NaN where undefined (``cam`` off-head)."""
        key = self._key(method, reduction)
        return self._raw[(key[0], key[1], self._layer_name(layer))].copy()

    def _normalised(
        self,
        key: tuple[str, str | None],
        layer: str,
        norm: str,
        scale_range: tuple[float, float],
    ) -> np.ndarray:
        m = self._raw[(key[0], key[1], layer)]
        if self.relu.get(key[0], False):
            m = np.maximum(m, 0)
        m = upsample(m, self.length)
        if norm == "sample":
            return minmax(m, 1, scale_range)
        if norm == "layer":
            return minmax(m, None, scale_range)
        return m

    def defined(self, method: str, layer: str | int, reduction: str | None = "mean") -> bool:
        """False where the method is undefined for the layer (``cam`` away from the head)."""
        key = self._key(method, reduction)
        return not np.isnan(self._raw[(key[0], key[1], self._layer_name(layer))]).any()

    def get(
        self,
        method: str,
        layer: str | int,
        reduction: str | None = "mean",
        *,
        norm: str | None = None,
        scale_range: tuple[float, float] | None = None,
    ) -> np.ndarray:
        """The map upsampled to the input length and normalised: float32 ``[N, T]``.

        Order: ReLU (for methods that end in one), linear upsampling (``align_corners=False``),
        then ``norm`` (``"none"``, ``"sample"`` min-max per row, ``"layer"`` one range across all
        samples) into ``scale_range``. ``norm``/``scale_range`` default to the explain call's.
        Raises ValueError where the method is undefined for the layer."""
        key = self._key(method, reduction)
        name = self._layer_name(layer)
        norm_, range_ = check_norm(
            self.norm if norm is None else norm,
            self.scale_range if scale_range is None else scale_range,
        )
        if np.isnan(self._raw[(key[0], key[1], name)]).any():
            raise ValueError(
                f"method {method!r} is undefined for layer {name!r}: cam needs the layer whose "
                f"time-mean feeds the final nn.Linear"
            )
        return self._normalised(key, name, norm_, range_)

    def has_channel_maps(self, method: str, reduction: str | None = "mean") -> bool:
        """Whether :meth:`channel_maps` has maps per channel for ``method``."""
        return self._key(method, reduction) in self._channels

    def channel_raw(self, method: str, reduction: str | None = "mean") -> np.ndarray:
        """The ``input`` layer's map per channel before normalisation and before the method's
        final ReLU: float32 ``[N, C, T]``, whose sum over channels is ``raw(method, "input")``.
        KeyError as :meth:`channel_maps`."""
        return self.channel_maps(method, reduction, norm="none", relu=False)

    def channel_maps(
        self,
        method: str,
        reduction: str | None = "mean",
        *,
        norm: str | None = None,
        scale_range: tuple[float, float] | None = None,
        relu: bool = True,
    ) -> np.ndarray:
        """The ``input`` layer's map per channel: float32 ``[N, C, T]``, where the cube
        (:meth:`get`, :meth:`to_array`) holds its **sum over channels** ``[N, T]``.

        For the input attributions (``saliency``, ``integrated_gradients``, ``occlusion`` ...) and
        the gradient CAMs on the input (``hirescam``: ``G_c(t) x_c(t)``; ``gradcam`` and the other
        ``sum_k w_k A_k`` maps: ``w_c x_c(t)``; ``layercam``: ``ReLU(G_c(t)) x_c(t)``), from the
        same pass as the cube. Order: ReLU (for methods that end in one, unless ``relu=False``;
        elementwise, so a channel's negative part is dropped), then ``norm`` over each
        sample's ``[C, T]`` together (``"sample"``: channels stay comparable) or over everything
        (``"layer"``), or none. KeyError when the method has no maps per channel (not computed,
        or the ``input`` layer was not explained)."""
        key = self._key(method, reduction)
        if key not in self._channels:
            raise KeyError(
                f"method: {map_key(*key)!r} has no maps per channel (they are made on the "
                f"'input' layer only); with maps per channel: "
                f"{[map_key(*k) for k in self.channel_keys]}"
            )
        norm_, range_ = check_norm(
            self.norm if norm is None else norm,
            self.scale_range if scale_range is None else scale_range,
        )
        m = self._channels[key]
        if relu and self.relu.get(key[0], False):
            m = np.maximum(m, 0)
        if norm_ == "sample":
            return minmax(m, (1, 2), range_)
        if norm_ == "layer":
            return minmax(m, None, range_)
        return m.astype(np.float32, copy=True)

    def channel_importance(self, method: str, reduction: str | None = "mean") -> np.ndarray:
        """Each channel's share of the sample's total ``|attribution|`` (after the method's
        ReLU) on the ``input`` layer: float32 ``[N, C]``, rows summing to 1 (a map that is zero
        everywhere gives equal shares)."""
        a = np.abs(self.channel_maps(method, reduction, norm="none")).sum(2, dtype=np.float64)
        tot = a.sum(1, keepdims=True)
        c = a.shape[1]
        return np.where(tot > 0, a / np.where(tot > 0, tot, 1), 1.0 / c).astype(np.float32)

    def to_array(
        self, *, norm: str | None = None, scale_range: tuple[float, float] | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """The whole cube: ``(float32 [L, M, N, T], keys)`` with ``keys[m]`` ``"method"`` or
        ``"method/reduction"``; NaN where a method is undefined for a layer."""
        norm_, range_ = check_norm(
            self.norm if norm is None else norm,
            self.scale_range if scale_range is None else scale_range,
        )
        n = len(self.target)
        cube = np.full((len(self.layers), len(self.keys), n, self.length), np.nan, dtype=np.float32)
        for li, layer in enumerate(self.layers):
            for mi, key in enumerate(self.keys):
                if not np.isnan(self._raw[(key[0], key[1], layer)]).any():
                    cube[li, mi] = self._normalised(key, layer, norm_, range_)
        return cube, [map_key(*k) for k in self.keys]
