"""tsai's model zoo through the explainer: default layers, layouts and localisation, as a table.

Every tsai classifier that takes ``(c_in, c_out, seq_len)`` is trained briefly (plain PyTorch,
Adam) on synthetic data with a planted motif (3 channels, 4 classes, the motif in one channel
at a random place; ``tscam_widget.data.synthetic``), then explained on the test draw with the
widget's default layers (the input, then the explainer's default selection). For each model the
table gives the test accuracy, the default layers with the layout each was read with, and the
localisation of Grad-CAM and HiResCAM: the share of correctly classified test samples whose map
peaks (argmax over time) inside the motif, at the deepest default layer and at the best default
layer. Chance is the motif's share of the series. Beside them, the best input attribution at
the ``input`` layer (same metric, on the first ``--attr-samples`` correctly classified test
samples): ``inputxgradient``, ``saliency``, ``integrated_gradients`` (16 steps), ``occlusion``
and ``shapley_segments`` (default windows, segments and samples); for a model without gradients
(tsai's ROCKET family, which has no CAM) the last two only.

    .venv/bin/python bench/zoo.py                 # all models, markdown table on stdout
    .venv/bin/python bench/zoo.py FCN TST --epochs 5
    .venv/bin/python bench/zoo.py --out bench/zoo.md
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
import warnings

import numpy as np
import torch

MODELS = [
    "FCN", "FCNPlus", "ResNet", "ResNetPlus", "ResCNN", "InceptionTime", "InceptionTimePlus",
    "XceptionTime", "XceptionTimePlus", "OmniScaleCNN", "XCM", "LSTM_FCN", "MLSTM_FCN",
    "GRU_FCN", "TCN", "mWDN", "TST", "TSTPlus", "TSiTPlus", "ConvTranPlus", "TSSequencerPlus",
    "RNNAttention", "TransformerRNNPlus", "gMLP", "LSTM", "GRU", "LSTMPlus", "TransformerModel",
    "MiniRocketPlus",
]  # fmt: skip
METHODS = ("gradcam", "hirescam")
ATTRIBUTIONS = (
    "inputxgradient",
    "saliency",
    "integrated_gradients",
    "occlusion",
    "shapley_segments",
)
ATTRIBUTION_KWARGS = {"integrated_gradients": {"steps": 16}}


def build(name: str, c_in: int, c_out: int, seq_len: int) -> torch.nn.Module:
    """A tsai model by name, with ``seq_len`` where its constructor takes it."""
    import tsai.models.all as zoo

    cls = getattr(zoo, name)
    try:
        return cls(c_in, c_out, seq_len=seq_len)
    except TypeError:
        params = inspect.signature(cls.__init__).parameters
        if "seq_len" in params:
            raise
        return cls(c_in, c_out)


def train(model: torch.nn.Module, X: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> float:
    """Adam, cross-entropy, batch 64; returns the seconds spent."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=3e-3, total_steps=epochs * -(-len(X) // 64)
    )
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    t0 = time.perf_counter()
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(X)).split(64):
            loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return time.perf_counter() - t0


def localisation(maps: np.ndarray, mask: np.ndarray) -> float:
    """Share of rows of ``maps`` ``[N, T]`` whose argmax lies inside ``mask`` ``[N, T]``."""
    if len(maps) == 0:
        return float("nan")
    peak = maps.argmax(1)
    return float(mask[np.arange(len(maps)), peak].mean())


def short(name: str) -> str:
    return name if len(name) <= 28 else "…" + name[-27:]


def attribution_localisation(
    model: torch.nn.Module, methods: list[str], X: np.ndarray, mask: np.ndarray
) -> dict[str, float | str]:
    """Per input attribution method, the localisation of its ``input`` maps of ``X`` ``[n, C, T]``
    (correctly classified samples) against ``mask`` ``[n, T]``, or the error it raised."""
    from tscam_widget.explain import Explainer

    ex = Explainer(model, layers="input")
    out: dict[str, float | str] = {}
    for m in methods:
        try:
            e = ex.explain(X, methods=[m], batch_size=64, **ATTRIBUTION_KWARGS.get(m, {}))
        except Exception as err:  # noqa: BLE001 - reported in the table
            out[m] = f"{type(err).__name__}: {err}"
            continue
        out[m] = localisation(e.get(m, "input"), mask)
    return out


def best_attribution(loc: dict[str, float | str]) -> tuple[str, float] | None:
    """The method with the highest localisation, or None when none has one."""
    vals = {m: v for m, v in loc.items() if isinstance(v, float) and np.isfinite(v)}
    if not vals:
        return None
    m = max(vals, key=lambda k: vals[k])
    return m, vals[m]


