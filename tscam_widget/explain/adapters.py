"""Turn a fastai/tsai ``Learner`` (duck-typed: nothing here imports fastai) or plain
``(model, X, y, classes)`` into ``(model, X float32 [N, C, T], y int64 [N], classes)``.

A Learner's samples go through its DataLoader's transforms (batch transforms included), so the
model is explained on exactly the inputs it sees in ``learn.get_preds``. (The ``timeseries``
compatible :func:`~tscam_widget.compat.get_batch` / ``show_cam`` read dataset items, as that
package did: no batch transforms.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .inputs import prepare_labels, to_plain_tensor


def _as_series(x: Any, arg: str) -> np.ndarray:
    if isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim in (2, 3):
        return x if x.ndim == 3 else x[:, None, :]  # no copy: a memmap stays on disk
    t = to_plain_tensor(x).detach().cpu()
    if t.ndim == 2:
        t = t[:, None, :]
    if t.ndim != 3:
        raise ValueError(f"{arg}: expected series [N, T] or [N, C, T], got shape {list(t.shape)}")
    return t.float().numpy().astype(np.float32)


def _dataset(dls: Any, ds_idx: int) -> Any:
    try:
        dl = dls[ds_idx]
        ds = getattr(dl, "dataset", None)
        if ds is not None:
            return ds
    except (IndexError, KeyError, TypeError):
        pass
    attr = {0: "train_ds", 1: "valid_ds"}.get(ds_idx)
    ds = getattr(dls, attr, None) if attr else None
    if ds is None:
        raise ValueError(f"ds_idx: dls has no dataset at index {ds_idx} (0: train, 1: valid)")
    return ds


def vocab_of(dls: Any, ds: Any) -> list[str] | None:
    """The class names (``vocab``) of a fastai ``DataLoaders`` or its dataset, as ``str``; the
    target's vocab for a multi-part vocab; None when neither has one."""
    for obj in (dls, ds):
        try:
            v = getattr(obj, "vocab", None)
        except Exception:  # noqa: BLE001 - fastai's GetAttr may raise anything
            v = None
        if v is not None:
            if isinstance(v, (list, tuple)) and v and isinstance(v[0], (list, tuple)):
                v = v[-1]  # fastai multi-vocab (one per item part): the target's
            try:
                return [str(c) for c in v]
            except TypeError:
                continue
    return None


def _label(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        v = to_plain_tensor(v)
        return v.item() if v.numel() == 1 else v.detach().cpu().numpy()
    return v


@dataclass
class LearnerData:
    """What a Learner's pipeline makes of the chosen samples.

    ``model``; ``x`` float32 ``[N, C, T]``: exactly what the model receives at inference (item
    and batch transforms of the DataLoader applied); ``y`` int64 ``[N]``; ``classes``;
    ``series`` float32 ``[N, C, T]``: the series in the user's units (the dataset items before
    the batch transforms), or ``x`` again where those differ in shape (``decoded`` False)."""

    model: nn.Module
    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    series: np.ndarray
    decoded: bool


def inference_dl(dls: Any, ds_idx: int) -> Any:
    """``dls[ds_idx]`` as ``Learner.get_preds`` iterates it: in order, no dropped last batch;
    random transforms set to their validation behaviour (no training-only augmentation)."""
    try:
        dl = dls[ds_idx]
    except (IndexError, KeyError, TypeError):
        return None
    if not hasattr(dl, "new") or not hasattr(dl, "__iter__"):
        return None
    dl = dl.new(shuffle=False, drop_last=False)
    for name in ("after_item", "before_batch", "after_batch"):
        pipe = getattr(dl, name, None)
        if pipe is not None and hasattr(pipe, "split_idx"):
            pipe.split_idx = 1
    return dl


def _series(t: Any) -> torch.Tensor:
    t = to_plain_tensor(t).detach()
    return t[:, None, :] if t.ndim == 2 else t


def learner_parts(learn: Any, dls: Any, ds_idx: int) -> tuple[nn.Module, Any, Any]:
    """``(model, dls, dataset ds_idx)`` of a Learner (``dls`` defaults to ``learn.dls``), with
    errors naming what is missing."""
    model = getattr(learn, "model", None)
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"learn: expected a fastai Learner with a torch .model, got {type(learn).__name__}"
        )
    if isinstance(dls, (np.ndarray, torch.Tensor)):
        raise TypeError(
            f"dls: expected fastai DataLoaders, got a {type(dls).__name__} of shape "
            f"{list(dls.shape)}; for arrays use as_inputs(learn.model, X, y)"
        )
    given = dls is not None
    dls = dls if given else getattr(learn, "dls", None)
    if dls is None:
        raise ValueError("dls: the learner has no .dls; pass dls=...")
    ds = _dataset(dls, ds_idx)
    if len(ds) == 0 and given:
        raise ValueError(f"dls: dataset {ds_idx} of the DataLoaders is empty")
    if len(ds) == 0:
        raise ValueError(
            f"learn: the Learner has no data (dataset {ds_idx} of its dls is empty, as after "
            f"load_learner()): pass fastai DataLoaders, CamWidget(learn, dls), or the model "
            f"with arrays, CamWidget(learn.model, X, y)"
        )
    return model, dls, ds


