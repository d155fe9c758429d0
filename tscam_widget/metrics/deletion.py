"""Deletion curves: remove the most relevant (MoRF) or least relevant (LeRF) contiguous blocks of
time steps first and follow the target class's probability and logit, beside random blocks.

The series is cut into ``blocks`` contiguous chunks of (nearly) equal length (default: one per
step, i.e. 10 % each for ``steps=10``), every channel of a time step together. A map ranks the
chunks by its mean over each chunk; at step ``k`` (0..K) the first ``round(k * blocks / K)``
chunks of the ranking are removed. Random curves remove chunks in a random order (seeded; the
same number and length of chunks at every step) and do not depend on the map.

Forwards are shared: the curve value at a step depends only on the sample and the *set* of
removed chunks, so every distinct (sample, set) is evaluated once, whichever maps, orders,
random draws or steps ask for it (the intact series and the fully removed one are shared by all
curves of a sample; maps that agree on the top chunks share their first steps). The
perturbed series go through the model in batches of ``batch_size`` rows.

*Per-channel deletion* (maps ``[N, M, C, T]``, one per channel): the units removed are the
``C x blocks`` cells (channel, chunk), ranked by each channel's mean over each chunk; a step
removes ``round(k * C * blocks / K)`` cells, each a chunk of one channel alone, with the same
perturbation; random curves draw random orders of the cells. Every step removes the same share
of the series' (channel, time) values as time deletion does.

Insertion curves come free: inserting the most relevant chunks first into the fully removed
series (one chunk per step) passes through exactly the series of LeRF deletion, in reverse
order (``insertion[k] = lerf[K - k]``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .perturb import Perturbation

ORDERS = ("morf", "lerf")

Forward = Callable[[torch.Tensor], torch.Tensor]


def block_edges(length: int, blocks: int) -> np.ndarray:
    """Boundaries int64 ``[blocks + 1]`` of ``blocks`` contiguous chunks covering ``0..length``
    (lengths differ by at most one: ``round(linspace(0, length, blocks + 1))``)."""
    return np.round(np.linspace(0, length, blocks + 1)).astype(np.int64)


def block_scores(maps: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of ``maps [..., T]`` over each chunk: ``[..., blocks]`` (NaN stays NaN)."""
    sums = np.add.reduceat(maps.astype(np.float64), edges[:-1], axis=-1)
    return sums / np.diff(edges)


def step_counts(steps: int, blocks: int) -> np.ndarray:
    """Chunks removed after each step, int64 ``[steps + 1]``: ``round(k * blocks / steps)``."""
    return np.round(np.arange(steps + 1) * blocks / steps).astype(np.int64)


def ranking(scores: np.ndarray, order: str) -> np.ndarray:
    """Chunk indices int64 ``[..., blocks]`` in removal order: descending score for ``"morf"``,
    ascending for ``"lerf"``; ties keep chunk order (stable sort)."""
    if order == "morf":
        return np.argsort(-scores, axis=-1, kind="stable")
    if order == "lerf":
        return np.argsort(scores, axis=-1, kind="stable")
    raise ValueError(f"order: expected one of {list(ORDERS)}, got {order!r}")


def removal_sets(order: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Removed chunks per step: bool ``[..., steps + 1, blocks]`` from a removal ``order
    [..., blocks]`` and the counts of :func:`step_counts`."""
    pos = np.empty_like(order)
    np.put_along_axis(pos, order, np.arange(order.shape[-1]), axis=-1)
    return pos[..., None, :] < counts[:, None]


def auc(curves: np.ndarray, fractions: np.ndarray | None = None) -> np.ndarray:
    """Area under curves ``[..., steps + 1]`` over the removed fraction (trapezoidal rule on
    [0, 1]; ``fractions [steps + 1]`` default ``k / steps``); returns ``[...]``."""
    k = curves.shape[-1] - 1
    f = np.linspace(0, 1, k + 1) if fractions is None else np.asarray(fractions, np.float64)
    return ((curves[..., 1:] + curves[..., :-1]) * np.diff(f)).sum(-1) / 2


@dataclass
class DeletionResult:
    """Curves of :func:`deletion_curves` (float64; NaN for undefined maps).

    ``prob`` ``[N, M, 2, K+1]`` (sample, map, order ``("morf", "lerf")``, step) the target
    probability; ``logit`` the same for the target logit; ``random_prob`` / ``random_logit``
    ``[N, R, K+1]`` (sample, draw, step); ``fractions`` ``[K+1]`` removed fraction per step
    (of the chunks, or of the cells (channel, chunk) in per-channel deletion);
    ``edges`` the chunk boundaries; ``forwards`` rows evaluated (distinct perturbed series);
    ``forwards_unshared`` the rows without sharing; ``forward_calls`` batched model calls."""

    prob: np.ndarray
    logit: np.ndarray
    random_prob: np.ndarray
    random_logit: np.ndarray
    fractions: np.ndarray
    edges: np.ndarray
    forwards: int
    forwards_unshared: int
    forward_calls: int


def random_orders(n: int, draws: int, blocks: int, seed: int) -> np.ndarray:
    """Seeded random removal orders int64 ``[N, draws, blocks]`` of ``blocks`` units (chunks, or
    cells in per-channel deletion), one permutation per sample and draw, from
    ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((n, draws, blocks)), axis=-1)


