"""A small, deterministic training loop (Adam + one-cycle, cross-entropy) and prediction helpers.

Inputs are used exactly as given (no standardisation): scale the data yourself if it needs it.
Works with any ``nn.Module`` that maps ``[N, C, T]`` to logits ``[N, K]``; runs on the model's
device (``model.device`` when the model has one, else the device of its first parameter).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: Train settings that reach the figures in bench/train_bench.py (see the report there):
#: ``synthetic`` for ``tscam_widget.data.synthetic`` data, ``gunpoint`` for UCR GunPoint
#: (InceptionTime). Use as ``train(model, X, y, **PRESETS["gunpoint"])``.
PRESETS: dict[str, dict[str, Any]] = {
    "synthetic": dict(epochs=5, lr=1e-2, batch_size=32),
    "gunpoint": dict(epochs=40, lr=1e-2, batch_size=16),
}

DEFAULT_EPOCHS = 5
DEFAULT_LR = 1e-2
DEFAULT_BATCH_SIZE = 32


def model_device(model: nn.Module) -> torch.device:
    """The device to run ``model`` on: ``model.device`` if it is one, else its first parameter's
    (CPU for a model without parameters)."""
    dev = getattr(model, "device", None)
    if isinstance(dev, torch.device):
        return dev
    if isinstance(dev, str):
        return torch.device(dev)
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def as_series_tensor(X: Any, name: str = "X") -> torch.Tensor:
    """Return ``X`` (numpy array or tensor ``[N, C, T]``) as a float32 CPU tensor; raises
    ``ValueError`` naming ``name`` for another shape, a non-numeric dtype or non-finite values."""
    if isinstance(X, torch.Tensor):
        t = X.detach().cpu()
    elif isinstance(X, np.ndarray):
        if X.dtype.kind not in "biuf":
            raise ValueError(f"{name} must hold numbers, got dtype {X.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(X))
    else:
        raise ValueError(f"{name} must be a numpy array or torch tensor [N, C, T], got {type(X)}")
    if t.ndim != 3:
        raise ValueError(
            f"{name} must have 3 dims [N, C, T] (samples, channels, time), got shape "
            f"{tuple(t.shape)}"
        )
    if t.is_complex():
        raise ValueError(f"{name} must be real-valued, got dtype {t.dtype}")
    t = t.to(torch.float32)
    if t.numel() and not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf values; fill or drop them first")
    return t


def encode_labels(
    y: Any, classes: Sequence[Any] | None = None, name: str = "y"
) -> tuple[np.ndarray, list[Any] | None]:
    """Map labels to class indices.

    String labels go through ``classes`` (default: the sorted unique labels of ``y``); integer
    labels are taken as class indices already (``classes`` is then only checked against).
    Returns ``(indices int64 [N], classes)`` where ``classes`` is a list, or None for integer
    labels given without ``classes``.
    """
    arr = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per sample), got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        idx = arr.astype(np.int64)
        if idx.size and idx.min() < 0:
            raise ValueError(f"{name} holds negative class indices (min {idx.min()})")
        if classes is not None and idx.size and idx.max() >= len(classes):
            raise ValueError(
                f"{name} holds class index {idx.max()} but classes has only {len(classes)} entries"
            )
        return idx, None if classes is None else list(classes)
    if arr.dtype.kind in "USO":
        labels = arr.astype(str)
        if classes is None:
            classes = sorted(set(labels.tolist()))
        lookup = {str(c): i for i, c in enumerate(classes)}
        unknown = sorted(set(labels.tolist()) - set(lookup))
        if unknown:
            raise ValueError(
                f"{name} holds labels {unknown[:5]} that are not in classes {list(classes)}"
            )
        return np.array([lookup[v] for v in labels], dtype=np.int64), list(classes)
    raise ValueError(f"{name} must hold str labels or int class indices, got dtype {arr.dtype}")


def _check_count(X: torch.Tensor, y: np.ndarray, xname: str, yname: str) -> None:
    if len(X) != len(y):
        raise ValueError(f"{xname} has {len(X)} samples but {yname} has {len(y)} labels")


def _check_positive(value: Any, name: str, kind: type) -> None:
    ok = isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
    if not ok or value <= 0 or (kind is float and not math.isfinite(value)):
        raise ValueError(f"{name} must be a positive {kind.__name__}, got {value!r}")


@torch.no_grad()
def _logits(model: nn.Module, X: torch.Tensor, batch_size: int) -> torch.Tensor:
    dev = model_device(model)
    was_training = model.training
    model.eval()
    try:
        out = [
            model(X[i : i + batch_size].to(dev)).float().cpu() for i in range(0, len(X), batch_size)
        ]
    finally:
        model.train(was_training)
    if not out:
        raise ValueError("X must hold at least one sample")
    return torch.cat(out)


def predict(model: nn.Module, X: Any, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (softmax of the logits) of ``X [N, C, T]`` in eval mode, batch by
    batch on the model's device; returns float32 ``[N, K]``. The model's train/eval mode is
    restored afterwards."""
    _check_positive(batch_size, "batch_size", int)
    Xt = as_series_tensor(X, "X")
    return torch.softmax(_logits(model, Xt, batch_size), dim=1).numpy()


