"""``tscam_widget.compat.show_cam`` renders its bqplot figure in a real JupyterLab: the title in
the ``timeseries`` format, one coloured FlexLine per series and a colour bar."""

from __future__ import annotations

import pytest
from harness import open_lab_notebook

pytestmark = pytest.mark.browser

SHOW_CAM = """
import numpy as np, torch
from tscam_widget.compat import CMAP, grad_cam_acts, show_cam
from tscam_widget.data import synthetic
from tscam_widget.models import InceptionTime
torch.manual_seed(0)
X, y, _ = synthetic(n=8, length=64, n_classes=2)
model = InceptionTime(1, 2).eval()
labels = sorted(set(y))
batch = (torch.from_numpy(X[:2]), torch.tensor([labels.index(v) for v in y[:2]]))
fig = show_cam(batch, model, layer=5, func_cam=grad_cam_acts, cmap=CMAP.viridis,
               i2o=lambda i: labels[int(i)])
fig
"""


def test_show_cam_figure_renders_in_lab(lab_server, open_page, artifacts) -> None:
    name = lab_server.write_notebook("show_cam.ipynb", [SHOW_CAM])
    page, _ = open_page()
    open_lab_notebook(page, lab_server, name)
    kernel = lab_server.kernel(name)
    try:
        title = kernel.eval("fig.title if hasattr(fig, 'title') else fig.children[0].title")
        expected = kernel.eval("'[' + ' - '.join(labels[int(v)] for v in batch[1]) + ']'")
        assert title.startswith(expected + " - GRAD-CAM - mean"), title
        svg = page.locator(".bqplot svg").first
        svg.wait_for(timeout=60_000)
        page.wait_for_function(
            "(t) => [...document.querySelectorAll('.bqplot text')].some(e => e.textContent === t)",
            arg=title,
            timeout=30_000,
        )
        # FlexLine draws one path per segment, each stroked with its CAM colour
        strokes = page.evaluate(
            """() => [...document.querySelectorAll('.bqplot svg path, .bqplot svg line')]
                 .map(p => getComputedStyle(p).stroke).filter(s => s && s !== 'none')"""
        )
        assert len(strokes) >= 2 * 60, len(strokes)
        assert len(set(strokes)) >= 10, "the segments are not coloured by the map"
        assert page.locator(".bqplot .colorbar, .bqplot g.ColorBar, .bqplot .axis").count() > 0
        page.locator(".bqplot").first.screenshot(path=str(artifacts / "lab-show-cam.png"))
    finally:
        kernel.close()
