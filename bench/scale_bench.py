"""Big data sets: how long until the first picture, until all predictions, and how much memory.

For each N, a memmap of N x 12 x 1,000 float32 random walks (written once under --dir) and the
reference InceptionTime (12 channels in, 2 classes). In one process per N (so peak memory is
that N's alone), inside a running event loop as in a Jupyter kernel:

- first picture: ``CamWidget(model, X)`` returns with the first sample's maps (kernel side; the
  browser adds its paint, about a frame);
- sample change: a user's jump to a random sample while the background work runs, served by the
  kernel (maps computed and sent), p50 / p95 over 20 jumps;
- all predictions: until every sample's prediction is in the widget, beside one plain batched
  forward over the same memmap (``torch.inference_mode``, batch 256) measured right after;
- peak RSS of the process (``ru_maxrss``).

    .venv/bin/python bench/scale_bench.py                      # N = 1,000, 5,000, 20,000
    .venv/bin/python bench/scale_bench.py --sizes 1000 --threads 2
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


def one(n: int, folder: Path, threads: int) -> dict:
    import torch

    from tscam_widget.models import InceptionTime
    from tscam_widget.widget import CamWidget

    torch.set_num_threads(threads)
    X = data(n, folder)
    torch.manual_seed(0)
    model = InceptionTime(C, 2).eval()
    out: dict = {"n": n}

    async def run() -> None:
        t0 = time.perf_counter()
        w = CamWidget(model, X, progress=False, background=True)
        out["first_s"] = time.perf_counter() - t0
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
        while not w._comp.all_predicted:
            await asyncio.sleep(0.01)
        out["predictions_s"] = time.perf_counter() - t0
        w.close()

    asyncio.run(run())
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, n, 256):
            model(torch.from_numpy(np.array(X[start : start + 256])))
    out["plain_forward_s"] = time.perf_counter() - t0
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    p.add_argument("--dir", default="/tmp", help="where the memmaps are written (once)")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    folder = Path(args.dir)
    if args.child:
        print(json.dumps(one(args.child, folder, args.threads)))
        return
    rows = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--child", str(n), "--dir", str(folder)]
        cmd += ["--threads", str(args.threads)]
        res = subprocess.run(cmd, capture_output=True, text=True, env=os.environ, check=True)
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(f"# N={n}: {rows[-1]}", file=sys.stderr)
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
