"""Benchmark of the explainer against the floor, captum and pytorch-grad-cam, on two models:

- ``inception``: InceptionTime (random weights), a batch of ``--batch`` x 1 x ``--length``, its 6
  blocks (heavy convolutions: the methods' arithmetic is small beside the pass);
- ``light``: four strided/dilated conv blocks of 16-48 channels (random weights), ``--batch`` x 3
  x ``--light-length`` (a cheap pass: the methods' arithmetic shows).

Per model:

  (a) floor  one forward + one ``torch.autograd.grad`` of the batch with hooks on the blocks
  (b) ours   ``Explainer(model, blocks).explain`` with gradcam, gradcam++, xgradcam, hirescam,
             layercam for all blocks (norm="sample"), the explainer made afresh (its layer
             resolution, a traced forward of a few samples, included); (br) the same explain on an
             explainer resolved beforehand (the widget's case: the per-batch cost);
             (b+) also materialises every normalised map (``to_array``); (b1) Grad-CAM only
             (b1r: on the resolved explainer); (t) a new explainer's layer resolution alone
  (c) captum ``LayerGradCam`` looped over the blocks (gradcam only) + linear upsampling
  (d) grad-cam  pytorch-grad-cam ``GradCAM`` looped over the blocks through a 2-D wrapper

Times: median of ``--runs`` runs after one warm-up, all in one process. Peak memory: each variant
runs once in a fresh subprocess (before any timing); we report the growth of the process's peak
resident set size (``VmHWM`` in ``/proc/self/status``, Linux; it is per address space, so unlike
``ru_maxrss`` it does not inherit the parent's peak across fork/exec) over its value after
imports, model and input are set up, i.e. the extra peak RSS that variant needs (tracemalloc does
not see torch's CPU allocations).

On a shared machine, ``--threads 1 --cpu`` times CPU seconds of one thread, which the load of
other processes changes far less than the wall clock.

Usage: ``python bench/explain_bench.py [--models inception light] [--batch 64] [--length 500]
[--light-length 2000] [--runs 5] [--threads N] [--cpu] [--only floor ours]``.

The input attributions (Integrated Gradients and occlusion against their floors and captum's, on
InceptionTime 64 x 1 x 500 and 64 x 12 x 1000) are in ``bench/attribution_bench.py``;
``--attributions`` runs that bench after this one with its defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

OURS_METHODS = ["gradcam", "gradcam++", "xgradcam", "hirescam", "layercam"]
VARIANTS = [
    "floor",
    "ours",
    "ours_resolved",
    "ours+maps",
    "ours_gradcam",
    "ours_gradcam_resolved",
    "trace",
    "captum",
    "gradcam_pkg",
]


class Light(nn.Module):
    """Four conv blocks (conv, BatchNorm, ReLU) of 16-48 channels, strided and dilated, then
    global average pooling and a linear head: a pass much cheaper than InceptionTime's."""

    def __init__(self, c_in: int = 3, n_classes: int = 4):
        super().__init__()

        def block(i: int, o: int, k: int, stride: int = 1, dilation: int = 1) -> nn.Module:
            pad = dilation * (k - 1) // 2
            conv = nn.Conv1d(i, o, k, stride=stride, padding=pad, dilation=dilation)
            return nn.Sequential(conv, nn.BatchNorm1d(o), nn.ReLU())

        self.blocks = nn.Sequential(
            block(c_in, 16, 7, stride=2),
            block(16, 32, 5, dilation=2),
            block(32, 48, 5, stride=2),
            block(48, 48, 3, dilation=4),
        )
        self.head = nn.Linear(48, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x).mean(-1))


def setup(
    name: str, batch: int, length: int, light_length: int, seed: int = 0
) -> tuple[nn.Module, torch.Tensor, list[str]]:
    """(model in eval mode, input batch, block names) of model ``name``."""
    torch.manual_seed(seed)
    if name == "light":
        blocks = [f"blocks.{i}" for i in range(4)]
        return Light().eval(), torch.randn(batch, 3, light_length), blocks
    from tscam_widget.models import InceptionTime

    model = InceptionTime(1, 2).eval()
    return model, torch.randn(batch, 1, length), [f"blocks.{i}" for i in range(6)]


BLOCKS: list[str] = []  # the current model's blocks (set by main/child before running)


