"""Per-layer terms shared between methods, each computed once per layer and batch.

Several methods read the same quantities of a layer's activations ``A`` and gradients ``G``
(``[N, C, T']``): ``mean_t G`` (Grad-CAM), ``sum_t A`` and ``sum_t G x A`` (XGrad-CAM, and
``sum_t A`` again in Grad-CAM++), ``sum_c G x A`` (HiResCAM), ``sum_c ReLU(G) x A`` (LayerCAM),
the Grad-CAM++ weights from ``G^2`` and ``G^3``. A method declares the names it reads
(``Method.terms``); :func:`layer_terms` computes the union for a layer in one pass over ``A``
and ``G`` in row chunks of about :data:`CHUNK_ELEMENTS` elements, so the elementwise products
(``G x A``, ``G^2`` ...) exist only a chunk at a time, in cache, and each is shared by every term
of that chunk that reads it. What a term returns is a reduction (``[N, C]`` or ``[N, T']``).

To add a term: one function decorated with ``@term("name")`` taking a :class:`Chunk`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

REDUCTIONS = ("mean", "median", "max", "mean_max")


def check_reductions(reductions: Any, name: str = "reductions") -> list[str]:
    """``reductions`` (one name or a sequence) as a non-empty list of :data:`REDUCTIONS`, else a
    ValueError naming the argument ``name``, what it takes and what it got."""
    reds = [reductions] if isinstance(reductions, str) else list(reductions)
    bad = [r for r in reds if r not in REDUCTIONS]
    if bad or not reds:
        raise ValueError(f"{name}: expected one or more of {list(REDUCTIONS)}, got {reds!r}")
    return reds


#: elements of ``A`` per chunk (float32: 256 KiB, so a chunk's handful of products stay in L2)
CHUNK_ELEMENTS = 1 << 16

TERMS: dict[str, Callable[[Chunk], torch.Tensor]] = {}
#: terms that read ``A`` or ``G`` once and make no product: computed on the whole layer at once
#: (one op instead of one per chunk)
WHOLE: set[str] = set()

TermFn = Callable[["Chunk"], torch.Tensor]


def term(name: str, whole: bool = False) -> Callable[[TermFn], TermFn]:
    """Register ``fn(chunk) -> tensor`` as the term ``name``; ``whole``: a plain reduction of
    ``A`` or ``G``, computed on the whole layer rather than chunk by chunk."""

    def deco(fn: TermFn) -> TermFn:
        TERMS[name] = fn
        if whole:
            WHOLE.add(name)
        return fn

    return deco


class Chunk:
    """Rows of ``A`` and ``G`` (``G`` None for terms of ``A`` only); ``chunk["name"]`` computes
    a term or product of these rows once and remembers it."""

    def __init__(self, A: torch.Tensor, G: torch.Tensor | None):
        self.A = A
        self.G = G
        self._memo: dict[str, torch.Tensor] = {}

    @property
    def g(self) -> torch.Tensor:
        if self.G is None:
            raise ValueError("a term of the gradients was asked for without gradients")
        return self.G

    def __getitem__(self, name: str) -> torch.Tensor:
        v = self._memo.get(name)
        if v is None:
            try:
                fn = TERMS[name]
            except KeyError:
                raise KeyError(f"term {name!r}: unknown; known: {sorted(TERMS)}") from None
            v = self._memo[name] = fn(self)
        return v


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


def weighted(w: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """``sum_k w[n, k] A[n, k, t]`` -> ``[N, T']``."""
    return torch.bmm(w.to(A.dtype)[:, None, :], A)[:, 0]


# ---- products (elementwise, one chunk at a time)
@term("G x A")
def _ga(c: Chunk) -> torch.Tensor:
    return c.g * c.A


@term("ReLU(G)")
def _relu_g(c: Chunk) -> torch.Tensor:
    return c.g.clamp_min(0)


@term("G^2")
def _g2(c: Chunk) -> torch.Tensor:
    return c.g * c.g


# ---- reductions over time [N, C]
@term("sum_t A", whole=True)
def _sum_a(c: Chunk) -> torch.Tensor:
    return c.A.sum(-1)


@term("mean_t G", whole=True)
def _mean_g(c: Chunk) -> torch.Tensor:
    return c.g.mean(-1)


@term("max_t G", whole=True)
def _max_g(c: Chunk) -> torch.Tensor:
    return c.g.amax(-1)


@term("median_t G", whole=True)
def _median_g(c: Chunk) -> torch.Tensor:
    return c.g.median(-1).values


@term("sum_t G x A")
def _sum_t_ga(c: Chunk) -> torch.Tensor:
    return c["G x A"].sum(-1)


@term("gradcam++ weights")
def _gradcam_pp(c: Chunk) -> torch.Tensor:
    """``w_k = sum_t ReLU(G_k) a_k`` with ``a = G^2 / (2 G^2 + sum_t A * G^3 + 1e-6)`` (0 where
    ``G == 0``), as pytorch-grad-cam's ``GradCAMPlusPlus``."""
    # ReLU(G) a = 0 wherever G <= 0, so only G > 0 counts, where G = ReLU(G) =: r:
    # w = sum_t r^3 / (r^2 (2 + sum_t A r) + 1e-6)   (0 where r == 0)
    # (plain in-place ops: a broadcasting addcmul or a scalar / tensor is 3-5x slower on CPU)
    r = c["ReLU(G)"]
    r2 = r * r
    r3 = r2 * r
    den = r3 * c["sum_t A"][:, :, None]
    den.add_(r2, alpha=2).add_(1e-6)  # 2 r^2 + sum_t A r^3 + 1e-6
    return torch.div(r3, den, out=den).sum(-1)


# ---- reductions over channels [N, T']
@term("sum_c G x A")
def _sum_c_ga(c: Chunk) -> torch.Tensor:
    return c["G x A"].sum(1)


@term("sum_c ReLU(G) x A")
def _sum_c_rga(c: Chunk) -> torch.Tensor:
    return (c["ReLU(G)"] * c.A).sum(1)


def layer_terms(
    A: torch.Tensor, G: torch.Tensor | None, names: Iterable[str]
) -> dict[str, torch.Tensor]:
    """The terms ``names`` of one layer (``A``, ``G`` ``[N, C, T']``), each computed once, in row
    chunks of about :data:`CHUNK_ELEMENTS` elements."""
    names = list(dict.fromkeys(names))
    n = A.shape[0]
    if not names or n == 0:
        return {}
    whole = Chunk(A, G)
    out = {k: whole[k] for k in names if k in WHOLE}
    chunked = [k for k in names if k not in WHOLE]
    rows = max(1, CHUNK_ELEMENTS // max(1, A[0].numel()))
    if rows >= n:
        return {**out, **{k: whole[k] for k in chunked}}
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in chunked}
    for s in range(0, n, rows):
        c = Chunk(A[s : s + rows], None if G is None else G[s : s + rows])
        c._memo.update({k: v[s : s + rows] for k, v in whole._memo.items()})
        for k in chunked:
            parts[k].append(c[k])
    return {**out, **{k: torch.cat(v) for k, v in parts.items()}}
