"""Layer resolution in one call: a user's layer choice (:class:`LayerRequest`, checked without a
forward) and one input sample give :func:`resolve_layers`'s :class:`ResolvedLayers`, the layers
as :class:`~.layers.LayerSpec` s with the layout each output is read with, and the
:class:`~.trace.Trace` they were found in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .channels import channel_error
from .diagnose import forward_error
from .layers import (
    INPUT_SPEC,
    LayerSpec,
    normalize_selection,
    parse_name,
    provisional_names,
    resolve_specs,
)
from .layouts import parse_layout
from .model_io import ModelIO
from .trace import Trace, trace_model


def check_layouts(model: nn.Module, layouts: Any) -> dict[str, str]:
    """``layouts`` (``{"module name": "NTC"}`` or None) checked against ``model``: returns
    ``{qualified module name: layout letters}``."""
    if layouts is None:
        return {}
    if not isinstance(layouts, dict):
        raise TypeError(
            f"layouts: expected a dict {{'module name': 'NTC'}}, got {type(layouts).__name__}"
        )
    modules = dict(model.named_modules())
    out = {}
    for name, text in layouts.items():
        base, _ = parse_name(str(name), modules, arg="layouts")
        out[base] = parse_layout(text, arg=f"layouts[{name!r}]")
    return out


@dataclass(frozen=True)
class LayerRequest:
    """A layer choice checked against the model without a forward (see :class:`~.Explainer`'s
    ``layers``, ``layouts`` and ``with_input``).

    ``selection``: None, ``"all"`` or a list of ints / ``(name, call)`` (see
    :func:`~.layers.normalize_selection`); ``layouts``: the given layout overrides;
    ``with_input``: put the input first in the default selection when it has a gradient;
    ``provisional``: the names known before a forward, else None."""

    selection: list[Any] | str | None
    layouts: dict[str, str]
    with_input: bool
    provisional: list[str] | None

    @classmethod
    def parse(cls, model: nn.Module, layers: Any, layouts: Any, with_input: bool) -> LayerRequest:
        """Check ``layouts`` then ``layers`` (clear errors naming the argument)."""
        given = check_layouts(model, layouts)
        selection = normalize_selection(model, layers)
        return cls(
            selection=selection,
            layouts=given,
            with_input=bool(with_input) and selection is None,
            provisional=provisional_names(model, selection),
        )


@dataclass(frozen=True)
class ResolvedLayers:
    """The chosen layers (``specs``, in order) and the trace of the model they were found in."""

    specs: tuple[LayerSpec, ...]
    trace: Trace

    @property
    def names(self) -> list[str]:
        """The layers' display names (``"name@k"`` for modules run repeatedly)."""
        return [s.name for s in self.specs]

    @property
    def layouts(self) -> dict[str, str]:
        """Per layer, the layout its output is read with, in words."""
        return {s.name: s.layout.describe() for s in self.specs}


def resolve_layers(
    model: nn.Module, request: LayerRequest, x1: torch.Tensor, io: ModelIO, arg: str = "x"
) -> ResolvedLayers:
    """Trace ``model`` on ``x1`` (one sample ``[1, C, T]``, prepared) and resolve ``request``
    against the trace. A failing forward raises a ``ValueError`` naming the input ``arg`` and
    the cause: channels the first layer does not take, or the layer that failed."""
    try:
        trace = trace_model(model, x1, io, given=request.layouts)
    except RuntimeError as e:
        raise forward_error(model, x1, io, e, arg) from e
    except ValueError as e:  # the model's own check of its input, or ours of its output
        wrong = channel_error(model, x1, io, arg)
        if wrong is None:
            raise
        raise wrong from e
    specs = resolve_specs(model, request.selection, trace)
    if request.with_input and trace.differentiable and not specs[0].is_input:
        specs = [INPUT_SPEC, *specs]
    return ResolvedLayers(tuple(specs), trace)
