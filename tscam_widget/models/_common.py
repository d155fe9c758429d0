"""Pieces shared by the bundled classifiers: the global-average-pool module, input checks and a
small base class that records the constructor config and exposes ``device``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class GAP(nn.Module):
    """Global average pooling over time: ``[N, C, T] -> [N, C]`` (``x.mean(-1)``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(-1)


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` as an int, or raise ``ValueError`` naming ``name`` unless it is >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


class TSClassifier(nn.Module):
    """Base of the bundled models: ``blocks`` (nn.ModuleList), ``gap`` and ``head``.

    Subclasses set ``name`` (the key of :func:`tscam_widget.models.build_model`) and
    ``self.config`` (the keyword arguments that rebuild the model).
    """

    name: str = ""
    config: dict[str, Any]
    blocks: nn.ModuleList
    gap: GAP
    head: nn.Linear

    @property
    def device(self) -> torch.device:
        """The device of the model's first parameter."""
        return next(self.parameters()).device

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` is a ``[N, c_in, T]`` tensor."""
        c_in = self.config["c_in"]
        if x.ndim != 3 or x.shape[1] != c_in:
            raise ValueError(
                f"x must have shape [N, {c_in}, T] (batch, channels, time), got {tuple(x.shape)}"
            )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Run the blocks only; returns the GAP input ``[N, C_last, T]``."""
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, n_classes]`` of a batch ``x`` of shape ``[N, c_in, T]``."""
        self.check_input(x)
        return self.head(self.gap(self.features(x)))

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config.items())
