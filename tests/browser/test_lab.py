"""CamWidget in a real JupyterLab 4 driven by Chromium: pixels on the canvas, controls in the
page, traits read back through a kernel client on the notebook's own kernel.

One notebook (a fixed-seed, untrained InceptionTime on the synthetic data; training takes
20+ s on the shared 2 cores) serves most tests; the 6-channel BasicMotions widget has its own.
Geometry comes from the widget's ``tscam:painted`` event (its plot areas, in css px), recorded
from page load by the harness; waits are for the painted event of the change at hand (a ready
paint showing the new controls), never fixed sleeps. A second notebook runs the widget in
kernel mode (``precompute=False``): the target, norm and colour-map menus operated in the page
change the kernel's traits and the repaint shows the kernel's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from harness import (
    BASIC_MOTIONS,
    LAYER,
    MAIN,
    PLAY,
    PROBE_WIDGET,
    SAMPLE_BOX,
    STRIP,
    SYNTHETIC,
    WIDGET,
    Kernel,
    canvas_rgba,
    cmap_index,
    contrast_ratio,
    digest,
    last_paint,
    next_paint,
    open_lab_notebook,
    paint_count,
    paint_until,
    paints_during,
    parse_css_color,
    runs,
    series_components,
    set_theme,
    shown,
)
from scipy import ndimage

pytestmark = pytest.mark.browser

ROOT = WIDGET


@dataclass
class Cam:
    page: Any
    kernel: Kernel
    table: np.ndarray  # [256, 4] uint8, read from the kernel

    def rgb(self, selector: str = MAIN) -> np.ndarray:
        return canvas_rgba(self.page.locator(selector).first.element_handle())[..., :3]

    def root(self) -> Any:
        return self.page.locator(ROOT).first.element_handle()

    def count(self) -> int:
        """The widget's paints so far (its painted events)."""
        return paint_count(self.root())

    def last(self) -> dict:
        """The detail of the widget's last painted event."""
        return last_paint(self.root())

    def shown(self, selector: str = MAIN, timeout: float = 20.0, **want: Any) -> np.ndarray:
        """The canvas once the widget's painted event says it shows the controls in ``want``
        with their maps (``ready``); ``want`` must differ from the state before the change."""
        shown(self.page, self.root(), timeout, **want)
        return self.rgb(selector)

    def reset(self, **extra: Any) -> np.ndarray:
        """Back to single view, last layer, sample 0 (and ``extra``); returns the canvas once a
        ready paint shows that state (the last paint, when nothing changed)."""
        state = {"playing": False, "view": "single", "layer": None, "sample": 0, **extra}
        code = []
        for k, v in state.items():
            code.append(f"w.{k} = {'len(w.layers) - 1' if v is None else repr(v)}")
        self.kernel.run("\n".join(code))
        want = {k: v for k, v in state.items() if k != "playing"}
        want["layer"] = self.kernel.eval("w.layer")
        return self.shown(**want)


# -- pixel analysis ---------------------------------------------------------------------------
def painted_panels(page: Any) -> list[dict]:
    """The plot areas of the widget's last paint (its painted event), css px of the canvas."""
    return last_paint(page.locator(ROOT).first.element_handle())["panels"]


def plot_columns(idx: np.ndarray) -> tuple[int, int]:
    """First and last column of the (single) plot area: the longest run of series columns."""
    cols = np.flatnonzero((idx >= 0).any(0))
    a, b = max(runs(cols), key=lambda r: r[1] - r[0])
    return a, b


def frame_rows(rgb: np.ndarray, x0: int, x1: int) -> tuple[int, int]:
    """Top and bottom rows of the plot frame: the outermost rows that one non-background colour
    spans (>= 95 %) between the plot's first and last column."""
    bg = rgb[0, 0]
    seg = rgb[:, x0 + 2 : x1 - 1].astype(int)
    first = seg[:, :1]
    uniform = (np.abs(seg - first).max(2) <= 2).mean(1) >= 0.95
    ink = np.abs(first[:, 0] - bg).max(1) > 10
    rows = np.flatnonzero(uniform & ink)
    assert len(rows) >= 2, "no plot frame found"
    return int(rows.min()), int(rows.max())


