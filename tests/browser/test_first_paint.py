"""Issue 13 in JupyterLab + Chromium: the first sample is painted before the predictions are
complete (they come from the background worker, slowed down here so the test can see it), a
jump in the page is served meanwhile, the sample menu says the predictions are filling in,
then lists the mistakes once they are in."""

from __future__ import annotations

import numpy as np
import pytest
from harness import MAIN, SAMPLE_BOX, WIDGET, canvas_rgba, cmap_index, open_lab_notebook, wait_until

pytestmark = pytest.mark.browser

SLOW = """
import threading, time, numpy as np, torch
torch.manual_seed(0); torch.set_num_threads(1)
from tscam_widget import CamWidget
from tscam_widget.models import InceptionTime
from tscam_widget.widget.buffers import unpack

class Slow(InceptionTime):
    # 30 ms per sample in the background worker's forwards: predictions take ~6 s
    def forward(self, x):
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.03 * x.shape[0])
        return super().forward(x)

rng = np.random.default_rng(0)
X = rng.standard_normal((200, 2, 128)).astype(np.float32).cumsum(-1) / 5
y = np.arange(200) % 3
model = Slow(2, 3, nf=4, depth=3, bottleneck=4).eval()
w = CamWidget(model, X, y, progress=False, classes=["a", "b", "c"], trust=False)
w
"""


def test_first_sample_painted_before_predictions_complete(lab_server, open_page):
    name = lab_server.write_notebook("cam_big_data.ipynb", [SLOW])
    page, _ = open_page()
    open_lab_notebook(page, lab_server, name)
    kernel = lab_server.kernel(name)
    table = np.array(kernel.eval("unpack(w.cmap_table)"), np.uint8)

    def coloured() -> bool:
        rgb = canvas_rgba(page.locator(MAIN).first.element_handle())[..., :3]
        return int((cmap_index(rgb, table) >= 0).sum()) > 200

    wait_until(coloured, 30, 0.1, "the first sample painted in colour")
    assert kernel.eval("w._maps.comp.all_predicted") is False, "predictions were already complete"
    note = page.locator(f"{WIDGET} .tscam-samples-note").first
    wait_until(lambda: "predictions filling in" in note.inner_text(), 10, 0.1, "the note")
    # a jump typed in the page is served while the worker predicts
    box = page.locator(SAMPLE_BOX).first
    box.fill("123")
    box.press("Enter")
    kernel.wait_for("w.maps_meta['samples']", lambda v: v == [123], timeout=20)
    assert kernel.eval("w._maps.comp.all_predicted") is False
    kernel.run("import asyncio\nawait w.ready()", timeout=300)
    wait_until(lambda: note.get_attribute("data-filling") == "0", 10, 0.1, "predictions in")
    # the mistakes, from the menu
    mistakes = kernel.eval("[int(s) for s in np.flatnonzero(w.y_pred != y)]")
    page.locator(f"{WIDGET} select[data-control=sample_filter]").first.select_option("mistakes")
    kernel.wait_for("w.sample_filter", lambda v: v == "mistakes", timeout=10)
    assert kernel.eval("w.sample_list.tolist()") == mistakes
    if mistakes:
        kernel.wait_for("w.sample", lambda v: v in mistakes, timeout=10)
    kernel.close()
    page.context.close()
