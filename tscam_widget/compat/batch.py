"""Batches and items as the ``timeseries`` package handled them.

An *item* is ``(x, y)`` with ``x`` a series ``[C, T]`` (or ``[T]``) and ``y`` a class index; a
*batch* is ``(xb [N, C, T], yb [N])`` (fastai ``TensorBase`` / tsai ``TSTensor`` or plain
tensors/arrays). ``show_cam`` accepts a batch, a list of items or one item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tscam_widget.explain.inputs import to_plain_tensor


def noop(x: Any = None, *args: Any, **kwargs: Any) -> Any:
    """Return ``x`` unchanged (fastai's ``noop``); the default label decoder ``i2o``."""
    return x


def _is_pair(o: Any) -> bool:
    return isinstance(o, (tuple, list)) and len(o) == 2


def _items_of(dataset: Any) -> Any:
    """An indexable of ``(x, y)`` items: ``dataset`` itself, or ``zip`` of an ``(X, y)`` pair."""
    if isinstance(dataset, tuple) and len(dataset) == 2 and not np.ndim(dataset[1]) == 0:
        X, y = dataset
        if len(X) != len(y):
            raise ValueError(f"dataset: (X, y) with {len(X)} series but {len(y)} labels")
        return _Pairs(X, y)
    if not hasattr(dataset, "__getitem__"):
        raise TypeError(
            f"dataset: expected a dataset of (x, y) items or an (X, y) pair, got "
            f"{type(dataset).__name__}"
        )
    return dataset


@dataclass
class _Pairs:
    X: Any
    y: Any

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        return self.X[i], self.y[i]

    def __len__(self) -> int:
        return len(self.X)


def _check_idxs(idxs: Any) -> list[int]:
    if isinstance(idxs, (int, np.integer)):
        return [int(idxs)]
    try:
        out = [int(i) for i in idxs]
    except Exception as e:  # noqa: BLE001
        raise TypeError(f"idxs: expected a list of integer indices, got {idxs!r}") from e
    if not out:
        raise ValueError("idxs: expected at least one index, got []")
    return out


def get_list_items(dataset: Any, idxs: Sequence[int]) -> list[tuple[Any, Any]]:
    """The items ``[(x, y), ...]`` of ``dataset`` at ``idxs`` (a fastai dataset or ``(X, y)``)."""
    items = _items_of(dataset)
    return [tuple(items[i]) for i in _check_idxs(idxs)]


def batchify(dataset: Any, idxs: Sequence[int]) -> tuple[list[Any], list[Any]]:
    """``(list of x, list of y)`` for the items of ``dataset`` at ``idxs`` (the ``timeseries``
    package's ``batchify``)."""
    items = get_list_items(dataset, idxs)
    return [it[0] for it in items], [it[1] for it in items]


def itemize(batch: Any) -> list[tuple[Any, Any]]:
    """Split a batch ``(xb, yb)`` (tensors/arrays with a leading sample axis, or lists) into a list
    of items ``[(x, y), ...]``."""
    if not _is_pair(batch):
        raise TypeError(f"batch: expected a pair (xb, yb), got {type(batch).__name__}")
    xs, ys = batch
    if len(xs) != len(ys):
        raise ValueError(f"batch: {len(xs)} series but {len(ys)} labels")
    return [(x, y) for x, y in zip(xs, ys)]


def _as_series_tensor(x: Any) -> torch.Tensor:
    try:
        t = to_plain_tensor(x)
    except Exception as e:  # noqa: BLE001
        raise TypeError(
            f"batch: expected series as tensors or arrays, got {type(x).__name__}"
        ) from e
    return t.detach().cpu()


def _tensor(a: Any) -> torch.Tensor:
    return a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))


