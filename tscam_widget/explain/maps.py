"""The methods' arithmetic: the maps of one layer and batch from its
:class:`~.methods.MethodContext` (:func:`layer_maps`), and the store that gathers them over the
batches (:class:`MapStore`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .layers import INPUT
from .methods import Method, MethodContext, WeightedMethod
from .terms import layer_terms

MethodKey = tuple[str, str | None]  # (method, reduction or None)
MapKey = tuple[str, str | None, str]  # (method, reduction or None, layer)


@dataclass(frozen=True)
class MethodPlan:
    """The methods of one explain call: ``methods`` (in order), the checked ``reductions``, the
    methods' keyword arguments ``kwargs`` and whether the methods were named (``explicit``)."""

    methods: list[Method]
    reductions: list[str]
    kwargs: dict[str, Any]
    explicit: bool

    @property
    def keys(self) -> list[MethodKey]:
        """Every (method, reduction) that gets a map, in order."""
        return [(m.name, r) for m in self.methods for r in m.keys(self.reductions)]

    @property
    def need_grad(self) -> bool:
        """Whether any method reads the gradients."""
        return any(m.uses_gradients for m in self.methods)

    def with_reductions(self) -> MethodPlan:
        """The methods that make a map for one of the reductions (a method named without one is
        an error)."""
        for m in self.methods:
            if not m.keys(self.reductions) and self.explicit:
                raise ValueError(
                    f"reductions: method {m.name!r} takes {list(m.reductions)}, none of "
                    f"{self.reductions}"
                )
        return self.without({m.name for m in self.methods if not m.keys(self.reductions)})

    def without(self, names: set[str]) -> MethodPlan:
        """This plan less the methods named ``names``."""
        kept = [m for m in self.methods if m.name not in names]
        return dataclasses.replace(self, methods=kept)


@dataclass(frozen=True)
class LayerMaps:
    """One layer's maps of one batch: float32 ``[N, T']`` per (method, reduction); all NaN for
    those in ``undefined`` (the method is not defined on this layer); ``channels``: on the
    ``input`` layer, float32 ``[N, C, T]`` per (method, reduction) that has maps per channel
    (their sum over channels is the ``[N, T]`` map)."""

    layer: str
    maps: dict[MethodKey, np.ndarray]
    undefined: set[MethodKey]
    channels: dict[MethodKey, np.ndarray] = dataclasses.field(default_factory=dict)


def layer_maps(plan: MethodPlan, base: MethodContext) -> LayerMaps:
    """Every map of one layer and batch: the shared terms the methods declare, computed once
    (:func:`.terms.layer_terms`), then each method; the ``sum_k w_k A_k`` maps of all
    :class:`WeightedMethod` s in one batched product. On the ``input`` layer, also each
    method's maps per channel (:meth:`Method.channels`), from the same terms."""
    A = base.A
    per_channel = base.layer == INPUT
    channels: dict[MethodKey, torch.Tensor] = {}
    wanted = [k for m in plan.methods for r in m.keys(plan.reductions) for k in m.needs(r)]
    terms = layer_terms(A, base.G, wanted)
    results: dict[MethodKey, torch.Tensor | None] = {}
    pending: list[tuple[MethodKey, torch.Tensor]] = []
    for m in plan.methods:
        for r in m.keys(plan.reductions):
            ctx = dataclasses.replace(
                base,
                G=base.G if m.uses_gradients else None,
                reduction=r,
                terms=terms,
                kwargs={k: v for k, v in plan.kwargs.items() if k in m.kwargs},
            )
            if m.from_channels:  # its map is the sum of its channel maps: computed once
                ch = m.channels(ctx)
                results[(m.name, r)] = None if ch is None else ch.sum(1)
                if ch is not None and per_channel:
                    channels[(m.name, r)] = ch
            elif isinstance(m, WeightedMethod):
                w = m.weights(ctx)
                if w is None:
                    results[(m.name, r)] = None
                else:
                    pending.append(((m.name, r), w))
                    if per_channel:
                        channels[(m.name, r)] = w[:, :, None].to(A.dtype) * A
            else:
                results[(m.name, r)] = m.compute(ctx)
                ch = m.channels(ctx) if per_channel and results[(m.name, r)] is not None else None
                if ch is not None:
                    channels[(m.name, r)] = ch
    if pending:
        W = torch.stack([w.to(A.dtype) for _, w in pending], 1)  # [N, M, C]
        maps = torch.bmm(W, A)  # [N, M, T']: A read once for all of them
        for j, (key, _) in enumerate(pending):
            results[key] = maps[:, j]
    out = LayerMaps(base.layer, {}, set())
    for key, res in results.items():
        if res is None:
            out.undefined.add(key)
            res = torch.full((A.shape[0], A.shape[2]), float("nan"), device=A.device)
        out.maps[key] = res.detach().float().cpu().numpy()
    for key, ch in channels.items():
        out.channels[key] = ch.detach().float().cpu().numpy()
    return out


class MapStore:
    """The maps of every (method, reduction, layer), gathered batch by batch."""

    def __init__(self, keys: list[MethodKey], layers: list[str]):
        self._chunks: dict[MapKey, list[np.ndarray]] = {
            (m, r, ln): [] for m, r in keys for ln in layers
        }
        self._undefined: set[MapKey] = set()
        self._channels: dict[MethodKey, list[np.ndarray]] = {}

    def add(self, lm: LayerMaps) -> None:
        """Append one layer's maps of the next batch."""
        for (m, r), arr in lm.maps.items():
            self._chunks[(m, r, lm.layer)].append(arr)
        for key, arr in lm.channels.items():
            self._channels.setdefault(key, []).append(arr)
        self._undefined.update((m, r, lm.layer) for m, r in lm.undefined)

    def undefined_everywhere(self, plan: MethodPlan, layers: list[str]) -> set[str]:
        """Names of the methods of ``plan`` defined on none of ``layers`` (``only_on``)."""
        return {
            m.name
            for m in plan.methods
            if all(
                (m.name, r, ln) in self._undefined for r in m.keys(plan.reductions) for ln in layers
            )
        }

    def channel_arrays(self) -> dict[MethodKey, np.ndarray]:
        """Per (method, reduction) with maps per channel on the ``input`` layer, those of all
        samples float32 ``[N, C, T]``."""
        return {k: np.concatenate(parts, 0) for k, parts in self._channels.items()}

    def arrays(self) -> dict[MapKey, np.ndarray]:
        """Per key, the maps of all samples float32 ``[N, T']``; all NaN where the method was
        undefined on that layer in any batch."""
        raw = {}
        for k, parts in self._chunks.items():
            arr = np.concatenate(parts, 0)
            if k in self._undefined:
                arr[:] = np.nan
            raw[k] = arr
        return raw
