"""Tell a channel-count mismatch (and a channels-last series) apart from other failed forwards,
by the number of channels the model's first layer takes."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .model_io import ModelIO
from .state import preserved_state

#: layers whose input size along one axis is fixed by their weights: (attribute, input axis)
FIRST_LAYERS: tuple[tuple[type[nn.Module], str, int], ...] = (
    (nn.Conv1d, "in_channels", 1),
    (nn.Linear, "in_features", -1),
)


class _Found(Exception):
    """Stops the forward at the first such layer."""


def first_layer(model: nn.Module, x: torch.Tensor, io: ModelIO) -> tuple[str, str, int, int] | None:
    """The first ``nn.Conv1d`` or ``nn.Linear`` that runs in ``model``'s forward of ``x``
    ``[N, C, T]``: ``(qualified name, attribute, the size it takes, the size it was given)``
    (``in_channels`` against the input's axis 1, ``in_features`` against its last axis). None
    when no such layer runs before the forward ends or fails. The forward stops there; the
    model's state is restored."""
    found: list[tuple[str, str, int, int]] = []
    handles = []

    def hook(name: str, attr: str, axis: int) -> Any:
        def pre(m: nn.Module, args: Any) -> None:
            t = next((a for a in args if isinstance(a, torch.Tensor)), None)
            if t is not None and t.ndim >= 2:
                found.append((name, attr, int(getattr(m, attr)), int(t.shape[axis])))
                raise _Found

        return pre

    with preserved_state(model):
        try:
            for name, m in model.named_modules():
                for kind, attr, axis in FIRST_LAYERS:
                    if name and isinstance(m, kind):
                        handles.append(m.register_forward_pre_hook(hook(name, attr, axis)))
            with torch.no_grad():
                model(io.feed(x))
        except Exception:  # noqa: BLE001, S110 - _Found, or the failure being diagnosed
            pass
        finally:
            for h in handles:
                h.remove()
    return found[0] if found else None


def channel_error(
    model: nn.Module, x: torch.Tensor, io: ModelIO, arg: str = "x"
) -> ValueError | None:
    """A ValueError naming the channels the model expects and those ``x`` ``[N, C, T]`` (named
    ``arg``) has, with a hint to transpose where its time axis has that size (a channels-last
    series); None when the model's first layer takes the channels it was given, or takes the
    time axis."""
    c, t = int(x.shape[1]), int(x.shape[2])
    got = first_layer(model, x, io)
    if got is None:  # the model refused x before its first layer: does it take x transposed?
        got = first_layer(model, x.transpose(1, 2), io)
        if got is None or got[2] != got[3] or got[3] != t:
            return None
        got = (*got[:3], c)
    name, attr, want, given = got
    if given == want or given != c:
        return None
    head = (
        f"{arg}: the model expects {want} channel{'s' if want != 1 else ''} (first layer {name} "
        f"takes {attr}={want}), "
    )
    shape = f"{arg} of shape [N, {c}, {t}]"
    if want == t:
        return ValueError(
            f"{head}got {shape}: channels last? pass {arg}.transpose(0, 2, 1) (a tensor: "
            f"{arg}.transpose(1, 2))"
        )
    return ValueError(f"{head}got {c} channel{'s' if c != 1 else ''} ({shape})")
