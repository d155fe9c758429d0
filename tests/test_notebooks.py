"""The notebooks under notebooks/ run top to bottom in a real kernel (nbclient); any cell error
fails. CI=true makes them train for fewer epochs; GunPoint comes from TSCAM_WIDGET_DATA."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["quickstart.ipynb", "fastai_gunpoint.ipynb", "tsai.ipynb", "teaching.ipynb"]
)
def test_notebook_runs(name: str, ucr_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("TSCAM_WIDGET_DATA", str(ucr_dir))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        f"{name} is committed with outputs: strip them"
    )
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    widget_views = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert widget_views, f"{name} displayed no widget"
