"""The ``timeseries`` (fastai2) package's CAM API on tscam-widget: replace
``from timeseries.all import *`` by ``from tscam_widget.compat import *`` and the tutorial's
``show_cam``, ``cam_acts``, ``grad_cam_acts``, ``CMAP``, ``get_batch``, ``i2o`` ... keep working,
drawn with bqplot instead of matplotlib.
"""

from __future__ import annotations

from .acts import (
    CAM_batch_compute,
    acts_scaled,
    cam_acts,
    grad_cam_acts,
    hook_acts,
    hooked_backward,
)
from .batch import batchify, get_batch, get_list_items, i2o, itemize, lbl_dict, noop
from .cmap import CMAP
from .plot import CamGrid, cam_batch_plot_multi_fig, cam_batch_plot_one_fig, show_cam

__all__ = [
    "CMAP",
    "CAM_batch_compute",
    "CamGrid",
    "acts_scaled",
    "batchify",
    "cam_acts",
    "cam_batch_plot_multi_fig",
    "cam_batch_plot_one_fig",
    "get_batch",
    "get_list_items",
    "grad_cam_acts",
    "hook_acts",
    "hooked_backward",
    "i2o",
    "itemize",
    "lbl_dict",
    "noop",
    "show_cam",
]
