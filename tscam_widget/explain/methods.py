"""Class-activation-map methods, one small class each over a shared base, and their registry.

Every method maps a :class:`MethodContext` (one layer, one batch) to a *raw* map ``[N, T']`` at the
layer's own length. For methods whose definition ends in a ReLU (``relu = True``) the raw map is
the signed map *before* that ReLU (so it compares with captum's ``relu_attributions=False``); the
ReLU is applied when the map is normalised (:class:`~tscam_widget.explain.Explanation`).

Notation: ``A`` activations ``[N, C, T']``, ``G = d logit_target / dA`` of the same shape.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .terms import REDUCTIONS, layer_terms, reduce, weighted

Forward = Callable[[torch.Tensor], torch.Tensor]
Replacer = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class MethodContext:
    """Everything a method may use for one layer and one batch (all tensors on the model device).

    ``A``/``G`` ``[N, C, T']`` (``G`` None unless the method uses gradients), ``x`` the input batch
    ``[N, C_in, T]``, ``target`` ``[N]`` int64, ``logits`` ``[N, K]``; ``terms``: the shared
    per-layer terms the method declared (:mod:`.terms`, name -> tensor), computed once for every
    method of this layer and batch; :attr:`head_weight` ``[K, C]`` when the layer's time-mean
    feeds the final ``nn.Linear`` (else None); ``forward(xb)`` returns logits without capturing;
    ``forward_replacing(xb, fn)`` runs a forward with this layer's output replaced by
    ``fn(output)``; ``input_gradient(xb, target)`` returns ``d logits[r, target[r]] / d xb``
    ``[R, C_in, T]`` for any rows ``xb`` (a forward and an ``autograd.grad`` of its own, nothing
    captured).
    """

    A: torch.Tensor
    G: torch.Tensor | None
    layer: str
    model: nn.Module
    x: torch.Tensor
    target: torch.Tensor
    logits: torch.Tensor
    reduction: str | None = None
    terms: dict[str, torch.Tensor] = field(default_factory=dict)
    find_head: Callable[[], torch.Tensor | None] | None = None
    head_name: str | None = None
    forward: Forward | None = None
    forward_replacing: Callable[[torch.Tensor, Replacer], torch.Tensor] | None = None
    input_gradient: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    batch_size: int = 256
    kwargs: dict[str, Any] = field(default_factory=dict)
    start: int = 0  # index of the batch's first sample in the explain call (seeds)

    @property
    def head_weight(self) -> torch.Tensor | None:
        """``[K, C]``: the final ``nn.Linear``'s weights when this layer's time-mean is its input,
        else None (looked for on first use)."""
        return None if self.find_head is None else self.find_head()

    def term(self, name: str) -> torch.Tensor:
        """A shared term (computed here if the method did not declare it)."""
        t = self.terms.get(name)
        if t is None:
            t = self.terms[name] = layer_terms(self.A, self.G, [name])[name]
        return t


class Method:
    """Base of all methods: the class attributes below are everything the rest of the package
    (explainer, widget, ``precompute="auto"``, the README table, the tests) knows about a method.
    Subclasses set them and implement :meth:`compute` (or, for ``sum_k w_k A_k`` maps,
    :meth:`WeightedMethod.weights`)."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""  # display label (widget menus, README); empty: the name
    reference: ClassVar[str] = ""  # where it is defined
    formula: ClassVar[str] = ""  # the map in words (README)
    uses_gradients: ClassVar[bool] = False  # asks for G (one shared autograd.grad per batch)
    # takes input gradients of its own (``MethodContext.input_gradient``: IG, SmoothGrad, TSR)
    own_gradients: ClassVar[bool] = False
    reductions: ClassVar[tuple[str, ...]] = ()  # it makes one map per reduction of these
    # cost class: runs forwards of its own (one per channel per layer): precompute="auto" then
    # stays in kernel mode and the widget never prefetches it (the built-in ones are also opt-in)
    extra_forwards: ClassVar[bool] = False
    default: ClassVar[bool] = True  # in the default (``methods=None``, precomputed) selection
    relu: ClassVar[bool] = False  # the definition ends in a ReLU, applied at normalisation
    uses_target: ClassVar[bool] = True  # the map depends on the explained class
    only_on: ClassVar[str] = ""  # where it is defined if not on every layer (elsewhere NaN)
    terms: ClassVar[tuple[str, ...]] = ()  # shared per-layer terms it reads (:mod:`.terms`)
    kwargs: ClassVar[tuple[str, ...]] = ()  # extra keyword arguments it accepts
    # its [T] map is the sum over channels of :meth:`channels` (computed once; input methods)
    from_channels: ClassVar[bool] = False

    @property
    def per_channel(self) -> bool:
        """Whether it gives maps per channel on the ``input`` layer (it implements
        :meth:`channels`)."""
        return type(self).channels is not Method.channels

    @property
    def needs_gradient(self) -> bool:
        """Whether it needs the prediction's gradient (the shared ``G`` or passes of its own);
        a model without one (tsai's ROCKET family) is explained by the others only."""
        return bool(self.uses_gradients or self.own_gradients)

    @property
    def display_label(self) -> str:
        """``label``, or the name where it has none."""
        return self.label or self.name

    def keys(self, reductions: Sequence[str]) -> list[str | None]:
        """The reductions of ``reductions`` it makes maps for; ``[None]`` if it takes none."""
        if not self.reductions:
            return [None]
        return [r for r in reductions if r in self.reductions]

    def needs(self, reduction: str | None) -> tuple[str, ...]:
        """The shared terms it reads for ``reduction`` (default: :attr:`terms`)."""
        return self.terms

    def compute(self, ctx: MethodContext) -> torch.Tensor | None:
        """Return the raw map ``[N, T']`` (pre-ReLU), or None where undefined for this layer."""
        raise NotImplementedError

    def channels(self, ctx: MethodContext) -> torch.Tensor | None:
        """The raw map per channel ``[N, C, T']`` (pre-ReLU), whose sum over channels is the
        :meth:`compute` map; None where the method has none. The explainer asks for it on the
        ``input`` layer only (later layers mix channels, so their maps stay ``[T']``)."""
        return None

    def cost(self, channels: int, length: int, **kwargs: Any) -> tuple[int, int] | None:
        """The passes it runs of its own per sample, beyond the explainer's shared forward (and
        backward): ``(forwards, of which with a backward)`` for a series of ``channels`` x
        ``length`` and the method's ``kwargs``; ``(0, 0)`` for none; None when it depends on
        the layer (Score-CAM: one forward per channel of the layer)."""
        return None if self.extra_forwards else (0, 0)

    def menu_label(self, channels: int, length: int, **kwargs: Any) -> str:
        """:attr:`display_label` with its cost when it runs passes of its own, e.g.
        ``"Integrated Gradients (32 fwd+bwd)"`` or ``"Occlusion (20 fwd)"``."""
        c = self.cost(channels, length, **kwargs)
        if c is None:
            return (
                f"{self.display_label} (a forward per channel)"
                if self.extra_forwards
                else (self.display_label)
            )
        fwd, bwd = c
        if fwd == 0:
            return self.display_label
        if bwd == fwd:
            return f"{self.display_label} ({fwd} fwd+bwd)"
        return f"{self.display_label} ({fwd} fwd" + (f", {bwd} bwd)" if bwd else ")")

    def __repr__(self) -> str:
        return f"<method {self.name!r}>"


class WeightedMethod(Method):
    """A map ``sum_k w_k A_k(t)``: subclasses give the channel weights ``w`` ``[N, C]``; the
    explainer computes the maps of every such method of a layer with one batched product."""

    def weights(self, ctx: MethodContext) -> torch.Tensor | None:
        """Channel weights ``[N, C]``, or None where undefined for this layer."""
        raise NotImplementedError

    def compute(self, ctx: MethodContext) -> torch.Tensor | None:
        w = self.weights(ctx)
        return None if w is None else weighted(w, ctx.A)

    def channels(self, ctx: MethodContext) -> torch.Tensor | None:
        """``w_k A_k(t)`` ``[N, C, T']``."""
        w = self.weights(ctx)
        return None if w is None else w[:, :, None].to(ctx.A.dtype) * ctx.A


DEFAULT_CHUNK = 256


def _chunk_size(ctx: MethodContext) -> int:
    """The ``chunk_size`` kwarg (rows per extra forward), default :data:`DEFAULT_CHUNK`."""
    c = ctx.kwargs.get("chunk_size", DEFAULT_CHUNK)
    if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1:
        raise ValueError(f"chunk_size: expected a positive int, got {c!r}")
    return int(c)


class Activation(Method):
    """The ``timeseries`` package's "CAM": ``reduce_k A_k(t)`` (no ReLU)."""

    name = "activation"
    label = "Activation"
    reference = "`timeseries` for fastai2 (2020)"
    formula = (
        'reduce_k A_k(t), reduce = mean, median, max, mean_max (the `timeseries` package\'s "CAM")'
    )
    reductions = REDUCTIONS
    uses_target = False

    def compute(self, ctx: MethodContext) -> torch.Tensor:
        return reduce(ctx.A, ctx.reduction or "mean", dim=1)


class Cam(WeightedMethod):
    """Zhou et al. 2016: ``sum_k W[c, k] A_k(t)`` with ``W`` the final linear layer's weights.

    Defined only for the layer whose time-mean (global average pooling) is the final
    ``nn.Linear``'s input; NaN elsewhere. No ReLU, no bias."""

    name = "cam"
    label = "CAM"
    reference = "Zhou et al. 2016"
    formula = "sum_k W[c, k] A_k(t) at the layer feeding global average pooling + linear head"
    only_on = "a layer whose time-mean (global average pooling) is the input of the final nn.Linear"

    def weights(self, ctx: MethodContext) -> torch.Tensor | None:
        if ctx.head_weight is None:
            return None
        return ctx.head_weight[ctx.target]


class GradCam(WeightedMethod):
    """Selvaraju et al.: ``ReLU(sum_k w_k A_k)``, ``w_k = mean_t G_k(t)``."""

    name = "gradcam"
    label = "Grad-CAM"
    reference = "Selvaraju et al. 2017"
    formula = "ReLU(sum_k mean_t(G_k) A_k(t))"
    uses_gradients = True
    relu = True
    terms = ("mean_t G",)

    def weights(self, ctx: MethodContext) -> torch.Tensor:
        return ctx.term("mean_t G")


class GradCamClassic(WeightedMethod):
    """The ``timeseries`` package's "GRAD-CAM": ``mean_k (reduce_t G_k) A_k(t)``, no ReLU."""

    name = "gradcam_classic"
    label = "Grad-CAM (classic)"
    reference = "`timeseries` for fastai2 (2020)"
    formula = 'mean_k reduce_t(G_k) A_k(t), no ReLU (the `timeseries` package\'s "GRAD-CAM")'
    uses_gradients = True
    reductions = REDUCTIONS

    def needs(self, reduction: str | None) -> tuple[str, ...]:
        if reduction == "mean_max":
            return ("mean_t G", "max_t G")
        return (f"{reduction or 'mean'}_t G",)

    def weights(self, ctx: MethodContext) -> torch.Tensor:
        r = ctx.reduction or "mean"
        if r == "mean_max":
            w = (ctx.term("mean_t G") + ctx.term("max_t G")) / 2
        else:
            w = ctx.term(f"{r}_t G")
        return w / ctx.A.shape[1]  # the mean over channels


class GradCamPlusPlus(WeightedMethod):
    """As pytorch-grad-cam's ``GradCAMPlusPlus``: ``a = G^2 / (2 G^2 + sum_t A * G^3 + 1e-6)``,
    ``a = 0`` where ``G == 0``, ``w_k = sum_t ReLU(G_k) a_k``; map ``ReLU(sum_k w_k A_k)``."""

    name = "gradcam++"
    label = "Grad-CAM++"
    reference = "Chattopadhay et al. 2018"
    formula = "ReLU(sum_k w_k A_k), w from 2nd/3rd powers of G"
    uses_gradients = True
    relu = True
    terms = ("gradcam++ weights",)

    def weights(self, ctx: MethodContext) -> torch.Tensor:
        return ctx.term("gradcam++ weights")


class XGradCam(WeightedMethod):
    """Fu et al. 2020 (as pytorch-grad-cam): ``w_k = sum_t G_k A_k / (sum_t A_k + 1e-7)``."""

    name = "xgradcam"
    label = "XGrad-CAM"
    reference = "Fu et al. 2020"
    formula = "ReLU(sum_k w_k A_k), w_k = sum_t G_k A_k / sum_t A_k"
    uses_gradients = True
    relu = True
    terms = ("sum_t G x A", "sum_t A")

    def weights(self, ctx: MethodContext) -> torch.Tensor:
        # the denominator is constant over time, so divide after summing G * A
        return ctx.term("sum_t G x A") / (ctx.term("sum_t A") + 1e-7)


class HiResCam(Method):
    """Draelos & Carin 2020: ``ReLU(sum_k G_k(t) A_k(t))``."""

    name = "hirescam"
    label = "HiResCAM"
    reference = "Draelos & Carin 2020"
    formula = "ReLU(sum_k G_k(t) A_k(t))"
    uses_gradients = True
    relu = True
    terms = ("sum_c G x A",)

    def compute(self, ctx: MethodContext) -> torch.Tensor:
        return ctx.term("sum_c G x A")

    def channels(self, ctx: MethodContext) -> torch.Tensor:
        """``G_k(t) A_k(t)`` ``[N, C, T']``."""
        return ctx.G * ctx.A


class LayerCam(Method):
    """Jiang et al. 2021: ``ReLU(sum_k ReLU(G_k(t)) A_k(t))``."""

    name = "layercam"
    label = "LayerCAM"
    reference = "Jiang et al. 2021"
    formula = "ReLU(sum_k ReLU(G_k(t)) A_k(t))"
    uses_gradients = True
    relu = True
    terms = ("sum_c ReLU(G) x A",)

    def compute(self, ctx: MethodContext) -> torch.Tensor:
        return ctx.term("sum_c ReLU(G) x A")

    def channels(self, ctx: MethodContext) -> torch.Tensor:
        """``ReLU(G_k(t)) A_k(t)`` ``[N, C, T']``."""
        return ctx.G.clamp_min(0) * ctx.A


class EigenCam(Method):
    """Muhammad & Yeasin 2020, as pytorch-grad-cam's ``get_2d_projection`` per sample: ``A^T``
    ``[T', C]`` centred over time, projected on the first right singular vector.

    The sign of a singular vector is arbitrary (SVD returns ``v`` or ``-v``), so the map may come
    out negated; no ReLU is applied (a ReLU would keep an arbitrary half)."""

    name = "eigencam"
    label = "Eigen-CAM"
    reference = "Muhammad & Yeasin 2020"
    formula = "projection of A on its first principal component (sign arbitrary)"
    uses_target = False

    def compute(self, ctx: MethodContext) -> torch.Tensor:
        M = ctx.A.transpose(1, 2).double()  # [N, T', C]
        M = M - M.mean(1, keepdim=True)
        # first principal direction from the eigenvectors of the smaller Gram matrix (cheaper
        # than a full SVD; same projection M v_0 = s_0 u_0 up to sign)
        if M.shape[1] <= M.shape[2]:
            w, u = torch.linalg.eigh(M @ M.transpose(1, 2))  # ascending eigenvalues
            proj = u[:, :, -1] * w[:, -1:].clamp_min(0).sqrt()
        else:
            _, v = torch.linalg.eigh(M.transpose(1, 2) @ M)
            proj = (M @ v[:, :, -1:])[..., 0]
        return proj.to(ctx.A.dtype)


class ScoreCam(WeightedMethod):
    """Wang et al. 2020, with pytorch-grad-cam's ``ScoreCAM`` conventions: each channel ``A_k`` is
    upsampled to the input length (linear, ``align_corners=True`` like its
    ``UpsamplingBilinear2d``), min-max normalised per sample (``/(max - min + 1e-8)``), multiplied
    into the input (every input channel); the target *logit* of each masked input gives a score
    and ``w = softmax_k(scores)`` (softmax over channels, as pytorch-grad-cam does). Map
    ``ReLU(sum_k w_k A_k)``. ``chunk_size`` (default 256) masked inputs per forward."""

    name = "scorecam"
    label = "Score-CAM"
    reference = "Wang et al. 2020"
    formula = "softmax of target logits of inputs masked by each upsampled A_k"
    extra_forwards = True
    relu = True
    default = False
    kwargs = ("chunk_size",)

    def weights(self, ctx: MethodContext) -> torch.Tensor:
        A, x = ctx.A, ctx.x
        n, c, _ = A.shape
        chunk = _chunk_size(ctx)
        with torch.no_grad():
            up = F.interpolate(A, size=x.shape[-1], mode="linear", align_corners=True)
            lo = up.amin(-1, keepdim=True)
            hi = up.amax(-1, keepdim=True)
            up = (up - lo) / (hi - lo + 1e-8)
            scores = torch.empty(n * c, dtype=A.dtype, device=A.device)
            for start in range(0, n * c, chunk):
                rows = torch.arange(start, min(start + chunk, n * c), device=A.device)
                ni, ki = rows // c, rows % c
                masked = x[ni] * up[ni, ki][:, None, :]
                out = ctx.forward(masked)
                scores[rows] = out[torch.arange(len(rows), device=out.device), ctx.target[ni]].to(
                    A.dtype
                )
            return torch.softmax(scores.view(n, c), dim=1)


class AblationCam(WeightedMethod):
    """Desai & Ramaswamy 2020, with pytorch-grad-cam's ``AblationCAM`` formula: channel ``k`` of
    the layer output is set to ``ablation_value`` (default 0.0; ``"auto"`` mirrors
    pytorch-grad-cam: 0 if the sample's minimum activation is 0 else that minimum - 1e7), one
    channel per row of a batched forward (``chunk_size`` rows, default 256);
    ``w_k = (y - y_k) / y`` with ``y`` the target logit and ``y_k`` the target logit with channel
    ``k`` ablated. Map ``ReLU(sum_k w_k A_k)``."""

    name = "ablationcam"
    label = "Ablation-CAM"
    reference = "Desai & Ramaswamy 2020"
    formula = "drop in the target logit when channel k is zeroed"
    extra_forwards = True
    relu = True
    default = False
    kwargs = ("chunk_size", "ablation_value")

    def weights(self, ctx: MethodContext) -> torch.Tensor:
        A, x = ctx.A, ctx.x
        n, c, _ = A.shape
        chunk = _chunk_size(ctx)
        value = ctx.kwargs.get("ablation_value", 0.0)
        if isinstance(value, str):
            if value != "auto":
                raise ValueError(f"ablation_value: expected a number or 'auto', got {value!r}")
            mins = A.detach().reshape(n, -1).amin(1)
            per_sample = torch.where(mins == 0, torch.zeros_like(mins), mins - 1e7)
        else:
            per_sample = torch.full((n,), float(value), dtype=A.dtype, device=A.device)
        y = ctx.logits[torch.arange(n, device=ctx.logits.device), ctx.target].to(A.dtype)
        scores = torch.empty(n * c, dtype=A.dtype, device=A.device)
        with torch.no_grad():
            for start in range(0, n * c, chunk):
                rows = torch.arange(start, min(start + chunk, n * c), device=A.device)
                ni, ki = rows // c, rows % c
                r = torch.arange(len(rows), device=A.device)

                def ablate(out: torch.Tensor, r=r, ki=ki, ni=ni) -> torch.Tensor:
                    out = out.clone()
                    out[r, ki, :] = per_sample[ni, None].to(out.dtype)
                    return out

                out = ctx.forward_replacing(x[ni], ablate)
                scores[rows] = out[r, ctx.target[ni]].to(A.dtype)
            return (y[:, None] - scores.view(n, c)) / y[:, None]


class FunctionMethod(Method):
    """A user method from :func:`register_method`: ``fn(A, G or None, reduction) -> [N, T']``.
    Its attributes are set per instance (from :func:`register_method`'s arguments)."""

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        uses_gradients: bool = False,
        reductions: Sequence[str] = (),
        relu: bool = False,
        default: bool = False,
        extra_forwards: bool = False,
        label: str = "",
        reference: str = "",
        formula: str = "",
    ):
        self.name = name  # type: ignore[misc]
        self.fn = fn
        self.uses_gradients = uses_gradients  # type: ignore[misc]
        self.reductions = tuple(reductions)  # type: ignore[misc]
        self.relu = relu  # type: ignore[misc]
        self.default = default  # type: ignore[misc]
        self.extra_forwards = extra_forwards  # type: ignore[misc]
        self.uses_target = uses_gradients or extra_forwards  # type: ignore[misc]
        self.label = label  # type: ignore[misc]
        self.reference = reference  # type: ignore[misc]
        self.formula = formula  # type: ignore[misc]

    def compute(self, ctx: MethodContext) -> torch.Tensor:
        out = self.fn(ctx.A, ctx.G, ctx.reduction)
        t = torch.as_tensor(np.asarray(out) if not isinstance(out, torch.Tensor) else out)
        n, _, tl = ctx.A.shape
        if tuple(t.shape) != (n, tl):
            raise ValueError(
                f"method {self.name!r}: expected a map of shape [N, T'] = [{n}, {tl}], "
                f"got {list(t.shape)}"
            )
        return t.to(device=ctx.A.device, dtype=ctx.A.dtype)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Activation(),
        Cam(),
        GradCam(),
        GradCamClassic(),
        GradCamPlusPlus(),
        XGradCam(),
        HiResCam(),
        LayerCam(),
        EigenCam(),
        ScoreCam(),
        AblationCam(),
    )
}
"""The method registry: name -> :class:`Method`."""


