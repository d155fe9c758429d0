"""Big data sets: how long until the first picture, until all predictions, and how much memory.

For each N, a memmap of N x 12 x 1,000 float32 random walks (written once under --dir) and the
reference InceptionTime (12 channels in, 2 classes). In one process per N (so peak memory is
that N's alone), inside a running event loop as in a Jupyter kernel:

- first picture: ``CamWidget(model, X)`` returns with the first sample's maps (kernel side; the
  browser adds its paint, about a frame);
- all predictions: until every sample's prediction is in the widget left alone by the user,
  beside one plain batched forward over the same memmap (``torch.inference_mode``, batch 256)
  measured right after;
- sample change: in a second widget, a user's jump to a random sample while its background work
  runs, served by the kernel (maps computed and sent), p50 / p95 over 20 jumps (jumps go before
  the background work, so they are timed apart from the predictions);
- peak RSS of the process (``ru_maxrss``);
- first painted picture in Chromium (``--browser``): JupyterLab (``tests/browser/harness.py``)
  runs, per N in a fresh kernel, a set-up cell (imports, the memmap, the model), then
  ``t0 = time.time(); w = CamWidget(model, X); w``; the page records the wall-clock time of the
  widget's first ``tscam:painted`` event whose picture matches the controls (``detail.ready``,
  the signal ``bench/latency.py`` times). Time = that - ``t0`` (one machine, one clock).

    .venv/bin/python bench/scale_bench.py                      # N = 1,000, 5,000, 20,000
    .venv/bin/python bench/scale_bench.py --sizes 1000 --threads 2
    .venv/bin/python bench/scale_bench.py --browser             # + first paint in Chromium
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

C, T = 12, 1000


def data(n: int, folder: Path) -> np.memmap:
    path = folder / f"tscam_scale_{n}x{C}x{T}.f32"
    if not path.exists():
        mm = np.memmap(path, np.float32, "w+", shape=(n, C, T))
        rng = np.random.default_rng(0)
        for start in range(0, n, 1000):
            k = min(1000, n - start)
            mm[start : start + k] = rng.standard_normal((k, C, T), np.float32).cumsum(-1) / 30
        mm.flush()
        del mm
    return np.memmap(path, np.float32, "r", shape=(n, C, T))


def one(n: int, folder: Path, threads: int, plain: bool = True) -> dict:
    import torch

    from tscam_widget.models import InceptionTime
    from tscam_widget.widget import CamWidget

    torch.set_num_threads(threads)
    X = data(n, folder)
    torch.manual_seed(0)
    model = InceptionTime(C, 2).eval()
    out: dict = {"n": n}

    async def run() -> None:
        # the user leaves the widget alone: first picture, then every prediction
        t0 = time.perf_counter()
        w = CamWidget(model, X, progress=False, background=True)
        out["first_s"] = time.perf_counter() - t0
        while not w._maps.comp.all_predicted:
            await asyncio.sleep(0.01)
        out["predictions_s"] = time.perf_counter() - t0
        w.close()
        # a second widget: the user jumps while its background work runs (jumps preempt that
        # work, so they are timed apart from the predictions)
        w = CamWidget(model, X, progress=False, background=True)
        rng = np.random.default_rng(1)
        jumps = []
        for s in rng.integers(0, n, 20):
            await asyncio.sleep(0.05)
            t1 = time.perf_counter()
            w.sample = int(s)
            w.flush()
            jumps.append(time.perf_counter() - t1)
        out["jump_p50_ms"] = 1000 * float(np.percentile(jumps, 50))
        out["jump_p95_ms"] = 1000 * float(np.percentile(jumps, 95))
        out["jumps_during_background"] = bool(w.background_running)
        w.close()

    asyncio.run(run())
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["plain_forward_s"] = float("nan")
    if plain:
        t0 = time.perf_counter()
        with torch.inference_mode():
            for start in range(0, n, 256):
                model(torch.from_numpy(np.array(X[start : start + 256])))
        out["plain_forward_s"] = time.perf_counter() - t0
    return out


SETUP = """
import time, numpy as np, torch
torch.set_num_threads({threads})
from tscam_widget import CamWidget
from tscam_widget.models import InceptionTime
X = np.memmap({path!r}, np.float32, "r", shape=({n}, {c}, {t}))
torch.manual_seed(0)
model = InceptionTime({c}, 2).eval()
"""
WIDGET = """
t0 = time.time()
w = CamWidget(model, X, progress=False)
w
"""
# JS installed before the cells run: the wall-clock time of the first painted picture that
# matches the controls, of the first widget root that appears
WATCH = """() => {
  window.__firstPaint = null;
  const hook = (root) => {
    if (root.__watched) return;
    root.__watched = true;
    root.addEventListener('tscam:painted', (ev) => {
      if (ev.detail.ready && window.__firstPaint === null)
        window.__firstPaint = performance.timeOrigin + ev.detail.t;
    });
  };
  new MutationObserver(() => document.querySelectorAll('.tscam-root').forEach(hook))
    .observe(document.body, {childList: true, subtree: true});
}"""


def browser_first_paint(sizes: list[int], folder: Path, threads: int) -> dict[int, dict]:
    """Per N: seconds from ``CamWidget(...)`` in the kernel to the first painted picture in
    Chromium (JupyterLab), and the kernel's peak RSS by then."""
    import tempfile

    import requests

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))
    from harness import JupyterServer, launch, new_page, wait_until
    from playwright.sync_api import sync_playwright

    out: dict[int, dict] = {}
    server = JupyterServer(Path(tempfile.mkdtemp(prefix="tscam-scale-")), "jupyterlab").start()
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            for n in sizes:
                path = str(data(n, folder).filename)
                setup = SETUP.format(threads=threads, path=path, n=n, c=C, t=T)
                name = server.write_notebook(f"scale_{n}.ipynb", [setup, WIDGET])
                ctx, page, log = new_page(browser)
                page.goto(f"{server.url}/lab/tree/{name}?reset", wait_until="domcontentloaded")
                wait_until(
                    lambda page=page: page.evaluate(
                        "() => { const p = window.jupyterapp && window.jupyterapp.shell."
                        "currentWidget; const k = p && p.sessionContext && p.sessionContext."
                        "session && p.sessionContext.session.kernel; return !!k && k.status "
                        "=== 'idle'; }"
                    ),
                    120,
                    0.1,
                    "kernel idle",
                )
                page.evaluate(WATCH)
                page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
                wait_until(
                    lambda page=page: page.evaluate("() => window.__firstPaint") is not None,
                    300,
                    0.05,
                    f"the first painted picture (N={n})",
                )
                painted = page.evaluate("() => window.__firstPaint") / 1000
                kernel = server.kernel(name)
                t0 = kernel.eval("t0")
                row = {"browser_first_s": painted - t0}
                row["kernel_rss_at_paint_mb"] = kernel.eval(
                    "__import__('resource').getrusage(__import__('resource').RUSAGE_SELF)"
                    ".ru_maxrss / 1024"
                )
                row["browser_errors"] = log.errors()
                kernel.run("w.close()")
                kernel.close()
                out[n] = row
                print(f"# browser N={n}: {row}", file=sys.stderr, flush=True)
                for sess in requests.get(f"{server.url}/api/sessions", timeout=5).json():
                    requests.delete(f"{server.url}/api/sessions/{sess['id']}", timeout=10)
                ctx.close()
            browser.close()
    finally:
        server.stop()
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    p.add_argument("--dir", default="/tmp", help="where the memmaps are written (once)")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--browser", action="store_true", help="also: first paint in Chromium")
    p.add_argument("--no-kernel", action="store_true", help="only the browser measurement")
    p.add_argument("--no-plain", action="store_true", help="skip the plain batched forward")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    folder = Path(args.dir)
    if args.child:
        print(json.dumps(one(args.child, folder, args.threads, plain=not args.no_plain)))
        return
    load = os.getloadavg()
    print(f"# load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", file=sys.stderr)
    rows = []
    for n in [] if args.no_kernel else args.sizes:
        cmd = [sys.executable, __file__, "--child", str(n), "--dir", str(folder)]
        cmd += ["--threads", str(args.threads)] + (["--no-plain"] if args.no_plain else [])
        res = subprocess.run(cmd, capture_output=True, text=True, env=os.environ, check=True)
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(f"# N={n}: {rows[-1]}", file=sys.stderr)
    web = browser_first_paint(args.sizes, folder, args.threads) if args.browser else {}
    if args.no_kernel:
        rows = [{"n": n} for n in args.sizes]
    load_after = os.getloadavg()
    print(f"load average: before {load[0]:.2f} / after {load_after[0]:.2f} (1 min)")
    if web:
        print("| N | first painted picture (Chromium) | kernel RSS then |")
        print("|---|---|---|")
        for n, r in web.items():
            print(
                f"| {n:,} | {r['browser_first_s']:.2f} s | {r['kernel_rss_at_paint_mb']:.0f} MB |"
            )
    if args.no_kernel:
        return
    print(
        "| N | first picture (kernel) | sample jump p50 / p95 while background runs | "
        "all predictions | plain batched forward | ratio | peak RSS |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['n']:,} | {r['first_s']:.2f} s | {r['jump_p50_ms']:.0f} / "
            f"{r['jump_p95_ms']:.0f} ms | {r['predictions_s']:.1f} s | "
            f"{r['plain_forward_s']:.1f} s | {r['predictions_s'] / r['plain_forward_s']:.2f} x | "
            f"{r['peak_rss_mb']:.0f} MB |"
        )


if __name__ == "__main__":
    main()
