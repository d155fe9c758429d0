"""Input attribution methods (the baselines CAMs are compared with in the time-series literature),
one class each, defined on the ``input`` layer only (NaN elsewhere).

Each gives a map per channel ``[N, C, T]`` (:meth:`InputAttribution.attribute`); its ``[T]`` map
in the cube is the **sum over channels** of that map, and the per-channel maps reach the user
through :meth:`Explanation.channel_maps`, from the same pass. ``saliency`` and
``inputxgradient`` read the explainer's one shared gradient; the others run passes of their own
(``extra_forwards``: opt-in, never precomputed by default), batched over samples x steps /
windows / permutations and fed ``chunk_size`` rows at a time (:func:`.input_ops.run_rows`).
``occlusion`` and ``shapley_segments`` need no gradient at all (ROCKET-like models).

Notation: ``x`` the batch ``[N, C, T]``, ``F(x)`` the target logit, ``g(x) = dF/dx``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

from .input_ops import (
    INTEGRATIONS,
    check_choice,
    check_float,
    check_int,
    integration_points,
    make_baseline,
    run_rows,
    segments,
    windows,
)
from .layers import INPUT
from .methods import DEFAULT_CHUNK, Method, MethodContext

ONLY_ON_INPUT = "the input layer ('input')"


#: time steps per extra pass when ``chunk_size`` is not given: rows of at most 32k steps in all, a
#: power of two of them (on 2 CPU cores, InceptionTime on 500 steps took 1.10x the time per row of
#: passes of 64 rows in passes of 131 rows, and 2.2x in passes of 256)
STEPS_PER_PASS = 2**15


def default_chunk(length: int) -> int:
    """Rows per extra pass for series of ``length`` steps when ``chunk_size`` is not given: the
    largest power of two with at most :data:`STEPS_PER_PASS` steps in all (1 to 256)."""
    rows = max(1, min(DEFAULT_CHUNK, STEPS_PER_PASS // max(1, length)))
    return 1 << (rows.bit_length() - 1)


def _chunk(ctx: MethodContext) -> int:
    return check_int(ctx.kwargs, "chunk_size", default_chunk(ctx.x.shape[-1]))


def _grad_fn(ctx: MethodContext) -> Any:
    if ctx.input_gradient is None:
        raise ValueError("this method needs the explainer's input_gradient (no explainer ran it)")
    return ctx.input_gradient


def _target_logit(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return out[torch.arange(out.shape[0], device=out.device), target.to(out.device)]


class InputAttribution(Method):
    """Base of the input attributions: :meth:`attribute` gives ``[N, C, T]`` on the ``input``
    layer; the ``[T]`` map is its sum over channels; every other layer is NaN."""

    only_on: ClassVar[str] = ONLY_ON_INPUT
    from_channels: ClassVar[bool] = True

    def attribute(self, ctx: MethodContext) -> torch.Tensor:
        """The attribution of the batch ``ctx.x`` ``[N, C, T]`` (same shape)."""
        raise NotImplementedError

    def channels(self, ctx: MethodContext) -> torch.Tensor | None:
        """:meth:`attribute` on the ``input`` layer, None elsewhere."""
        return self.attribute(ctx) if ctx.layer == INPUT else None

    def compute(self, ctx: MethodContext) -> torch.Tensor | None:
        """The sum over channels of :meth:`channels` ``[N, T]``; None off the input layer."""
        ch = self.channels(ctx)
        return None if ch is None else ch.sum(1)


class GradientAttribution(InputAttribution):
    """An attribution made of input gradients, for any rows: :meth:`attribute_rows` (what
    ``tsr`` rescales)."""

    own_gradients = True

    def attribute_rows(
        self,
        ctx: MethodContext,
        X: torch.Tensor,
        target: torch.Tensor,
        sample: torch.Tensor,
        ref: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The attribution ``[R, C, T]`` of rows ``X`` ``[R, C, T]`` for ``target`` ``[R]``;
        ``sample`` ``[R]``: each row's sample index in the explain call (seeds); ``ref``
        ``[R, C, T]``: the rows that data-dependent settings (a ``mean``/``blur`` baseline,
        SmoothGrad's default noise scale) are taken from, default ``X`` (``tsr`` passes the
        unmasked samples, as the authors keep one baseline for all masked copies)."""
        raise NotImplementedError

    def passes(self, ctx: MethodContext) -> int:
        """Forward+backward passes per row of :meth:`attribute_rows`."""
        return 1

    def attribute(self, ctx: MethodContext) -> torch.Tensor:
        n = ctx.x.shape[0]
        sample = torch.arange(ctx.start, ctx.start + n, device=ctx.x.device)
        return self.attribute_rows(ctx, ctx.x, ctx.target, sample)


