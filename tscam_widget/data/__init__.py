"""Data for tscam-widget: UCR/UEA readers (.ts, .arff, .tsv), a cached UCR downloader and the
embedded synthetic dataset with ground-truth motif masks. Imports numpy only (no torch)."""

from __future__ import annotations

from tscam_widget.data.readers import DataFormatError, read
from tscam_widget.data.synthetic import synthetic, synthetic_classes, synthetic_split
from tscam_widget.data.ucr import DownloadError, load_ucr

__all__ = [
    "DataFormatError",
    "DownloadError",
    "load_ucr",
    "read",
    "synthetic",
    "synthetic_classes",
    "synthetic_split",
]
