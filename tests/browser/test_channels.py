"""Issue 20 in a real browser: which sensor mattered. An FCN trained briefly on BasicMotions
(6 channels: accelerometer x, y, z and gyroscope x, y, z) is explained with HiResCAM; on the
input layer each channel's panel is coloured by its own map and the channel bar beside the
panels gives the sample's share of |attribution| per channel and the mean over the listed
samples; they equal the shares computed by hand (torch autograd: ReLU(dF/dx_c(t) x_c(t))). On a
later layer the channels share one map and the status line says why. Offline page (no kernel,
no network) and JupyterLab (maps from the kernel's background job). Screenshots
test-artifacts/channels-offline-*.png and channels-lab-*.png."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch
from harness import MAIN, WIDGET, canvas_rgba, last_paint, open_lab_notebook, paint_count
from harness import next_paint as next_paint_

pytestmark = pytest.mark.browser

DRAG = "(e, v) => { e.value = String(v); e.dispatchEvent(new Event('input', {bubbles: true})); }"
N_TEST = 40
SETUP = """
import numpy as np, torch
torch.manual_seed(0); torch.set_num_threads(1)
from tscam_widget import CamWidget
from tscam_widget.data import load_ucr
from tscam_widget.models import FCN, train
X, y = load_ucr("BasicMotions", "train", data_dir={data!r})
Xt, yt = load_ucr("BasicMotions", "test", data_dir={data!r})
classes = sorted(set(y))
model = FCN(6, len(classes))
train(model, X, y, classes=classes, epochs=20, seed=0)
model.eval()
"""


def shares_by_hand(model: torch.nn.Module, X: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """Each sample's share of sum_t ReLU(dF/dx_c(t) x_c(t)) per channel ``[N, C]``."""
    x = torch.tensor(X, dtype=torch.float32, requires_grad=True)
    out = model(x)
    (g,) = torch.autograd.grad(out[torch.arange(len(cls)), torch.as_tensor(cls)].sum(), x)
    a = torch.relu(g * x).detach().double().sum(2).numpy()
    return a / a.sum(1, keepdims=True)


def panel_colours(canvas, panels: list[dict]) -> np.ndarray:
    """Mean RGB of each panel's coloured pixels (the CAM-coloured line; greys left out)."""
    rgba = canvas_rgba(canvas)
    out = []
    for p in panels:
        px = rgba[int(p["y"]) : int(p["y"] + p["h"]), int(p["x"]) : int(p["x"] + p["w"]), :3]
        px = px.reshape(-1, 3).astype(float)
        coloured = px[px.max(1) - px.min(1) > 60]
        out.append(coloured.mean(0) if len(coloured) else np.full(3, np.nan))
    return np.array(out)


def check_channels(page, root, canvas, want: np.ndarray, artifacts: Path, tag: str) -> None:
    """The input layer in per-channel colours with the bar (``want``: the shares by hand
    ``[N, C]``), then layer 1 with one map."""
    d = next_paint_(page, root, paint_count(root) - 1, layer=0, method="hirescam")
    ch = d["channels"]
    assert ch["perChannel"] is True and ch["note"] == "", ch
    np.testing.assert_allclose(ch["share"], want[0], atol=0.01)
    assert ch["count"] == N_TEST
    np.testing.assert_allclose(ch["mean"], want.mean(0), atol=0.01)
    # each channel's panel has its own colours: the most and the least important channels'
    # lines differ in colour far more than they do with one map for all channels (below)
    per = panel_colours(canvas, d["panels"])
    hi, lo = int(np.argmax(want[0])), int(np.argmin(want[0]))
    spread = float(np.abs(per[hi] - per[lo]).sum())
    page.locator(WIDGET).first.screenshot(path=str(artifacts / f"channels-{tag}-input.png"))

    n = paint_count(root)
    page.locator(f"{WIDGET} input[type=range][data-control=layer]").first.evaluate(DRAG, 1)
    d1 = next_paint_(page, root, n, layer=1)
    ch1 = d1["channels"]
    assert ch1["perChannel"] is False and ch1["share"] is None
    assert "mixes them" in ch1["note"], ch1
    status = page.locator(f"{WIDGET} .tscam-status").first.inner_text()
    assert "one map for all 6 channels" in status, status
    one = panel_colours(canvas, d1["panels"])
    shared = float(np.abs(one[hi] - one[lo]).sum())
    print(f"{tag}: colour spread per channel {spread:.1f}, one map {shared:.1f}")
    assert spread > 3 * shared and spread > 40, (spread, shared)
    page.locator(WIDGET).first.screenshot(path=str(artifacts / f"channels-{tag}-layer1.png"))


@pytest.fixture(scope="module")
def trained(ucr_dir: Path):
    scope: dict = {}
    exec(SETUP.format(data=str(ucr_dir)), scope)  # the same training as the notebook's
    return scope


def test_channels_offline(trained, tmp_path: Path, open_page, artifacts: Path) -> None:
    from tscam_widget import CamWidget

    model, Xt, yt, classes = (trained[k] for k in ("model", "Xt", "yt", "classes"))
    w = CamWidget(
        model, Xt, yt, classes=classes, layer=0, method="hirescam", trust=False, progress=False
    )
    page_path = w.save_html(tmp_path / "motions.html")
    page, _ = open_page()
    page.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(("file:", "blob:")) else r.abort(),
    )
    page.goto(page_path.resolve().as_uri())
    root = page.locator(WIDGET).first.element_handle()
    page.wait_for_function("(r) => window.__tscamPaints(r).length > 0", arg=root)
    canvas = page.locator(MAIN).first.element_handle()
    want = shares_by_hand(model, Xt, w.y_pred)
    check_channels(page, root, canvas, want, artifacts, "offline")
    # the grid: each cell's channels in their own colours, with a small bar per cell
    n = paint_count(root)
    page.locator(f"{WIDGET} input[type=range][data-control=layer]").first.evaluate(DRAG, 0)
    page.locator(f"{WIDGET} select[data-control=view]").first.select_option("grid")
    d = next_paint_(page, root, n, layer=0, view="grid")
    assert d["channels"]["perChannel"] is True
    np.testing.assert_allclose(d["channels"]["share"], want[0], atol=0.01)
    assert len({p["sample"] for p in d["panels"]}) == d["controls"]["view_count"]
    page.locator(WIDGET).first.screenshot(path=str(artifacts / "channels-offline-grid.png"))


def test_channels_in_lab(ucr_dir: Path, lab_server, open_page, artifacts: Path) -> None:
    cell = SETUP.format(data=str(ucr_dir)) + (
        'w = CamWidget(model, Xt, yt, classes=classes, layer=0, method="hirescam", '
        "trust=False, progress=False)\nw"
    )
    name = lab_server.write_notebook("channels.ipynb", [cell])
    page, _ = open_page()
    open_lab_notebook(page, lab_server, name)
    kernel = lab_server.kernel(name)
    kernel.run("await w.ready()", timeout=180)
    assert kernel.eval("w.precomputed") is True
    assert "hirescam" in kernel.eval("w.channel_keys")
    # the shares by hand, in the kernel (its model): the same function as offline
    kernel.run(inspect.getsource(shares_by_hand), timeout=30)
    want = np.array(kernel.eval("shares_by_hand(model, Xt, w.y_pred).tolist()"))
    root = page.locator(WIDGET).first.element_handle()
    canvas = page.locator(MAIN).first.element_handle()
    assert last_paint(root) is not None
    check_channels(page, root, canvas, want, artifacts, "lab")