def run_floor(model: nn.Module, x: torch.Tensor) -> None:
    mods = dict(model.named_modules())
    acts: list[torch.Tensor] = []
    handles = [mods[b].register_forward_hook(lambda m, i, o: acts.append(o)) for b in BLOCKS]
    try:
        out = model(x.requires_grad_(False))
        sel = out[torch.arange(len(out)), out.argmax(1)].sum()
        torch.autograd.grad(sel, acts)
    finally:
        for h in handles:
            h.remove()


def run_ours(
    model: nn.Module, x: torch.Tensor, maps: bool = False, methods: list[str] = OURS_METHODS
) -> None:
    from tscam_widget.explain import Explainer

    ex = Explainer(model, layers=BLOCKS).explain(x, methods=methods, norm="sample")
    if maps:
        ex.to_array()


_RESOLVED: dict[int, object] = {}


def run_ours_resolved(model: nn.Module, x: torch.Tensor, methods: list[str] = OURS_METHODS) -> None:
    """As run_ours with an explainer made and resolved once (its trace is done on the warm-up
    run), as the widget keeps one: the per-batch cost without the one-time layer resolution."""
    from tscam_widget.explain import Explainer

    ex = _RESOLVED.get(id(model))
    if ex is None:
        ex = _RESOLVED[id(model)] = Explainer(model, layers=list(BLOCKS))
    ex.explain(x, methods=methods, norm="sample")  # type: ignore[attr-defined]


def run_trace(model: nn.Module, x: torch.Tensor) -> None:
    """The one-time part of a new explainer alone: its layer resolution (the traced forwards)."""
    from tscam_widget.explain import Explainer

    Explainer(model, layers=list(BLOCKS)).resolve(x)


def run_captum(model: nn.Module, x: torch.Tensor) -> None:
    from captum.attr import LayerAttribution, LayerGradCam

    mods = dict(model.named_modules())
    with torch.no_grad():
        target = model(x).argmax(1)
    for b in BLOCKS:
        a = LayerGradCam(model, mods[b]).attribute(x, target=target, relu_attributions=True)
        LayerAttribution.interpolate(a, x.shape[-1], interpolate_mode="linear")


class To2d(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.squeeze(2))


def run_gradcam_pkg(model: nn.Module, x: torch.Tensor) -> None:
    from pytorch_grad_cam import GradCAM

    mods = dict(model.named_modules())
    wrapped = To2d(model)
    x4 = x.unsqueeze(2)
    for b in BLOCKS:
        cam = GradCAM(wrapped, [mods[b]], reshape_transform=lambda t: t.unsqueeze(2))
        cam(input_tensor=x4, targets=None)
        cam.activations_and_grads.release()
    model.zero_grad(set_to_none=True)


RUNNERS = {
    "floor": run_floor,
    "ours": run_ours,
    "ours_resolved": run_ours_resolved,
    "ours+maps": lambda m, x: run_ours(m, x, maps=True),
    "ours_gradcam": lambda m, x: run_ours(m, x, methods=["gradcam"]),
    "ours_gradcam_resolved": lambda m, x: run_ours_resolved(m, x, methods=["gradcam"]),
    "trace": run_trace,
    "captum": run_captum,
    "gradcam_pkg": run_gradcam_pkg,
}


CLOCK = time.perf_counter  # --cpu: time.process_time (CPU seconds of this process)


