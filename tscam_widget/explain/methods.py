"""Class-activation-map methods, one small class each over a shared base, and their registry.

Every method maps a :class:`MethodContext` (one layer, one batch) to a *raw* map ``[N, T']`` at the
layer's own length. For methods whose definition ends in a ReLU (``relu = True``) the raw map is
the signed map *before* that ReLU (so it compares with captum's ``relu_attributions=False``); the
ReLU is applied when the map is normalised (:class:`~tscam_widget.explain.Explanation`).

Notation: ``A`` activations ``[N, C, T']``, ``G = d logit_target / dA`` of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REDUCTIONS = ("mean", "median", "max", "mean_max")

Forward = Callable[[torch.Tensor], torch.Tensor]
Replacer = Callable[[torch.Tensor], torch.Tensor]


def reduce(t: torch.Tensor, how: str, dim: int) -> torch.Tensor:
    """Reduce ``t`` over ``dim`` with ``mean``, ``median`` (``torch.median``: the lower of the two
    middle values for an even count, as the ``timeseries`` package), ``max`` or ``mean_max`` =
    (mean + max) / 2."""
    if how == "mean":
        return t.mean(dim)
    if how == "max":
        return t.amax(dim)
    if how == "mean_max":
        return (t.mean(dim) + t.amax(dim)) / 2
    if how == "median":
        return t.median(dim).values
    raise ValueError(f"reductions: expected one of {list(REDUCTIONS)}, got {how!r}")


@dataclass
class MethodContext:
    """Everything a method may use for one layer and one batch (all tensors on the model device).

    ``A``/``G`` ``[N, C, T']`` (``G`` None unless the method uses gradients), ``x`` the input batch
    ``[N, C_in, T]``, ``target`` ``[N]`` int64, ``logits`` ``[N, K]``; ``head_weight`` ``[K, C]``
    when the layer's time-mean feeds the final ``nn.Linear`` (else None); ``forward(xb)`` returns
    logits without capturing; ``forward_replacing(xb, fn)`` runs a forward with this layer's
    output replaced by ``fn(output)``.
    """

    A: torch.Tensor
    G: torch.Tensor | None
    layer: str
    model: nn.Module
    x: torch.Tensor
    target: torch.Tensor
    logits: torch.Tensor
    reduction: str | None = None
    head_weight: torch.Tensor | None = None
    head_name: str | None = None
    forward: Forward | None = None
    forward_replacing: Callable[[torch.Tensor, Replacer], torch.Tensor] | None = None
    batch_size: int = 256
    kwargs: dict[str, Any] = field(default_factory=dict)


class Method:
    """Base of all methods. Subclasses set the flags and implement :meth:`compute`."""

    name: ClassVar[str] = ""
    uses_gradients: ClassVar[bool] = False
    uses_reduction: ClassVar[bool] = False
    needs_forward: ClassVar[bool] = False  # runs extra forwards (expensive)
    relu: ClassVar[bool] = False  # the definition ends in a ReLU, applied at normalisation
    default: ClassVar[bool] = True  # part of the default ``methods=None`` selection
    kwargs: ClassVar[tuple[str, ...]] = ()  # extra keyword arguments it accepts

    def compute(self, ctx: MethodContext) -> torch.Tensor | None:
        """Return the raw map ``[N, T']`` (pre-ReLU), or None where undefined for this layer."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<method {self.name!r}>"


DEFAULT_CHUNK = 256


def _chunk_size(ctx: MethodContext) -> int:
    """The ``chunk_size`` kwarg (rows per extra forward), default :data:`DEFAULT_CHUNK`."""
    c = ctx.kwargs.get("chunk_size", DEFAULT_CHUNK)
    if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1:
        raise ValueError(f"chunk_size: expected a positive int, got {c!r}")
    return int(c)


def _weighted(w: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """``sum_k w[n, k] A[n, k, t]`` -> ``[N, T']``."""
    return torch.einsum("nc,nct->nt", w, A)


class Activation(Method):
    """The ``timeseries`` package's "CAM": ``reduce_k A_k(t)`` (no ReLU)."""

    name = "activation"
    uses_reduction = True

    def compute(self, ctx: MethodContext) -> torch.Tensor:
        return reduce(ctx.A, ctx.reduction or "mean", dim=1)


class Cam(Method):
    """Zhou et al. 2016: ``sum_k W[c, k] A_k(t)`` with ``W`` the final linear layer's weights.

    Defined only for the layer whose time-mean (global average pooling) is the final
    ``nn.Linear``'s input; NaN elsewhere. No ReLU, no bias."""

    name = "cam"

    def compute(self, ctx: MethodContext) -> torch.Tensor | None:
        if ctx.head_weight is None:
            return None
        return _weighted(ctx.head_weight[ctx.target], ctx.A)


class GradCam(Method):
    """Selvaraju et al.: ``ReLU(sum_k w_k A_k)``, ``w_k = mean_t G_k(t)``."""

    name = "gradcam"
    uses_gradients = True
    relu = True

    def compute(self, ctx: MethodContext) -> torch.Tensor:
        return _weighted(ctx.G.mean(-1), ctx.A)


class GradCamClassic(Method):
    """The ``timeseries`` package's "GRAD-CAM": ``mean_k (reduce_t G_k) A_k(t)``, no ReLU."""

    name = "gradcam_classic"
    uses_gradients = True
    uses_reduction = True

    def compute(self, ctx: MethodContext) -> torch.Tensor:
        w = reduce(ctx.G, ctx.reduction or "mean", dim=-1)
        return (w[:, :, None] * ctx.A).mean(1)


class GradCamPlusPlus(Method):
    """As pytorch-grad-cam's ``GradCAMPlusPlus``: ``a = G^2 / (2 G^2 + sum_t A * G^3 + 1e-6)``,
    ``a = 0`` where ``G == 0``, ``w_k = sum_t ReLU(G_k) a_k``; map ``ReLU(sum_k w_k A_k)``."""

    name = "gradcam++"
    uses_gradients = True
    relu = True

    def compute(self, ctx: MethodContext) -> torch.Tensor:
        G, A = ctx.G, ctx.A
        g2 = G**2
        g3 = g2 * G
        sum_a = A.sum(-1, keepdim=True)
        aij = g2 / (2 * g2 + sum_a * g3 + 1e-6)  # exactly 0 where G == 0 (g2 = 0)
        w = torch.einsum("nct,nct->nc", G.clamp_min(0), aij)
        return _weighted(w, A)


class XGradCam(Method):
    """Fu et al. 2020 (as pytorch-grad-cam): ``w_k = sum_t G_k A_k / (sum_t A_k + 1e-7)``."""

    name = "xgradcam"
    uses_gradients = True
    relu = True

    def compute(self, ctx: MethodContext) -> torch.Tensor:
        G, A = ctx.G, ctx.A
        # the denominator is constant over time, so divide after summing G * A
        w = torch.einsum("nct,nct->nc", G, A) / (A.sum(-1) + 1e-7)
        return _weighted(w, A)


class HiResCam(Method):
    """Draelos & Carin 2020: ``ReLU(sum_k G_k(t) A_k(t))``."""

    name = "hirescam"
    uses_gradients = True
    relu = True

    def compute(self, ctx: MethodContext) -> torch.Tensor:
        return torch.einsum("nct,nct->nt", ctx.G, ctx.A)


class LayerCam(Method):
    """Jiang et al. 2021: ``ReLU(sum_k ReLU(G_k(t)) A_k(t))``."""

    name = "layercam"
    uses_gradients = True
    relu = True

    def compute(self, ctx: MethodContext) -> torch.Tensor:
        return torch.einsum("nct,nct->nt", ctx.G.clamp_min(0), ctx.A)


class EigenCam(Method):
    """Muhammad & Yeasin 2020, as pytorch-grad-cam's ``get_2d_projection`` per sample: ``A^T``
    ``[T', C]`` centred over time, projected on the first right singular vector.

    The sign of a singular vector is arbitrary (SVD returns ``v`` or ``-v``), so the map may come
    out negated; no ReLU is applied (a ReLU would keep an arbitrary half)."""

    name = "eigencam"

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


class ScoreCam(Method):
    """Wang et al. 2020, with pytorch-grad-cam's ``ScoreCAM`` conventions: each channel ``A_k`` is
    upsampled to the input length (linear, ``align_corners=True`` like its
    ``UpsamplingBilinear2d``), min-max normalised per sample (``/(max - min + 1e-8)``), multiplied
    into the input (every input channel); the target *logit* of each masked input gives a score
    and ``w = softmax_k(scores)`` (softmax over channels, as pytorch-grad-cam does). Map
    ``ReLU(sum_k w_k A_k)``. ``chunk_size`` (default 256) masked inputs per forward."""

    name = "scorecam"
    needs_forward = True
    relu = True
    default = False
    kwargs = ("chunk_size",)

    def compute(self, ctx: MethodContext) -> torch.Tensor:
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
            w = torch.softmax(scores.view(n, c), dim=1)
        return _weighted(w, A)


class AblationCam(Method):
    """Desai & Ramaswamy 2020, with pytorch-grad-cam's ``AblationCAM`` formula: channel ``k`` of
    the layer output is set to ``ablation_value`` (default 0.0; ``"auto"`` mirrors
    pytorch-grad-cam: 0 if the sample's minimum activation is 0 else that minimum - 1e7), one
    channel per row of a batched forward (``chunk_size`` rows, default 256);
    ``w_k = (y - y_k) / y`` with ``y`` the target logit and ``y_k`` the target logit with channel
    ``k`` ablated. Map ``ReLU(sum_k w_k A_k)``."""

    name = "ablationcam"
    needs_forward = True
    relu = True
    default = False
    kwargs = ("chunk_size", "ablation_value")

    def compute(self, ctx: MethodContext) -> torch.Tensor:
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
            w = (y[:, None] - scores.view(n, c)) / y[:, None]
        return _weighted(w, A)


class FunctionMethod(Method):
    """A user method from :func:`register_method`: ``fn(A, G or None, reduction) -> [N, T']``."""

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any],
        uses_gradients: bool,
        uses_reduction: bool,
        relu: bool,
        default: bool,
    ):
        self.name = name  # type: ignore[misc]
        self.fn = fn
        self.uses_gradients = uses_gradients  # type: ignore[misc]
        self.uses_reduction = uses_reduction  # type: ignore[misc]
        self.relu = relu  # type: ignore[misc]
        self.default = default  # type: ignore[misc]

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
    fn: Callable[..., Any] | Method,
    uses_gradients: bool = False,
    uses_reduction: bool = False,
    relu: bool = False,
    default: bool = False,
    overwrite: bool = False,
) -> Method:
    """Add a method to :data:`METHODS` and return it.

    ``fn`` is a :class:`Method` instance, or a function ``fn(activations [N, C, T'], gradients
    [N, C, T'] or None, reduction or None) -> [N, T']`` (tensor or array). ``uses_gradients``
    asks for ``G``; ``uses_reduction`` makes one map per reduction; ``relu`` applies a ReLU
    before normalisation; ``default`` adds it to the ``methods=None`` selection."""
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"name: expected a non-empty string without '/', got {name!r}")
    if name in METHODS and not overwrite:
        raise ValueError(f"name: method {name!r} already exists; pass overwrite=True to replace it")
    if isinstance(fn, Method):
        method = fn
        if method.name != name:
            method.name = name  # type: ignore[misc]
    elif callable(fn):
        method = FunctionMethod(name, fn, uses_gradients, uses_reduction, relu, default)
    else:
        raise TypeError(f"fn: expected a callable or a Method, got {type(fn).__name__}")
    METHODS[name] = method
    return method


def unregister_method(name: str) -> None:
    """Remove a method from :data:`METHODS` (KeyError if unknown)."""
    if name not in METHODS:
        raise KeyError(f"name: no method {name!r}; known: {sorted(METHODS)}")
    del METHODS[name]


def default_methods() -> list[str]:
    """The ``methods=None`` selection: every registered method with ``default = True``."""
    return [n for n, m in METHODS.items() if m.default]
