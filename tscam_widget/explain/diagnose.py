"""A clear error for a model whose forward failed: which layer raised, and whether the series was
probably too short for it."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .channels import channel_error
from .model_io import ModelIO
from .state import preserved_state

_SHORT_HINTS = ("size", "kernel", "smaller", "padding", "output", "shape", "length", "dimension")


def failing_layer(model: nn.Module, x: torch.Tensor, io: ModelIO) -> str | None:
    """Rerun the failing forward of ``x`` ``[N, C, T]`` with tracking hooks (model state
    restored); return the name of the innermost module that started but did not finish (the one
    that raised), or None."""
    stack: list[str] = []
    failed: list[str] = []

    def pre(name: str):
        def hook(m: nn.Module, inp: Any) -> None:
            stack.append(name)

        return hook

    def post(name: str):
        def hook(m: nn.Module, inp: Any, out: Any) -> None:
            if stack and stack[-1] == name:
                stack.pop()

        return hook

    handles = []
    with preserved_state(model):
        try:
            for name, m in model.named_modules():
                if name:
                    handles.append(m.register_forward_pre_hook(pre(name)))
                    handles.append(m.register_forward_hook(post(name)))
            with torch.no_grad():
                model(io.feed(x))
        except Exception:  # noqa: BLE001 - we only locate it
            failed = list(stack)
        finally:
            for h in handles:
                h.remove()
    return failed[-1] if failed else None


def forward_error(
    model: nn.Module, x: torch.Tensor, io: ModelIO, e: Exception, arg: str = "x"
) -> ValueError:
    """The ``ValueError`` to raise (from ``e``) when the forward of ``x`` ``[N, C, T]`` failed
    with ``e``: a channel count the model's first layer does not take (channels last?), else
    the layer that raised and a hint when the series was probably too short. Errors name the
    input ``arg``."""
    wrong = channel_error(model, x, io, arg)
    if wrong is not None:
        return wrong
    where = failing_layer(model, x, io)
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    if where is not None and any(h in msg.lower() for h in _SHORT_HINTS):
        return ValueError(
            f"{arg}: the model failed on series of length {x.shape[-1]} in layer {where!r} "
            f"({msg}); the length was probably too short for layer {where!r}"
        )
    return ValueError(f"{arg}: the model's forward failed in layer {where!r}: {msg}")
