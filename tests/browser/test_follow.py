"""Issue 19 in JupyterLab + Chromium: train a little, look, train more, look again. The same
widget repaints with the new weights' maps by itself (the kernel's own look at the model, no
request), its status line says so, and what it draws equals a fresh widget's map of the
trained model. Screenshots test-artifacts/follow-*.png."""

from __future__ import annotations

import pytest
from harness import MAIN, WIDGET, canvas_rgba, digest, open_lab_notebook, wait_until

pytestmark = pytest.mark.browser

CELL = """
import asyncio, numpy as np, torch
torch.manual_seed(0); torch.set_num_threads(1)
from tscam_widget import CamWidget
from tscam_widget.data.synthetic import synthetic
from tscam_widget.models import InceptionTime

X, y, mask = synthetic(64, length=96, seed=2)
classes = sorted(set(y)); yi = np.array([classes.index(c) for c in y])
model = InceptionTime(1, len(classes), nf=8, depth=3, bottleneck=8).eval()
w = CamWidget(model, X, yi, classes=classes, progress=False, trust=False)

def train(epochs):
    model.train(); opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(yi))
        loss.backward()
        opt.step()
    model.eval()
w
"""


def test_train_look_train_repaints_with_the_new_weights(lab_server, open_page, artifacts):
    name = lab_server.write_notebook("cam_follow.ipynb", [CELL])
    page, _ = open_page()
    open_lab_notebook(page, lab_server, name)
    kernel = lab_server.kernel(name)
    kernel.run("await w.ready()", timeout=120)
    main = page.locator(MAIN).first
    status = page.locator(f"{WIDGET} .tscam-status").first
    wait_until(lambda: "precomputed" in status.inner_text(), 30, 0.1, "the first maps")
    page.locator(WIDGET).first.screenshot(path=str(artifacts / "follow-0-untrained.png"))
    for version, epochs in ((1, 3), (2, 20)):
        before = digest(canvas_rgba(main.element_handle()))
        kernel.run(f"train({epochs})", timeout=120)  # no request to the widget afterwards
        wait_until(
            lambda: "model changed: maps from the new weights" in status.inner_text(),
            15,
            0.1,
            "the status line saying the model changed",
        )
        kernel.run("await w.ready()", timeout=120)
        wait_until(
            lambda before=before: digest(canvas_rgba(main.element_handle())) != before,
            15,
            0.1,
            "a repaint with the new weights",
        )
        assert kernel.eval("w.model_version") == version
        # what is drawn is the trained model's: the widget's map equals a fresh widget's
        same = kernel.eval(
            "bool(np.allclose(w.current_map, CamWidget(model, X, yi, classes=classes, "
            "progress=False, trust=False, background=False, sample=w.sample, "
            "layer=w.layer).current_map, atol=1e-5, equal_nan=True))"
        )
        assert same
        shot = artifacts / f"follow-{version}-trained-{epochs}.png"
        page.locator(WIDGET).first.screenshot(path=str(shot))
    kernel.close()
    page.context.close()
