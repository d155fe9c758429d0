"""``CamWidget(learn, dls)`` with tsai Learners we did not design, in real JupyterLab: a TST
(token layers ``[N, T, D]``) and a ResNet, both with ``TSStandardize`` batch transforms on data
in raw units. The widget draws, names the layouts, follows the layer slider, and switches between
the data in its own units and the model's input."""

from __future__ import annotations

import numpy as np
import pytest
from harness import (
    LAYER_NAME,
    MAIN,
    SERIES_VIEW,
    WIDGET,
    canvas_rgba,
    cmap_index,
    digest,
    next_paint,
    open_lab_notebook,
    paint_count,
    paint_until,
    shown,
)

pytestmark = pytest.mark.browser

LEARNER = """
import warnings; warnings.filterwarnings("ignore")
import numpy as np, torch
from tsai.basics import get_ts_dls, ts_learner, TSClassification, TSStandardize
from tsai.models.all import {arch}
from tscam_widget import CamWidget
from tscam_widget.data import synthetic
from tscam_widget.widget import unpack
torch.set_num_threads(1)
X, y, _ = synthetic(n=64, length=48, n_classes=2, n_channels=2, seed=0)
X = X * 50 + 200  # raw units: only the batch transform makes them usable
dls = get_ts_dls(X, y, splits=(list(range(48)), list(range(48, 64))),
                 tfms=[None, TSClassification()], batch_tfms=[TSStandardize()], bs=16)
torch.manual_seed(0)
learn = ts_learner(dls, {arch}{kw})
with learn.no_bar(), learn.no_logging():
    learn.fit(1, 1e-3)
w = CamWidget(learn, dls, progress=False)
w
"""


def _rgb(page) -> np.ndarray:
    return canvas_rgba(page.locator(MAIN).first.element_handle())[..., :3]


@pytest.mark.parametrize(
    "arch, kw, token_layout",
    [("TST", ", d_model=32, n_layers=2, d_ff=64", "NTC"), ("ResNet", "", None)],
)
def test_tsai_learner_widget(lab_server, open_page, artifacts, arch, kw, token_layout):
    name = lab_server.write_notebook(f"tsai_{arch}.ipynb", [LEARNER.format(arch=arch, kw=kw)])
    page, _ = open_page()
    open_lab_notebook(page, lab_server, name)
    kernel = lab_server.kernel(name)
    page.locator(MAIN).first.wait_for(timeout=60_000)
    table = np.array(kernel.eval("unpack(w.cmap_table)"), np.uint8)
    root = page.locator(WIDGET).first.element_handle()
    next_paint(page, root, 0, 30)  # the first ready paint
    assert (cmap_index(_rgb(page), table) >= 0).sum() > 300, "no map drawn in table colours"
    layers = kernel.eval("w.layers")
    layouts = kernel.eval("w.layer_layouts")
    assert layers[0] == "input" and len(layers) >= 4, layers
    # predictions are the Learner's own (its batch transforms applied)
    agree = kernel.eval("bool((w.y_pred == learn.get_preds(ds_idx=1)[0].argmax(1).numpy()).all())")
    assert agree is True
    if token_layout:
        assert any(v == token_layout for v in layouts), layouts
        i = layouts.index(token_layout)
        kernel.run(f"w.layer = {i}")
        page.wait_for_function(
            "([sel, t]) => document.querySelector(sel).textContent.includes(t)",
            arg=[LAYER_NAME, f"· {token_layout}"],
            timeout=10_000,
        )
    page.locator(WIDGET).first.screenshot(path=str(artifacts / f"lab-tsai-{arch}.png"))
    # the layer slider repaints the map
    before = digest(_rgb(page))
    kernel.run("w.layer = 0")
    shown(page, root, 10, layer=0)  # the ready paint of layer 0
    assert digest(_rgb(page)) != before, "the layer change did not repaint the map"
    # the series switch: visible for a Learner with batch transforms, draws the model's input
    assert page.locator(SERIES_VIEW).first.is_visible()
    before = digest(_rgb(page))
    n = paint_count(root)
    page.locator(SERIES_VIEW).first.select_option("input")
    assert kernel.wait_for("w.series_view", lambda v: v == "input") == "input"
    # the model's input may arrive in a later message than the switch: paint by paint
    paint_until(page, root, n, lambda d: digest(_rgb(page)) != before, 10, "the model's input")
    series = np.array(kernel.eval("w.current_series.tolist()"))
    assert abs(series.mean()) < 3  # standardised, not around 200
    page.locator(WIDGET).first.screenshot(path=str(artifacts / f"lab-tsai-{arch}-input.png"))
    kernel.run("w.series_view = 'original'")
    kernel.close()
