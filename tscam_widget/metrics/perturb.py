"""Perturbations: what a removed time step is replaced with.

A perturbation is fitted once to the evaluated series ``x [N, C, T]`` (and a reference set, the
training data when known) and then fills, for any rows of ``x`` and any boolean "removed" masks
``[P, T]``, every channel of the removed time steps (or, with masks ``[P, C, T]``, the removed
steps of each channel alone: per-channel deletion; ``interp`` then interpolates each channel
between its own kept steps). Random parts (noise) are drawn once per
sample from a seeded generator, so a removed time step is always replaced by the same value
whatever else is removed: curves of different maps stay comparable and can share forwards.

=================== ===========================================================================
name                a removed step (channel c, time t) of sample n becomes
=================== ===========================================================================
``zero``            0
``mean``            the sample's mean of channel c (over time)
``reference_mean``  the reference set's mean at (c, t)
``noise``           reference mean at (c, t) + reference std at (c, t) x N(0, 1)
``interp``          linear interpolation between the nearest kept steps left and right of the
                    removed chunk (the one kept neighbour at a series edge; the channel mean when
                    everything is removed) + ``noise`` x the sample's channel std x N(0, 1):
                    the 1-D form of ROAD's noisy linear imputation (Rong et al. 2022)
=================== ===========================================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

PERTURBATIONS = ("zero", "mean", "reference_mean", "noise", "interp")
DEFAULT_INTERP_NOISE = 0.1


class Perturbation:
    """A fitted perturbation. ``name``; ``describe()`` a one-line description; calling it with
    ``(rows int64 [P], removed bool [P, T] or [P, C, T])`` returns the perturbed copies float
    ``[P, C, T]`` of ``x[rows]`` (``[P, T]``: every channel of a removed step)."""

    def __init__(
        self,
        name: str,
        x: torch.Tensor,
        reference: torch.Tensor | None = None,
        seed: int = 0,
        noise: float = DEFAULT_INTERP_NOISE,
    ):
        if name not in PERTURBATIONS:
            raise ValueError(f"perturbation: expected one of {list(PERTURBATIONS)}, got {name!r}")
        self.name = name
        self.x = x
        self.noise = float(noise)
        n, c, t = x.shape
        ref = x if reference is None else reference
        self.reference_given = reference is not None
        if ref.shape[1:] != x.shape[1:]:
            raise ValueError(
                f"reference: expected series [R, {c}, {t}] (the channels and length of X), got "
                f"shape {list(ref.shape)}"
            )
        g = torch.Generator(device="cpu").manual_seed(int(seed))
        eps = torch.randn((n, c, t), generator=g, dtype=torch.float64).to(x.device, x.dtype)
        self.fill: torch.Tensor | None = None  # [N or 1, C, T] for the value-filling kinds
        if name == "zero":
            self.fill = torch.zeros((1, c, t), dtype=x.dtype, device=x.device)
        elif name == "mean":
            self.fill = x.mean(-1, keepdim=True).expand(n, c, t)
        elif name == "reference_mean":
            self.fill = ref.mean(0, keepdim=True)
        elif name == "noise":
            sd = ref.std(0, keepdim=True, unbiased=False) if ref.shape[0] > 1 else 0 * ref[:1]
            self.fill = ref.mean(0, keepdim=True) + sd * eps
        else:  # interp
            self.eps = eps * x.std(-1, keepdim=True, unbiased=False) * self.noise
            self.channel_mean = x.mean(-1, keepdim=True)

    def describe(self) -> str:
        """A one-line description of the perturbation (for curve legends and reports)."""
        ref = "the reference set" if self.reference_given else "the evaluated data"
        return {
            "zero": "removed steps set to 0",
            "mean": "removed steps set to the sample's channel mean",
            "reference_mean": f"removed steps set to the per-time-step mean of {ref}",
            "noise": f"removed steps drawn from N(mean, std) per time step of {ref}",
            "interp": (
                "removed chunks linearly interpolated between their kept neighbours + noise "
                f"({self.noise:g} x the channel std)"
            ),
        }[self.name]

    def __call__(self, rows: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
        x = self.x[rows]
        rm = removed[:, None, :] if removed.dim() == 2 else removed
        if self.fill is not None:
            fill = self.fill[rows] if self.fill.shape[0] == self.x.shape[0] else self.fill
            return torch.where(rm, fill.expand_as(x), x)
        if removed.dim() == 2:
            filled = interpolate(x, removed, self.channel_mean[rows])
        else:  # each channel between its own kept steps: channels as rows of one channel
            p, c, t = x.shape
            flat = interpolate(
                x.reshape(p * c, 1, t),
                removed.reshape(p * c, t),
                self.channel_mean[rows].reshape(p * c, 1, 1),
            )
            filled = flat.reshape(p, c, t)
        return torch.where(rm, filled + self.eps[rows], x)


def interpolate(x: torch.Tensor, removed: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of ``x [P, C, T]`` across the removed steps ``removed [P, T]`` from
    the nearest kept step on each side (index-weighted); with a kept step on one side only, that
    step's value; with none kept, ``fallback [P, C, 1]``. Kept steps are returned unchanged.
    Returns ``[P, C, T]``."""
    p, c, t = x.shape
    idx = torch.arange(t, device=x.device).expand(p, t)
    kept = ~removed
    left = torch.where(kept, idx, torch.full_like(idx, -1)).cummax(1).values
    right_rev = torch.where(kept, idx, torch.full_like(idx, t)).flip(1).cummin(1).values
    right = right_rev.flip(1)
    has_l, has_r = left >= 0, right < t
    li, ri = left.clamp(0, t - 1), right.clamp(0, t - 1)
    xl = torch.gather(x, 2, li[:, None, :].expand(p, c, t))
    xr = torch.gather(x, 2, ri[:, None, :].expand(p, c, t))
    span = (right - left).clamp(min=1).to(x.dtype)
    w = ((idx - left).to(x.dtype) / span)[:, None, :]
    both = xl + w * (xr - xl)
    out = torch.where(
        (has_l & has_r)[:, None, :],
        both,
        torch.where(has_l[:, None, :], xl, torch.where(has_r[:, None, :], xr, fallback)),
    )
    return torch.where(kept[:, None, :], x, out)


def make_perturbation(
    perturbation: Any,
    x: torch.Tensor,
    reference: torch.Tensor | None = None,
    seed: int = 0,
    noise: float = DEFAULT_INTERP_NOISE,
) -> Perturbation:
    """A :class:`Perturbation` named ``perturbation`` (one of :data:`PERTURBATIONS`) fitted to
    ``x [N, C, T]`` and ``reference [R, C, T]`` (default ``x``); a :class:`Perturbation` passes
    through."""
    if isinstance(perturbation, Perturbation):
        return perturbation
    if not isinstance(perturbation, str):
        raise TypeError(
            f"perturbation: expected one of {list(PERTURBATIONS)}, got "
            f"{type(perturbation).__name__}"
        )
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating)):
        raise TypeError(f"noise: expected a non-negative number, got {noise!r}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise: expected a non-negative number, got {noise!r}")
    return Perturbation(perturbation, x, reference, seed, noise)
