"""CamWidget in marimo 0.25 (``mo.ui.anywidget(CamWidget(...))`` in an app served by a real
``marimo run``), in marimo's dark theme, driven by Chromium.

marimo renders an anywidget inside a shadow root and defines none of JupyterLab's CSS
variables: the widget must find the dark background it sits on and draw with its dark palette.
Playwright's CSS locators pierce open shadow roots, so the widget is found as in JupyterLab.
A Python-side change is made the marimo way: a ``mo.ui.number`` in the page drives a cell that
sets ``w.layer``; a change of the widget's own slider reaches Python as ``cam.value``, shown by
a markdown cell.
"""

from __future__ import annotations

import numpy as np
import pytest
from harness import (
    DREW_PANELS,
    canvas_rgba,
    contrast_ratio,
    marimo_server,
    paint_count,
    parse_css_color,
    wait_painted,
)
from harness import (
    ROOT as REPO,
)
from test_lab import dom_contrast

pytestmark = pytest.mark.browser

APP = """
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    import numpy as np
    import torch
    import tscam_widget
    from tscam_widget import CamWidget
    from tscam_widget.data import synthetic, synthetic_classes
    from tscam_widget.models import InceptionTime

    torch.manual_seed(0)
    torch.set_num_threads(1)
    X, y, mask = synthetic(n=24, length=128, n_classes=3, seed=1)
    model = InceptionTime(1, 3, nf=8, depth=3).eval()
    w = CamWidget(model, X, y, classes=synthetic_classes(3), progress=False)
    cam = mo.ui.anywidget(w)
    cam
    return cam, mo, tscam_widget, w


@app.cell
def _(mo):
    layer_pick = mo.ui.number(start=0, stop=3, value=0, label="python layer")
    layer_pick
    return (layer_pick,)


@app.cell
def _(layer_pick, w):
    w.layer = int(layer_pick.value)
    return


@app.cell
def _(CamWidget, InceptionTime, mo, np, torch):
    # a large data set: as in a kernel, the first picture at once and the rest behind
    torch.manual_seed(1)
    big_X = np.random.default_rng(2).standard_normal((3000, 1, 256)).astype(np.float32)
    big = CamWidget(InceptionTime(1, 2, nf=4, depth=3).eval(), big_X.cumsum(-1), progress=False)
    mo.md(f"BIGMODE {big.background_running} {big.predictions_complete} END")
    return (big,)


@app.cell
def _(cam, mo, tscam_widget):
    mo.md(f"PACKAGE {tscam_widget.__file__} PYLAYER {cam.value.get('layer')} END")
    return


if __name__ == "__main__":
    app.run()
"""

CAM = ".tscam-root"
MAIN = f"{CAM} canvas.tscam-main"
LAYER = f"{CAM} input[type=range][data-control=layer]"


@pytest.fixture(scope="module")
def marimo_page(tmp_path_factory, open_page, artifacts):
    base = tmp_path_factory.mktemp("marimo")
    app = base / "cam_app.py"
    app.write_text(APP)
    server = marimo_server(base, app, theme="dark")
    try:
        page, log = open_page()
        page.goto(server.url, wait_until="domcontentloaded")
        page.locator(MAIN).first.wait_for(timeout=120_000)
        root = page.locator(CAM).first.element_handle()
        # drawn with maps: the widget's painted event says so
        page.wait_for_function(DREW_PANELS, arg=root, timeout=60_000)
        yield page, root, server
    finally:
        server.stop()


def test_marimo_kernel_imports_this_checkout(marimo_page):
    page, _, _ = marimo_page
    text = page.locator("text=PACKAGE").first.inner_text(timeout=30_000)
    assert str(REPO / "tscam_widget") in text, text


def test_marimo_gets_the_first_picture_at_once(marimo_page):
    """marimo runs cells with an event loop running: the widget works behind, as in a kernel
    (the constructor returned with the first picture, the predictions still filling in)."""
    page, _, _ = marimo_page
    page.locator("text=BIGMODE True False END").first.wait_for(timeout=60_000)


