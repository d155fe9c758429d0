"""The ``timeseries`` package's CAM functions, computed with :class:`tscam_widget.Explainer`.

``cam_acts`` ("CAM"): the activations ``A [C, T']`` of ``layer`` reduced over channels.
``grad_cam_acts`` ("GRAD-CAM"): ``mean_k (reduce_t G_k) A_k(t)`` with ``G`` the gradient of the
sample's true-class logit, no ReLU. Reductions: ``mean``, ``median`` (``torch.median``: the lower
of the two middle values), ``max``, ``mean_max`` = (mean + max) / 2. With ``force_scale`` the map
is min-max scaled into ``scale_range``.

Unlike the ``timeseries`` package these leave the model untouched (no ``.grad`` in its
parameters, training flag and hooks restored) and run the whole batch in one forward and one
backward inside ``show_cam``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from tscam_widget.explain import Explainer
from tscam_widget.explain.explanation import scale_bounds, upsample
from tscam_widget.explain.inputs import prepare_x
from tscam_widget.explain.methods import REDUCTIONS
from tscam_widget.explain.terms import check_reductions

from .batch import Items, to_items


def _check_reduction(reduction: Any) -> str:
    if not isinstance(reduction, str):
        raise ValueError(f"reduction: expected one of {list(REDUCTIONS)}, got {reduction!r}")
    return check_reductions(reduction, "reduction")[0]


def acts_scaled(acts: Any, scale_range: tuple[float, float] = (0, 1)) -> Any:
    """Min-max scale ``acts`` (tensor or array, any shape) into ``scale_range``:
    ``(acts - min) / (max - min) * (hi - lo) + lo``, as the ``timeseries`` package (a constant
    input gives NaN there; here it gives ``lo``)."""
    lo, hi = scale_bounds(scale_range)
    mn, mx = acts.min(), acts.max()
    span = mx - mn
    if float(span) == 0:
        return acts * 0 + lo
    return (acts - mn) / span * (hi - lo) + lo


def batch_maps(
    items: Items,
    model: nn.Module,
    layer: Any,
    method: str,
    reduction: str,
    force_scale: bool,
    scale_range: tuple[float, float],
    upsampled: bool = True,
) -> np.ndarray:
    """Maps of every sample in one explainer pass, target = the true labels ``items.y``.

    ``method``: ``"activation"`` (CAM) or ``"gradcam_classic"`` (GRAD-CAM). Returns float32
    ``[N, T]`` (upsampled to the input length; ``upsampled=False``: ``[N, T']``, the layer's own
    length), min-max scaled per sample into ``scale_range`` when ``force_scale``."""
    reduction = _check_reduction(reduction)
    scale_range = scale_bounds(scale_range)
    ex = Explainer(model, layers=[layer])
    expl = ex.explain(
        items.x,
        target="true",
        y=items.y,
        methods=[method],
        reductions=(reduction,),
        norm="sample" if force_scale else "none",
        scale_range=scale_range,
    )
    if upsampled:
        return expl.get(method, 0, reduction)
    raw = expl.raw(method, 0, reduction)
    if force_scale:
        raw = np.stack([acts_scaled(r, scale_range) for r in raw]).astype(np.float32)
    return raw


def _one(
    method: str,
    tseries: Any,
    y: Any,
    model: nn.Module,
    layer: Any,
    reduction: str,
    force_scale: bool,
    scale_range: tuple[float, float],
) -> torch.Tensor:
    items = to_items((tseries, y))
    m = batch_maps(
        items, model, layer, method, reduction, force_scale, scale_range, upsampled=False
    )
    return torch.from_numpy(m[:1].copy())


def cam_acts(
    tseries: Any,
    y: Any,
    model: nn.Module,
    layer: Any,
    reduction: str = "mean",
    force_scale: bool = True,
    scale_range: tuple[float, float] = (0, 1),
) -> torch.Tensor:
    """The ``timeseries`` package's "CAM" of one series ``tseries [C, T]`` (or ``[T]``).

    ``layer``: an index into a top-level ``nn.Sequential`` (``model[layer]``) or into the default
    block selection of other models, or a layer name. ``y`` (the class index) is accepted for the
    signature; activations do not depend on it. Returns a float32 CPU tensor ``[1, T']`` at the
    layer's own length."""
    return _one("activation", tseries, y, model, layer, reduction, force_scale, scale_range)


cam_acts.name = "CAM"  # type: ignore[attr-defined]


def grad_cam_acts(
    tseries: Any,
    y: Any,
    model: nn.Module,
    layer: Any,
    reduction: str = "mean",
    force_scale: bool = True,
    scale_range: tuple[float, float] = (0, 1),
) -> torch.Tensor:
    """The ``timeseries`` package's "GRAD-CAM" of one series ``tseries [C, T]`` for class ``y``:
    ``mean_k (reduce_t dlogit_y/dA_k) * A_k(t)`` (no ReLU). Returns float32 CPU ``[1, T']``."""
    return _one("gradcam_classic", tseries, y, model, layer, reduction, force_scale, scale_range)


grad_cam_acts.name = "GRAD-CAM"  # type: ignore[attr-defined]

_BUILTIN: dict[Callable[..., Any], str] = {cam_acts: "activation", grad_cam_acts: "gradcam_classic"}


def func_name(func_cam: Callable[..., Any]) -> str:
    """The name shown in titles: ``func_cam.name``, else its ``__name__``, else ``str``."""
    name = getattr(func_cam, "name", None)
    if isinstance(name, str) and name:
        return name
    return str(getattr(func_cam, "__name__", func_cam))


def compute_maps(
    items: Items,
    model: nn.Module,
    layer: Any,
    func_cam: Callable[..., Any],
    reduction: str,
    force_scale: bool,
    scale_range: tuple[float, float],
) -> np.ndarray:
    """Maps ``[N, T]`` (float32) for ``show_cam``: one explainer pass for ``cam_acts`` /
    ``grad_cam_acts``; a user function is called per sample with the ``timeseries`` signature
    ``func_cam(tseries [C, T], y, model, layer=, reduction=, force_scale=, scale_range=)`` and
    its ``[1, T']`` result is linearly upsampled to ``T`` where ``T' != T``."""
    if not callable(func_cam):
        raise TypeError(f"func_cam: expected a function, got {type(func_cam).__name__}")
    builtin = next((m for f, m in _BUILTIN.items() if f is func_cam), None)
    if builtin is not None:
        return batch_maps(items, model, layer, builtin, reduction, force_scale, scale_range)
    t_len = items.x.shape[-1]
    xs = prepare_x(items.x, model)
    out = []
    for i, y in enumerate(items.labels):
        res = func_cam(
            xs[i],
            y,
            model,
            layer=layer,
            reduction=reduction,
            force_scale=force_scale,
            scale_range=scale_range,
        )
        if isinstance(res, torch.Tensor):
            res = res.detach().float().cpu().numpy()
        arr = np.asarray(res, dtype=np.float32).squeeze()
        if arr.ndim != 1 or arr.size < 1:
            raise ValueError(
                f"func_cam {func_name(func_cam)!r}: expected a map [1, T'] per series, got shape "
                f"{list(np.shape(res))}"
            )
        out.append(upsample(arr[None], t_len)[0])
    return np.stack(out).astype(np.float32)


@dataclass
class Hook:
    """What a ``timeseries`` (fastai) hook held: ``stored``."""

    stored: Any


def _layer_module(model: nn.Module, layer: Any, x: torch.Tensor) -> tuple[nn.Module, int]:
    name = Explainer(model, layers=[layer]).resolve(x)[0]
    base, _, call = name.partition("@")
    return model.get_submodule(base), int(call) if call else -1


def hooked_backward(x: Any, y: Any, model: nn.Module, layer: Any) -> tuple[Hook, Hook]:
    """Activations and gradients of ``layer`` for one series ``x [C, T]`` and class ``y``, as the
    ``timeseries`` package: ``(hook_a, hook_g)`` with ``hook_a.stored`` ``[1, C', T']`` and
    ``hook_g.stored[0]`` ``[1, C', T']`` (CPU). The model's parameters get no ``.grad``."""
    items = to_items((x, y))
    xt = prepare_x(items.x, model)
    module, call = _layer_module(model, layer, xt)
    outs: list[torch.Tensor] = []

    def hook(m: nn.Module, inp: Any, out: Any) -> None:
        outs.append(out)

    from tscam_widget.explain.state import preserved_state

    with preserved_state(model), torch.enable_grad():
        h = module.register_forward_hook(hook)
        try:
            preds = model(xt)
        finally:
            h.remove()
        a = outs[call]
        (g,) = torch.autograd.grad(preds[0, int(items.y[0])], a)
    return Hook(a.detach().cpu()), Hook((g.detach().cpu(),))


def hook_acts(x: Any, y: Any, model: nn.Module, layer: Any) -> torch.Tensor:
    """The activations ``[C', T']`` of ``layer`` for one series (CPU)."""
    return hooked_backward(x, y, model, layer)[0].stored[0]


def CAM_batch_compute(  # noqa: N802 - the timeseries package's name
    b: Any,
    model: nn.Module,
    layer: Any = 5,
    func_cam: Callable[..., Any] = grad_cam_acts,
    reduction: str = "mean",
    force_scale: bool = True,
    scale_range: tuple[float, float] = (0, 1),
) -> tuple[list[np.ndarray], list[np.ndarray], list[Any], list[float], list[float]]:
    """``(tseries_list, acts_list, y_list, ts_min_max, acts_min_max)`` as the ``timeseries``
    package: per sample the series (``[T]`` univariate, else ``[C, T]``) and its map ``[T]``,
    the labels, and the [min, max] of all series and of all maps."""
    items = to_items(b)
    maps = compute_maps(items, model, layer, func_cam, reduction, force_scale, scale_range)
    xs = items.x.numpy()
    ts = [x[0] if x.shape[0] == 1 else x for x in xs]
    return (
        ts,
        list(maps),
        list(items.labels),
        [float(xs.min()), float(xs.max())],
        [float(maps.min()), float(maps.max())],
    )
