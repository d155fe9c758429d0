"""Save and load the bundled models: one ``torch.save``'d dict holding the model name, its
constructor config, the weights and the class labels (loadable with ``weights_only=True``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .registry import build_model

FORMAT = "tscam_widget.models/1"


def save(model: nn.Module, path: str | os.PathLike, classes: Sequence[Any] | None = None) -> None:
    """Write ``model`` (a model of :func:`build_model`, i.e. with ``name`` and ``config``) and
    ``classes`` (labels of its outputs: str or int, or None) to ``path``. Returns None."""
    name = getattr(model, "name", None)
    config = getattr(model, "config", None)
    if not isinstance(name, str) or not isinstance(config, dict):
        raise ValueError(
            "model must be a tscam_widget.models model (with .name and .config), "
            f"got {type(model).__name__}; save a plain module with torch.save instead"
        )
    if classes is not None:
        classes = [c if isinstance(c, int) else str(c) for c in classes]
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(
        {
            "format": FORMAT,
            "name": name,
            "config": dict(config),
            "state_dict": state,
            "classes": classes,
        },
        path,
    )


def load(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, list[Any] | None]:
    """Read a file written by :func:`save`; returns ``(model, classes)`` with the model rebuilt,
    its weights loaded onto ``map_location`` and set to eval mode."""
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"path {os.fspath(path)!r} is not a tscam_widget model file ({FORMAT})")
    config = dict(payload["config"])
    model = build_model(payload["name"], **config)
    model.load_state_dict(payload["state_dict"])
    model.to(map_location)
    model.eval()
    return model, payload["classes"]
