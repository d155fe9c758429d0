"""A context manager that snapshots a model's mutable state and restores it on exit, also when the
body raises: training flags, ``requires_grad`` and ``.grad`` of every parameter, buffers (BatchNorm
running statistics), and every hook dictionary of every submodule."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_backward_hooks",
    "_backward_pre_hooks",
)


@contextmanager
def preserved_state(model: nn.Module) -> Iterator[nn.Module]:
    """Yield ``model``; on exit restore each submodule's ``training`` flag and hook dicts, each
    parameter's ``requires_grad`` and ``.grad`` (the same object, ``None`` stays ``None``), and the
    values of every buffer."""
    modules = list(model.modules())
    training = [m.training for m in modules]
    hooks = [
        {
            k: OrderedDict(getattr(m, k))
            for k in _HOOK_DICTS
            if isinstance(getattr(m, k, None), dict)
        }
        for m in modules
    ]
    params = list(model.parameters())
    requires = [p.requires_grad for p in params]
    grads = [p.grad for p in params]
    grad_values = [None if g is None else g.detach().clone() for g in grads]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        yield model
    finally:
        for m, flag, saved in zip(modules, training, hooks):
            m.training = flag
            for k, d in saved.items():
                current = getattr(m, k)
                current.clear()
                current.update(d)
        with torch.no_grad():
            for p, req, g, gv in zip(params, requires, grads, grad_values):
                if p.requires_grad != req:
                    p.requires_grad_(req)
                if g is not None and not torch.equal(g, gv):
                    g.copy_(gv)
                p.grad = g
            for b, saved_b in buffers:
                if not torch.equal(b, saved_b):
                    b.copy_(saved_b)