def _gradients(ctx: MethodContext, X: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``g(X)`` ``[R, C, T]``, ``chunk_size`` rows per pass."""
    fn, out = _grad_fn(ctx), torch.empty_like(X)

    def make(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return X[rows], target[rows]

    def keep(rows: torch.Tensor, g: torch.Tensor) -> None:
        out[rows] = g.to(out.dtype)

    run_rows(X.shape[0], _chunk(ctx), make, fn, keep, X.device)
    return out


class MultiPassAttribution(GradientAttribution):
    """A gradient attribution that takes :meth:`passes` gradients per row, their number the int
    keyword :attr:`passes_kwarg` (default :attr:`passes_default`); each costs a forward and a
    backward per sample."""

    passes_kwarg: ClassVar[str] = ""
    passes_default: ClassVar[int] = 1

    def _passes(self, kwargs: dict[str, Any]) -> int:
        return check_int(kwargs, self.passes_kwarg, self.passes_default)

    def passes(self, ctx: MethodContext) -> int:
        return self._passes(ctx.kwargs)

    def cost(self, channels: int, length: int, **kwargs: Any) -> tuple[int, int]:
        s = self._passes(kwargs)
        return (s, s)


def _accumulate(
    ctx: MethodContext,
    X: torch.Tensor,
    target: torch.Tensor,
    m: int,
    point: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    weigh: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """``sum_j weigh(j, g(point(i, j)))`` over ``j < m`` for every row ``i`` of ``X``
    ``[R, C, T]`` (gradients for ``target[i]``): ``[R, C, T]``. ``point(i, j)`` and
    ``weigh(j, g)`` take index tensors of one chunk (``chunk_size`` of the ``R x m`` rows)."""
    acc = torch.zeros_like(X)

    def make(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        i, j = rows // m, rows % m
        return point(i, j), target[i]

    def add(rows: torch.Tensor, g: torch.Tensor) -> None:
        acc.index_add_(0, rows // m, weigh(rows % m, g.to(X.dtype)))

    run_rows(X.shape[0] * m, _chunk(ctx), make, _grad_fn(ctx), add, X.device)
    return acc


class PointwiseGradientAttribution(GradientAttribution):
    """An attribution :meth:`of` the input gradient and the input, element by element: on the
    batch it reads the explainer's shared gradient, on other rows (``tsr``) it takes theirs."""

    uses_gradients = True

    def of(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The attribution ``[R, C, T]`` from gradients ``g`` and inputs ``x`` (both that shape)."""
        raise NotImplementedError

    def attribute(self, ctx: MethodContext) -> torch.Tensor:
        return self.of(ctx.G, ctx.A)

    def attribute_rows(self, ctx, X, target, sample, ref=None):  # type: ignore[no-untyped-def]
        return self.of(_gradients(ctx, X, target), X)


class Saliency(PointwiseGradientAttribution):
    """Simonyan et al. 2014 (as captum's ``Saliency``, ``abs=True``): ``|g_c(t)|`` per channel;
    the ``[T]`` map sums it over channels."""

    name = "saliency"
    label = "Saliency"
    reference = "Simonyan et al. 2014"
    formula = "abs(dF/dx_c(t)), summed over channels"

    def of(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return g.abs()


class InputXGradient(PointwiseGradientAttribution):
    """Shrikumar et al. 2016 (as captum's ``InputXGradient``): ``x_c(t) g_c(t)`` per channel,
    signed; the ``[T]`` map sums it over channels (the input layer's HiResCAM before its ReLU)."""

    name = "inputxgradient"
    label = "Input x Gradient"
    reference = "Shrikumar et al. 2016"
    formula = "x_c(t) dF/dx_c(t), summed over channels"

    def of(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return g * x


class IntegratedGradients(MultiPassAttribution):
    """Sundararajan et al. 2017 (as captum's ``IntegratedGradients``):
    ``(x - b) * sum_k w_k g(b + a_k (x - b))`` per channel, ``steps`` points ``a_k`` with weights
    ``w_k`` of ``integration`` (``"gausslegendre"``, captum's default, or a ``"riemann_*"``
    rule). ``baseline``: ``"zeros"`` (default), ``"mean"`` (each sample's channel means),
    ``"blur"`` (Gaussian of ``blur_sigma`` steps, default T/20) or an array broadcastable to
    ``[C, T]`` (the training mean). All samples x steps are one batch of rows."""

    name = "integrated_gradients"
    label = "Integrated Gradients"
    reference = "Sundararajan et al. 2017"
    formula = "(x - b) * integral of dF/dx along b -> x (steps points), summed over channels"
    extra_forwards = True
    default = False
    kwargs = ("steps", "baseline", "integration", "blur_sigma", "chunk_size")
    passes_kwarg = "steps"
    passes_default = 32

    def attribute_rows(self, ctx, X, target, sample, ref=None):  # type: ignore[no-untyped-def]
        steps = self.passes(ctx)
        rule = check_choice(ctx.kwargs, "integration", INTEGRATIONS, "gausslegendre")
        alphas, weights = (
            torch.as_tensor(v, dtype=X.dtype, device=X.device)
            for v in integration_points(steps, rule)
        )
        B = make_baseline(
            X if ref is None else ref,
            ctx.kwargs.get("baseline", "zeros"),
            ctx.kwargs.get("blur_sigma"),
        )
        D = X - B
        acc = _accumulate(
            ctx,
            X,
            target,
            steps,
            lambda i, k: B[i] + alphas[k, None, None] * D[i],
            lambda k, g: weights[k, None, None] * g,
        )
        return D * acc


class SmoothGrad(MultiPassAttribution):
    """Smilkov et al. 2017, as captum's ``NoiseTunnel(Saliency)`` (``nt_type="smoothgrad"``):
    the mean of ``|g(x + e_j)|`` over ``noise_samples`` draws ``e_j ~ N(0, noise_std^2)``;
    ``noise_std`` default 0.15 x (max - min) of each sample. The draws of sample ``i`` of the
    explain call come from ``torch.Generator().manual_seed(seed + i)`` as
    ``randn(noise_samples, C, T) * noise_std`` (on the CPU), so they do not depend on the batch
    size or the device."""

    name = "smoothgrad"
    label = "SmoothGrad"
    reference = "Smilkov et al. 2017"
    formula = "mean over noisy copies of abs(dF/dx), summed over channels"
    extra_forwards = True
    default = False
    kwargs = ("noise_samples", "noise_std", "seed", "chunk_size")
    passes_kwarg = "noise_samples"
    passes_default = 16

    def attribute_rows(self, ctx, X, target, sample, ref=None):  # type: ignore[no-untyped-def]
        m = self.passes(ctx)
        seed = check_int(ctx.kwargs, "seed", 0, low=0)
        std = check_float(ctx.kwargs, "noise_std", None)
        if std is not None and std < 0:
            raise ValueError(f"noise_std: expected a number >= 0, got {std!r}")
        noise: dict[int, torch.Tensor] = {}  # per sample (masked rows of tsr share their draws)
        for s in sample.tolist():
            if s not in noise:
                g = torch.Generator().manual_seed(seed + int(s))
                noise[s] = torch.randn((m, *X.shape[1:]), generator=g, dtype=torch.float32)
        span = (X if ref is None else ref).flatten(1)
        scale = (
            torch.full((X.shape[0],), std, dtype=X.dtype, device=X.device)
            if std is not None
            else 0.15 * (span.amax(1) - span.amin(1))
        )
        E = torch.stack([noise[s] for s in sample.tolist()]).to(X.device, X.dtype)  # [R, m, C, T]
        acc = _accumulate(
            ctx,
            X,
            target,
            m,
            lambda i, j: X[i] + E[i, j] * scale[i, None, None],
            lambda j, g: g.abs(),
        )
        return acc / m


def _forward_deltas(
    ctx: MethodContext, masks: torch.Tensor, keep: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Target logits of the masked inputs: row ``(i, j)`` is ``x_i`` with the elements of
    ``masks[j]`` (``[J, C, T]`` bool) set to 0 (``keep=False``) or only those kept
    (``keep=True``). Returns ``(F(x) [N], F(masked) [N, J])``, plain forwards, no gradient."""
    x, tgt = ctx.x, ctx.target
    n, J = x.shape[0], masks.shape[0]
    out = torch.empty(n * J, dtype=x.dtype, device=x.device)
    m = masks.to(x.dtype)
    if not keep:
        m = 1 - m

    def make(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        i, j = rows // J, rows % J
        return x[i] * m[j], tgt[i]

    def run(xb: torch.Tensor, tb: torch.Tensor) -> torch.Tensor:
        return _target_logit(ctx.forward(xb), tb)

    def put(rows: torch.Tensor, y: torch.Tensor) -> None:
        out[rows] = y.to(out.dtype)

    with torch.no_grad():
        run_rows(n * J, _chunk(ctx), make, run, put, x.device)
    return _target_logit(ctx.logits, tgt).to(x.dtype), out.view(n, J)


class Occlusion(InputAttribution):
    """Zeiler & Fergus 2014, as captum's ``Occlusion`` with baseline 0: windows of ``window``
    steps (default T/20) every ``stride`` steps (default ``window``; the last window is clipped
    at T so every step is covered) over all channels together (captum
    ``sliding_window_shapes=(C, window)``), or over each channel alone with ``per_channel=True``
    (``(1, window)``). Each element gets the mean, over the windows covering it, of
    ``F(x) - F(x with the window set to 0)``. Plain forwards only: works without gradients."""

    name = "occlusion"
    label = "Occlusion"
    reference = "Zeiler & Fergus 2014"
    formula = "drop of F when a window (all channels, or one) is set to 0"
    extra_forwards = True
    default = False
    uses_target = True
    kwargs = ("window", "stride", "per_channel", "chunk_size")

    @staticmethod
    def _windows(c: int, t: int, kwargs: dict[str, Any]) -> tuple[list[tuple[int, int]], bool]:
        w = check_int(kwargs, "window", max(1, t // 20))
        per = kwargs.get("per_channel", False)
        if not isinstance(per, (bool, np.bool_)):
            raise ValueError(f"per_channel: expected True or False, got {per!r}")
        return windows(t, w, check_int(kwargs, "stride", w)), bool(per)

    def cost(self, channels: int, length: int, **kwargs: Any) -> tuple[int, int]:
        wins, per = self._windows(channels, length, kwargs)
        return (len(wins) * (channels if per else 1), 0)

    def attribute(self, ctx: MethodContext) -> torch.Tensor:
        _, c, t = ctx.x.shape
        wins, per = self._windows(c, t, ctx.kwargs)
        chans = [[k] for k in range(c)] if per else [list(range(c))]
        masks = torch.zeros(len(chans) * len(wins), c, t, dtype=torch.bool, device=ctx.x.device)
        for a, ks in enumerate(chans):
            for b, (s, e) in enumerate(wins):
                masks[a * len(wins) + b, ks, s:e] = True
        y, ym = _forward_deltas(ctx, masks, keep=False)
        m = masks.to(ctx.x.dtype)
        total = torch.einsum("nj,jct->nct", y[:, None] - ym, m)
        return total / m.sum(0)


class ShapleySegments(InputAttribution):
    """Shapley value sampling (Castro et al. 2009; as captum's ``ShapleyValueSampling``, baseline
    0) over ``n_segments`` (default 10) contiguous time segments, all channels together, as
    features: ``shapley_samples`` (default 25) random orders from
    ``torch.Generator().manual_seed(seed)`` (the same orders for every sample, as captum draws
    them with ``torch.randperm`` after ``torch.manual_seed(seed)``); a segment's value is the
    mean rise of ``F`` when it is added to the segments before it in the order (the others at
    0). Every element of a segment (every channel) carries its segment's value. Plain forwards
    under ``torch.no_grad``, never a backward: explains models without gradients (ROCKET)."""

    name = "shapley_segments"
    label = "Shapley segments"
    reference = "Castro et al. 2009; Strumbelj & Kononenko 2010"
    formula = "sampled Shapley value of each time segment (all channels), no gradients"
    extra_forwards = True
    default = False
    kwargs = ("n_segments", "shapley_samples", "seed", "chunk_size")

    def cost(self, channels: int, length: int, **kwargs: Any) -> tuple[int, int]:
        f = check_int(kwargs, "n_segments", min(10, length))
        return (check_int(kwargs, "shapley_samples", 25) * (f - 1) + 1, 0)

    def attribute(self, ctx: MethodContext) -> torch.Tensor:
        x = ctx.x
        n, c, t = x.shape
        segs = segments(t, check_int(ctx.kwargs, "n_segments", min(10, t)))
        n_perm = check_int(ctx.kwargs, "shapley_samples", 25)
        g = torch.Generator().manual_seed(check_int(ctx.kwargs, "seed", 0, low=0))
        perms = torch.stack([torch.randperm(len(segs), generator=g) for _ in range(n_perm)])
        f = len(segs)
        seg_of = torch.zeros(t, dtype=torch.long)
        for k, (s, e) in enumerate(segs):
            seg_of[s:e] = k
        rank = torch.argsort(perms, 1)  # [P, F]: position of each segment in each order
        # present[p, k, t]: step t's segment is among the first k of order p (k = 0..F)
        present = rank[:, seg_of][:, None, :] < torch.arange(f + 1)[None, :, None]
        masks = present[:, 1:f].reshape(-1, 1, t).expand(-1, c, t).to(x.device)
        y, ym = _forward_deltas(ctx, masks, keep=True)  # [N], [N, P * (F - 1)]
        with torch.no_grad():
            y0 = _target_logit(ctx.forward(torch.zeros_like(x)), ctx.target).to(x.dtype)
        ev = torch.empty(n, n_perm, f + 1, dtype=x.dtype, device=x.device)  # F of prefix k
        ev[:, :, 0] = y0[:, None]
        ev[:, :, 1:f] = ym.view(n, n_perm, f - 1)
        ev[:, :, f] = y[:, None]
        gain = ev[:, :, 1:] - ev[:, :, :-1]  # [N, P, F]: rise when order position k is added
        phi = torch.zeros(n, f, dtype=x.dtype, device=x.device)
        phi.scatter_add_(1, perms.to(x.device).view(1, -1).expand(n, -1), gain.reshape(n, -1))
        phi /= n_perm
        return phi[:, seg_of.to(x.device)][:, None, :].expand(n, c, t).clone()


def _minmax(v: torch.Tensor) -> torch.Tensor:
    """``v`` ``[A, B]`` min-max scaled into [0, 1] along its last axis; a flat row gives 0 (as
    ``sklearn.preprocessing.minmax_scale``)."""
    lo, hi = v.amin(1, keepdim=True), v.amax(1, keepdim=True)
    span = hi - lo
    ok = span > 1e-12 * torch.maximum(torch.ones_like(hi), torch.maximum(hi.abs(), lo.abs()))
    return torch.where(ok, (v - lo) / torch.where(ok, span, torch.ones_like(span)), 0 * v)


class Tsr(InputAttribution):
    """Temporal Saliency Rescaling (Ismail et al. 2020), as the authors' ``getTwoStepRescaling``
    (github.com/ayaabdelsalam91/TS-Interpretability-Benchmark, ``MNIST Experiments/Scripts/
    interpret.py``; TSInterpret's ``Saliency_PTY`` ports it unchanged), over a base attribution
    ``R`` (``tsr_base``: ``"saliency"`` default, ``"inputxgradient"``, ``"integrated_gradients"``,
    ``"smoothgrad"``). Masking sets elements to ``tsr_assignment``: ``"first"`` (default, the
    authors' ``assignment = input[0, 0, 0]``: each sample's value at channel 0, step 0) or a
    number. Time relevance ``r(t) = sum |R(x) - R(x with step t of every channel masked)|``,
    min-max scaled over t per sample (a flat row gives 0, as ``sklearn``'s ``minmax_scale``);
    for steps with ``r(t)`` strictly above its ``tsr_quantile`` quantile (default 0.55, linear
    interpolation, as ``np.quantile``), feature relevance ``q(t, c) = sum |R(x) - R(x with
    (t, c) masked)|`` min-max scaled over c, else ``q = 0.1``; map ``r(t) q(t, c)`` ``[N, C, T]``.
    The base's data-dependent settings (a ``mean``/``blur`` IG baseline, SmoothGrad's noise
    scale) come from the unmasked sample, as the authors pass one baseline to every call.
    Departures: with one channel ``q = 1`` (the authors' min-max over one channel gives 0, which
    would zero the relevant steps and keep 0.1 r(t) on the others); SmoothGrad's noise draws
    are shared by a sample's masked copies (seeded) where captum draws afresh per call.
    Cost: the base's passes x (1 + T + C x steps above the quantile) per sample."""

    name = "tsr"
    label = "TSR"
    reference = "Ismail et al. 2020"
    formula = "time relevance x feature relevance of a base attribution (saliency)"
    extra_forwards = True
    default = False
    own_gradients = True
    BASES: ClassVar[tuple[str, ...]] = (
        "saliency",
        "inputxgradient",
        "integrated_gradients",
        "smoothgrad",
    )
    kwargs = (
        "tsr_base",
        "tsr_quantile",
        "tsr_assignment",
        *IntegratedGradients.kwargs,
        *(k for k in SmoothGrad.kwargs if k != "chunk_size"),
    )

    def _base(self, kwargs: dict[str, Any]) -> GradientAttribution:
        name = check_choice(kwargs, "tsr_base", self.BASES, "saliency")
        return next(m for m in INPUT_METHODS if m.name == name)  # type: ignore[return-value]

    @staticmethod
    def _quantile(kwargs: dict[str, Any]) -> float:
        q = check_float(kwargs, "tsr_quantile", 0.55)
        if q is None or not 0 <= q <= 1:
            raise ValueError(f"tsr_quantile: expected a number in [0, 1], got {q!r}")
        return q

    @staticmethod
    def _assignment(kwargs: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
        """The masking value of each sample ``[N]``."""
        value = kwargs.get("tsr_assignment")
        if value is None or (isinstance(value, str) and value == "first"):
            return x[:, 0, 0].clone()
        if isinstance(value, str):
            raise ValueError(f"tsr_assignment: expected 'first' or a number, got {value!r}")
        v = check_float(kwargs, "tsr_assignment", 0.0)
        return torch.full((x.shape[0],), v or 0.0, dtype=x.dtype, device=x.device)

    def cost(self, channels: int, length: int, **kwargs: Any) -> tuple[int, int]:
        base = self._base(kwargs)
        per = (base.cost(channels, length, **kwargs) or (1, 1))[0] or 1
        q = self._quantile(kwargs)
        above = int(round((1 - q) * length)) if channels > 1 else 0
        n = per * (1 + length + above * channels)
        return (n, n)

    def attribute(self, ctx: MethodContext) -> torch.Tensor:
        x, tgt = ctx.x, ctx.target
        n, c, t = x.shape
        base = self._base(ctx.kwargs)
        q = self._quantile(ctx.kwargs)
        value = self._assignment(ctx.kwargs, x)
        sample = torch.arange(ctx.start, ctx.start + n, device=x.device)
        R0 = base.attribute_rows(ctx, x, tgt, sample)
        # masked rows per chunk so that the base's own expansion stays near chunk_size rows
        per_chunk = max(1, _chunk(ctx) // base.passes(ctx))

        def relevance(i: torch.Tensor, ts: torch.Tensor, cs: torch.Tensor | None) -> torch.Tensor:
            """sum |R(x_i) - R(x_i with step ts of channel cs (all channels: None) masked)| per
            row; the masked rows are built a chunk at a time."""
            out = torch.empty(len(i), dtype=x.dtype, device=x.device)
            for s in range(0, len(i), per_chunk):
                ii, tc = i[s : s + per_chunk], ts[s : s + per_chunk]
                r = torch.arange(len(ii), device=x.device)
                Xm = x[ii].clone()
                if cs is None:
                    Xm[r, :, tc] = value[ii, None]
                else:
                    Xm[r, cs[s : s + per_chunk], tc] = value[ii]
                R = base.attribute_rows(ctx, Xm, tgt[ii], sample[ii], ref=x[ii])
                out[s : s + per_chunk] = (R0[ii] - R).abs().flatten(1).sum(1)
            return out

        i = torch.arange(n, device=x.device).repeat_interleave(t)
        time = _minmax(relevance(i, torch.arange(t, device=x.device).repeat(n), None).view(n, t))
        if c == 1:
            return time[:, None, :].clone()
        thr = torch.quantile(time.double(), q, dim=1, keepdim=True).to(x.dtype)
        feat = torch.full((n, t, c), 0.1, dtype=x.dtype, device=x.device)
        ni, ti = torch.nonzero(time > thr, as_tuple=True)
        if len(ni):
            cs = torch.arange(c, device=x.device).repeat(len(ni))
            rel = relevance(ni.repeat_interleave(c), ti.repeat_interleave(c), cs)
            feat[ni, ti] = _minmax(rel.view(len(ni), c))
        return time[:, None, :] * feat.transpose(1, 2)


INPUT_METHODS: tuple[InputAttribution, ...] = (
    Saliency(),
    InputXGradient(),
    IntegratedGradients(),
    SmoothGrad(),
    Occlusion(),
    ShapleySegments(),
    Tsr(),
)
"""The input attribution methods, registered in :data:`.methods.METHODS` by
:mod:`tscam_widget.explain`."""
