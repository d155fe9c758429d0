"""The trust view (issue 10) in Chromium, in the offline exported page (no kernel): the tables,
the selected cell's deletion curves and the depth lines are drawn; a click on a cell selects
its layer and method (the controls show it, and the curves follow); the randomised-model
toggle repaints the map views with other maps; the ground-truth mask is a band in every view.
Screenshots in test-artifacts/trust-*.png."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from harness import (
    WIDGET,
    canvas_rgba,
    digest,
    last_paint,
    paint_count,
    paint_until,
    painted_after,
    shown,
)

pytestmark = pytest.mark.browser

N, T = 12, 96


@pytest.fixture(scope="module")
def trust_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    from tscam_widget.data.synthetic import synthetic
    from tscam_widget.models import InceptionTime
    from tscam_widget.widget import CamWidget, unpack

    X, y, mask = synthetic(N, length=T, seed=3)
    classes = sorted(set(y))
    torch.manual_seed(0)
    model = InceptionTime(1, len(classes), nf=4, depth=3, bottleneck=4, kernel_sizes=(9, 5, 3))
    w = CamWidget(model.eval(), X, y, classes=classes, mask=mask, trust=True, progress=False)
    out = w.save_html(tmp_path_factory.mktemp("trust") / "trust.html")
    info = {
        "keys": w.trust_meta["keys"],
        "layers": list(w.layers),
        "gain": unpack(w.trust_gain).tolist(),
        "mask": mask,
    }
    return out, info


def _open(open_page, path: Path):
    page, _log = open_page()
    page.route(
        "**/*",
        lambda r: (
            r.continue_() if r.request.url.startswith(("file:", "blob:", "data:")) else r.abort()
        ),
    )
    page.goto(path.resolve().as_uri())
    page.locator(WIDGET).wait_for(timeout=30_000)
    page.wait_for_function(
        "(r) => window.__tscamPaints(r).length > 0",
        arg=page.locator(WIDGET).element_handle(),
        timeout=30_000,
    )
    return page


def _painted(page, action) -> dict:
    """Runs ``action``; the detail of the widget's next ready paint (the painted event)."""
    return painted_after(page, page.locator(WIDGET).element_handle(), action)


def _ink(rgba: np.ndarray, rect: dict, dpr: float = 1.0) -> int:
    """Pixels in ``rect`` (css px) that are neither white background nor grid grey."""
    x0, y0 = int((rect["x"] + 2) * dpr), int((rect["y"] + 2) * dpr)
    x1, y1 = int((rect["x"] + rect["w"] - 2) * dpr), int((rect["y"] + rect["h"] - 2) * dpr)
    part = rgba[y0:y1, x0:x1, :3].astype(int)
    grey = (np.ptp(part, axis=-1) < 12) & (part.min(-1) > 200)
    return int((~grey).sum())


