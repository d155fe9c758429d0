"""Train the bundled models and print test accuracy and training seconds.

Runs (1) InceptionTime, FCN and ResNet1d on the default synthetic data (train seed 0, test
seed 1; targets for InceptionTime: >= 0.95 test accuracy in < 30 s) and (2) InceptionTime on UCR
GunPoint (50 train / 150 test; target >= 0.90 in < 2 min), with the settings of
``tscam_widget.models.PRESETS`` unless overridden.

    .venv/bin/python bench/train_bench.py [--data-dir ../shared/data/ucr] [--only synthetic]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from tscam_widget.models import PRESETS, accuracy, build_model, train

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("TSCAM_WIDGET_DATA", ROOT.parent / "shared" / "data" / "ucr"))


def _read_ts(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Minimal reader for an equal-length univariate/multivariate .ts file (fallback while
    ``tscam_widget.data.load_ucr`` is missing). Returns X float32 [N, C, T], y str [N]."""
    rows, labels, in_data = [], [], False
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("@data"):
            in_data = True
            continue
        if line.startswith("@") or not in_data:
            continue
        *dims, label = line.split(":")
        rows.append([[float(v) for v in d.split(",")] for d in dims])
        labels.append(label)
    return np.asarray(rows, dtype=np.float32), np.asarray(labels)


def load_gunpoint(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        from tscam_widget.data import load_ucr
    except ImportError:
        return _read_ts(data_dir / "GunPoint" / f"GunPoint_{split.upper()}.ts")
    out = load_ucr("GunPoint", split=split, data_dir=data_dir)
    return out[0], out[1]


def run(name: str, dataset: str, data, settings: dict, seed: int) -> dict:
    (Xtr, ytr), (Xte, yte) = data
    torch.manual_seed(seed)
    model = build_model(name, Xtr.shape[1], len(np.unique(ytr)))
    cpu = time.process_time()
    hist = train(model, Xtr, ytr, seed=seed, **settings)
    cpu = time.process_time() - cpu
    return dict(
        model=name,
        data=dataset,
        n=f"{len(Xtr)}/{len(Xte)}",
        settings=f"{settings['epochs']}ep lr={settings['lr']:g} bs={settings['batch_size']}",
        train_acc=accuracy(model, Xtr, ytr, hist["classes"]),
        test_acc=accuracy(model, Xte, yte, hist["classes"]),
        seconds=hist["seconds"],
        cpu_seconds=cpu,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    p.add_argument("--only", choices=["synthetic", "gunpoint"], default=None)
    p.add_argument(
        "--models",
        default="inceptiontime,fcn,resnet",
        help="models for the synthetic run (GunPoint always uses inceptiontime)",
    )
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: as is)"
    )
    args = p.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    def settings(preset: str) -> dict:
        s = dict(PRESETS[preset])
        for key, val in (("epochs", args.epochs), ("lr", args.lr), ("batch_size", args.batch_size)):
            if val is not None:
                s[key] = val
        return s

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    rows = []
    t0 = time.perf_counter()
    if args.only in (None, "synthetic"):
        from tscam_widget.data import synthetic

        data = (synthetic(seed=0)[:2], synthetic(seed=1)[:2])
        for name in args.models.split(","):
            rows.append(run(name.strip(), "synthetic", data, settings("synthetic"), args.seed))
            print(rows[-1], flush=True)
    if args.only in (None, "gunpoint"):
        data = (load_gunpoint(args.data_dir, "train"), load_gunpoint(args.data_dir, "test"))
        rows.append(run("inceptiontime", "GunPoint", data, settings("gunpoint"), args.seed))
        print(rows[-1], flush=True)

    head = f"{'model':<14}{'data':<11}{'train/test':<11}{'settings':<24}"
    print(f"\n{head}{'train acc':>10}{'test acc':>10}{'seconds':>9}{'cpu s':>8}")
    for r in rows:
        print(
            f"{r['model']:<14}{r['data']:<11}{r['n']:<11}{r['settings']:<24}"
            f"{r['train_acc']:>10.3f}{r['test_acc']:>10.3f}{r['seconds']:>9.1f}{r['cpu_seconds']:>8.1f}"
        )
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
