"""The Jupyter widget: :class:`CamWidget` (traitlets), its cache, buffers and colour maps."""

from .buffers import pack, unpack
from .camwidget import CamWidget
from .colormaps import cmap_names, cmap_table, resolve_cmap

__all__ = ["CamWidget", "pack", "unpack", "cmap_names", "cmap_table", "resolve_cmap"]