def register_method(
    name: str,
    fn: Callable[..., Any] | Method | type[Method],
    uses_gradients: bool = False,
    uses_reduction: bool = False,
    relu: bool = False,
    default: bool = False,
    overwrite: bool = False,
    *,
    extra_forwards: bool = False,
    label: str = "",
    reference: str = "",
    formula: str = "",
) -> Method:
    """Add a method to :data:`METHODS` and return the registered object.

    ``fn`` is a :class:`Method` (an instance or a subclass; its class attributes describe it and
    the flag arguments are ignored), or a function ``fn(activations [N, C, T'], gradients
    [N, C, T'] or None, reduction or None) -> [N, T']`` (tensor or array) described by the
    arguments: ``uses_gradients`` asks for ``G``; ``uses_reduction`` makes one map per
    reduction; ``relu`` applies a ReLU before normalisation; ``default`` adds it to the
    ``methods=None`` selection; ``extra_forwards`` marks it expensive (never precomputed by
    ``precompute="auto"``, never prefetched); ``label``/``reference``/``formula`` describe it.

    An instance passed in is never changed: when its name differs from ``name``, a shallow copy
    registered under ``name`` is returned."""
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"name: expected a non-empty string without '/', got {name!r}")
    if name in METHODS and not overwrite:
        raise ValueError(f"name: method {name!r} already exists; pass overwrite=True to replace it")
    if isinstance(fn, type) and issubclass(fn, Method):
        fn = fn()
    if isinstance(fn, Method):
        method = fn
        if method.name != name:
            method = copy.copy(fn)
            method.name = name  # type: ignore[misc]  # an instance attribute of the copy
    elif callable(fn):
        method = FunctionMethod(
            name,
            fn,
            uses_gradients=uses_gradients,
            reductions=REDUCTIONS if uses_reduction else (),
            relu=relu,
            default=default,
            extra_forwards=extra_forwards,
            label=label,
            reference=reference,
            formula=formula,
        )
    else:
        raise TypeError(f"fn: expected a callable or a Method, got {type(fn).__name__}")
    METHODS[name] = method
    return method


