"""``voila notebooks/teaching.ipynb`` (Voilà 0.5, a real server and kernel) in Chromium: the
teaching notebook's four widgets draw, a slider repaints and reaches Python, a change made in
the kernel (through a client on Voilà's own kernel) reaches the page, and no widget output is
left dangling ("Error displaying widget: model not found" came from a closed tqdm bar)."""

from __future__ import annotations

import numpy as np
import pytest
from harness import DREW_PANELS, canvas_rgba, paint_count, voila_server, wait_painted
from harness import ROOT as REPO

pytestmark = pytest.mark.browser

MAINS = ".tscam-root canvas.tscam-main"
# the four widgets' last paints drew plot areas (the painted events, recorded from page load)
DRAWN = (
    "() => { const drew = " + DREW_PANELS + ";"
    " const r = [...document.querySelectorAll('.tscam-root')];"
    " return r.length >= 4 && r.every(drew); }"
)


@pytest.fixture(scope="module")
def voila(tmp_path_factory, open_page, artifacts):
    base = tmp_path_factory.mktemp("voila")
    # CI=1: the notebook trains for 4 epochs only
    server = voila_server(base, REPO / "notebooks" / "teaching.ipynb", env={"CI": "1"})
    kernel = None
    try:
        page, _ = open_page()
        page.goto(server.url, wait_until="domcontentloaded", timeout=300_000)
        page.wait_for_function(DRAWN, timeout=300_000)
        kernel = server.kernel()
        kernel.run("import asyncio\nawait w.ready()", timeout=300)  # background work done
        yield page, kernel
    finally:
        if kernel is not None:
            kernel.close()
        server.stop()


def test_voila_renders_teaching_notebook(voila, artifacts):
    page, kernel = voila
    page.screenshot(path=str(artifacts / "voila-teaching.png"))
    page.locator(".tscam-root").first.screenshot(path=str(artifacts / "voila-widget.png"))
    text = page.evaluate("() => document.body.innerText")
    assert "Error displaying widget" not in text and "model not found" not in text
    assert page.locator(".tscam-root").count() == 4  # lesson 5 adds the timeline's widget
    assert kernel.eval("__import__('tscam_widget').__file__").startswith(str(REPO / "tscam_widget"))
    for i in range(4):
        rgb = canvas_rgba(page.locator(MAINS).nth(i).element_handle())[..., :3]
        ink = np.abs(rgb.astype(int) - rgb[0, 0].astype(int)).max(2) > 40
        assert ink.mean() > 0.01, f"widget {i} is blank"


def test_voila_slider_repaints_and_reaches_python(voila):
    page, kernel = voila
    root = page.locator(".tscam-root").first.element_handle()
    canvas = page.locator(MAINS).first.element_handle()
    before = canvas_rgba(canvas)
    n = paint_count(root)
    page.locator(".tscam-root input[type=range][data-control=layer]").first.evaluate(
        "(e) => { e.value = 2; e.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    wait_painted(page, root, n)
    assert not np.array_equal(before, canvas_rgba(canvas)), "the slider did not repaint"
    kernel.wait_for("w.layer", lambda v: v == 2)


def test_voila_python_change_reaches_page(voila, artifacts):
    page, kernel = voila
    root = page.locator(".tscam-root").first.element_handle()
    n = paint_count(root)
    kernel.run("w.sample = 3")
    page.wait_for_function(
        "(r) => r.querySelector('input[data-control=sample-box]').value === '3'"
        " && r.querySelector('input[data-control=sample]').value === '3'",
        arg=root,
        timeout=30_000,
    )
    wait_painted(page, root, n)
    assert "id 3" in root.evaluate("(r) => r.querySelector('.tscam-sample-info').textContent")
    page.locator(".tscam-root").first.screenshot(path=str(artifacts / "voila-python-sample3.png"))
