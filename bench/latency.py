"""Slider latency of CamWidget in Chromium + JupyterLab (prints; not a timed test).

    .venv/bin/python bench/latency.py [--moves 60]

One notebook, one kernel, measured in the same run:
  (a) precompute mode (``precompute=True``): sample and layer slider -> repainted canvas;
  (b) kernel mode (``precompute=False``, cache warmed first): sample slider (a kernel round trip)
      and layer slider (local: ``maps`` holds every layer);
  (c) a bare echo anywidget (JS sets ``ping``, a Python observer sets ``pong``, JS waits for
      it and one frame): the floor of any kernel round trip here;
  (d) a 1,000,000-point series: layer slider -> repainted canvas, and time per frame to draw.

"Repainted" is the widget's paint signal: the input event is dispatched on the slider, then
the first ``tscam:painted`` event on the widget's root after it whose ``detail.ready`` is true
(kernel mode first draws the old maps with "computing..." and ``ready`` false) ends the move;
latency = ``detail.t`` - the dispatch time, draw time = ``detail.ms`` (the widget's ``draw()``
from start to end). Frames counts the widget's paints in between.
Targets: (a) p95 < 16 ms; (b) p95 <= 1.5 x (c); (d) < 16 ms per frame.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))

from harness import (  # noqa: E402
    ARTIFACTS,
    PROBE_WIDGET,
    JupyterServer,
    launch,
    new_page,
    open_lab_notebook,
    shown,
    wait_until,
)

SETUP = """
import numpy as np, torch
torch.manual_seed(0); torch.set_num_threads(1)
from tscam_widget import CamWidget
from tscam_widget.data import synthetic, synthetic_classes
from tscam_widget.models import InceptionTime
X, y, mask = synthetic(n=32, length=256, n_classes=3, seed=1)
model = InceptionTime(1, 3, nf=8, depth=3).eval()
kw = dict(classes=synthetic_classes(3), progress=False)
"""
PRECOMPUTED = "wp = CamWidget(model, X, y, precompute=True, **kw)\nwp"
KERNEL = "wk = CamWidget(model, X, y, precompute=False, **kw)\nwk"
ECHO = "echo = Echo()\necho"
BIG = """
t = np.arange(1_000_000, dtype=np.float32)
Xb = (np.sin(t / 5000) + 0.1 * np.random.default_rng(0).standard_normal(t.size)).astype(
    np.float32)[None, None]
mb = InceptionTime(1, 2, nf=4, depth=3, bottleneck=4).eval()
wbig = CamWidget(mb, Xb, None, classes=["a", "b"], methods=["gradcam"], precompute=True,
                 progress=False)