def run_one(name: str, data: tuple, epochs: int, attr_samples: int) -> dict:
    from tscam_widget.explain import Explainer
    from tscam_widget.explain.nograd import perturbation_methods

    Xtr, ytr, Xte, yte, mask = data
    row: dict = {"model": name}
    try:
        model = build(name, Xtr.shape[1], int(ytr.max()) + 1, Xtr.shape[-1])
    except Exception as e:  # noqa: BLE001 - reported in the table
        row["error"] = f"does not build: {type(e).__name__}: {e}"
        return row
    ex = Explainer(model, with_input=True)
    try:
        ex.resolve(Xte[:1])
    except ValueError as e:
        row["error"] = str(e)
        return row
    row["train_s"] = train(model, Xtr, ytr, epochs, seed=0)
    row["layers"] = ex.layers
    row["layouts"] = ex.layouts
    row["gradients"] = ex.input_differentiable
    if ex.input_differentiable:
        e = ex.explain(Xte, methods=list(METHODS), batch_size=100)
        ok = e.pred == yte
        row["loc"] = {
            m: [localisation(e.get(m, layer)[ok], mask[ok]) for layer in e.layers] for m in METHODS
        }
        attrs = list(ATTRIBUTIONS)
    else:
        ok = ex.probs(Xte).argmax(1) == yte
        attrs = perturbation_methods()
    row["acc"] = float(ok.mean())
    idx = np.flatnonzero(ok)[:attr_samples]
    t0 = time.perf_counter()
    row["attr"] = attribution_localisation(model, attrs, Xte[idx], mask[idx]) if len(idx) else {}
    row["attr_s"] = time.perf_counter() - t0
    return row


def table(rows: list[dict], chance: float, epochs: int, attr_samples: int) -> str:
    from tscam_widget.explain.nograd import perturbation_methods

    free = perturbation_methods()
    out = [
        f"Synthetic motif data, 3 channels x 128 steps, 4 classes; {epochs} epochs; localisation "
        f"= share of correct test samples whose map peaks inside the motif (chance "
        f"{chance:.2f}); deepest = last default layer, best = best default layer; best input "
        f"attribution = the best of {', '.join(ATTRIBUTIONS)} at the input (integrated_gradients "
        f"with 16 steps; only {' and '.join(free)} for a model without gradients), same "
        f"localisation on the first {attr_samples} correct test samples.",
        "",
        "| model | acc | default layers (layout) | Grad-CAM deepest | HiResCAM deepest | "
        "best Grad-CAM (layer) | best HiResCAM (layer) | best input attribution (method) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['model']} | – | not supported: {r['error']} | | | | | |")
            continue
        lays = ", ".join(
            f"`{short(n)}`" + ("" if r["layouts"][n] == "NCT" else f" ({r['layouts'][n]})")
            for n in r["layers"]
        )
        cells = [r["model"], f"{r['acc']:.2f}", f"{len(r['layers'])}: {lays}"]
        if r["gradients"]:
            for m in METHODS:
                cells.append(f"{r['loc'][m][-1]:.2f}")
            for m in METHODS:
                v = np.nan_to_num(np.asarray(r["loc"][m]), nan=-1)
                b = int(v.argmax())
                cells.append(f"{v[b]:.2f} (`{short(r['layers'][b])}`)")
        else:
            cells += ["– (no gradient)"] * (2 * len(METHODS))
        best = best_attribution(r["attr"])
        cells.append("–" if best is None else f"{best[1]:.2f} (`{best[0]}`)")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def summary(r: dict) -> str:
    """One line of progress for a model's row."""
    if "error" in r:
        return r["error"]
    cams = (
        f"gradcam deepest {r['loc']['gradcam'][-1]:.2f}, hirescam deepest "
        f"{r['loc']['hirescam'][-1]:.2f}"
        if r["gradients"]
        else "no gradient"
    )
    attrs = ", ".join(
        f"{m} {v:.2f}" if isinstance(v, float) else f"{m} failed ({v})"
        for m, v in r["attr"].items()
    )
    return (
        f"acc {r['acc']:.2f}, {len(r['layers'])} layers, {cams}; input attributions "
        f"({r['attr_s']:.0f} s): {attrs}"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", default=MODELS, help="tsai model names (default: all)")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--n-train", type=int, default=600)
    p.add_argument("--out", help="also write the markdown table to this file")
    p.add_argument(
        "--attr-samples",
        type=int,
        default=40,
        help="correct test samples the input attributions are computed on (default 40)",
    )
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    from tscam_widget.data import synthetic

    Xtr, ytr_s, _ = synthetic(n=args.n_train, length=128, n_channels=3, seed=0)
    Xte, yte_s, mask = synthetic(n=200, length=128, n_channels=3, seed=1)
    classes = sorted(set(ytr_s.tolist()))
    ytr = np.array([classes.index(v) for v in ytr_s], dtype=np.int64)
    yte = np.array([classes.index(v) for v in yte_s], dtype=np.int64)
    data = (Xtr, ytr, Xte, yte, mask)
    rows = []
    for name in args.models:
        t0 = time.perf_counter()
        r = run_one(name, data, args.epochs, args.attr_samples)
        rows.append(r)
        print(f"# {name}: {summary(r)} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    text = table(rows, float(mask.mean()), args.epochs, args.attr_samples)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
