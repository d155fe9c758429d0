"""Plain-PyTorch time-series classifiers with named blocks (``blocks.0`` ...), a tiny training
loop and save/load. No fastai needed."""

from __future__ import annotations

from ._common import GAP, TSClassifier
from .fcn_resnet import FCN, ResBlock, ResNet1d
from .inception_time import InceptionModule, InceptionTime
from .io import load, save
from .registry import MODELS, build_model
from .train import PRESETS, accuracy, encode_labels, predict, train

__all__ = [
    "FCN",
    "GAP",
    "MODELS",
    "PRESETS",
    "InceptionModule",
    "InceptionTime",
    "ResBlock",
    "ResNet1d",
    "TSClassifier",
    "accuracy",
    "build_model",
    "encode_labels",
    "load",
    "predict",
    "save",
    "train",
]