wbig
"""

# JS: move one slider of the index-th widget through `values`, timing each move to its paint.
MEASURE = """async ([index, control, values, pauseMs]) => {
  const root = document.querySelectorAll('.tscam-root')[index];
  root.scrollIntoView({block: 'start'});
  await new Promise((r) => setTimeout(r, 300));
  const input = root.querySelector(`input[data-control=${control}]`);
  // new_page() records every painted event from page load (harness.PAINT_RECORDER)
  if (!(window.__tscamPaints && window.__tscamPaints(root).length)) {
    throw new Error('no tscam:painted event from this widget (an old build?)');
  }
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  const out = [];
  for (const v of values) {
    await frame();
    let frames = 0;
    const painted = new Promise((resolve) => {
      const on = (ev) => {
        frames++;
        if (!ev.detail.ready) return;
        root.removeEventListener('tscam:painted', on);
        resolve(ev.detail);
      };
      root.addEventListener('tscam:painted', on);
      setTimeout(() => { root.removeEventListener('tscam:painted', on); resolve(null); }, 10000);
    });
    const t0 = performance.now();
    input.value = String(v);
    input.dispatchEvent(new Event('input', {bubbles: true}));
    const d = await painted;
    out.push(d ? [d.t - t0, d.ms, frames] : [NaN, NaN, frames]);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  return out;
}"""


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, float), q))


def summary(name: str, rows: list[list[float]]) -> dict:
    lat = [r[0] for r in rows]
    draw = [r[1] for r in rows]
    lost = int(np.isnan(lat).sum())
    ok = [v for v in lat if not np.isnan(v)]
    okd = [v for v in draw if not np.isnan(v)]
    s = {
        "name": name,
        "moves": len(rows),
        "not_painted": lost,
        "p50_ms": pct(ok, 50) if ok else float("nan"),
        "p95_ms": pct(ok, 95) if ok else float("nan"),
        "max_ms": max(ok) if ok else float("nan"),
        "draw_p50_ms": pct(okd, 50) if okd else float("nan"),
        "draw_p95_ms": pct(okd, 95) if okd else float("nan"),
    }
    print(
        f"{name:44s} n={s['moves']:3d} lost={lost:2d}  p50={s['p50_ms']:7.1f}  "
        f"p95={s['p95_ms']:7.1f}  max={s['max_ms']:7.1f}  draw p50={s['draw_p50_ms']:6.1f} "
        f"p95={s['draw_p95_ms']:6.1f} ms",
        flush=True,
    )
    return s


def zigzag(n_values: int, moves: int, start: int = 0) -> list[int]:
    """``moves`` slider positions that always change: 0 1 2 .. n-1 n-2 .. 0 1 .."""
    cycle = list(range(n_values)) + list(range(n_values - 2, 0, -1))
    seq = [cycle[(start + 1 + i) % len(cycle)] for i in range(moves)]
    return seq


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--moves", type=int, default=60)
    ap.add_argument("--pause-ms", type=int, default=40)
    ap.add_argument("--no-big", action="store_true", help="skip the 1,000,000-point series")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    cells = [PROBE_WIDGET, SETUP, PRECOMPUTED, KERNEL, ECHO] + ([] if args.no_big else [BIG])
    server = JupyterServer(Path(tempfile.mkdtemp(prefix="tscam-bench-")), "jupyterlab").start()
    results: list[dict] = []
    try:
        name = server.write_notebook("latency.ipynb", cells)
        with sync_playwright() as pw:
            browser = launch(pw)
            _, page, log = new_page(browser)
            t0 = time.monotonic()
            open_lab_notebook(page, server, name, timeout=600)
            print(f"notebook ran in {time.monotonic() - t0:.1f} s", flush=True)
            kernel = server.kernel(name)
            n = kernel.eval("wp.n_samples")
            L = len(kernel.eval("wp.layers"))
            n_roots = 2 if args.no_big else 3
            wait_until(
                lambda: (
                    page.evaluate("() => document.querySelectorAll('.tscam-root').length")
                    >= n_roots
                ),
                60,
                0.2,
                "the widgets",
            )
            # kernel mode: warm the cache for every sample once
            kernel.run("for _s in range(wk.n_samples):\n    wk.sample = _s\n    wk.current_map")
            kernel.run("wk.sample = 0")
            # settled: the kernel-mode widget's painted event shows sample 0 with its maps
            shown(page, page.locator(".tscam-root").nth(1).element_handle(), 30, sample=0)
            m, p = args.moves, args.pause_ms

            def run(index: int, control: str, values: list[int], label: str) -> None:
                rows = page.evaluate(MEASURE, [index, control, values, p])
                results.append(summary(label, rows))

            run(0, "sample", zigzag(n, m), "(a) precompute: sample slider")
            run(0, "layer", zigzag(L, m, start=L - 1), "(a) precompute: layer slider")
            run(1, "sample", zigzag(n, m), "(b) kernel mode (warm): sample slider")
            run(1, "layer", zigzag(L, m, start=L - 1), "(b) kernel mode: layer slider (local)")
            page.evaluate(
                "() => document.querySelector('.echo-root').scrollIntoView({block: 'start'})"
            )
            echo = page.evaluate(f"() => window.__echo.run({m})")
            results.append(summary("(c) echo widget round trip (floor)", [[t, 0, 0] for t in echo]))
            if not args.no_big:
                run(2, "layer", zigzag(L, max(20, m // 3), start=L - 1), "(d) 1e6 points: layer")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "bench-latency.png"), full_page=False)
            kernel.close()
            if log.entries:
                print("browser console errors:", *log.entries, sep="\n  ")
            browser.close()
    finally:
        server.stop()

    by = {r["name"][:3]: r for r in results if r["name"].startswith("(")}
    a = [r for r in results if r["name"].startswith("(a)")]
    b = next(r for r in results if r["name"].startswith("(b) kernel mode (warm)"))
    c = by["(c)"]
    print()
    for r in a:
        print(f"target (a) p95 < 16 ms: {r['name']}: {r['p95_ms']:.1f} ms ->", end=" ")
        print(_ok(r["p95_ms"] < 16))
    ratio = b["p95_ms"] / c["p95_ms"]
    print(
        f"target (b) p95 <= 1.5 x (c) p95: {b['p95_ms']:.1f} / {c['p95_ms']:.1f} = {ratio:.2f} ->",
        _ok(ratio <= 1.5),
    )
    big = [r for r in results if r["name"].startswith("(d)")]
    for r in big:
        print(f"target (d) draw < 16 ms per frame: p95 {r['draw_p95_ms']:.1f} ms ->", end=" ")
        print(_ok(r["draw_p95_ms"] < 16))
    out = ARTIFACTS / "latency.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"\nwrote {out}")


def _ok(flag: bool) -> str:
    return "OK" if flag else "MISSED"


if __name__ == "__main__":
    main()
