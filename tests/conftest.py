"""Shared fixtures. Real UCR/UEA data lives beside the repository in ../shared/data/ucr
(or wherever TSCAM_WIDGET_DATA points); a missing folder fails the test, never skips it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ucr_dir() -> Path:
    path = Path(os.environ.get("TSCAM_WIDGET_DATA", ROOT.parent / "shared" / "data" / "ucr"))
    if not (path / "GunPoint").is_dir():
        pytest.fail(f"real UCR data not found at {path}: set TSCAM_WIDGET_DATA")
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models on shared cores: one torch thread is ~10x faster than many (modules opt in
    with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
