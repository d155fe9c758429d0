"""The epoch slider in the offline page of ``save_html``: a model trained for 2 epochs with a
snapshot before training and after each epoch; scrubbing draws each snapshot's maps (the
picture changes, the status line names the snapshot), a sample not in the snapshots says so,
and the right end ("now") draws the live maps again. No kernel, no network."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from harness import canvas_rgba, digest, next_paint, paint_count

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def timeline_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tscam_widget import CamWidget
    from tscam_widget.data import synthetic_split
    from tscam_widget.models import build_model, train
    from tscam_widget.widget.timeline import Timeline

    torch.manual_seed(0)
    X, y, _, Xt, yt, _ = synthetic_split()
    classes = sorted({str(v) for v in y})
    model = build_model("fcn", X.shape[1], len(classes))
    w = CamWidget(model, Xt[:30], yt[:30], classes=classes, trust=False, progress=False)
    w.timeline = Timeline(max_samples=20)
    w.snapshot("epoch 0")
    for k in (1, 2):
        h = train(model, X, y, classes=classes, epochs=1, seed=k)
        w.snapshot(f"epoch {k}", {"accuracy": h["accuracy"][-1]})
    # the live maps: the trained weights (a fresh widget, which the slider's "now" draws)
    live = CamWidget(model, Xt[:30], yt[:30], classes=classes, trust=False, progress=False)
    live.timeline = w.timeline
    return live.save_html(tmp_path_factory.mktemp("tl") / "timeline.html")


def test_epoch_slider_scrubs_offline(timeline_page: Path, open_page, artifacts: Path) -> None:
    page, _log = open_page()
    page.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(("file:", "blob:")) else r.abort(),
    )
    page.goto(timeline_page.resolve().as_uri())
    root = page.locator(".tscam-root")
    root.wait_for(timeout=30_000)
    handle = root.element_handle()
    page.wait_for_function("(r) => window.__tscamPaints(r).length > 0", arg=handle)
    canvas = page.locator("canvas.tscam-main")
    epoch = page.locator("[data-control=epoch]")
    assert epoch.is_visible()
    assert epoch.get_attribute("max") == "3" and epoch.input_value() == "3"  # "now" at the end
    assert page.inner_text(".tscam-epoch-name") == "now"
    now = digest(canvas_rgba(canvas.element_handle()))

    seen = {}
    for e in (0, 1, 2):
        n = paint_count(handle)
        epoch.fill(str(e))
        d = next_paint(page, handle, n, epoch=e)
        assert d["panels"], d
        status = page.inner_text(".tscam-status")
        assert f"epoch {e} ({e + 1}/3)" in status, status
        assert ("accuracy" in status) == (e > 0), status
        assert page.inner_text(".tscam-epoch-name") == f"epoch {e} ({e + 1}/3)"
        seen[e] = digest(canvas_rgba(canvas.element_handle()))
        if e == 1:
            page.screenshot(path=str(artifacts / "timeline-epoch1.png"))
    assert len({now, *seen.values()}) == 4, "each snapshot draws its own maps"
    # hover: the snapshot's label and that moment's prediction
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tip = page.inner_text(".tscam-tooltip")
    assert tip.startswith("epoch 2: [true:"), tip
    # a sample the snapshots do not hold (the first 20 are held)
    n = paint_count(handle)
    page.locator("[data-control=sample-box]").fill("25")
    page.locator("[data-control=sample-box]").press("Enter")
    next_paint(page, handle, n, sample=25, epoch=2)
    assert "sample #25 not recorded in epoch 2" in page.inner_text(".tscam-status")
    page.screenshot(path=str(artifacts / "timeline-not-recorded.png"))
    # back to the first sample and "now": the live maps, the same picture as at first
    n = paint_count(handle)
    page.locator("[data-control=sample-box]").fill("0")
    page.locator("[data-control=sample-box]").press("Enter")
    next_paint(page, handle, n, sample=0)
    n = paint_count(handle)
    epoch.fill("3")
    next_paint(page, handle, n, epoch=-1)
    assert "not recorded" not in page.inner_text(".tscam-status")
    page.mouse.move(0, 0)
    assert digest(canvas_rgba(canvas.element_handle())) == now