def ink_contrast(rgb: np.ndarray, keep: np.ndarray, min_px: int = 8) -> list[tuple[float, tuple]]:
    """For every blob of non-background pixels where ``keep``: its best contrast ratio against
    the canvas background (the glyph core) and its bounding box."""
    bg = rgb[0, 0].astype(float)
    ink = (np.abs(rgb.astype(int) - bg).max(2) > 24) & keep
    labels, n = ndimage.label(ndimage.binary_dilation(ink), structure=np.ones((3, 3)))
    out = []
    for k, box in enumerate(ndimage.find_objects(labels), start=1):
        pix = rgb[box][(labels[box] == k) & ink[box]]
        if len(pix) < min_px:
            continue
        best = max(contrast_ratio(p, bg) for p in np.unique(pix, axis=0))
        out.append((best, (box[0].start, box[0].stop, box[1].start, box[1].stop)))
    return out


_DOM_TEXT = """(root) => {
  const out = [];
  const bgChain = (el) => {
    const chain = [];
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      chain.push(c);
      if (/^rgb\\(/.test(c)) break;  // opaque: nothing behind it shows through
    }
    return chain;
  };
  for (const el of [root, ...root.querySelectorAll('*')]) {
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.visibility === 'hidden' || el.tagName === 'STYLE') continue;
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    let text = '';
    if (el.tagName === 'SELECT') text = el.selectedOptions[0] ? el.selectedOptions[0].text : '';
    else if (el.tagName === 'INPUT') text = el.type === 'range' ? '' : el.value;
    else if (el.tagName !== 'OPTION') {
      for (const n of el.childNodes) if (n.nodeType === 3) text += n.textContent;
    }
    if (!text.trim()) continue;
    out.push({tag: el.tagName, cls: el.className, text: text.trim().slice(0, 40),
              color: cs.color, opacity: cs.opacity, bgs: bgChain(el)});
  }
  return out;
}"""


def composite(chain: list[str]) -> tuple[float, float, float]:
    """The effective background: the listed backgrounds painted from the outermost inwards."""
    rgb = np.array([255.0, 255.0, 255.0])
    for css in reversed(chain):
        r, g, b, a = parse_css_color(css)
        rgb = a * np.array([r, g, b]) + (1 - a) * rgb
    return tuple(rgb)


def dom_contrast(page: Any) -> list[tuple[float, dict]]:
    out = []
    for item in page.locator(ROOT).first.evaluate(_DOM_TEXT):
        bg = composite(item["bgs"])
        r, g, b, a = parse_css_color(item["color"])
        fg = a * np.array([r, g, b]) + (1 - a) * np.array(bg)
        out.append((contrast_ratio(fg, bg), item))
    return out


_DISTINCT_FRAMES = """async (c, ms) => {
  const ctx = c.getContext('2d');
  const seen = new Set();
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let h = 0;
    for (let i = 0; i < d.length; i += 4) h = (Math.imul(h, 31) + d[i] + 7 * d[i + 1]) | 0;
    seen.add(h);
    await new Promise((r) => setTimeout(r, 40));
  }
  return seen.size;
}"""


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cam(lab_server, open_page, artifacts):
    probe = PROBE_WIDGET + "\np = Probe(value=2)\np"
    name = lab_server.write_notebook("cam_synthetic.ipynb", [probe, SYNTHETIC])
    page, _ = open_page()
    open_lab_notebook(page, lab_server, name)
    kernel = lab_server.kernel(name)
    page.locator(MAIN).first.wait_for()
    table = np.array(kernel.eval("unpack(w.cmap_table)"), np.uint8)
    c = Cam(page, kernel, table)
    next_paint(page, c.root(), 0, 20)  # the first ready paint
    assert (cmap_index(c.rgb(), table) >= 0).sum() > 500, "no series drawn in table colours"
    page.locator(ROOT).first.screenshot(path=str(artifacts / "lab-first-paint.png"))
    yield c
    kernel.close()