def learner_data(learn: Any, dls: Any = None, ds_idx: int = 1, idxs: Any = None) -> LearnerData:
    """Read the samples ``idxs`` (default: all) of dataset ``ds_idx`` (0 train, 1 valid) of ``dls``
    (default ``learn.dls``) as the Learner feeds them to its model: the DataLoader's item and
    batch transforms (tsai's ``TSStandardize``, fastai's ``Normalize`` ...) in order, without
    shuffling, dropped batches or training-only augmentation, so that the model's predictions
    on ``x`` equal ``learn.get_preds(ds_idx=ds_idx)``. Returns a :class:`LearnerData`."""
    model, dls, ds = learner_parts(learn, dls, ds_idx)
    n = len(ds)
    index = list(range(n)) if idxs is None else [int(i) for i in np.atleast_1d(np.asarray(idxs))]
    bad = [i for i in index if not -n <= i < n]
    if bad:
        raise IndexError(f"idxs: {bad[:5]} out of range for a dataset of {n} items")
    if not index:
        raise ValueError("idxs: expected at least one index, got none")
    index = [i % n for i in index]
    items, ys = [], []
    for i in index:
        item = ds[i]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ValueError(
                f"dls: expected dataset items (x, y), got {type(item).__name__} at index {i}"
            )
        xi = to_plain_tensor(item[0]).detach().cpu().float()
        items.append(xi[None] if xi.ndim == 1 else xi)
        ys.append(_label(item[1]))
    series = _as_series(torch.stack(items), "dls (x of the items)")
    x = _through_pipeline(dls, ds_idx, index, n)
    decoded = x is not None and x.shape == series.shape
    if x is None:
        x = series
    classes = vocab_of(dls, ds)
    labels = np.asarray(ys)
    if classes is None:
        classes = [str(c) for c in sorted(set(labels.tolist()))]
        if labels.dtype.kind in "iub":
            classes = [str(c) for c in range(int(labels.max()) + 1)]
        else:
            labels = labels.astype(str)
    y = prepare_labels(labels, len(index), arg="dls (labels)", classes=classes)
    return LearnerData(model, x, y, classes, series if decoded else x, decoded)


def _through_pipeline(dls: Any, ds_idx: int, index: list[int], n: int) -> np.ndarray | None:
    """The model inputs of items ``index``: batches of the inference DataLoader, read up to the
    last batch holding a wanted item. None when ``dls`` is not an iterable fastai DataLoaders."""
    dl = inference_dl(dls, ds_idx)
    if dl is None:
        return None
    wanted = {i: k for k, i in enumerate(index)}
    last = max(index)
    out: list[torch.Tensor | None] = [None] * len(index)
    seen = 0
    for b in dl:
        xb = _series(b[0] if isinstance(b, (tuple, list)) else b).float().cpu()
        for j in range(xb.shape[0]):
            k = wanted.get(seen + j)
            if k is not None:
                out[k] = xb[j]
        seen += xb.shape[0]
        if seen > last:
            break
    if seen != n and seen <= last:
        raise ValueError(
            f"dls: the DataLoader for ds_idx={ds_idx} gave {seen} items for a dataset of {n}"
        )
    for k, i in enumerate(index):  # an item asked for twice
        if out[k] is None:
            out[k] = out[index.index(i)]
    return _as_series(torch.stack([o for o in out if o is not None]), "dls (model inputs)")


def from_learner(
    learn: Any, dls: Any = None, ds_idx: int = 1, idxs: Any = None
) -> tuple[nn.Module, np.ndarray, np.ndarray, list[str]]:
    """Read a fastai/tsai ``Learner``: its ``model``, and the samples ``idxs`` (default: all) of
    dataset ``ds_idx`` (0 train, 1 valid) of ``dls`` (default ``learn.dls``), through the
    DataLoader's item and batch transforms (see :func:`learner_data`).

    Returns ``(model, X float32 [N, C, T] as the model receives it, y int64 [N], classes
    list[str])``; labels are class indices into ``classes`` (``dls.vocab``; if absent, the
    sorted distinct labels)."""
    d = learner_data(learn, dls, ds_idx, idxs)
    return d.model, d.x, d.y, d.classes


def as_inputs(
    model: nn.Module, X: Any, y: Any = None, classes: Any = None, *, check_range: bool = True
) -> tuple[nn.Module, np.ndarray, np.ndarray | None, list[str] | None]:
    """Plain inputs: ``X`` numpy/tensor ``[N, T]`` or ``[N, C, T]``; ``y`` int indices or string
    labels (mapped through ``classes``; if ``classes`` is None, string labels get their sorted
    distinct values as classes). ``check_range``: int labels must index ``classes`` (False:
    the caller checks both against the model's outputs, as the widget does).

    Returns ``(model, X float32 [N, C, T], y int64 [N] or None, classes list[str] or None)``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    Xn = _as_series(X, "X")
    cls = None if classes is None else [str(c) for c in classes]
    if y is None:
        return model, Xn, None, cls
    arr = np.asarray(to_plain_tensor(y).cpu().numpy() if isinstance(y, torch.Tensor) else y)
    if arr.dtype.kind in "USO" and cls is None:
        cls = sorted({str(v) for v in arr.ravel()})
    yi = prepare_labels(arr, Xn.shape[0], arg="y", classes=cls)
    if check_range and cls is not None and len(yi) and (yi.min() < 0 or yi.max() >= len(cls)):
        raise ValueError(
            f"y: expected class indices in 0..{len(cls) - 1} ({len(cls)} classes {cls}), got "
            f"{int(yi.min()) if yi.min() < 0 else int(yi.max())}"
        )
    return model, Xn, yi, cls
