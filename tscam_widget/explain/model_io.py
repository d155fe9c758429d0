"""How the explainer calls a model: the device and dtype it lives on, the axis order of the input it
takes (``input_layout``) and where its logits are in what it returns (``output``).

The explainer always holds series as ``[N, C, T]``; :class:`ModelIO` turns that into what the
model takes and picks ``[N, K]`` logits out of what it returns, with errors that name the option
to pass when the model's output is not a plain logits tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

INPUT_LAYOUTS = ("NCT", "NTC")


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a model with neither)."""
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def model_dtype(model: nn.Module) -> torch.dtype:
    """The floating dtype of the model's first floating parameter (float32 if none)."""
    for t in model.parameters():
        if t.is_floating_point():
            return t.dtype
    return torch.float32


def _describe(out: Any) -> str:
    if isinstance(out, torch.Tensor):
        return f"a tensor of shape {list(out.shape)}"
    if isinstance(out, Mapping):
        return f"a {type(out).__name__} with keys {list(out)[:8]}"
    if isinstance(out, (tuple, list)):
        parts = [
            f"[{list(o.shape)}]" if isinstance(o, torch.Tensor) else type(o).__name__
            for o in out[:6]
        ]
        return f"a {type(out).__name__} of {len(out)} ({', '.join(parts)})"
    fields = [k for k in ("logits", "prediction_logits", "scores") if hasattr(out, k)]
    return f"a {type(out).__name__}" + (f" with attribute(s) {fields}" if fields else "")


@dataclass(frozen=True)
class ModelIO:
    """``input_layout``: ``"NCT"`` (the default: channels, then time) or ``"NTC"`` (channels
    last, e.g. a ``batch_first`` RNN). ``output``: None (the model returns logits ``[N, K]``), an
    int (index into a returned tuple/list), a str (key of a returned dict, or attribute of a
    returned object such as ``.logits``), or a callable ``output(returned) -> logits``."""

    input_layout: str = "NCT"
    output: int | str | Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        if self.input_layout not in INPUT_LAYOUTS:
            raise ValueError(
                f"input_layout: expected one of {list(INPUT_LAYOUTS)} (N batch, C channels, "
                f"T time), got {self.input_layout!r}"
            )
        o = self.output
        if not (o is None or isinstance(o, (int, str)) or callable(o)) or isinstance(o, bool):
            raise TypeError(
                f"output: expected None, an int index, a str key or a callable, got "
                f"{type(o).__name__}"
            )

    def feed(self, x: torch.Tensor) -> torch.Tensor:
        """The model's input for a ``[N, C, T]`` batch: a copy (so the model may modify its
        input in place), transposed to ``[N, T, C]`` for ``input_layout="NTC"``."""
        if self.input_layout == "NTC":
            return x.transpose(1, 2).clone()
        return x.clone()

    def logits(self, out: Any, n: int) -> torch.Tensor:
        """Pick the logits ``[N, K]`` out of the model's return value (checked)."""
        o = self.output
        if o is not None:
            try:
                if callable(o):
                    picked = o(out)
                elif isinstance(o, str) and isinstance(out, Mapping):
                    picked = out[o]
                elif isinstance(o, str):
                    picked = getattr(out, o)
                else:
                    picked = out[o]
            except (KeyError, IndexError, AttributeError, TypeError) as e:
                raise ValueError(
                    f"output={o!r}: could not pick the logits out of the model's output, "
                    f"{_describe(out)} ({type(e).__name__}: {e})"
                ) from None
            where = f"output={o!r} picked"
        else:
            picked, where = out, "model: its output is"
        if not isinstance(picked, torch.Tensor):
            hint = (
                ""
                if o is not None
                else "; pass output= to pick the logits: an index (output=0), a key or "
                "attribute name (output='logits') or a callable"
            )
            raise ValueError(f"{where} {_describe(picked)}, expected logits [N, K]{hint}")
        if picked.ndim != 2 or picked.shape[0] != n:
            raise ValueError(
                f"{where} {_describe(picked)}, expected logits [N, K] with N={n}"
                + ("" if o is not None else "; pass output= if the logits are elsewhere")
            )
        return picked

    def __call__(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The logits ``[N, K]`` of ``model`` for the ``[N, C, T]`` batch ``x``."""
        return self.logits(model(self.feed(x)), x.shape[0])