def time_all(
    model: nn.Module, x: torch.Tensor, runs: int, variants: list[str]
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {v: [] for v in variants}
    for v in variants:  # warm-up (imports, oneDNN primitive caches)
        RUNNERS[v](model, x)
    for r in range(runs):  # interleaved, so load drift hits every variant alike
        for v in variants:
            t0 = CLOCK()
            RUNNERS[v](model, x)
            times[v].append(CLOCK() - t0)
        print(
            f"  run {r + 1}: " + ", ".join(f"{v} {times[v][-1]:.3f}s" for v in variants), flush=True
        )
    return times


def peak_rss_child(variant: str, name: str, a: argparse.Namespace) -> float:
    """Extra peak RSS (MiB) of one run of ``variant`` on model ``name`` in a fresh interpreter."""
    cmd = [sys.executable, __file__, "--child", variant, "--models", name]
    cmd += ["--batch", str(a.batch), "--length", str(a.length)]
    cmd += ["--light-length", str(a.light_length)]
    if a.threads:
        cmd += ["--threads", str(a.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["extra_peak_mib"])


def vm_hwm_kib() -> int:
    """Peak RSS of this process's address space (KiB), from /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("VmHWM not found in /proc/self/status (Linux only)")


def child(variant: str, name: str, a: argparse.Namespace) -> None:
    # import everything every variant might need first, so imports are not counted
    import captum.attr  # noqa: F401
    import pytorch_grad_cam  # noqa: F401

    import tscam_widget.explain  # noqa: F401

    model, x, BLOCKS[:] = setup(name, a.batch, a.length, a.light_length)
    with torch.no_grad():
        model(x[:1])
    before = vm_hwm_kib()
    RUNNERS[variant](model, x)
    after = vm_hwm_kib()
    print(json.dumps({"extra_peak_mib": (after - before) / 1024}))


TARGETS = {"inception": 1.2, "light": 1.5}  # ours / floor, issue 11


def bench_model(name: str, a: argparse.Namespace) -> dict[str, float]:
    """Time (and unless --no-memory, measure) every chosen variant on model ``name``; print its
    table and return the medians."""
    model, x, BLOCKS[:] = setup(name, a.batch, a.length, a.light_length)
    nb = len(BLOCKS)
    print(
        f"\n[{name}] {type(model).__name__}, x {' x '.join(map(str, x.shape))}, {nb} blocks, "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
        f"load average {os.getloadavg()[0]:.1f}, median of {a.runs} runs after a warm-up"
        + (" (CPU seconds)" if CLOCK is time.process_time else " (wall seconds)"),
        flush=True,
    )
    variants = a.only or VARIANTS
    mem = {}
    if not a.no_memory:
        mem = {v: peak_rss_child(v, name, a) for v in variants}
    times = time_all(model, x, a.runs, variants)
    med = {v: statistics.median(t) for v, t in times.items()}
    labels = {
        "floor": "(a) floor: forward + autograd.grad",
        "ours": f"(b) ours: explain, 5 methods x {nb} blocks",
        "ours_resolved": "(br) ours, explainer resolved once beforehand",
        "ours+maps": "(b+) ours + to_array (all normalised maps)",
        "ours_gradcam": f"(b1) ours: explain, gradcam only x {nb} blocks",
        "ours_gradcam_resolved": "(b1r) gradcam only, explainer resolved once",
        "trace": "(t) a new explainer's layer resolution alone",
        "captum": f"(c) captum LayerGradCam x {nb} blocks",
        "gradcam_pkg": f"(d) pytorch-grad-cam GradCAM x {nb} blocks",
    }
    print(f"{'variant':46s} {'median s':>9s} {'min s':>7s} {'max s':>7s} {'peak+ MiB':>10s}")
    for v in variants:
        m = f"{mem[v]:10.1f}" if v in mem else f"{'-':>10s}"
        print(f"{labels[v]:46s} {med[v]:9.3f} {min(times[v]):7.3f} {max(times[v]):7.3f} {m}")
    goal = f"(target <= {TARGETS[name]})"
    ratios = [  # (label, numerator, denominator, target)
        ("b/a", "ours", "floor", goal),
        ("br/a", "ours_resolved", "floor", goal),
        ("b+/a", "ours+maps", "floor", ""),
        ("b1/a", "ours_gradcam", "floor", ""),
        ("b1r/a", "ours_gradcam_resolved", "floor", ""),
        ("t/a", "trace", "floor", ""),
        ("c/b", "captum", "ours", "(target >= 3)"),
        ("d/b", "gradcam_pkg", "ours", ""),
    ]
    for label, num, den, target in ratios:
        if num in med and den in med:
            print(f"{label:5s}= {med[num] / med[den]:.2f}" + (f"   {target}" if target else ""))
    return med


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", choices=list(TARGETS), default=list(TARGETS))
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--length", type=int, default=500, help="InceptionTime's series length")
    p.add_argument("--light-length", type=int, default=2000, help="the light model's length")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--only", nargs="+", choices=VARIANTS, help="run only these variants")
    p.add_argument("--no-memory", action="store_true", help="skip the RSS subprocesses")
    p.add_argument(
        "--cpu",
        action="store_true",
        help="time the process's CPU seconds instead of wall time (with --threads 1: what other "
        "processes on a shared machine do to the wall clock does not count)",
    )
    p.add_argument(
        "--attributions", action="store_true", help="then run bench/attribution_bench.py"
    )
    p.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    a = p.parse_args()
    warnings.filterwarnings("ignore")
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.child:
        child(a.child, a.models[0], a)
        return
    if a.cpu:
        global CLOCK
        CLOCK = time.process_time
    for name in a.models:
        bench_model(name, a)
    if a.attributions:
        bench = Path(__file__).with_name("attribution_bench.py")
        subprocess.run([sys.executable, str(bench)], check=True)


if __name__ == "__main__":
    main()
