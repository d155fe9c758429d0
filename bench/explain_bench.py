"""Benchmark of the explainer against the floor, captum and pytorch-grad-cam.

InceptionTime (random weights), a batch of ``--batch`` x 1 x ``--length``, its 6 blocks:

  (a) floor  one forward + one ``torch.autograd.grad`` of the batch with hooks on the 6 blocks
  (b) ours   ``Explainer.explain`` with gradcam, gradcam++, xgradcam, hirescam, layercam for all
             blocks (norm="sample"); (b+) also materialises every normalised map (``to_array``)
  (c) captum ``LayerGradCam`` looped over the 6 blocks (gradcam only) + linear upsampling
  (d) grad-cam  pytorch-grad-cam ``GradCAM`` looped over the 6 blocks through a 2-D wrapper

Times: median of ``--runs`` runs after one warm-up, all in one process. Peak memory: each variant
runs once in a fresh subprocess (before any timing); we report the growth of the process's peak
resident set size (``VmHWM`` in ``/proc/self/status``, Linux; it is per address space, so unlike
``ru_maxrss`` it does not inherit the parent's peak across fork/exec) over its value after
imports, model and input are set up, i.e. the extra peak RSS that variant needs (tracemalloc does
not see torch's CPU allocations).

Usage: ``python bench/explain_bench.py [--batch 64] [--length 500] [--runs 5] [--threads N]``.
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

import torch
from torch import nn

BLOCKS = [f"blocks.{i}" for i in range(6)]
OURS_METHODS = ["gradcam", "gradcam++", "xgradcam", "hirescam", "layercam"]
VARIANTS = ["floor", "ours", "ours+maps", "captum", "gradcam_pkg"]


def setup(batch: int, length: int, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    from tscam_widget.models import InceptionTime

    torch.manual_seed(seed)
    model = InceptionTime(1, 2).eval()
    x = torch.randn(batch, 1, length)
    return model, x


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


def run_ours(model: nn.Module, x: torch.Tensor, maps: bool = False) -> None:
    from tscam_widget.explain import Explainer

    ex = Explainer(model, layers=BLOCKS).explain(x, methods=OURS_METHODS, norm="sample")
    if maps:
        ex.to_array()


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
    "ours+maps": lambda m, x: run_ours(m, x, maps=True),
    "captum": run_captum,
    "gradcam_pkg": run_gradcam_pkg,
}


def time_all(model: nn.Module, x: torch.Tensor, runs: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for v in VARIANTS:  # warm-up (imports, oneDNN primitive caches)
        RUNNERS[v](model, x)
    for r in range(runs):  # interleaved, so load drift hits every variant alike
        for v in VARIANTS:
            t0 = time.perf_counter()
            RUNNERS[v](model, x)
            times[v].append(time.perf_counter() - t0)
        print(
            f"  run {r + 1}: " + ", ".join(f"{v} {times[v][-1]:.2f}s" for v in VARIANTS), flush=True
        )
    return times


def peak_rss_child(variant: str, batch: int, length: int, threads: int | None) -> float:
    """Extra peak RSS (MiB) of one run of ``variant`` in a fresh interpreter."""
    cmd = [
        sys.executable,
        __file__,
        "--child",
        variant,
        "--batch",
        str(batch),
        "--length",
        str(length),
    ]
    if threads:
        cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["extra_peak_mib"])


def vm_hwm_kib() -> int:
    """Peak RSS of this process's address space (KiB), from /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("VmHWM not found in /proc/self/status (Linux only)")


def child(variant: str, batch: int, length: int) -> None:
    # import everything every variant might need first, so imports are not counted
    import captum.attr  # noqa: F401
    import pytorch_grad_cam  # noqa: F401

    import tscam_widget.explain  # noqa: F401

    model, x = setup(batch, length)
    with torch.no_grad():
        model(x[:1])
    before = vm_hwm_kib()
    RUNNERS[variant](model, x)
    after = vm_hwm_kib()
    print(json.dumps({"extra_peak_mib": (after - before) / 1024}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--length", type=int, default=500)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--no-memory", action="store_true", help="skip the RSS subprocesses")
    p.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    a = p.parse_args()
    warnings.filterwarnings("ignore")
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.child:
        child(a.child, a.batch, a.length)
        return
    model, x = setup(a.batch, a.length)
    print(
        f"InceptionTime(1, 2), x {a.batch} x 1 x {a.length}, {len(BLOCKS)} blocks, "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
        f"load average {os.getloadavg()[0]:.1f}, median of {a.runs} runs after a warm-up",
        flush=True,
    )
    mem = {}
    if not a.no_memory:
        mem = {v: peak_rss_child(v, a.batch, a.length, a.threads) for v in VARIANTS}
    times = time_all(model, x, a.runs)
    med = {v: statistics.median(t) for v, t in times.items()}
    labels = {
        "floor": "(a) floor: forward + autograd.grad",
        "ours": "(b) ours: explain, 5 methods x 6 blocks",
        "ours+maps": "(b+) ours + to_array (all normalised maps)",
        "captum": "(c) captum LayerGradCam x 6 blocks",
        "gradcam_pkg": "(d) pytorch-grad-cam GradCAM x 6 blocks",
    }
    print(f"{'variant':46s} {'median s':>9s} {'min s':>7s} {'max s':>7s} {'peak+ MiB':>10s}")
    for v in VARIANTS:
        m = f"{mem[v]:10.1f}" if v in mem else f"{'-':>10s}"
        print(f"{labels[v]:46s} {med[v]:9.3f} {min(times[v]):7.3f} {max(times[v]):7.3f} {m}")
    b = med["ours"]
    print(f"b/a  = {b / med['floor']:.2f}   (target <= 1.3)")
    print(f"b+/a = {med['ours+maps'] / med['floor']:.2f}")
    print(f"c/b  = {med['captum'] / b:.2f}   (target >= 3)")
    print(f"d/b  = {med['gradcam_pkg'] / b:.2f}")


if __name__ == "__main__":
    main()