# -- tests --------------------------------------------------------------------------------------
def test_widgets_render_without_console_errors(cam):
    """Opening the notebook and rendering the widgets logged no console error (the check is
    the autouse ``no_console_errors`` fixture; this test owns what the module fixture logged)."""
    assert cam.page.locator(ROOT).count() == 1


def test_harness_probe_widget(cam):
    """The harness itself, on a bare anywidget in the same notebook: paint, slider -> Python,
    Python -> page (tells a broken harness from a broken CamWidget)."""
    canvas = cam.page.locator(".probe-root canvas")
    assert tuple(canvas_rgba(canvas.element_handle())[20, 50, :3]) == (255, 0, 0)
    cam.page.locator(".probe-root input").evaluate(
        "(e) => { e.value = 4; e.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    assert cam.kernel.wait_for("p.value", lambda v: v == 4) == 4
    cam.kernel.run("p.value = 7")
    cam.page.wait_for_function("() => document.querySelector('.probe-root input').value === '7'")
    px = canvas_rgba(canvas.element_handle())
    assert tuple(px[20, 150, :3]) == (255, 0, 0) and tuple(px[20, 50, :3]) == (255, 255, 255)


def test_peak_has_top_colour_and_colour_bar(cam, artifacts):
    rgb = cam.reset()
    m = np.array(cam.kernel.eval("w.current_map"), float)
    lo, hi = cam.kernel.eval("w.value_range")
    assert m.max() == pytest.approx(hi, abs=1e-6), "per-sample norm: the peak is the top of the bar"
    T = len(m)
    idx = cmap_index(rgb, cam.table)
    area = painted_panels(cam.page)[0]
    x0, x1 = area["x"], area["x"] + area["w"]
    assert x1 - x0 > 300, (x0, x1)
    top, bottom = frame_rows(rgb, x0, x1)
    t_peak = int(np.argmax(m))
    xp = round(x0 + t_peak / (T - 1) * (x1 - x0))
    window = rgb[top:bottom, xp - 3 : xp + 4].reshape(-1, 3).astype(int)
    dist = np.abs(window - cam.table[255, :3].astype(int)).max(1)
    assert dist.min() <= 6, f"no top-colour pixel at peak x={xp}: closest differs by {dist.min()}"
    # ... and nowhere where the map is low: the colour follows the map along x
    for x in range(x0 + 2, x1 - 1):
        t = (x - x0) / (x1 - x0) * (T - 1)
        near = m[max(0, int(t) - 1) : int(t) + 3]
        if near.max() < lo + 0.5 * (hi - lo):
            col = idx[top:bottom, x]
            assert not (col >= 200).any(), f"top colours at x={x} where the map is {near.max():.2f}"
    # colour bar: right of the plot, top entry at the top, bottom entry at the bottom, monotone
    bar_cols = [c for c in np.flatnonzero((idx >= 0).sum(0) > 50) if c > x1 + 4]
    assert bar_cols, "no colour bar right of the plot"
    centre = bar_cols[len(bar_cols) // 2]
    col = idx[:, centre]
    rows = np.flatnonzero(col >= 0)
    assert col[rows[0]] >= 250 and col[rows[-1]] <= 5, (col[rows[0]], col[rows[-1]])
    assert (np.diff(col[rows]) <= 2).all(), "colour bar not monotone"
    assert rows[-1] - rows[0] >= 0.8 * (bottom - top)


def test_layer_slider_mouse_moves_layer(cam, artifacts):
    before = cam.reset()
    L = len(cam.kernel.eval("w.layers"))
    box = cam.page.locator(LAYER).first.bounding_box()
    cam.page.mouse.click(box["x"] + 4, box["y"] + box["height"] / 2)
    assert cam.kernel.wait_for("w.layer", lambda v: v != L - 1) == 0
    after = cam.shown(layer=0)
    assert (np.abs(after.astype(int) - before).max(2) > 30).sum() > 200
    cam.page.locator(ROOT).first.screenshot(path=str(artifacts / "lab-layer0.png"))


def test_layer_slider_arrow_key(cam):
    """Focus the layer slider and press an arrow key, as a teacher would after clicking it.
    JupyterLab's command-mode shortcuts (notebook:move-cursor-*) must not swallow the key."""
    before = cam.reset()
    L = len(cam.kernel.eval("w.layers"))
    cam.page.locator(LAYER).first.focus()
    cam.page.keyboard.press("ArrowLeft")
    assert cam.kernel.wait_for("w.layer", lambda v: v == L - 2, timeout=5) == L - 2
    assert digest(cam.shown(layer=L - 2)) != digest(before)


def test_python_sample_updates_page(cam):
    before = cam.reset()
    cam.kernel.run("w.sample = 5")
    cam.page.wait_for_function(
        "(sel) => document.querySelector(sel).value === '5'", arg=SAMPLE_BOX, timeout=10_000
    )
    after = cam.shown(sample=5)
    assert digest(after) != digest(before)
    m5 = np.array(cam.kernel.eval("w.current_map"))
    idx = cmap_index(after, cam.table)
    x0, x1 = plot_columns(idx)
    xp = round(x0 + int(np.argmax(m5)) / (len(m5) - 1) * (x1 - x0))
    assert (idx[:, xp - 3 : xp + 4] >= 250).any(), "sample 5's peak not drawn in the top colour"


def test_keyboard_navigation(cam):
    before = cam.reset(sample=3)
    L = len(cam.kernel.eval("w.layers"))
    cam.page.locator(ROOT).first.focus()
    cam.page.keyboard.press("ArrowRight")
    assert cam.kernel.wait_for("w.sample", lambda v: v != 3) == 4
    mid = cam.shown(sample=4)
    assert digest(mid) != digest(before)
    cam.page.keyboard.press("ArrowLeft")
    assert cam.kernel.wait_for("w.sample", lambda v: v != 4) == 3
    cam.page.keyboard.press("ArrowUp")
    up = cam.kernel.wait_for("w.layer", lambda v: v != L - 1)
    assert up == L - 2, "ArrowUp moves one layer"
    assert digest(cam.shown(sample=3, layer=L - 2)) not in (digest(mid), digest(before))
    cam.page.keyboard.press("ArrowDown")
    assert cam.kernel.wait_for("w.layer", lambda v: v != up) == L - 1
    assert cam.kernel.eval("w.sample") == 3


def test_play_button_steps_layers(cam):
    cam.reset()
    L = len(cam.kernel.eval("w.layers"))
    cam.kernel.run("_seen = []\ndef _rec(c):\n    _seen.append(c['new'])\nw.observe(_rec, 'layer')")
    cam.page.locator(PLAY).first.click()
    assert cam.kernel.wait_for("w.playing", bool, timeout=5)
    # distinct pictures over 2 s, sampled in the page every 40 ms
    frames = cam.page.locator(MAIN).first.evaluate(_DISTINCT_FRAMES, 2000)
    cam.page.locator(PLAY).first.click()
    assert not cam.kernel.wait_for("w.playing", lambda v: not v, timeout=5)
    seen = cam.kernel.eval("_seen")
    cam.kernel.run("w.unobserve(_rec, 'layer')")
    # 250 ms per step: about 8 steps in 2 s, wrapping round the layers in order
    assert len(seen) >= 4, f"playing 2 s at 250 ms stepped through {seen}"
    assert seen[: L + 1] == [(k % L) for k in range(L + 1)], seen
    assert frames >= L, f"the canvas showed {frames} distinct pictures while playing {seen}"
    stopped = cam.kernel.eval("w.layer")
    # No event announces that nothing happens: watch the widget's paints for three play
    # intervals (250 ms each), in which a player still running would have stepped three times.
    seen = paints_during(cam.root(), 3 * 250)
    assert {d["controls"]["layer"] for d in seen} <= {stopped}, f"stepping after pause: {seen}"
    assert cam.kernel.eval("w.layer") == stopped, "still stepping after pause"


def test_grid_and_overlay_views(cam, artifacts):
    single = cam.reset(view_count=4)
    single_panels = series_components(cmap_index(single, cam.table))
    assert len(single_panels) == 1
    cam.kernel.run("w.view = 'grid'")
    grid = cam.shown(view="grid")
    cam.page.locator(ROOT).first.screenshot(path=str(artifacts / "lab-grid.png"))
    idx = cmap_index(grid, cam.table)
    boxes = series_components(idx)
    assert len(painted_panels(cam.page)) == 4 and len(boxes) == 4, boxes
    for b in boxes:  # every sample normalised on its own: each panel reaches the top colour
        assert (idx[b] >= 250).any()
    cam.kernel.run("w.view = 'overlay'")
    overlay = cam.shown(view="overlay")
    cam.page.locator(ROOT).first.screenshot(path=str(artifacts / "lab-overlay.png"))

    def strokes_per_column(rgb: np.ndarray) -> float:
        mask = cmap_index(rgb, cam.table) >= 0
        x0, x1 = plot_columns(np.where(mask, 0, -1))
        counts = [len(runs(np.flatnonzero(mask[:, x]), gap=2)) for x in range(x0, x1)]
        return float(np.median(counts))

    assert strokes_per_column(single) == 1
    assert strokes_per_column(overlay) >= 2, "overlay should draw several series in one panel"
    cols = single_panels[0][1]
    for _, c in series_components(cmap_index(overlay, cam.table), min_width=20):
        assert c.start >= cols.start - 2 and c.stop <= cols.stop + 2, "overlay: one plot area"


def test_dark_theme_contrast(cam, artifacts):
    cam.reset()
    light_rgb = cam.rgb()
    light_bg = light_rgb[0, 0].copy()
    light = last_paint(cam.page.locator(ROOT).first.element_handle())
    try:
        n = cam.count()
        set_theme(cam.page, "JupyterLab Dark")
        root_w = cam.page.locator(ROOT).first.evaluate("e => e.clientWidth")

        # Lab hides the shell for one frame on a theme switch: the widget paints until its
        # canvas is dark and keeps the full width (it once fell back to 800 px and stayed there)
        def dark_full_width(d: dict) -> np.ndarray | None:
            rgb = cam.rgb()
            dark = contrast_ratio(rgb[0, 0], (0, 0, 0)) < 2.0
            return [rgb, d] if dark and abs(rgb.shape[1] - root_w) <= 2 else None

        rgb, paint = paint_until(
            cam.page, cam.root(), n, dark_full_width, 10, "a dark full-width paint"
        )
        strip = cam.rgb(STRIP)  # drawn in the same paint
        cam.page.locator(ROOT).first.screenshot(path=str(artifacts / "lab-dark.png"))
        # the layout of the full width, as in the light theme: the plot area, then the colour
        # bar inside the canvas, the same room right of the plot (the painted event's geometry)
        area, bar = paint["panels"][0], paint["colorbar"]
        assert area["x"] + area["w"] < bar["x"] and bar["x"] + bar["w"] <= rgb.shape[1], paint
        margin = rgb.shape[1] - (area["x"] + area["w"])
        light_area = light["panels"][0]
        light_margin = light_rgb.shape[1] - (light_area["x"] + light_area["w"])
        assert abs(margin - light_margin) <= 1, (paint, light)
        assert not np.array_equal(rgb[0, 0], light_bg)
        bad = [(round(c, 2), it) for c, it in dom_contrast(cam.page) if c < 4.5]
        assert not bad, f"DOM text below 4.5:1 in the dark theme: {bad}"
        # canvas text: every blob of ink outside the plot area and off the colour scale
        idx = cmap_index(rgb, cam.table, tol=3)
        x0, x1 = plot_columns(idx)
        top, bottom = frame_rows(rgb, x0, x1)
        keep = idx < 0
        keep[top - 3 : bottom + 4, x0 - 3 : x1 + 4] = False
        blobs = ink_contrast(rgb, keep)
        assert len(blobs) >= 8, f"expected title, tick labels, axis labels; got {blobs}"
        low = [b for b in blobs if b[0] < 4.5]
        assert not low, f"canvas text below 4.5:1 in the dark theme (ratio, box): {low}"
        sblobs = ink_contrast(strip, cmap_index(strip, cam.table, tol=3) < 0)
        assert sblobs, "no text on the layer strip"
        low = [b for b in sblobs if b[0] < 4.5]
        assert not low, f"layer-strip text below 4.5:1 in the dark theme: {low}"
    finally:
        set_theme(cam.page, "JupyterLab Light")


def test_basic_motions_six_panels(lab_server, open_page, artifacts):
    name = lab_server.write_notebook("cam_basic_motions.ipynb", [BASIC_MOTIONS])
    page, _ = open_page()
    open_lab_notebook(page, lab_server, name)
    kernel = lab_server.kernel(name)
    assert kernel.eval("w.series['shape']") == [8, 6, 100]
    table = np.array(kernel.eval("unpack(w.cmap_table)"), np.uint8)
    c = Cam(page, kernel, table)
    page.locator(MAIN).first.wait_for()
    # the first ready paint that drew the six channels' plot areas
    paint_until(page, c.root(), 0, lambda d: len(d["panels"]) == 6, 20, "six panels")
    rgb = c.rgb()
    page.locator(ROOT).first.screenshot(path=str(artifacts / "lab-basicmotions.png"))
    boxes = series_components(cmap_index(rgb, table))
    assert len(boxes) == 6, boxes
    tops = sorted(b[0].start for b in boxes)
    assert all(b - a >= 30 for a, b in zip(tops, tops[1:])), f"panels overlap: {tops}"
    kernel.close()
    page.context.close()


# -- kernel mode: the menus that need the kernel ---------------------------------------------------
KERNEL_MODE = SYNTHETIC.replace("progress=False,", "progress=False, precompute=False,")


@pytest.fixture(scope="module")
def kcam(lab_server, open_page):
    """The synthetic widget in kernel mode: every map the page shows is computed on request."""
    assert KERNEL_MODE != SYNTHETIC
    name = lab_server.write_notebook("cam_kernel_mode.ipynb", [KERNEL_MODE])
    page, _ = open_page()
    open_lab_notebook(page, lab_server, name)
    kernel = lab_server.kernel(name)
    page.locator(MAIN).first.wait_for()
    assert kernel.eval("w.precomputed") is False
    c = Cam(page, kernel, np.array(kernel.eval("unpack(w.cmap_table)"), np.uint8))
    next_paint(page, c.root(), 0, 60)  # the first ready paint (maps from the kernel)
    yield c
    kernel.close()
    page.context.close()


def menu(cam: Cam, name: str) -> Any:
    return cam.page.locator(f"{ROOT} select[data-control={name}]").first


def test_kernel_mode_colour_map_menu(kcam, artifacts):
    """The colour menu sets the kernel's ``cmap``; Python answers with the table, and the
    repaint draws the series in that table's colours (read from the kernel), not the old one's."""
    cam = kcam
    cam.reset()
    old = cam.kernel.eval("w.cmap")
    new = "viridis" if old != "viridis" else "magma"
    old_table = cam.table
    assert (cmap_index(cam.rgb(), old_table) >= 0).sum() > 500
    n = cam.count()
    menu(cam, "cmap").select_option(new)
    assert cam.kernel.wait_for("w.cmap", lambda v: v == new) == new
    table = np.array(cam.kernel.eval("unpack(w.cmap_table)"), np.uint8)
    assert not np.array_equal(table, old_table)

    # the name comes first, the table in a later message: paint by paint until it is used
    def in_new_colours(d: dict) -> np.ndarray | None:
        rgb = cam.rgb()
        now = cmap_index(rgb, table) >= 0
        before = (cmap_index(rgb, old_table) >= 0) & ~now
        return [rgb] if now.sum() > 500 and before.sum() < 0.1 * now.sum() else None

    paint_until(cam.page, cam.root(), n, in_new_colours, 20, f"a paint in {new}", cmap=new)
    cam.page.locator(ROOT).first.screenshot(path=str(artifacts / "lab-kernel-cmap.png"))
    cam.table = table


def top_entries(cam: Cam, rgb: np.ndarray) -> list[int]:
    """The highest colour table entry drawn in each plot area of the last paint."""
    idx = cmap_index(rgb, cam.table)
    out = []
    for p in painted_panels(cam.page):
        box = idx[int(p["y"]) : int(p["y"] + p["h"]), int(p["x"]) : int(p["x"] + p["w"])]
        out.append(int(box.max()))
    return out


def test_kernel_mode_norm_menu(kcam):
    """The norm menu sets the kernel's ``norm``; the repaint's colour bar spans the kernel's
    ``value_range`` for it (values for "none"), and "layer" scales the grid's samples together:
    not every panel reaches the top colour, as each does with the per-sample norm."""
    cam = kcam
    cam.table = np.array(cam.kernel.eval("unpack(w.cmap_table)"), np.uint8)
    sample_rgb = cam.reset(norm="sample", view="grid", view_count=4)
    assert len(painted_panels(cam.page)) == 4
    assert min(top_entries(cam, sample_rgb)) >= 250, top_entries(cam, sample_rgb)
    vr = cam.kernel.eval("w.value_range")
    bar = cam.last()["colorbar"]
    assert (bar["lo"], bar["hi"]) == pytest.approx(tuple(vr), rel=1e-4, abs=1e-6)
    for norm in ("none", "layer"):
        menu(cam, "norm").select_option(norm)
        assert cam.kernel.wait_for("w.norm", lambda v, norm=norm: v == norm) == norm
        # the ready paint of the new norm: Python sent its maps and value_range in one message
        bar = shown(cam.page, cam.root(), 20, norm=norm)["colorbar"]
        want = tuple(cam.kernel.eval("w.value_range"))
        assert (bar["lo"], bar["hi"]) == pytest.approx(want, rel=1e-4, abs=1e-6), (norm, bar)
        if norm == "none":  # raw values: not the unit range of the sample norm
            assert want != pytest.approx(tuple(vr)), (want, vr)
    tops = top_entries(cam, cam.rgb())
    assert min(tops) < 240, f"norm=layer scaled each sample on its own: {tops}"
    cam.kernel.run("w.norm = 'sample'\nw.view = 'single'")


def test_kernel_mode_target_menu(kcam):
    """On a misclassified sample the target menu's "true" entry sets the kernel's ``target``;
    the kernel's map for the true class differs from the predicted class's, and the repaint
    shows it: its peak drawn in the top colour."""
    cam = kcam
    pred = cam.kernel.eval("w.y_pred.tolist()")
    true = cam.kernel.eval("w.y_true.tolist()")
    wrong = [i for i, (p, t) in enumerate(zip(pred, true)) if p != t and t >= 0]
    assert wrong, "the untrained model classifies every sample right"
    before = cam.reset(sample=wrong[0], target="pred", norm="sample")
    m_pred = np.array(cam.kernel.eval("w.current_map"), float)
    cam.table = np.array(cam.kernel.eval("unpack(w.cmap_table)"), np.uint8)
    menu(cam, "target").select_option("true")
    assert cam.kernel.wait_for("w.target", lambda v: v == "true") == "true"
    after = cam.shown(target="true")
    m_true = np.array(cam.kernel.eval("w.current_map"), float)
    assert not np.allclose(m_pred, m_true), "the same map for the predicted and the true class"
    assert digest(after) != digest(before)
    area = painted_panels(cam.page)[0]
    x0, x1 = area["x"], area["x"] + area["w"]
    xp = round(x0 + int(np.argmax(m_true)) / (len(m_true) - 1) * (x1 - x0))
    idx = cmap_index(after, cam.table)
    assert (idx[:, xp - 3 : xp + 4] >= 250).any(), "the true class's peak not in the top colour"
    cam.kernel.run("w.target = 'pred'")