def unregister_method(name: str) -> None:
    """Remove a method from :data:`METHODS` (KeyError if unknown)."""
    if name not in METHODS:
        raise KeyError(f"name: no method {name!r}; known: {sorted(METHODS)}")
    del METHODS[name]


def check_method_kwargs(value: Any) -> dict[str, Any]:
    """``method_kwargs`` as given to ``evaluate`` or ``CamWidget``: a copy of the dict (``{}`` for
    None); anything but a dict with string keys is a TypeError naming it."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError(
            f"method_kwargs: expected a dict of keyword arguments for the methods (e.g. "
            f"{{'steps': 16}}), got {type(value).__name__} {value!r}"
        )
    return dict(value)


def default_methods() -> list[str]:
    """The ``methods=None`` selection: every registered method with ``default = True``."""
    return [n for n, m in METHODS.items() if m.default]


def methods_table(methods: dict[str, Method] | None = None) -> str:
    """The README's methods table (markdown), from the methods' class attributes."""
    rows = [
        "| method | label | map | selection | reference |",
        "|---|---|---|---|---|",
    ]
    for n, m in (METHODS if methods is None else methods).items():
        cost = "default" if m.default else "opt-in"
        if m.extra_forwards:
            c = m.cost(1, 100)
            cost += ": " + (
                "a forward per channel"
                if c is None
                else m.menu_label(1, 100).removeprefix(m.display_label).strip(" ()")
                + " per sample (1 x 100 series)"
            )
        rows.append(f"| `{n}` | {m.display_label} | {m.formula} | {cost} | {m.reference} |")
    return "\n".join(rows)