def test_trust_view_offline(trust_page, open_page, artifacts: Path) -> None:
    path, info = trust_page
    page = _open(open_page, path)
    dpr = page.evaluate("() => window.devicePixelRatio || 1")
    # the view menu has the trust entry; the page opens on the single view with the mask band
    opts = page.eval_on_selector_all("[data-control=view] option", "os => os.map(o => o.value)")
    assert "trust" in opts
    main = page.locator("canvas.tscam-main")
    panels = last_paint(page.locator(WIDGET).element_handle())["panels"]
    rgba = canvas_rgba(main.element_handle())
    p = panels[0]
    band = rgba[
        int((p["y"] + p["h"] - 3) * dpr), int(p["x"] * dpr) : int((p["x"] + p["w"]) * dpr), :3
    ]
    green = (band[:, 1].astype(int) - band[:, 0] > 40) & (band[:, 1].astype(int) - band[:, 2] > 20)
    sample = int(page.locator("[data-control=sample]").input_value())
    cover = info["mask"][sample].mean()
    assert 0 < cover < 1
    # the band covers the mask's share of the time axis (within a few pixels' rounding)
    assert abs(green.mean() - cover) < 0.08, (green.mean(), cover)
    page.screenshot(path=str(artifacts / "trust-single-mask.png"))

    geo = _painted(page, lambda: page.locator("[data-control=view]").select_option("trust"))
    geo = geo["trust"]
    trust = page.locator("canvas.tscam-trust")
    assert trust.is_visible() and not main.is_visible()
    assert geo["state"] == "done"
    L, M = len(info["layers"]), len(info["keys"])
    gain_cells = [c for c in geo["cells"] if c["table"] == "gain"]
    assert len(gain_cells) == L * M
    assert {c["table"] for c in geo["cells"]} == {"gain", "loc", "corr"}  # a mask was given
    # curves and depth lines drawn: points per curve, and ink in their areas
    assert geo["points"]["morf"] == 11 and geo["points"]["lerf"] == 11
    assert geo["points"]["random"] == 11 and geo["points"]["morf_mean"] == 11
    assert geo["points"]["depth"] >= L
    rgba = canvas_rgba(trust.element_handle())
    assert _ink(rgba, geo["curves"], dpr) > 300
    assert _ink(rgba, geo["depth"], dpr) > 300
    page.screenshot(path=str(artifacts / "trust-view.png"))

    # a click on a cell selects its layer and method; the curves follow the selection
    col = info["keys"].index("gradcam")
    layer = 1
    cell = next(c for c in gain_cells if c["layer"] == layer and c["col"] == col)
    before = digest(canvas_rgba(trust.element_handle()))
    box = trust.bounding_box()
    geo2 = _painted(
        page,
        lambda: page.mouse.click(box["x"] + cell["x"] + cell["w"] / 2, box["y"] + cell["y"] + 5),
    )["trust"]
    assert page.locator("[data-control=layer]").input_value() == str(layer)
    assert page.locator("[data-control=method]").input_value() == "gradcam"
    assert geo2["selected"] == {"layer": layer, "col": col}
    assert digest(canvas_rgba(trust.element_handle())) != before
    # another cell: the deepest layer, the first method
    cell = next(c for c in gain_cells if c["layer"] == L - 1 and c["col"] == 0)
    _painted(
        page,
        lambda: page.mouse.click(box["x"] + cell["x"] + cell["w"] / 2, box["y"] + cell["y"] + 5),
    )
    assert page.locator("[data-control=layer]").input_value() == str(L - 1)
    assert page.locator("[data-control=method]").input_value() == info["keys"][0].split("/")[0]
    page.screenshot(path=str(artifacts / "trust-view-clicked.png"))

    # the randomised toggle: the single view repaints with the randomised model's maps
    _painted(page, lambda: page.locator("[data-control=view]").select_option("single"))
    _painted(page, lambda: page.locator("[data-control=method]").select_option("gradcam"))
    original = canvas_rgba(main.element_handle())
    toggle = page.locator("input[data-control=randomised]")
    assert toggle.is_enabled()
    _painted(page, lambda: toggle.check())
    rand = canvas_rgba(main.element_handle())
    assert digest(rand) != digest(original)
    assert page.inner_text(".tscam-error") == ""
    page.screenshot(path=str(artifacts / "trust-randomised.png"))
    _painted(page, lambda: toggle.uncheck())
    assert digest(canvas_rgba(main.element_handle())) == digest(original)
    # the band in the grid and overlay views too
    for view in ("grid", "overlay"):
        _painted(page, lambda view=view: page.locator("[data-control=view]").select_option(view))
        rgba = canvas_rgba(main.element_handle())
        px = rgba[..., :3].astype(int)
        green = (px[..., 1] - px[..., 0] > 40) & (px[..., 1] - px[..., 2] > 20)
        assert green.sum() > 100, view
        page.screenshot(path=str(artifacts / f"trust-mask-{view}.png"))


TRUST_NOTEBOOK = """
import numpy as np, torch
torch.manual_seed(0); torch.set_num_threads(1)
from tscam_widget import CamWidget
from tscam_widget.data import synthetic, synthetic_classes
from tscam_widget.models import InceptionTime
X, y, mask = synthetic(n=12, length=96, n_classes=3, seed=1)
model = InceptionTime(1, 3, nf=4, depth=3, bottleneck=4, kernel_sizes=(9, 5, 3)).eval()
w = CamWidget(model, X, y, classes=synthetic_classes(3), mask=mask, progress=False)
w
"""


