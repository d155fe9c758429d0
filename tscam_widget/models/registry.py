"""``build_model(name, c_in, n_classes)``: the bundled classifiers by name."""

from __future__ import annotations

from typing import Any

from ._common import TSClassifier
from .fcn_resnet import FCN, ResNet1d
from .inception_time import InceptionTime

MODELS: dict[str, type[TSClassifier]] = {
    InceptionTime.name: InceptionTime,
    FCN.name: FCN,
    ResNet1d.name: ResNet1d,
}


def build_model(name: str, c_in: int, n_classes: int, **kwargs: Any) -> TSClassifier:
    """A fresh model ``name`` (one of ``"inceptiontime"``, ``"fcn"``, ``"resnet"``, any case)
    mapping ``[N, c_in, T]`` to logits ``[N, n_classes]``; ``kwargs`` go to its constructor."""
    key = name.lower() if isinstance(name, str) else name
    if key not in MODELS:
        raise ValueError(f"name must be one of {sorted(MODELS)}, got {name!r}")
    return MODELS[key](c_in, n_classes, **kwargs)
