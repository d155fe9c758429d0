"""A context manager that snapshots a model's mutable state and restores it on exit, also when the
body raises: training flags, ``requires_grad`` and ``.grad`` of every parameter, and buffers
(BatchNorm running statistics).

Hooks are not its business: every hook this package registers is removed through the
``RemovableHandle`` torch returned for it (``try``/``finally`` or a context manager), so the
model's hooks are exactly the user's, and torch's private hook dictionaries are never touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def preserved_state(model: nn.Module) -> Iterator[nn.Module]:
    """Yield ``model``; on exit restore each submodule's ``training`` flag, each parameter's
    ``requires_grad`` and ``.grad`` (the same object, ``None`` stays ``None``), and every buffer
    (the same object, with its values)."""
    modules = list(model.modules())
    training = [m.training for m in modules]
    params = list(model.parameters())
    requires = [p.requires_grad for p in params]
    grads = [p.grad for p in params]
    grad_values = [None if g is None else g.detach().clone() for g in grads]
    # per module and name: a forward may replace a buffer (tsai's MiniRocket fits its biases on
    # the first batch it sees and assigns new tensors), so the objects are put back too
    buffers = [
        (m, name, b, b.detach().clone())
        for m in modules
        for name, b in m.named_buffers(recurse=False)
    ]
    try:
        yield model
    finally:
        for m, flag in zip(modules, training):
            m.training = flag
        with torch.no_grad():
            for p, req, g, gv in zip(params, requires, grads, grad_values):
                if p.requires_grad != req:
                    p.requires_grad_(req)
                if g is not None and not torch.equal(g, gv):
                    g.copy_(gv)
                p.grad = g
            for m, name, b, saved_b in buffers:
                if getattr(m, name, None) is not b:
                    setattr(m, name, b)
                if not torch.equal(b, saved_b):
                    b.copy_(saved_b)
