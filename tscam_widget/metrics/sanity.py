"""Sanity checks (Adebayo et al. 2018), always on a deep copy of the model (never the user's).

*Cascading model-parameter randomisation*: the parameters are re-initialised from the head down,
one stage at a time, cumulatively. Stages follow the explained layers: ``"head"`` holds every
parameterised module that finishes after the deepest explained layer; each explained layer's
stage holds the parameterised modules that finish after the previous explained layer and no
later than it (so a residual block's shortcut goes with its block). A module is re-initialised
with its own ``reset_parameters()`` (PyTorch's default initialisation; BatchNorm also resets its
running statistics), under ``torch.manual_seed(seed + stage)``; a module without one gets its
direct parameters drawn from N(0, std of the original tensor).

*Random logit*: the map for a random other class (seeded) beside the map for the target.

Maps are compared with the Spearman rank correlation per sample (average ranks for ties; a
constant map correlates 0 with anything).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..explain.model_io import ModelIO


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of ``a`` and ``b`` ``[..., T]`` along the last axis (Pearson
    correlation of average ranks); ``[...]`` float64, 0 where either is constant, NaN where
    either holds NaN."""
    from .localisation import average_ranks

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    nan = np.isnan(a).any(-1) | np.isnan(b).any(-1)
    ra = average_ranks(np.nan_to_num(a)) if a.size else a
    rb = average_ranks(np.nan_to_num(b)) if b.size else b
    ra = ra - ra.mean(-1, keepdims=True)
    rb = rb - rb.mean(-1, keepdims=True)
    den = np.sqrt((ra**2).sum(-1) * (rb**2).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, (ra * rb).sum(-1) / np.where(den > 0, den, 1.0), 0.0)
    return np.where(nan, np.nan, r)


def _own_params(m: nn.Module) -> bool:
    return any(True for _ in m.parameters(recurse=False))


def cascade_stages(
    model: nn.Module,
    x: torch.Tensor,
    layers: Sequence[tuple[str, int]],
    io: ModelIO | None = None,
) -> list[tuple[str, list[str]]]:
    """The randomisation stages, head first: ``[(stage name, [module names])]``.

    ``layers``: the explained layers as ``(module name, call index)`` in depth order (the input,
    ``"input"``, is skipped: it has no parameters). Found with one forward of ``x[:1]`` on a copy
    of ``model`` with hooks recording when each module finishes. Stages without parameters are
    left out."""
    io = io or ModelIO()
    work = copy.deepcopy(model).eval()
    finished: dict[str, list[int]] = {}
    clock = [0]
    handles = []
    for name, m in work.named_modules():

        def hook(mod: nn.Module, inp: object, out: object, name: str = name) -> None:
            clock[0] += 1
            finished.setdefault(name, []).append(clock[0])

        handles.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            io(work, x[:1].to(next(work.parameters(), torch.zeros(())).device))
    finally:
        for h in handles:
            h.remove()
    ends = []
    for name, call in layers:
        if name == "input":
            continue
        times = finished.get(name, [])
        if call < len(times):
            ends.append((name if call == 0 else f"{name}@{call}", times[call]))
    owners = [
        (name, min(finished[name]))
        for name, m in work.named_modules()
        if _own_params(m) and name in finished
    ]
    groups: dict[str, list[str]] = {"head": []}
    for label, _ in ends:
        groups[label] = []
    for mod, t in owners:
        for label, end in ends:
            if t <= end:
                groups[label].append(mod)
                break
        else:
            groups["head"].append(mod)
    order = ["head", *[label for label, _ in reversed(ends)]]
    return [(s, groups[s]) for s in order if groups[s]]


def randomise_(model: nn.Module, modules: Sequence[str], seed: int) -> None:
    """Re-initialise the named submodules of ``model`` in place (see the module docstring)."""
    named = dict(model.named_modules())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name in modules:
            m = named[name]
            if hasattr(m, "reset_parameters") and callable(m.reset_parameters):
                m.reset_parameters()
            else:
                with torch.no_grad():
                    for p in m.parameters(recurse=False):
                        sd = float(p.detach().float().std()) if p.numel() > 1 else 1.0
                        p.normal_(0.0, sd if np.isfinite(sd) and sd > 0 else 1.0)


def randomised_models(
    model: nn.Module, stages: list[tuple[str, list[str]]], seed: int = 0
) -> list[nn.Module]:
    """Cumulatively randomised deep copies of ``model``, one per stage (stage ``s`` has stages
    ``0..s`` randomised); the user's ``model`` is not touched."""
    out = []
    work = copy.deepcopy(model)
    for s, (_, modules) in enumerate(stages):
        randomise_(work, modules, seed + s)
        out.append(copy.deepcopy(work))
    return out


def other_classes(target: np.ndarray, n_classes: int, seed: int = 0) -> np.ndarray:
    """A random class different from ``target [N]`` per sample (seeded), int64 ``[N]``."""
    rng = np.random.default_rng(seed)
    shift = rng.integers(1, max(n_classes, 2), size=len(target))
    return (np.asarray(target, dtype=np.int64) + shift) % n_classes
