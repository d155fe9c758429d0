"""Cost of the training timeline (issue 19), side by side in one run, on UCR GunPoint:

(a) one snapshot of 60 samples x every default layer x the default (cheap) methods of a widget
    on the 150 test samples: its capture (a CPU copy of the weights) and its computation (a
    model copy loaded with them, one explain with the samples' probabilities, the encoding),
    against one plain ``Explainer.explain`` of those 60 samples with the same methods; target
    <= 1.2x.
(b) a 5-epoch tsai FCN training (``fit_one_cycle``) with and without ``cbs=w.callback``
    (a snapshot per epoch), fresh learners from the same seed, alternated; target <= 1.10x.
    The snapshots' maps are computed after the fit (here: at the first read, timed apart).

Medians of ``--repeats`` runs. Run it alone (it prints ``uptime``'s load first).

    PYTHONPATH=$PWD .venv/bin/python bench/timeline_bench.py [--repeats 5] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("TSCAM_WIDGET_DATA", ROOT.parent / "shared" / "data" / "ucr"))


def learner(data_dir: Path, seed: int = 0):
    from tsai.basics import TSClassification, accuracy, get_ts_dls, ts_learner
    from tsai.models.FCN import FCN

    from tscam_widget.data import load_ucr

    Xtr, ytr = load_ucr("GunPoint", "train", data_dir=data_dir)
    Xte, yte = load_ucr("GunPoint", "test", data_dir=data_dir)
    X, y = np.concatenate([Xtr, Xte]), np.concatenate([ytr, yte])
    splits = (list(range(len(Xtr))), list(range(len(Xtr), len(X))))
    torch.manual_seed(seed)
    dls = get_ts_dls(X, y, splits=splits, tfms=[None, TSClassification()], bs=16)
    return ts_learner(dls, FCN, metrics=accuracy, seed=seed), dls


def bench_snapshot(data_dir: Path, repeats: int) -> None:
    from tscam_widget import CamWidget
    from tscam_widget.widget.timeline import Timeline

    learn, dls = learner(data_dir)
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(2, 1e-3)
    w = CamWidget(learn, dls=dls, progress=False, trust=False, precompute=False)
    comp = w._maps.comp
    keys = Timeline.keys(comp)
    methods = [m for m, _ in keys]
    idx = np.arange(60)
    x = np.asarray(comp.X[idx])
    plain, cap, snap = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        comp.explainer.explain(
            x, target="pred", methods=methods, reductions=(comp.reductions[0],), norm="none"
        )
        plain.append(time.perf_counter() - t)
        tl = Timeline()
        t = time.perf_counter()
        pending = tl.capture(learn.model, idx, "bench")
        cap.append(time.perf_counter() - t)
        t = time.perf_counter()
        s = tl.compute(comp, pending)
        snap.append(time.perf_counter() - t)
    p, c, q = statistics.median(plain), statistics.median(cap), statistics.median(snap)
    print(
        f"(a) snapshot of {len(s.samples)} samples x {len(comp.layers)} layers x {len(keys)} "
        f"methods ({s.nbytes / 1e3:.0f} KB deflated): capture {c * 1e3:.1f} ms, computed in "
        f"{q * 1e3:.0f} ms; plain explain {p * 1e3:.0f} ms; ratio {(c + q) / p:.2f}x "
        f"(target <= 1.2x)"
    )


def bench_training(data_dir: Path, repeats: int, epochs: int = 5) -> None:
    from tscam_widget import CamWidget

    plain, rec, later = [], [], []
    for r in range(repeats):
        for with_timeline in (False, True) if r % 2 == 0 else (True, False):
            learn, dls = learner(data_dir, seed=r)
            cbs = []
            if with_timeline:
                w = CamWidget(learn, dls=dls, progress=False, trust=False, precompute=False)
                cbs = [w.callback]
            t = time.perf_counter()
            with learn.no_bar(), learn.no_logging():
                learn.fit_one_cycle(epochs, 1e-3, cbs=cbs)
            (rec if with_timeline else plain).append(time.perf_counter() - t)
            if with_timeline:
                t = time.perf_counter()
                assert len(w.timeline.snapshots) == epochs  # the first read computes them
                later.append(time.perf_counter() - t)
    p, q = statistics.median(plain), statistics.median(rec)
    print(
        f"(b) tsai FCN, GunPoint, {epochs} epochs: {p:.2f} s without, {q:.2f} s with a snapshot "
        f"per epoch; ratio {q / p:.3f}x (target <= 1.10x); the {epochs} snapshots' maps then "
        f"computed in {statistics.median(later):.2f} s (after the fit, never during it)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()
    print("load before:", os.getloadavg(), "torch threads", torch.get_num_threads())
    bench_snapshot(args.data_dir, args.repeats)
    bench_training(args.data_dir, args.repeats)
    print("load after:", os.getloadavg())


if __name__ == "__main__":
    main()
