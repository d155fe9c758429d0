"""CamWidget benchmark: bytes per update (binary buffers vs JSON lists), precompute time and
cube size for an ECG200-sized dataset (100 x 96) with InceptionTime (6 layers).

Run: ``.venv/bin/python bench/widget_bench.py [--threads N] [--repeat R]``. Prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from ipywidgets.widgets.widget import _remove_buffers

from tscam_widget.models import InceptionTime
from tscam_widget.widget import CamWidget, unpack


def update_bytes(w: CamWidget, names: list[str]) -> tuple[int, int]:
    """(binary bytes, JSON-list bytes) of the state message that carries ``names``."""
    state = w.get_state(names)
    plain, _, bufs = _remove_buffers(state)
    binary = len(json.dumps(plain).encode()) + sum(len(b) for b in bufs)
    as_lists = {
        k: ({**v, "data": unpack(v).tolist()} if k in ("maps", "cube") else v)
        for k, v in state.items()
    }
    return binary, len(json.dumps(as_lists).encode())


def timed(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--expensive-n", type=int, default=10, help="samples for the scorecam/ablationcam run"
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    X = rng.randn(100, 1, 96).astype(np.float32).cumsum(-1) / 5
    y = rng.randint(0, 2, 100)
    model = InceptionTime(1, 2).eval()  # nf=32, depth=6: blocks.0 .. blocks.5
    print(
        f"cpu cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()}, "
        f"load average (1 min) at start: {os.getloadavg()[0]:.1f} (cores shared)"
    )

    # -- bytes per update (kernel mode: one sample, all layers) --
    wk = CamWidget(model, X, y, precompute=False, progress=False)
    tot_b = tot_j = n_upd = 0
    for sample in range(5):
        for method, reduction in wk._maps.comp.keys():
            wk.sample, wk.method = sample, method
            wk.reduction = reduction or wk.reduction
            wk.flush()
            b, j = update_bytes(wk, ["maps", "maps_meta"])
            tot_b, tot_j, n_upd = tot_b + b, tot_j + j, n_upd + 1
    print(
        f"kernel update (maps [1, {len(wk.layers)}, 96] + maps_meta), mean over {n_upd} updates "
        f"(5 samples x every method/reduction): {tot_b / n_upd:.0f} bytes binary vs "
        f"{tot_j / n_upd:.0f} bytes JSON lists -> {tot_b / tot_j:.3f}x"
    )
    t_upd, _ = timed(
        lambda: (setattr(wk, "sample", (wk.sample + 1) % 100), wk.flush()), args.repeat * 5
    )
    print(f"kernel update, cache miss (explain all cheap methods, 1 sample): {t_upd * 1e3:.1f} ms")

    # -- precompute: default methods on 100 samples; + scorecam/ablationcam on --expensive-n --
    expensive = [*wk.methods, "scorecam", "ablationcam"]
    for label, methods, n in (
        ("default methods", None, 100),
        ("+ scorecam, ablationcam", expensive, args.expensive_n),
    ):
        w = CamWidget(model, X[:n], y[:n], methods=methods, precompute=False, progress=False)
        comp = w._maps.comp  # the bridge the widget uses to build its cube
        keys = ", ".join(k if r is None else f"{k}/{r}" for k, r in comp.keys())
        t, cube = timed(lambda comp=comp: comp.cube("pred", "sample"), args.repeat)
        n, n_layers, m, t_len = cube.shape
        extra = f" (x{100 / n:.0f} for 100 samples: ~{t * 100 / n:.0f} s)" if n < 100 else ""
        print(
            f"precompute {n} x 96, InceptionTime, {n_layers} layers, {label} "
            f"({m} maps: {keys}): {t:.2f} s{extra}; cube [{n}, {n_layers}, {m}, {t_len}] "
            f"float32 = {cube.nbytes / 1e6:.2f} MB"
        )
        if methods is None:
            state_b, state_j = len(cube.tobytes()), len(json.dumps(cube.tolist()).encode())
            print(
                f"cube message: {state_b / 1e6:.1f} MB binary vs {state_j / 1e6:.1f} MB JSON "
                f"lists -> {state_b / state_j:.3f}x"
            )

    t_w, wp = timed(lambda: CamWidget(model, X, y, precompute=True, progress=False), 1)
    print(
        f"CamWidget(model, X, y, precompute=True) end to end: {t_w:.2f} s "
        f"(predictions + layer resolution + cube + packing), precomputed={wp.precomputed}"
    )
    print(f"load average (1 min) at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
