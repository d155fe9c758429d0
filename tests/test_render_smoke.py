"""Smoke render of the frontend in real Chromium (BROWSER_TESTING.md "Path A": an exported
page opened from file://, every non-file request aborted).

A hand-made state with known maps (a protocol-shaped ``anywidget.AnyWidget``, no model) lets the
pixel checks know where which colour must be; one more test draws a real ``CamWidget``.
Screenshots of every view, light and dark, go to ``test-artifacts/render/``.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import anywidget
import numpy as np
import pytest
import traitlets as t

from tscam_widget.widget import CamWidget
from tscam_widget.widget.buffers import pack
from tscam_widget.widget.compact import quantise
from tscam_widget.widget.export import export_html

sys.path.insert(0, str(Path(__file__).resolve().parent / "browser"))
from harness import (  # noqa: E402  (the launch recipe and the painted-event helpers live there)
    CHROMIUM,
    CHROMIUM_ARGS,
    last_paint,
    next_paint,
    painted_after,
    paints_during,
    record_paints,
    shown,
)

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "tscam_widget" / "static"
OUT = ROOT / "test-artifacts" / "render"
WIDTH = 1000  # css px of the page; the figure fills it minus the body margin
DARK = {
    "--jp-layout-color0": "#111111",
    "--jp-layout-color1": "#1e1e1e",
    "--jp-layout-color2": "#2a2a2a",
    "--jp-ui-font-color1": "#eeeeee",
    "--jp-ui-font-color2": "#bbbbbb",
    "--jp-ui-font-color3": "#888888",
    "--jp-border-color1": "#555555",
    "--jp-border-color2": "#333333",
}

# ---- a protocol-shaped state with known maps -----------------------------------------------


def table() -> np.ndarray:
    """A distinctive 256-entry table: entry i = (i, 40, 255 - i, 255)."""
    i = np.arange(256)
    return np.stack([i, np.full(256, 40), 255 - i, np.full(256, 255)], 1).astype(np.uint8)


N, L, T = 6, 4, 300
LAYERS = [f"blocks.{i}" for i in range(L)]
KEYS = ["gradcam", "activation/mean", "cam"]


def bump(centre: float, width: float = 12.0) -> np.ndarray:
    return np.exp(-0.5 * ((np.arange(T) - centre) / width) ** 2)


def cube() -> np.ndarray:
    c = np.zeros((N, L, len(KEYS), T), np.float32)
    for n in range(N):
        for layer in range(L):
            c[n, layer, 0] = bump(60 + 50 * layer + 5 * n)  # gradcam: moves right with depth
            c[n, layer, 1] = np.linspace(0, 1, T)  # activation: a ramp 0 -> 1
            c[n, layer, 2] = np.nan if layer < L - 1 else bump(150)  # cam: last layer only
    return c


def _synced_traits() -> dict:
    """CamWidget's own synced traits (not those every anywidget has)."""
    base = set(anywidget.AnyWidget.class_trait_names())
    return {n: tr for n, tr in CamWidget.class_traits(sync=True).items() if n not in base}


# Every synced trait of CamWidget, untyped and with the product's defaults, so that the fake and
# the product cannot drift apart; FAKE fills the protocol by hand (precompute mode).
FakeCamWidget = type(
    "FakeCamWidget",
    (anywidget.AnyWidget,),
    {
        "_esm": STATIC / "widget.js",
        **{n: t.Any(tr.default()).tag(sync=True) for n, tr in _synced_traits().items()},
    },
)
FAKE = dict(
    layer=L - 1,
    cmap="test",
    linewidth=4.0,
    layers=LAYERS,
    methods=["gradcam", "activation", "cam"],
    method_labels={"gradcam": "Grad-CAM", "activation": "CAM", "cam": "CAM (Zhou)"},
    reductions=["mean", "max"],
    reduction_methods=["activation"],
    classes=["Normal", "Myocardial Infarction"],
    cmaps=["test"],
    n_samples=N,
    precomputed=True,
    precision="float32",
    target_methods=["gradcam", "cam"],
    cube_keys=KEYS,
    cube_meta={"scale_range": [0.0, 1.0]},
    status="precomputed 6 samples x 4 layers",
)


def test_fake_widget_fills_real_traits():
    assert set(FAKE) <= set(_synced_traits()), set(FAKE) - set(_synced_traits())


