"""Issue 19 in JupyterLab + Chromium: the epoch slider scrubs a training timeline recorded in a
kernel. A model trains 3 epochs with ``w.snapshot()`` after each; dragging the slider to each
position repaints the plot area with that snapshot's own maps, the kernel's ``w.epoch`` follows,
the slider's name and the status line name the snapshot, and the right end ("now") draws the
live maps of the current weights again. Screenshots test-artifacts/timeline-lab-*.png."""

from __future__ import annotations

import numpy as np
import pytest
from harness import (
    MAIN,
    WIDGET,
    canvas_rgba,
    digest,
    last_paint,
    next_paint,
    open_lab_notebook,
    paint_count,
    paints_during,
)

pytestmark = pytest.mark.browser

EPOCHS = 3
CELL = f"""
import numpy as np, torch
torch.manual_seed(0); torch.set_num_threads(1)
from tscam_widget import CamWidget
from tscam_widget.data.synthetic import synthetic
from tscam_widget.models import InceptionTime

X, y, mask = synthetic(64, length=96, seed=2)
classes = sorted(set(y)); yi = np.array([classes.index(c) for c in y])
xt, yt = torch.from_numpy(X), torch.from_numpy(yi)
model = InceptionTime(1, len(classes), nf=8, depth=3, bottleneck=8).eval()
w = CamWidget(model, X, yi, classes=classes, progress=False, trust=False)
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(1, {EPOCHS} + 1):
    model.train()
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(xt).argmax(1) == yt).float().mean())
    w.snapshot(f"epoch {{epoch}}", {{"accuracy": acc}})
w
"""

#: JS, (root) => bool: the last paint is ready and shows the current weights
LIVE_READY = """(r) => { const l = window.__tscamPaints(r);
  return l.length > 0 && l.at(-1).ready && l.at(-1).controls.epoch === -1; }"""
DRAG = "(e, v) => { e.value = String(v); e.dispatchEvent(new Event('input', {bubbles: true})); }"


def plot_pixels(canvas, panels: list[dict]) -> np.ndarray:
    """The canvas pixels inside the map views' plot areas (not the title or the axes)."""
    rgba = canvas_rgba(canvas)
    return np.concatenate(
        [
            rgba[int(p["y"]) : int(p["y"] + p["h"]), int(p["x"]) : int(p["x"] + p["w"])].ravel()
            for p in panels
        ]
    )


def test_epoch_slider_scrubs_the_training_in_lab(lab_server, open_page, artifacts):
    name = lab_server.write_notebook("cam_timeline.ipynb", [CELL])
    page, _ = open_page()
    open_lab_notebook(page, lab_server, name)
    kernel = lab_server.kernel(name)
    kernel.run("await w.ready()", timeout=180)  # the snapshots' maps and the live maps
    labels = kernel.eval("[s.label for s in w.timeline.snapshots]")
    assert labels == [f"epoch {k}" for k in range(1, EPOCHS + 1)]
    accs = kernel.eval("[s.metrics['accuracy'] for s in w.timeline.snapshots]")
    root = page.locator(WIDGET).first.element_handle()
    canvas = page.locator(MAIN).first.element_handle()
    slider = page.locator(f"{WIDGET} input[type=range][data-control=epoch]").first
    name_el = page.locator(f"{WIDGET} .tscam-epoch-name").first
    status = page.locator(f"{WIDGET} .tscam-status").first

    # the widget shows the current weights: the slider at its right end, "now"
    page.wait_for_function(
        "([r, E]) => r.querySelector('input[data-control=epoch]').max === String(E)",
        arg=[root, EPOCHS],
        timeout=30_000,
    )
    assert slider.is_visible() and slider.input_value() == str(EPOCHS)
    assert name_el.inner_text() == "now"
    page.wait_for_function(LIVE_READY, arg=root, timeout=30_000)
    assert not paints_during(root, 1000), "the live maps still repaint after w.ready()"
    live = last_paint(root)
    now_px = plot_pixels(canvas, live["panels"])
    now = digest(now_px)
    page.locator(WIDGET).first.screenshot(path=str(artifacts / "timeline-lab-now.png"))

    seen: dict[int, int] = {}
    diff: dict[int, float] = {}  # mean |RGB difference| of each snapshot's plot area from now's
    for e in range(EPOCHS):  # drag through the positions the page offers, left to right
        n = paint_count(root)
        slider.evaluate(DRAG, e)
        d = next_paint(page, root, n, epoch=e)
        assert d["panels"], d
        px = plot_pixels(canvas, d["panels"])
        seen[e] = digest(px)
        diff[e] = float(np.abs(px.astype(int) - now_px.astype(int)).mean())
        assert kernel.wait_for("w.epoch", lambda v, e=e: v == e, timeout=15) == e
        want = f"{labels[e]} ({e + 1}/{EPOCHS})"
        assert name_el.inner_text() == want
        text = status.inner_text()
        assert f"{want}: accuracy {accs[e]:.3f}" in text, text
        page.locator(WIDGET).first.screenshot(
            path=str(artifacts / f"timeline-lab-epoch{e + 1}.png")
        )
    assert len({now, *seen.values()}) == EPOCHS + 1, "each snapshot draws its own maps"
    # the last snapshot holds the weights of now: its picture is close to the live one (its maps
    # at the recorded levels), far closer than the first epoch's
    print("mean |RGB difference| from now:", diff)
    assert diff[EPOCHS - 1] < diff[0] / 3, diff

    # back to the right end: the live maps of the current weights, as at first
    n = paint_count(root)
    slider.evaluate(DRAG, EPOCHS)
    d = next_paint(page, root, n, epoch=-1)
    assert kernel.wait_for("w.epoch", lambda v: v == -1, timeout=15) == -1
    assert name_el.inner_text() == "now"
    assert not any(f"({k}/{EPOCHS})" in status.inner_text() for k in range(1, EPOCHS + 1))
    assert digest(plot_pixels(canvas, d["panels"])) == now
    page.locator(WIDGET).first.screenshot(path=str(artifacts / "timeline-lab-now-again.png"))
    kernel.close()
    page.context.close()
