"""``tscam-widget demo``: train a reference model, explain it, write an offline HTML page.

With no network and no data directory it runs on the embedded synthetic dataset.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

DATASET_HELP = (
    "'synthetic' (embedded, default), a UCR/UEA name such as GunPoint (read from "
    "$TSCAM_WIDGET_DATA or downloaded), or a path to a <Name>_TRAIN.ts/.arff/.tsv file"
)
#: the demo page's training timeline: at most this many snapshots after epochs (and one before)
DEMO_SNAPSHOTS = 8
QUICKSTART = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


def _split_path(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train and test arrays from a file: its ``_TEST`` sibling when there is one, else a
    deterministic 70/30 split."""
    from tscam_widget.data import read

    X, y = read(path)
    test = path.with_name(path.name.replace("_TRAIN", "_TEST"))
    if test != path and test.is_file():
        Xt, yt = read(test)
        return X, y, Xt, yt
    order = np.random.default_rng(0).permutation(len(X))
    cut = int(round(0.7 * len(X)))
    return X[order[:cut]], y[order[:cut]], X[order[cut:]], y[order[cut:]]


def load_dataset(name: str) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Returns ``(label, X_train, y_train, X_test, y_test)``; X float32 ``[N, C, T]``."""
    if name == "synthetic":
        from tscam_widget.data import synthetic_split

        X, y, _, Xt, yt, _ = synthetic_split()
        return "synthetic", X, y, Xt, yt
    path = Path(name)
    if path.suffix in {".ts", ".arff", ".tsv"}:
        if not path.is_file():
            raise SystemExit(f"--dataset: no such file {path}")
        return path.stem.replace("_TRAIN", ""), *_split_path(path)
    from tscam_widget.data import load_ucr

    X, y = load_ucr(name, split="train")
    Xt, yt = load_ucr(name, split="test")
    return name, X, y, Xt, yt


def _timeline_recorder(
    model: Any, X: np.ndarray, y: np.ndarray, classes: list[str], epochs: int
) -> tuple[Any, Any]:
    """``(timeline, record)``: ``record(k, history)`` (``train``'s ``on_epoch``) records a
    snapshot of every sample of ``X`` labelled ``"epoch k"`` (k = 0: before training) with the
    epoch's training loss and accuracy; at most :data:`DEMO_SNAPSHOTS` + 1 of them (a long
    training: every few epochs, and the last)."""
    from tscam_widget.widget.compute import MapComputer
    from tscam_widget.widget.timeline import Timeline

    labels = np.array([classes.index(str(v)) for v in y], np.int32)
    comp = MapComputer(model, X, labels, predict=False)
    every = -(-epochs // DEMO_SNAPSHOTS)
    timeline = Timeline(max_samples=len(X), max_snapshots=DEMO_SNAPSHOTS + 2)

    def record(k: int, history: dict[str, Any]) -> None:
        if k % every and k != epochs:
            return
        metrics = {m: history[m][-1] for m in ("loss", "accuracy") if history.get(m)}
        timeline.record(comp, np.arange(len(X)), f"epoch {k}", metrics)

    return timeline, record


def run_demo(args: argparse.Namespace) -> Path:
    """Train, explain and export; prints progress, accuracy and the page written."""
    import torch

    from tscam_widget.models import PRESETS, accuracy, build_model, train
    from tscam_widget.widget import CamWidget

    torch.manual_seed(0)
    label, X, y, Xt, yt = load_dataset(args.dataset)
    classes = sorted({str(v) for v in y})
    print(
        f"dataset {label}: train {X.shape[0]}, test {Xt.shape[0]}, "
        f"{X.shape[1]} channel(s) x {X.shape[2]} steps, {len(classes)} classes"
    )
    model = build_model(args.model, X.shape[1], len(classes))
    preset = dict(PRESETS["synthetic" if label == "synthetic" else "gunpoint"])
    if args.epochs:
        preset["epochs"] = args.epochs
    idxs = np.arange(min(args.samples, len(Xt)))
    # the training timeline: the page's samples explained before training and after each epoch
    timeline, record = _timeline_recorder(model, Xt[idxs], yt[idxs], classes, preset["epochs"])
    record(0, {})
    start = time.perf_counter()
    train(model, X, y, classes=classes, progress=True, on_epoch=record, **preset)
    seconds = time.perf_counter() - start
    acc = accuracy(model, Xt, yt, classes)
    cost = sum(s.seconds for s in timeline.snapshots)
    print(f"{args.model} trained in {seconds:.1f} s: test accuracy {acc:.3f}")
    print(f"training timeline: {len(timeline)} snapshots recorded in {cost:.1f} s")

    mask = None
    if label == "synthetic":  # the ground truth of where each class's motif is
        from tscam_widget.data import synthetic_split

        mask = synthetic_split()[5]
    w = CamWidget(model, Xt, yt, classes=classes, idxs=idxs, precompute=True, mask=mask, trust=True)
    w.timeline = timeline
    out = w.save_html(args.out, title=f"tscam-widget demo: {args.model} on {label}")
    meta = w.trust_meta
    print(
        f"trust scores: {meta['samples']} samples x {len(meta['layers'])} layers x "
        f"{len(meta['keys'])} methods in {meta['seconds']['total']:.1f} s "
        f"({meta['forwards']} forwards)"
    )
    size = out.stat().st_size / 1e6
    print(f"wrote {out.resolve()} ({size:.1f} MB): open it in a browser, no server needed")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tscam-widget", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a model, explain it, write an offline HTML page")
    demo.add_argument("--dataset", default="synthetic", help=DATASET_HELP)
    demo.add_argument(
        "--model", default="inceptiontime", choices=["inceptiontime", "fcn", "resnet"]
    )
    demo.add_argument("--out", default="demo.html", help="HTML page to write (default demo.html)")
    demo.add_argument("--epochs", type=int, default=None, help="override the training preset")
    demo.add_argument("--samples", type=int, default=60, help="test samples in the page")
    demo.add_argument(
        "--lab", action="store_true", help="start JupyterLab on notebooks/quickstart.ipynb instead"
    )
    args = parser.parse_args(argv)
    if args.lab:
        if not QUICKSTART.is_file():
            raise SystemExit(f"--lab needs the repository's notebooks: {QUICKSTART} not found")
        return subprocess.call([sys.executable, "-m", "jupyterlab", str(QUICKSTART)])
    run_demo(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