def test_marimo_draws_in_dark_theme(marimo_page, artifacts):
    page, root, _ = marimo_page
    assert page.evaluate("() => document.body.classList.contains('dark')"), (
        "not marimo's dark theme"
    )
    shot = artifacts / "marimo-dark.png"
    page.screenshot(path=str(shot), full_page=True)
    rgb = canvas_rgba(page.locator(MAIN).first.element_handle())[..., :3]
    bg = rgb[0, 0].astype(float)
    assert contrast_ratio(bg, (0, 0, 0)) < 2.0, f"canvas background {bg} is not dark"
    # the card blends into marimo's own background (no white or black box around it)
    page_bg = parse_css_color(
        page.evaluate(
            "() => getComputedStyle(document.querySelector('.marimo-cell')).backgroundColor"
        )
    )
    assert np.abs(bg - np.array(page_bg[:3])).max() <= 2, (bg, page_bg)
    ink = np.abs(rgb.astype(int) - rgb[0, 0].astype(int)).max(2) > 40
    assert ink.mean() > 0.01, "canvas is blank"
    assert root.evaluate("(r) => r.classList.contains('tscam-dark')")
    bad = [(round(c, 2), it) for c, it in dom_contrast(page) if c < 4.5]
    assert not bad, f"DOM text below 4.5:1 in marimo's dark theme: {bad}"


def test_marimo_slider_repaints_and_reaches_python(marimo_page, artifacts):
    page, root, _ = marimo_page
    before = canvas_rgba(page.locator(MAIN).first.element_handle())
    n = paint_count(root)
    page.locator(LAYER).first.evaluate(
        "(e) => { e.value = 2; e.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    wait_painted(page, root, n)
    after = canvas_rgba(page.locator(MAIN).first.element_handle())
    assert not np.array_equal(before, after), "the layer slider did not repaint the canvas"
    # marimo's reactive value of the widget: the markdown cell re-ran with the new layer
    page.locator("text=PYLAYER 2 END").first.wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts / "marimo-layer2.png"), full_page=True)


def test_marimo_python_change_reaches_page(marimo_page, artifacts):
    page, root, _ = marimo_page
    n = paint_count(root)
    box = page.locator("input[aria-roledescription='Number field']").first  # marimo's number
    box.fill("1")
    box.press("Enter")
    # the cell `w.layer = ...` ran in Python; the trait came back to the widget's slider
    page.wait_for_function(
        "(r) => r.querySelector('input[data-control=layer]').value === '1'",
        arg=root,
        timeout=30_000,
    )
    wait_painted(page, root, n)
    assert "blocks.0" in root.evaluate("(r) => r.querySelector('.tscam-layer-name').textContent")
    page.screenshot(path=str(artifacts / "marimo-python-layer1.png"), full_page=True)


def test_marimo_light_theme_stays_light(tmp_path_factory, open_page, artifacts):
    base = tmp_path_factory.mktemp("marimo-light")
    app = base / "cam_app.py"
    app.write_text(APP)
    server = marimo_server(base, app, theme="light")
    try:
        page, _ = open_page()
        page.goto(server.url, wait_until="domcontentloaded")
        page.locator(MAIN).first.wait_for(timeout=120_000)
        root = page.locator(CAM).first.element_handle()
        page.wait_for_function(DREW_PANELS, arg=root, timeout=60_000)
        page.screenshot(path=str(artifacts / "marimo-light.png"), full_page=True)
        assert not page.evaluate("() => document.body.classList.contains('dark')")
        rgb = canvas_rgba(page.locator(MAIN).first.element_handle())[..., :3]
        assert contrast_ratio(rgb[0, 0], (255, 255, 255)) < 1.2, f"canvas {rgb[0, 0]} not light"
        assert not root.evaluate("(r) => r.classList.contains('tscam-dark')")
        bad = [(round(c, 2), it) for c, it in dom_contrast(page) if c < 4.5]
        assert not bad, f"DOM text below 4.5:1 in marimo's light theme: {bad}"
    finally:
        server.stop()