def get_batch(dataset: Any, idxs: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch ``(xb [N, C, T], yb [N])`` of the items of ``dataset`` at ``idxs``.

    ``dataset``: a fastai/tsai dataset (items ``(x, y)``) or an ``(X, y)`` pair of arrays. The
    tensors keep their fastai/tsai types where ``torch.stack`` keeps them, on the CPU.
    Unlike the ``timeseries`` package (a ``TfmdDL`` with ``bs=2``), every index is returned.
    """
    items = get_list_items(dataset, idxs)
    xs = [_tensor(it[0]) for it in items]
    ys = [_tensor(it[1]) for it in items]
    shapes = {tuple(x.shape) for x in xs}
    if len(shapes) > 1:
        raise ValueError(f"dataset: the series at {list(idxs)} differ in shape: {sorted(shapes)}")
    return torch.stack([x.cpu() for x in xs]), torch.stack([y.cpu() for y in ys])


@dataclass
class Items:
    """Normalised input of ``show_cam``: ``x`` float32 ``[N, C, T]``, ``y`` int64 ``[N]`` class
    indices and ``labels`` (the original ``y`` objects, for ``i2o``)."""

    x: torch.Tensor
    y: np.ndarray
    labels: list[Any]


def _class_index(y: Any) -> int:
    a = np.asarray(to_plain_tensor(y).cpu().numpy() if isinstance(y, torch.Tensor) else y)
    if a.size != 1:
        raise ValueError(f"batch: expected one class index per series, got shape {list(a.shape)}")
    v = a.reshape(()).item()
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(
            f"batch: expected y to be an integer class index (use the dataset's encoded labels), "
            f"got {v!r}"
        )
    if float(v) != int(v):
        raise ValueError(f"batch: expected y to be an integer class index, got {v!r}")
    return int(v)


def to_items(batch: Any) -> Items:
    """Normalise the three ``show_cam`` input forms.

    - a batch ``(xb [N, C, T] or [N, T], yb [N])`` (e.g. ``dls.one_batch()``, ``get_batch``),
      or ``(list of x, list of y)`` (``batchify``);
    - a list of items ``[(x, y), ...]`` (``get_list_items``, ``[dset[i] for i in idxs]``);
    - one item ``(x [C, T] or [T], y)`` with a scalar ``y``.
    """
    if isinstance(batch, list):
        if not batch:
            raise ValueError("batch: expected at least one (x, y) item, got []")
        bad = [i for i, it in enumerate(batch) if not _is_pair(it)]
        if bad:
            raise TypeError(f"batch: a list must hold (x, y) items; entry {bad[0]} is not a pair")
        pairs = [(it[0], it[1]) for it in batch]
    elif _is_pair(batch):
        xs, ys = batch
        if isinstance(xs, (list, tuple)):
            pairs = itemize((list(xs), list(ys)))
        else:
            xt = _as_series_tensor(xs)
            y_dims = np.ndim(ys.detach().cpu().numpy() if isinstance(ys, torch.Tensor) else ys)
            if y_dims == 0:  # one item
                if xt.ndim not in (1, 2):
                    raise ValueError(
                        f"batch: one item (x, y) needs x [T] or [C, T], got shape {list(xt.shape)}"
                    )
                pairs = [(xt, ys)]
            elif xt.ndim in (2, 3):  # a batch [N, T] / [N, C, T]
                if len(ys) != xt.shape[0]:
                    raise ValueError(f"batch: {xt.shape[0]} series but {len(ys)} labels")
                pairs = [(xt[i], ys[i]) for i in range(xt.shape[0])]
            else:
                raise ValueError(
                    f"batch: expected xb [N, C, T] or [N, T], got shape {list(xt.shape)}"
                )
    else:
        raise TypeError(
            "batch: expected a batch (xb, yb), a list of (x, y) items or one (x, y) item, got "
            f"{type(batch).__name__}"
        )
    xs_t = []
    for x, _ in pairs:
        t = _as_series_tensor(x)
        if t.ndim == 1:
            t = t[None]
        if t.ndim != 2:
            raise ValueError(f"batch: expected each series as [C, T] or [T], got {list(t.shape)}")
        xs_t.append(t.float())
    shapes = {tuple(t.shape) for t in xs_t}
    if len(shapes) > 1:
        raise ValueError(f"batch: all series must share one shape [C, T], got {sorted(shapes)}")
    return Items(
        x=torch.stack(xs_t),
        y=np.array([_class_index(y) for _, y in pairs], dtype=np.int64),
        labels=[y for _, y in pairs],
    )


lbl_dict: dict[int, str] = {0: "Gun", 1: "Point"}
"""The ``timeseries`` package's example label dictionary (GunPoint)."""


def i2o(y: Any) -> Any:
    """The ``timeseries`` package's example decoder: ``lbl_dict[y]`` for a class index ``y``
    (int, numpy or tensor scalar). Write your own for other datasets, e.g.
    ``def i2o(y): return names[dls.vocab[int(y)]]``."""
    return lbl_dict[_class_index(y)]
