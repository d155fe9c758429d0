"""Execute notebooks/cam_tutorial.ipynb (the `timeseries` CAM tutorial) on GunPoint under CI
settings; any cell error fails the test."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "cam_tutorial.ipynb"


def test_cam_tutorial_runs(ucr_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("TSCAM_TUTORIAL_DATASET", "GunPoint")
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("TSCAM_WIDGET_DATA", str(ucr_dir))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "commit the notebook without outputs"
    )
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    code = [c for c in nb.cells if c.cell_type == "code"]
    text = "\n".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for c in code
        for o in c.outputs
    )
    assert "('GunPoint', 2, 40)" in text  # the parameter cell saw the CI settings
    assert "[Gun - Point] - MAX-ACT - mean" in text  # one series of each class, decoded
    drawing = [c for c in code if "show_cam(" in c.source or "CamWidget(" in c.source]
    assert len(drawing) == 11
    for c in drawing:  # every show_cam figure/grid and the CamWidget came out as a widget
        assert any(
            "application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in c.outputs
        ), c.source