def _removed(sets: np.ndarray, chunk_of_t: np.ndarray, channels: int | None) -> np.ndarray:
    """Removed-unit sets ``[P, units]`` -> removed steps bool ``[P, T]`` (time deletion,
    ``channels`` None) or ``[P, C, T]`` (units are the cells (channel, chunk), channel-major)."""
    if channels is None:
        return sets[:, chunk_of_t]
    return sets.reshape(len(sets), channels, -1)[:, :, chunk_of_t]


def deletion_curves(
    forward: Forward,
    perturbation: Perturbation,
    maps: np.ndarray,
    target: np.ndarray,
    steps: int = 10,
    blocks: int | None = None,
    random_draws: int = 3,
    seed: int = 0,
    batch_size: int = 256,
    samples: np.ndarray | None = None,
    progress: Callable[[float], None] | None = None,
) -> DeletionResult:
    """MoRF / LeRF deletion curves of ``maps [N, M, T]`` (``M`` maps per sample; a row holding
    NaN is undefined and gets NaN curves) and random-chunk curves, for the series the fitted
    ``perturbation`` holds (``perturbation.x [N0, C, T]``; ``samples [N]`` picks its rows,
    default all). Maps ``[N, M, C, T]`` (one per channel) give per-channel deletion: the units
    are the cells (channel, chunk) and the random curves remove random cells (module
    docstring).

    ``forward(batch [P, C, T]) -> logits [P, K]`` (no gradients needed); ``target [N]`` the class
    followed; ``progress(fraction of the forwards done)`` is called after each batch. Returns a
    :class:`DeletionResult`."""
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim not in (3, 4):
        raise ValueError(
            f"maps: expected [N, M, T] or, per channel, [N, M, C, T], got shape {list(maps.shape)}"
        )
    n, m, t = maps.shape[0], maps.shape[1], maps.shape[-1]
    channels = maps.shape[2] if maps.ndim == 4 else None
    blocks = steps if blocks is None else blocks
    if samples is None:
        samples = np.arange(n)
    samples = np.asarray(samples, dtype=np.int64)
    edges = block_edges(t, blocks)
    units = blocks * (channels or 1)  # chunks, or cells (channel, chunk)
    counts = step_counts(steps, units)
    scores = block_scores(maps, edges).reshape(n, m, units)  # [N, M, U]
    valid = ~np.isnan(scores).any(-1)  # [N, M]
    scores = np.where(valid[..., None], scores, 0.0)
    orders = np.stack([ranking(scores, o) for o in ORDERS], 2)  # [N, M, 2, U]
    sets_map = removal_sets(orders, counts)  # [N, M, 2, K+1, U]
    sets_rand = removal_sets(random_orders(n, random_draws, units, seed), counts)  # [N,R,K+1,U]

    # every (sample, removed set) asked for, deduplicated
    req_n = np.concatenate(
        [
            np.broadcast_to(np.arange(n)[:, None, None, None], sets_map.shape[:4])[valid].ravel(),
            np.broadcast_to(np.arange(n)[:, None, None], sets_rand.shape[:3]).ravel(),
        ]
    )
    req_sets = np.concatenate([sets_map[valid].reshape(-1, units), sets_rand.reshape(-1, units)], 0)
    keys = np.concatenate([req_n[:, None], np.packbits(req_sets, axis=1).astype(np.int64)], 1)
    uniq, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    u_n = req_n[first]
    u_sets = req_sets[first]  # [distinct, U]
    chunk_of_t = np.repeat(np.arange(blocks), np.diff(edges))

    dev = perturbation.x.device
    tgt = np.asarray(target, dtype=np.int64)
    u_prob = np.empty(len(uniq))
    u_logit = np.empty(len(uniq))
    calls = 0
    for s in range(0, len(uniq), batch_size):
        rows = torch.from_numpy(samples[u_n[s : s + batch_size]]).to(dev)
        removed = torch.from_numpy(_removed(u_sets[s : s + batch_size], chunk_of_t, channels))
        removed = removed.to(dev)
        xb = perturbation(rows, removed)
        logits = forward(xb).double()
        calls += 1
        sel = torch.from_numpy(tgt[u_n[s : s + batch_size]]).to(logits.device)
        ar = torch.arange(len(sel), device=logits.device)
        u_prob[s : s + batch_size] = torch.softmax(logits, 1)[ar, sel].cpu().numpy()
        u_logit[s : s + batch_size] = logits[ar, sel].cpu().numpy()
        if progress is not None:
            progress(min(s + batch_size, len(uniq)) / len(uniq))

    n_map = int(valid.sum()) * 2 * (steps + 1)
    prob = np.full((n, m, 2, steps + 1), np.nan)
    logit = np.full((n, m, 2, steps + 1), np.nan)
    prob[valid] = u_prob[inverse[:n_map]].reshape(-1, 2, steps + 1)
    logit[valid] = u_logit[inverse[:n_map]].reshape(-1, 2, steps + 1)
    rprob = u_prob[inverse[n_map:]].reshape(n, random_draws, steps + 1)
    rlogit = u_logit[inverse[n_map:]].reshape(n, random_draws, steps + 1)
    return DeletionResult(
        prob=prob,
        logit=logit,
        random_prob=rprob,
        random_logit=rlogit,
        fractions=counts / units,
        edges=edges,
        forwards=len(uniq),
        forwards_unshared=len(keys),
        forward_calls=calls,
    )
