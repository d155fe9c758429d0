"""Integrated Gradients and occlusion: ours against captum's same methods and against the floor.

Models (random weights, eval mode): InceptionTime on ``--batch`` x 1 x 500 and InceptionTime on
``--batch`` x 12 x 1000 (multivariate). Per model:

  ig floor     ``--steps`` forward+backward passes of the batch (``autograd.grad`` to the input)
  ig ours      ``Explainer(model, layers="input").explain(x, methods=["integrated_gradients"],
               steps=--steps)`` (all samples x steps as rows, ``--chunk`` rows per pass, default
               ``attributions.default_chunk(T)``)
  ig captum    ``IntegratedGradients.attribute(x, n_steps=--steps,
               internal_batch_size=--chunk)`` (the same rows per pass; captum's default of one
               batch of N x steps rows does not fit in memory at 64 x 12 x 1000)
  occ floor    ``--windows`` forwards of the batch (no gradient)
  occ ours     ``methods=["occlusion"], window=T / --windows`` (windows over all channels)
  occ captum   ``Occlusion.attribute(x, sliding_window_shapes=(C, T / --windows), strides=(C, T /
               --windows), perturbations_per_eval=--chunk / N)``

Times: median of ``--runs`` after one warm-up; ratios ours / floor (target <= 1.1) and ours /
captum. ``--device cuda`` runs on a GPU. Usage: ``python bench/attribution_bench.py [--batch 64]
[--steps 32] [--windows 20] [--chunk ROWS] [--runs 3] [--device cpu|cuda] [--models uni multi]
[--methods ig occ]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
from captum.attr import IntegratedGradients, Occlusion

from tscam_widget.explain import Explainer
from tscam_widget.explain.attributions import default_chunk
from tscam_widget.models import InceptionTime

SHAPES = {"uni": (1, 500), "multi": (12, 1000)}


def timed(fn: Callable[[], object], runs: int, device: torch.device) -> float:
    """Median seconds of ``runs`` calls of ``fn`` after one warm-up."""

    def once() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    once()
    return statistics.median(once() for _ in range(runs))


def bench(name: str, a: argparse.Namespace) -> dict[str, float]:
    c, t = SHAPES[name]
    dev = torch.device(a.device)
    torch.manual_seed(0)
    model = InceptionTime(c, 4).to(dev).eval()
    x = torch.randn(a.batch, c, t, device=dev)
    with torch.no_grad():
        tgt = model(x).argmax(1)
    w = t // a.windows
    e = Explainer(model, layers="input")
    e.resolve(x[:1])
    rows = torch.arange(a.batch, device=dev)
    chunk = a.chunk or default_chunk(t)  # rows per pass, the same for ours and captum's
    ours_kw = {"chunk_size": a.chunk} if a.chunk else {}  # ours: its default unless given

    def ig_floor() -> None:
        for _ in range(a.steps):
            xi = x.clone().requires_grad_(True)
            torch.autograd.grad(model(xi)[rows, tgt].sum(), xi)

    def occ_floor() -> None:
        with torch.no_grad():
            for _ in range(a.windows):
                model(x.clone())

    def ig_ours() -> None:
        e.explain(x, target=tgt, methods=["integrated_gradients"], steps=a.steps, **ours_kw)

    def occ_ours() -> None:
        e.explain(x, target=tgt, methods=["occlusion"], window=w, **ours_kw)

    def ig_captum() -> None:
        IntegratedGradients(model).attribute(
            x, target=tgt, n_steps=a.steps, internal_batch_size=chunk
        )

    def occ_captum() -> None:
        Occlusion(model).attribute(
            x,
            sliding_window_shapes=(c, w),
            strides=(c, w),
            target=tgt,
            perturbations_per_eval=max(1, chunk // a.batch),
        )

    out = {}
    for key, fn in [
        ("ig floor", ig_floor),
        ("ig ours", ig_ours),
        ("ig captum", ig_captum),
        ("occ floor", occ_floor),
        ("occ ours", occ_ours),
        ("occ captum", occ_captum),
    ]:
        if key.split()[0] not in a.methods:
            out[key] = float("nan")
            continue
        out[key] = timed(fn, a.runs, dev)
        print(f"  {name} {key}: {out[key]:.3f} s", flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    p.add_argument("--methods", nargs="+", choices=["ig", "occ"], default=["ig", "occ"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--windows", type=int, default=20)
    p.add_argument(
        "--chunk", type=int, default=None, help="rows per pass (default: ours' default_chunk)"
    )
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device {a.device}, torch threads {torch.get_num_threads()}, load {load:.2f}")
    head = (
        "| model | IG floor | IG ours | IG captum | ours/floor | ours/captum "
        "| occ floor | occ ours | occ captum | ours/floor | ours/captum |"
    )
    lines = [head, "|" + "---|" * 11]
    for name in a.models:
        r = bench(name, a)
        c, t = SHAPES[name]
        lines.append(
            f"| InceptionTime {a.batch}x{c}x{t} | {r['ig floor']:.3f} | {r['ig ours']:.3f} | "
            f"{r['ig captum']:.3f} | {r['ig ours'] / r['ig floor']:.2f} | "
            f"{r['ig ours'] / r['ig captum']:.2f} | {r['occ floor']:.3f} | {r['occ ours']:.3f} | "
            f"{r['occ captum']:.3f} | {r['occ ours'] / r['occ floor']:.2f} | "
            f"{r['occ ours'] / r['occ captum']:.2f} |"
        )
    chunks = ", ".join(f"{n} {a.chunk or default_chunk(SHAPES[n][1])}" for n in a.models)
    print(f"steps {a.steps}, windows {a.windows}, rows per pass {chunks}, median of {a.runs} (s)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