def accuracy(
    model: nn.Module, X: Any, y: Any, classes: Sequence[Any] | None = None, batch_size: int = 256
) -> float:
    """Fraction (0..1) of samples of ``X [N, C, T]`` whose arg-max prediction equals ``y``.

    ``y`` holds str labels (then ``classes``, the list the model's outputs stand for, is
    required) or int class indices.
    """
    Xt = as_series_tensor(X, "X")
    arr = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y)
    if arr.dtype.kind in "USO" and classes is None:
        raise ValueError("classes is required when y holds str labels (e.g. history['classes'])")
    idx, _ = encode_labels(arr, classes, "y")
    _check_count(Xt, idx, "X", "y")
    pred = _logits(model, Xt, batch_size).argmax(1).numpy()
    return float((pred == idx).mean())


def train(
    model: nn.Module,
    X: Any,
    y: Any,
    epochs: int = DEFAULT_EPOCHS,
    lr: float = DEFAULT_LR,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    X_valid: Any = None,
    y_valid: Any = None,
    progress: bool = False,
    classes: Sequence[Any] | None = None,
    weight_decay: float = 0.0,
    on_epoch: Callable[[int, dict[str, Any]], Any] | None = None,
) -> dict[str, Any]:
    """Train ``model`` in place with Adam, a one-cycle schedule peaking at ``lr`` and
    cross-entropy; deterministic for a given ``seed`` (``torch.manual_seed(seed)`` and a seeded
    generator for the shuffling). The data are used as given (no standardisation).

    ``y`` holds str labels (mapped through ``classes``, default their sorted unique values) or
    int class indices. A trailing batch of a single sample is skipped in each epoch (BatchNorm).
    The model is left in eval mode. ``on_epoch(k, history)`` is called after each epoch (k from
    1, the history so far, the model in eval mode), e.g. to record a snapshot of its maps.

    Returns a history dict: ``loss`` and ``accuracy`` (per epoch, the running mean over the
    epoch's training batches, in train mode), ``valid_accuracy`` (per epoch, eval mode; only when
    ``X_valid``/``y_valid`` are given), ``classes`` (list, the label of each output; indices
    ``0..K-1`` for int labels), ``seconds`` (wall-clock float) and the settings used.
    """
    _check_positive(epochs, "epochs", int)
    _check_positive(lr, "lr", float)
    _check_positive(batch_size, "batch_size", int)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    if (X_valid is None) != (y_valid is None):
        raise ValueError("X_valid and y_valid must be given together")

    Xt = as_series_tensor(X, "X")
    idx, classes = encode_labels(y, classes, "y")
    _check_count(Xt, idx, "X", "y")
    if len(Xt) < 2:
        raise ValueError(f"X must hold at least 2 samples to train, got {len(Xt)}")

    dev = model_device(model)
    n_out = int(_logits(model, Xt[:1], 1).shape[1])
    if classes is None:
        classes = list(range(n_out))
    if len(classes) > n_out or idx.max() >= n_out:
        raise ValueError(
            f"y has {max(len(classes), int(idx.max()) + 1)} classes but the model outputs "
            f"{n_out} logits"
        )
    valid = None
    if X_valid is not None:
        Xv = as_series_tensor(X_valid, "X_valid")
        iv, _ = encode_labels(y_valid, classes, "y_valid")
        _check_count(Xv, iv, "X_valid", "y_valid")
        valid = (Xv, iv)

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    n = len(Xt)
    n_batches = math.ceil(n / batch_size)
    if n_batches > 1 and n % batch_size == 1:
        n_batches -= 1
    Xd, yd = Xt.to(dev), torch.from_numpy(idx).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * n_batches)

    history: dict[str, Any] = {"loss": [], "accuracy": []}
    if valid is not None:
        history["valid_accuracy"] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc="train", unit="epoch")
    start = time.perf_counter()
    try:
        for _ in range(epochs):
            model.train()
            perm = torch.randperm(n, generator=gen).to(dev)
            total_loss, correct, seen = 0.0, 0, 0
            for b in range(n_batches):
                sel = perm[b * batch_size : (b + 1) * batch_size]
                logits = model(Xd[sel])
                loss = F.cross_entropy(logits, yd[sel])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total_loss += float(loss.detach()) * len(sel)
                correct += int((logits.detach().argmax(1) == yd[sel]).sum())
                seen += len(sel)
            history["loss"].append(total_loss / seen)
            history["accuracy"].append(correct / seen)
            if valid is not None:
                history["valid_accuracy"].append(accuracy(model, valid[0], valid[1]))
            if bar is not None:
                post = {"loss": f"{history['loss'][-1]:.4f}", "acc": f"{correct / seen:.3f}"}
                if valid is not None:
                    post["valid"] = f"{history['valid_accuracy'][-1]:.3f}"
                bar.set_postfix(post)
                bar.update(1)
            if on_epoch is not None:
                model.eval()
                on_epoch(len(history["loss"]), history)
    finally:
        if bar is not None:
            bar.close()
        model.eval()
    history.update(
        classes=list(classes),
        seconds=time.perf_counter() - start,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
    )
    return history