def fake_widget(channels: int = 1, **kw) -> anywidget.AnyWidget:
    tt = np.arange(T) / T
    series = np.stack(
        [
            np.stack(
                [np.sin(2 * np.pi * (2 + c) * tt + n) * (1 + 0.2 * n) for c in range(channels)]
            )
            for n in range(N)
        ]
    ).astype(np.float32)
    probs = np.array([[0.9, 0.1], [0.03, 0.97]] * (N // 2), np.float32)
    return FakeCamWidget(
        cmap_table=pack(table(), "uint8"),
        sample_ids=pack(np.arange(N) + 100, "int32"),
        series=pack(series, "float32"),
        y_true_buffer=pack(np.zeros(N), "int32"),
        y_pred_buffer=pack(np.arange(N) % 2, "int32"),
        probs_buffer=pack(probs, "float32"),
        targets=pack(np.arange(N) % 2, "int32"),
        **compact_cube(),
        **{**FAKE, **kw},
    )


def compact_cube() -> dict:
    """The cube as the protocol sends it: unit values, each map's range, one row per sample
    (explained for its predicted class, n % 2)."""
    u, scale = quantise(cube(), "float32")
    rows = np.full((N, 2), -1, np.int32)
    rows[np.arange(N), np.arange(N) % 2] = np.arange(N)
    return {
        "cube": pack(u, "float32"),
        "cube_scale": pack(scale, "float32"),
        "cube_rows": pack(rows, "int32"),
    }


# ---- page export and browser ----------------------------------------------------------------


def export(widget, path: Path) -> Path:
    """The product's own offline export (one self-contained page, this widget's state only)."""
    return export_html(widget, path, title="tscam smoke")


@pytest.fixture(scope="module")
def browser():
    if not (STATIC / "widget.js").is_file():
        pytest.fail("tscam_widget/static/widget.js missing: run `npm run build` first")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser, path: Path, dpr: float = 1):
    page = browser.new_page(viewport={"width": WIDTH, "height": 900}, device_scale_factor=dpr)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
    record_paints(page)
    page.goto(path.as_uri())
    page.wait_for_selector("canvas.tscam-main", timeout=10_000)
    next_paint(page, root(page), 0)
    return page, errors


def root(page):
    return page.locator(".tscam-root").element_handle()


def change(page, action, ready: bool = True, **want) -> dict:
    """Runs ``action`` (one change) and waits for the widget's paint of it: the first paint
    after it (``ready``: showing maps) whose controls show ``want``; returns its detail."""
    return painted_after(page, root(page), action, ready=ready, **want)


def set_dark(page) -> None:
    css = "".join(f"{k}: {v};" for k, v in DARK.items())
    change(
        page,
        lambda: page.evaluate(
            "css => { document.body.style.cssText += css; document.body.style.background ="
            " '#111'; document.body.setAttribute('data-jp-theme-name', 'JupyterLab Dark'); }",
            css,
        ),
    )


# Pixel probes, run in the page: css px coordinates, device pixel ratio 1.
PROBE = """([sel, x0, y0, x1, y1, tbl, tol]) => {
  const c = document.querySelector(sel);
  const d = c.getContext('2d').getImageData(x0, y0, x1 - x0, y1 - y0).data;
  const hits = new Set(); let ink = 0; const bg = [d[0], d[1], d[2]];
  for (let p = 0; p < d.length; p += 4) {
    if (Math.abs(d[p] - bg[0]) + Math.abs(d[p+1] - bg[1]) + Math.abs(d[p+2] - bg[2]) > 30) ink++;
    for (let k = 0; k < tbl.length; k++) {
      const e = tbl[k];
      const dr = Math.abs(d[p] - e[0]), dg = Math.abs(d[p+1] - e[1]), db = Math.abs(d[p+2] - e[2]);
      if (dr <= tol && dg <= tol && db <= tol) { hits.add(k); break; }
    }
  }
  return { ink, hits: [...hits].sort((a, b) => a - b), w: c.width, h: c.height };
}"""


def probe(page, box, entries, sel="canvas.tscam-main", tol=2):
    x0, y0, x1, y1 = (int(v) for v in box)
    tbl = [table()[k][:3].tolist() for k in entries]
    r = page.evaluate(PROBE, [sel, x0, y0, x1, y1, tbl, tol])
    r["hits"] = [entries[k] for k in r["hits"]]
    return r


def canvas_width(page) -> int:
    return page.evaluate("() => document.querySelector('canvas.tscam-main').clientWidth")


def shot(page, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.locator(".tscam-root").screenshot(path=str(OUT / f"{name}.png"))


def select(page, control: str, value: str) -> None:
    reported = last_paint(root(page))["controls"]  # the controls a paint reports
    want = {control: value} if control in reported else {}
    change(page, lambda: page.select_option(f"[data-control={control}]", value), **want)


# Geometry comes from the frontend's last paint (the ``tscam:painted`` event's panels and colour
# bar, in css px), never from copies of its layout constants.
def painted(page) -> dict:
    return last_paint(page.locator(".tscam-root").element_handle())


def panels(page) -> list[dict]:
    return painted(page)["panels"]


def plot_box(page, inset: float = 0) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the first plot area, ``inset`` px inside."""
    a = panels(page)[0]
    return (a["x"] + inset, a["y"] + inset, a["x"] + a["w"] - inset, a["y"] + a["h"] - inset)


def x_of(page, t: float) -> float:
    a = panels(page)[0]
    return a["x"] + t / (T - 1) * a["w"]


def column(page, t: float, half: float = 2.5) -> tuple[float, float, float, float]:
    """The plot area's column around time step ``t``."""
    x0, y0, x1, y1 = plot_box(page)
    x = x_of(page, t)
    return (x - half, y0, x + half, y1)


def strip_rows(page) -> list[tuple[float, str]]:
    """(page y, layer name) of each row of the layer strip, top to bottom, found by hovering
    (the strip's title names the row under the pointer)."""
    strip = page.locator("canvas.tscam-strip")
    bb = strip.bounding_box()
    rows: list[tuple[float, str]] = []
    for dy in range(1, int(bb["height"]), 2):
        page.mouse.move(bb["x"] + bb["width"] / 2, bb["y"] + dy)
        hit = re.match(r"(\S+) \(click to show this layer\)", strip.get_attribute("title") or "")
        name = hit.group(1) if hit else ""
        if name and (not rows or rows[-1][1] != name):
            rows.append((bb["y"] + dy, name))
    return rows


# ---- tests ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uni_page(browser, tmp_path_factory):
    path = export(fake_widget(play_interval_ms=150), tmp_path_factory.mktemp("smoke") / "uni.html")
    page, errors = open_page(browser, path)
    yield page, errors
    page.close()


def test_single_view_pixels(uni_page):
    page, errors = uni_page
    shot(page, "single-light")
    w = canvas_width(page)
    assert w == WIDTH - 16
    # layer blocks.3 of sample 0: the Grad-CAM bump peaks (1.0 -> entry 255) at t = 210
    x0, y0, x1, y1 = plot_box(page)
    assert x0 > 0 and x1 < w and y1 - y0 > 100
    near = probe(page, column(page, 210), list(range(250, 256)))
    assert near["hits"], "the peak colour (entry >= 250) is not on the line at t = 210"
    early = (x_of(page, 20), y0, x_of(page, 40), y1)
    far = probe(page, early, list(range(0, 4)))
    assert far["hits"], "the low colour (entry <= 3) is not on the line at t = 20..40"
    assert not probe(page, early, list(range(128, 256)))["hits"]
    whole = probe(page, plot_box(page, inset=2), list(range(256)))
    assert whole["ink"] > 2000
    assert len(whole["hits"]) > 100, "segments are not coloured through the table"
    # colour bar, right of the plot: entry 255 at its top, entry 0 at its bottom
    cb = painted(page)["colorbar"]
    assert cb["x"] > x1 and cb["x"] + cb["w"] <= w
    bx, cy0, cy1 = cb["x"] + cb["w"] / 2, cb["y"], cb["y"] + cb["h"]
    top = probe(page, (bx, cy0 + 1, bx + 1, cy0 + 3), list(range(256)), tol=1)["hits"]
    bottom = probe(page, (bx, cy1 - 3, bx + 1, cy1 - 1), list(range(256)), tol=1)
    assert top and min(top) >= 252, top
    assert bottom["hits"] and max(bottom["hits"]) <= 3, bottom
    # title and layer strip
    assert page.locator(".tscam-strip").is_visible()
    assert "blocks.3 (4/4)" in page.inner_text(".tscam-layer-name")
    assert errors == []


def test_layer_strip_click_and_keys(uni_page):
    page, errors = uni_page
    # the strip's rows are the layers in order; row blocks.0: its bump peaks at t = 60
    rows = strip_rows(page)
    assert [name for _, name in rows] == LAYERS
    box = page.locator(".tscam-strip").bounding_box()
    change(page, lambda: page.mouse.click(box["x"] + box["width"] / 2, rows[0][0] + 1), layer=0)
    assert "blocks.0 (1/4)" in page.inner_text(".tscam-layer-name")
    assert probe(page, column(page, 60), list(range(250, 256)))["hits"]
    # keyboard: down = next layer, right = next sample
    page.focus(".tscam-root")
    page.keyboard.press("ArrowDown")
    change(page, lambda: page.keyboard.press("ArrowRight"), layer=1, sample=1)
    assert "blocks.1 (2/4)" in page.inner_text(".tscam-layer-name")
    assert page.input_value("[data-control=sample-box]") == "1"
    # hover tooltip: time index, value, CAM
    main = page.locator("canvas.tscam-main").bounding_box()
    _, y0, _, y1 = plot_box(page)
    page.mouse.move(main["x"] + x_of(page, 150), main["y"] + (y0 + y1) / 2)
    tip = page.inner_text(".tscam-tooltip")
    assert tip.startswith("t = 150") and "value" in tip and "CAM" in tip
    assert errors == []


def test_views_and_nan_screenshots(uni_page):
    page, errors = uni_page
    page.keyboard.press("ArrowLeft")
    select(page, "view", "grid")
    shot(page, "grid-light")
    h_grid = page.evaluate("() => document.querySelector('canvas.tscam-main').clientHeight")
    assert h_grid > 300  # 4 samples -> 2 x 2 cells
    select(page, "view", "overlay")
    shot(page, "overlay-light")
    select(page, "view", "single")
    select(page, "method", "cam")  # undefined for blocks.0..2
    page.fill("[data-control=sample-box]", "0")
    page.keyboard.press("Enter")
    shown(page, root(page), method="cam", sample=0)  # sample 0 already (ArrowLeft): no new paint
    # cam is undefined for blocks.1: the status says so and the series is drawn, in grey only
    status = page.inner_text(".tscam-status")
    assert "CAM (Zhou) is not defined for layer blocks.1" in status, status
    grey = probe(page, plot_box(page, inset=2), list(range(256)))
    assert grey["ink"] > 500 and grey["hits"] == [], grey
    shot(page, "nan-light")
    select(page, "method", "activation")
    assert page.locator("[data-control=reduction]").is_visible()
    set_dark(page)
    shot(page, "single-dark-activation")
    # dark: background of the canvas follows --jp-layout-color0
    bg = page.evaluate(
        "() => Array.from(document.querySelector('canvas.tscam-main').getContext('2d')"
        ".getImageData(2, 2, 1, 1).data)"
    )
    assert bg[:3] == [17, 17, 17]
    select(page, "mark", "scatter")
    shot(page, "scatter-dark")
    select(page, "mark", "line")
    select(page, "view", "grid")
    shot(page, "grid-dark")
    select(page, "view", "overlay")
    select(page, "method", "gradcam")
    shot(page, "overlay-dark")
    assert errors == []


def test_png_download_and_play(uni_page):
    page, errors = uni_page
    with page.expect_download() as info:
        page.click("[data-control=png]")
    d = info.value
    assert d.suggested_filename.startswith("tscam-") and d.suggested_filename.endswith(".png")
    assert Path(d.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = page.input_value("[data-control=layer]")
    page.click("[data-control=play]")  # steps every play_interval_ms (150 ms here), wrapping
    page.wait_for_function(
        f"() => document.querySelector('[data-control=layer]').value !== '{before}'", timeout=3000
    )
    page.click("[data-control=play]")
    page.wait_for_function(
        "() => document.querySelector('[data-control=play]').textContent === '▶'", timeout=2000
    )
    paused = page.input_value("[data-control=layer]")
    # No event announces that nothing happens: watch the widget's paints for three play
    # intervals, in which a player still running would have stepped (and painted) three times.
    seen = paints_during(page.locator(".tscam-root").element_handle(), 3 * 150)
    assert {d["controls"]["layer"] for d in seen} <= {int(paused)}, seen
    assert page.input_value("[data-control=layer]") == paused
    assert errors == []


def test_kernel_mode_keeps_last_picture(browser, tmp_path):
    """Kernel mode: maps for sample 0 only; moving to sample 1 keeps the picture, says computing."""
    c = cube()
    meta = {"request_id": 0, "samples": [0], "method": "gradcam", "reduction": "mean",
            "target": "pred", "norm": "sample"}  # fmt: skip
    u, scale = quantise(c[[0], :, 0], "float32")
    w = fake_widget(
        precomputed=False,
        maps=pack(u, "float32"),
        maps_scale=pack(scale, "float32"),
        maps_meta=meta,
        error="boom: no maps",
    )
    page, errors = open_page(browser, export(w, tmp_path / "kernel.html"))
    grab = "() => document.querySelector('canvas.tscam-main').toDataURL()"
    first = page.evaluate(grab)
    assert "computing" not in page.inner_text(".tscam-status")
    assert page.inner_text(".tscam-error") == "boom: no maps"
    assert (
        page.eval_on_selector(".tscam-error", "e => getComputedStyle(e).color")
        == "rgb(211, 47, 47)"
    )
    page.focus(".tscam-root")
    change(page, lambda: page.keyboard.press("ArrowRight"), ready=False, sample=1)
    assert page.input_value("[data-control=sample-box]") == "1"
    assert "computing..." in page.inner_text(".tscam-status")
    shot(page, "kernel-pending")
    # same picture plus the note: compare the title row and the plot's lower half (note is on top)
    assert page.evaluate(grab) != first  # the note was drawn
    x0, y0, x1, y1 = plot_box(page)
    lower_half = [x0, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2 - 1]
    pixels = """([x, y, w, h]) => Array.from(document.querySelector('canvas.tscam-main')
        .getContext('2d').getImageData(x, y, w, h).data).join(',')"""
    same = page.evaluate(pixels, lower_half)
    change(page, lambda: page.keyboard.press("ArrowLeft"), sample=0)
    assert "computing" not in page.inner_text(".tscam-status")
    again = page.evaluate(pixels, lower_half)
    assert same == again
    assert errors == []
    page.close()


def test_multivariate_and_hidpi(browser, tmp_path):
    path = export(fake_widget(channels=3), tmp_path / "multi.html")
    page, errors = open_page(browser, path, dpr=2)
    dims = page.evaluate(
        "() => { const c = document.querySelector('canvas.tscam-main');"
        " return [c.width, c.clientWidth, c.height, c.clientHeight]; }"
    )
    assert dims[0] == 2 * dims[1] and dims[2] == 2 * dims[3]
    # three channel panels of one height, stacked top to bottom without overlap, inside
    ps = panels(page)
    assert [p["channel"] for p in ps] == [0, 1, 2]
    assert len({p["h"] for p in ps}) == 1 and len({p["x"] for p in ps}) == 1
    assert all(a["y"] + a["h"] <= b["y"] for a, b in zip(ps, ps[1:]))
    assert ps[-1]["y"] + ps[-1]["h"] < dims[3]
    shot(page, "multivariate-light")
    set_dark(page)
    shot(page, "multivariate-dark")
    assert errors == []
    page.close()


def test_real_camwidget(browser, tmp_path):
    """A real CamWidget (tiny untrained FCN, precompute mode) draws table colours."""
    torch = pytest.importorskip("torch")
    from tscam_widget import CamWidget
    from tscam_widget.models.fcn_resnet import FCN

    torch.manual_seed(0)
    model = FCN(1, 2, filters=(8, 8, 8)).eval()
    X = np.random.default_rng(0).standard_normal((4, 1, 96)).astype(np.float32).cumsum(-1)
    w = CamWidget(
        model,
        X,
        np.array([0, 1, 0, 1]),
        classes=["a", "b"],
        methods=["gradcam", "activation"],
        precompute=True,
        progress=False,
        linewidth=4,
    )
    assert w.precomputed and w.error == ""
    page, errors = open_page(browser, export(w, tmp_path / "real.html"))
    tbl = np.frombuffer(w.cmap_table["data"], np.uint8).reshape(256, 4)[:, :3].tolist()
    r = page.evaluate(PROBE, ["canvas.tscam-main", *plot_box(page, inset=2), tbl, 2])
    assert r["ink"] > 1000 and len(r["hits"]) >= 3, r
    assert errors == []
    shot(page, "camwidget-light")
    page.close()
    (OUT / "camwidget-state.json").write_text(
        json.dumps({"value_range": w.value_range, "layers": w.layers, "status": w.status})
    )
    assert math.isfinite(w.value_range[0])


@pytest.mark.parametrize("dark", [False, True])
def test_pale_colours_stay_visible(browser, tmp_path, dark):
    """A colour equal to the background (an all-white table on white, all-black on dark) still
    shows the series: the casing under the coloured line, in the text colour."""
    bg = 0 if dark else 255
    flat = np.full((256, 4), bg, np.uint8)
    flat[:, 3] = 255
    seen = {}
    for alpha in (1.0, 0.0):  # alpha 0 hides line and casing: what is left is axes and grid
        w = fake_widget(alpha=alpha)
        w.cmap_table = pack(flat, "uint8")
        page, errors = open_page(browser, export(w, tmp_path / f"pale-{alpha}.html"))
        if dark:
            set_dark(page)
        box = plot_box(page, inset=2)
        seen[alpha] = probe(page, box, [0])["ink"]
        if alpha == 1.0:
            shot(page, f"pale-{'dark' if dark else 'light'}")
        assert errors == []
        page.close()
    # the series is a few hundred px long: its casing is at least two px wide along it
    assert seen[1.0] - seen[0.0] > 2 * 600, seen


def test_controls_keep_their_place_and_the_sample_box_follows(browser, tmp_path):
    names = ["input", "backbone.resblock1.shortcut", "backbone.resblock1.add", "head.gap"]
    w = fake_widget(layers=names, view="grid")
    page = browser.new_page(viewport={"width": 970, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    record_paints(page)
    page.goto(export(w, tmp_path / "controls.html").as_uri())
    page.wait_for_selector("canvas.tscam-main")
    next_paint(page, root(page), 0)
    # fixed widths: the sample slider and the menus do not move as the layer name changes
    where = "() => ['sample', 'method', 'view'].map(n => document.querySelector(`[data-control=${n}]`).getBoundingClientRect().x)"  # noqa: E501
    spots = set()
    for layer in range(len(names)):
        change(page, lambda: page.fill("[data-control=layer]", str(layer)), layer=layer)  # noqa: B023
        spots.add(tuple(page.evaluate(where)))
    assert len(spots) == 1, spots
    # at 970 px in grid view the controls take two lines: navigation, then the menus (the
    # sample menu, js/src/samples.ts, follows on a line of its own)
    lines = page.evaluate(
        "() => { const mids = Array.from("
        "document.querySelectorAll('.tscam-controls [data-control]'))"
        ".filter(e => e.offsetParent && !e.closest('.tscam-samples'))"
        ".map(e => { const r = e.getBoundingClientRect();"
        " return r.top + r.height / 2; }).sort((a, b) => a - b);"
        " return 1 + mids.slice(1).filter((v, i) => v - mids[i] > 12).length; }"
    )
    assert lines == 2
    shot(page, "controls-970-grid")
    # the number box follows every change, also while it keeps the focus after Enter
    box = page.locator("[data-control=sample-box]")
    box.fill("4")
    change(page, lambda: box.press("Enter"), sample=4)
    assert page.input_value("[data-control=sample]") == "4"
    drag = (  # a pointer drag that does not move the focus (as on macOS)
        "v => { const s = document.querySelector('[data-control=sample]'); s.value = v;"
        " s.dispatchEvent(new Event('input', { bubbles: true })); }"
    )
    change(page, lambda: page.evaluate(drag, "2"), sample=2)
    assert page.evaluate("() => document.activeElement.dataset.control") == "sample-box"
    assert box.input_value() == "2"
    # while typing the box keeps what is typed
    box.fill("")
    box.type("5")
    change(page, lambda: page.evaluate(drag, "1"), sample=1)
    assert box.input_value() == "5"
    # strip rows: shortened labels, the full name of each row on hover, in order
    assert [name for _, name in strip_rows(page)] == names
    assert errors == []
    page.close()