def test_trust_view_in_lab(lab_server, open_page, artifacts: Path) -> None:
    """With a kernel: nothing is computed for the trust view until it is opened (trust="auto"),
    then the scores arrive from the worker; a cell click sets the kernel's ``layer`` and
    ``method``, the toggle sets its ``randomised`` and repaints the map."""
    from harness import MAIN, open_lab_notebook

    name = lab_server.write_notebook("trust.ipynb", [TRUST_NOTEBOOK])
    page, _ = open_page()
    open_lab_notebook(page, lab_server, name)
    kernel = lab_server.kernel(name)
    try:
        page.locator(MAIN).first.wait_for()
        kernel.run("await w.ready()", timeout=120)
        assert kernel.eval("w.trust_meta['state']") == "pending"  # nobody asked yet
        page.locator("[data-control=view]").select_option("trust")
        assert kernel.wait_for("w.view", lambda v: v == "trust") == "trust"
        kernel.wait_for("w.trust_meta['state']", lambda v: v == "done", timeout=120)
        trust = page.locator("canvas.tscam-trust")
        root = page.locator(WIDGET).first.element_handle()
        geo = paint_until(
            page,
            root,
            0,
            lambda d: d["trust"] if (d["trust"] or {}).get("state") == "done" else None,
            timeout=30,
            what="a trust view with the scores",
        )
        keys = kernel.eval("w.trust_meta['keys']")
        col = keys.index("hirescam")
        cell = next(
            c for c in geo["cells"] if c["table"] == "loc" and c["layer"] == 2 and c["col"] == col
        )
        box = trust.bounding_box()
        page.mouse.click(box["x"] + cell["x"] + cell["w"] / 2, box["y"] + cell["y"] + 5)
        assert kernel.wait_for("(w.layer, w.method)", lambda v: v == [2, "hirescam"]) == [
            2,
            "hirescam",
        ]
        page.screenshot(path=str(artifacts / "trust-lab.png"))
        kernel.run("w.view = 'single'")
        main = page.locator(MAIN).first
        # the single view with the clicked cell's maps (a ready paint of those controls)
        shown(page, root, view="single", layer=2, method="hirescam")
        before = digest(canvas_rgba(main.element_handle()))
        n = paint_count(root)
        page.locator("input[data-control=randomised]").check()
        assert kernel.wait_for("w.randomised", lambda v: v is True) is True
        # the randomised maps may come in a later message than the toggle: paint by paint
        paint_until(
            page,
            root,
            n,
            lambda d: digest(canvas_rgba(main.element_handle())) != before,
            timeout=10,
            what="a repaint with the randomised model's maps",
        )
        # the kernel's own map for the toggle is the randomised model's
        same = kernel.eval(
            "bool(np.allclose(w.current_map, w._trust.current_map(w._maps.comp, w.method, "
            "w.reduction, w.norm, w.sample, w.layer), equal_nan=True))"
        )
        assert same
        page.screenshot(path=str(artifacts / "trust-lab-randomised.png"))
    finally:
        kernel.close()


def _nested_model(n_classes: int) -> torch.nn.Module:
    """A small conv net whose layers have long shared prefixes, as TST's do
    (``backbone.inner.layers.0.conv`` ...)."""
    from collections import OrderedDict

    from torch import nn

    def block(c_in: int) -> nn.Module:
        return nn.Sequential(
            OrderedDict(
                conv=nn.Conv1d(c_in, 6, 5, padding=2), norm=nn.BatchNorm1d(6), act=nn.ReLU()
            )
        )

    layers = nn.Sequential(*(block(1 if i == 0 else 6) for i in range(3)))
    inner = nn.Sequential(OrderedDict(layers=layers))
    return nn.Sequential(
        OrderedDict(
            backbone=nn.Sequential(OrderedDict(inner=inner)),
            head=nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(6, n_classes)),
        )
    )


LONG = [f"backbone.inner.layers.{i}.{p}" for i in range(3) for p in ("conv", "act")]


def test_trust_labels_tell_rows_apart(tmp_path: Path, open_page, artifacts: Path) -> None:
    """Long layer names with a shared prefix: the rows and the depth axis show the shortest
    suffix that tells them apart (``0.conv``, ``0.act`` ...), the full name on hover; the
    display controls that do nothing in the trust view are hidden there."""
    from tscam_widget.data.synthetic import synthetic
    from tscam_widget.widget import CamWidget

    X, y, mask = synthetic(N, length=T, seed=3)
    classes = sorted(set(y))
    torch.manual_seed(0)
    model = _nested_model(len(classes)).eval()
    w = CamWidget(model, X, y, classes=classes, layers=LONG, trust=True, progress=False)
    assert w.layers == LONG
    page = _open(open_page, w.save_html(tmp_path / "long.html"))
    geo = _painted(page, lambda: page.locator("[data-control=view]").select_option("trust"))
    geo = geo["trust"]
    assert geo["state"] == "done"
    # hidden in the trust view: n, mark, colours, norm; shown: method, view, target
    hidden = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-control]')]
            .map(e => [e.dataset.control, !!e.closest('.tscam-hidden')]))"""
    )
    assert hidden["view_count"] and hidden["mark"] and hidden["cmap"] and hidden["norm"]
    assert not hidden["method"] and not hidden["view"] and not hidden["target"]
    trust = page.locator("canvas.tscam-trust")
    box = trust.bounding_box()
    cells = [c for c in geo["cells"] if c["table"] == "gain"]
    titles = []
    for layer in range(len(LONG)):
        cell = next(c for c in cells if c["layer"] == layer and c["col"] == 0)
        page.mouse.move(box["x"] + cell["x"] - 30, box["y"] + cell["y"] + cell["h"] / 2)
        titles.append(trust.get_attribute("title"))
    assert titles == LONG  # the full name over each row label
    page.mouse.move(box["x"] + cells[0]["x"] + 5, box["y"] + cells[0]["y"] + 5)
    assert trust.get_attribute("title").startswith(LONG[0] + " · ")
    trust.screenshot(path=str(artifacts / "trust-long-labels.png"))
    # back in a map view every control shows again (n only in grid / overlay)
    _painted(page, lambda: page.locator("[data-control=view]").select_option("grid"))
    assert page.locator("label:has([data-control=mark])").is_visible()
    assert page.locator("label:has([data-control=view_count])").is_visible()
