"""Tensor helpers of the input attribution methods (:mod:`.attributions`): integration points,
baselines, time windows and the row-chunked runner of their extra forward(+backward) passes.

Every input attribution expands a batch ``x`` ``[N, C, T]`` into rows (IG: N x steps interpolated
inputs; occlusion: N x windows masked inputs ...). :func:`run_rows` feeds those rows to the model
``chunk`` at a time, building each chunk's inputs only when it runs, so memory stays at one chunk
whatever the expansion."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

#: captum's names for the integration rules of Integrated Gradients
INTEGRATIONS = (
    "gausslegendre",
    "riemann_trapezoid",
    "riemann_left",
    "riemann_right",
    "riemann_middle",
)
BASELINES = ("zeros", "mean", "blur")


def integration_points(steps: int, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """``(alphas, weights)`` float64 ``[steps]`` of ``rule`` on [0, 1], as captum's
    ``approximation_parameters`` (the same points and weights, so the same result): Gauss-Legendre
    nodes and weights, or a Riemann sum."""
    if rule == "gausslegendre":
        nodes, w = np.polynomial.legendre.leggauss(steps)
        return 0.5 * (nodes + 1), 0.5 * w
    if rule == "riemann_trapezoid":
        if steps < 2:
            raise ValueError(f"steps: riemann_trapezoid needs at least 2 steps, got {steps}")
        # captum's weights: 1/n, halved at both ends (they sum to 1 - 1/n, not 1)
        w = np.full(steps, 1.0 / steps)
        w[[0, -1]] /= 2
        return np.linspace(0, 1, steps), w
    starts = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}
    if rule not in starts:
        raise ValueError(f"integration: expected one of {list(INTEGRATIONS)}, got {rule!r}")
    alphas = (np.arange(steps) + starts[rule]) / steps
    return alphas, np.full(steps, 1.0 / steps)


def make_baseline(x: torch.Tensor, spec: Any, blur_sigma: float | None = None) -> torch.Tensor:
    """The baseline ``[N, C, T]`` of the batch ``x`` ``[N, C, T]`` for ``spec``: ``"zeros"``;
    ``"mean"`` (each sample's per-channel mean over time); ``"blur"`` (each channel smoothed
    by a Gaussian of ``blur_sigma`` steps, default ``max(1, T / 20)``, edges reflected); or an
    array broadcastable to ``[C, T]`` (e.g. the training mean; ``[C, 1]`` for a per-channel
    value)."""
    if isinstance(spec, str):
        if spec == "zeros":
            return torch.zeros_like(x)
        if spec == "mean":
            return x.mean(-1, keepdim=True).expand_as(x).clone()
        if spec == "blur":
            t = x.shape[-1]
            sigma = max(1.0, t / 20) if blur_sigma is None else float(blur_sigma)
            if not sigma > 0:
                raise ValueError(f"blur_sigma: expected a positive number, got {blur_sigma!r}")
            return gaussian_blur(x, sigma)
        raise ValueError(
            f"baseline: expected one of {list(BASELINES)} or an array broadcastable to "
            f"[C, T] = {list(x.shape[1:])}, got {spec!r}"
        )
    try:
        b = torch.as_tensor(np.asarray(spec, dtype=np.float64))
        b = torch.broadcast_to(b, x.shape[1:])
    except (TypeError, ValueError, RuntimeError) as e:
        shape = getattr(spec, "shape", None)
        raise ValueError(
            f"baseline: expected one of {list(BASELINES)} or an array broadcastable to "
            f"[C, T] = {list(x.shape[1:])}, got {type(spec).__name__}"
            + (f" of shape {list(shape)}" if shape is not None else "")
        ) from e
    if not torch.isfinite(b).all():
        raise ValueError("baseline: the array holds NaN or infinite values")
    return b.to(device=x.device, dtype=x.dtype).expand_as(x).clone()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``x`` ``[N, C, T]`` smoothed along time by a Gaussian of ``sigma`` steps, truncated at
    ``4 sigma`` (at most T - 1 steps), edges mirrored (``d c b a | a b c d``): as
    ``scipy.ndimage.gaussian_filter1d(x, sigma, axis=-1)`` where ``4 sigma < T``. Same shape."""
    n, c, t = x.shape
    r = min(int(4 * sigma + 0.5), t - 1)
    k = torch.arange(-r, r + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (k / sigma) ** 2)
    k = (k / k.sum()).to(device=x.device, dtype=x.dtype)
    padded = torch.cat([x[..., :r].flip(-1), x, x[..., t - r :].flip(-1)], -1)
    return F.conv1d(padded.reshape(n * c, 1, -1), k.view(1, 1, -1)).view(n, c, t)


def windows(length: int, window: int, stride: int) -> list[tuple[int, int]]:
    """Contiguous windows ``(start, stop)`` of ``window`` steps every ``stride`` steps from 0,
    the last one clipped at ``length`` so that every step is covered (captum's ``Occlusion``
    drops the tail instead; both agree when ``(length - window) % stride == 0``)."""
    if not 1 <= window <= length:
        raise ValueError(
            f"window: expected an int in 1..{length} (the series length), got {window}"
        )
    if not 1 <= stride <= window:
        raise ValueError(f"stride: expected an int in 1..window={window}, got {stride}")
    out = [(s, s + window) for s in range(0, length - window + 1, stride)]
    if out[-1][1] < length:
        out.append((out[-1][0] + stride, length))
    return out


def segments(length: int, n: int) -> list[tuple[int, int]]:
    """``n`` contiguous segments ``(start, stop)`` covering ``0..length`` (lengths differ by at
    most one step, as ``numpy.array_split``)."""
    if not 1 <= n <= length:
        raise ValueError(f"n_segments: expected an int in 1..{length} (the series length), got {n}")
    edges = [len(a) for a in np.array_split(np.arange(length), n)]
    stops = np.cumsum(edges)
    return [(int(e - s), int(e)) for s, e in zip(edges, stops)]


RowFn = Callable[[torch.Tensor], torch.Tensor]


def run_rows(
    n_rows: int,
    chunk: int,
    make: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    run: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    consume: Callable[[torch.Tensor, torch.Tensor], None],
    device: torch.device,
) -> None:
    """For rows ``0..n_rows-1``, ``chunk`` at a time: ``make(rows) -> (inputs [r, C, T],
    targets [r])``, ``run(inputs, targets) -> result`` (a forward or a gradient),
    ``consume(rows, result)``."""
    for start in range(0, n_rows, chunk):
        rows = torch.arange(start, min(start + chunk, n_rows), device=device)
        xb, tb = make(rows)
        consume(rows, run(xb, tb))


def check_int(kwargs: dict[str, Any], name: str, default: int, low: int = 1) -> int:
    """The int keyword ``name`` of ``kwargs`` (``default`` when absent), at least ``low``."""
    v = kwargs.get(name, default)
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {v!r}")
    return int(v)


def check_float(kwargs: dict[str, Any], name: str, default: float | None) -> float | None:
    """The finite float keyword ``name`` of ``kwargs`` (``default`` when absent or None)."""
    v = kwargs.get(name)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}: expected a number, got {v!r}")
    if not np.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {v!r}")
    return float(v)


def check_choice(kwargs: dict[str, Any], name: str, choices: Sequence[str], default: str) -> str:
    """The keyword ``name`` of ``kwargs``, one of ``choices`` (``default`` when absent)."""
    v = kwargs.get(name, default)
    if v not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {v!r}")
    return str(v)
