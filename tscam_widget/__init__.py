"""tscam-widget: class-activation maps of time-series classifiers, live in Jupyter.

Heavy parts (torch, the widget) load on first use, so ``tscam_widget.data`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "CamWidget": "tscam_widget.widget",
    "Explainer": "tscam_widget.explain",
    "Explanation": "tscam_widget.explain",
    "candidate_layers": "tscam_widget.explain",
    "from_learner": "tscam_widget.explain",
    "register_method": "tscam_widget.explain",
    "load_ucr": "tscam_widget.data",
    "read": "tscam_widget.data",
    "synthetic": "tscam_widget.data",
    "synthetic_split": "tscam_widget.data",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tscam_widget' has no attribute {name!r}")
