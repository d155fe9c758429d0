"""Series read on demand: a torch ``Dataset`` or a fastai/tsai ``DataLoaders`` larger than memory
seen by the widget as an array ``[N, C, T]`` whose rows are read only when asked for (the visible
samples, the batch being computed).

:class:`LazySeries` answers what the widget asks of its data (``shape``, ``len``, ``X[i]``,
``X[idx]``, ``X[a:b]``) through a ``read(idx)`` function, with a small cache of recent rows (the
sample being drawn is read once, not once per trait). Reads are serialised by a lock: a dataset's
``__getitem__`` (or a fastai pipeline) need not be thread-safe, and the background worker reads
while the kernel serves the user. ``items_read`` counts the rows read from the source.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

#: ``read(idx int64 [k]) -> (float32 [k, C, T], labels [k] or None)``
Reader = Callable[[np.ndarray], tuple[np.ndarray, Any]]


class LazySeries:
    """An array-like float32 ``[N, C, T]`` whose rows come from ``read`` when indexed.

    ``on_labels(idx, labels)`` (optional) receives the labels that come with the rows read (a
    dataset's ``(x, y)`` items), so labels fill in as the data is read.
    """

    ndim = 3
    lazy = True
    dtype = np.dtype(np.float32)

    def __init__(
        self,
        n: int,
        read: Reader,
        first: np.ndarray,
        *,
        cache_mb: float = 8,
        on_labels: Callable[[np.ndarray, Any], None] | None = None,
        what: str = "dataset",
        lock: Any = None,
    ) -> None:
        first = np.asarray(first, np.float32)
        if first.ndim != 2:
            raise ValueError(f"{what}: expected items [C, T] or [T], got shape {list(first.shape)}")
        self.shape = (int(n), int(first.shape[0]), int(first.shape[1]))
        self._read = read
        self._lock = lock if lock is not None else threading.RLock()
        self._rows: OrderedDict[int, np.ndarray] = OrderedDict()
        self._max_rows = max(1, int(cache_mb * 1e6 // max(1, first.nbytes)))
        self._rows[0] = first
        self.on_labels = on_labels
        self.what = what
        self.items_read = 1  # item 0, read to learn the shape

    @property
    def nbytes(self) -> int:
        """Bytes of the whole series were it in memory (it never is)."""
        n, c, t = self.shape
        return 4 * n * c * t

    @property
    def size(self) -> int:
        n, c, t = self.shape
        return n * c * t

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(
            f"{self.what}: the widget reads this data lazily and never loads all of it; index "
            "rows instead (X[i], X[idx])"
        )

    def _index(self, key: Any) -> tuple[np.ndarray, bool]:
        n = self.shape[0]
        if isinstance(key, (int, np.integer)):
            i = int(key)
            if not -n <= i < n:
                raise IndexError(f"index {i} out of range for {n} samples")
            return np.array([i % n], np.int64), True
        if isinstance(key, slice):
            return np.arange(n, dtype=np.int64)[key], False
        idx = np.asarray(key)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).reshape(-1)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"index out of range for {n} samples")
        return idx % n if idx.size else idx, False

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple):
            head, rest = key[0], key[1:]
            return self[head][(slice(None), *rest) if not _is_int(head) else rest]
        idx, single = self._index(key)
        out = self.rows(idx)
        return out[0] if single else out

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """float32 ``[len(idx), C, T]``: rows ``idx`` (cached ones without reading)."""
        _, c, t = self.shape
        out = np.empty((len(idx), c, t), np.float32)
        with self._lock:
            need = []
            for k, i in enumerate(idx.tolist()):
                row = self._rows.get(i)
                if row is None:
                    need.append(k)
                else:
                    self._rows.move_to_end(i)
                    out[k] = row
            if need:
                want = np.unique(idx[need])
                got, labels = self._read(want)
                got = np.asarray(got, np.float32)
                if got.shape != (len(want), c, t):
                    raise ValueError(
                        f"{self.what}: expected items of shape {[c, t]} like item 0, got "
                        f"{list(got.shape[1:])} (items {want[:5].tolist()}...)"
                    )
                self.items_read += len(want)
                if labels is not None and self.on_labels is not None:
                    self.on_labels(want, labels)
                pos = {int(i): j for j, i in enumerate(want.tolist())}
                for k in need:
                    out[k] = got[pos[int(idx[k])]]
                if len(want) <= self._max_rows:  # a background batch is not kept
                    for j, i in enumerate(want.tolist()):
                        self._rows[i] = got[j]
                        if len(self._rows) > self._max_rows:
                            self._rows.popitem(last=False)
        return out


def _is_int(key: Any) -> bool:
    return isinstance(key, (int, np.integer))


def is_dataset(obj: Any) -> bool:
    """A torch ``Dataset`` (map-style: ``__getitem__`` and ``__len__``)."""
    try:
        from torch.utils.data import Dataset
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return isinstance(obj, Dataset) and hasattr(obj, "__len__") and hasattr(obj, "__getitem__")


def _item_array(x: Any, i: int, what: str) -> np.ndarray:
    from tscam_widget.explain.inputs import to_plain_tensor

    if isinstance(x, np.ndarray):
        a = x.astype(np.float32, copy=False)
    else:
        try:
            a = to_plain_tensor(x).detach().float().cpu().numpy()  # to numpy: the frontend's
        except Exception:  # noqa: BLE001 - anything array-like
            try:
                a = np.asarray(x, np.float32)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{what}: expected item {i} to be an array or tensor [C, T] or [T] (or a "
                    f"tuple (x, y) of them), got {type(x).__name__}"
                ) from None
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"{what}: expected item {i} as [C, T] or [T], got shape {list(a.shape)}")
    return a


def _item_label(v: Any) -> Any:
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    v = np.asarray(v)
    return v.item() if v.size == 1 else v


def dataset_reader(ds: Any, what: str = "X") -> Callable[[np.ndarray], tuple[np.ndarray, Any]]:
    """``read(idx)`` of a torch Dataset yielding ``(x, y, ...)`` or ``x``: ``(x [k, C, T], y [k]
    or None)``."""

    def read(idx: np.ndarray) -> tuple[np.ndarray, Any]:
        xs, ys = [], []
        for i in idx.tolist():
            item = ds[int(i)]
            if isinstance(item, (tuple, list)):
                if not item:
                    raise ValueError(f"{what}: dataset item {i} is empty")
                xs.append(_item_array(item[0], i, what))
                ys.append(_item_label(item[1]) if len(item) >= 2 else None)
            else:
                xs.append(_item_array(item, i, what))
                ys.append(None)
        for i, a in zip(idx.tolist(), xs):
            if a.shape != xs[0].shape:
                raise ValueError(
                    f"{what}: item {i} has shape {list(a.shape)}, item {int(idx[0])} "
                    f"{list(xs[0].shape)}; expected items of one shape [C, T]"
                )
        labels = None if any(y is None for y in ys) else ys
        return np.stack(xs), labels

    return read


def label_sink(y: np.ndarray, classes: list[str] | None) -> Callable[[np.ndarray, Any], None]:
    """``on_labels`` writing labels read with the data into ``y`` (int32 ``[N]``, -1 unknown):
    class indices as they are, string labels through ``classes``."""
    index = {str(c): i for i, c in enumerate(classes or [])}

    def put(idx: np.ndarray, labels: Any) -> None:
        for i, v in zip(idx.tolist(), labels):
            v = np.asarray(v)
            if v.size != 1:
                continue
            v = v.item()
            if isinstance(v, (str, bytes)):
                y[i] = index.get(v if isinstance(v, str) else v.decode(), -1)
            elif isinstance(v, (int, np.integer)) or (isinstance(v, float) and v == int(v)):
                y[i] = int(v)

    return put


# ---- fastai / tsai DataLoaders ---------------------------------------------------------------
class LearnerReader:
    """Reads items ``index[idx]`` of dataset ``ds_idx`` of a fastai/tsai ``DataLoaders`` as the
    Learner feeds them to its model: item transforms (fastai ``do_item``), collation
    (``do_batch``; tsai reads the dataset by indices there), the batch transforms on the
    DataLoader's device (``after_batch``: tsai's ``TSStandardize``, fastai's ``Normalize`` ...),
    split_idx 1 (no training-only augmentation); never iterating the DataLoader, so only the
    items asked for are read. ``series(idx)`` gives the same items before the batch transforms
    (the user's units)."""

    def __init__(self, dls: Any, ds_idx: int, index: np.ndarray) -> None:
        from tscam_widget.explain.adapters import inference_dl

        dl = inference_dl(dls, ds_idx)
        if dl is None or not hasattr(dl, "do_batch") or not hasattr(dl, "after_batch"):
            raise TypeError("dls: expected fastai/tsai DataLoaders (with do_batch, after_batch)")
        with contextlib.suppress(Exception):
            dl.num_workers = 0
        # tsai's NumpyDataLoader.create_batch reads `dataset[b]` by the indices b only when
        # shuffling (else a contiguous slice): this private copy is never iterated
        dl.shuffle = True
        self.dl = dl
        self.index = np.asarray(index, np.int64)
        self._kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        #: ``on_labels(idx, labels)``: the labels of the items read (positions in ``index``)
        self.on_labels: Callable[[np.ndarray, Any], None] | None = None

    def _batch(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
        from tscam_widget.explain.inputs import to_plain_tensor

        dl = self.dl
        items = [dl.do_item(int(i)) for i in self.index[idx]]
        raw = dl.do_batch(items)
        xb = raw[0] if isinstance(raw, (tuple, list)) else raw
        series = _as3d(np.array(to_plain_tensor(xb).detach().float().cpu().numpy()))
        yb = raw[1] if isinstance(raw, (tuple, list)) and len(raw) > 1 else None
        device = getattr(dl, "device", None)
        if device is not None:
            from fastai.torch_core import to_device

            raw = to_device(raw, device)
        b = dl.after_batch(raw)
        xi = b[0] if isinstance(b, (tuple, list)) else b
        x = _as3d(to_plain_tensor(xi).detach().float().cpu().numpy())  # to numpy: frontend's
        labels = None if yb is None else list(np.asarray(_item_label(yb)).reshape(-1))
        if labels is not None and self.on_labels is not None:
            self.on_labels(idx, labels)
        return x, series, None

    def _get(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
        keys = idx.tolist()
        if all(i in self._kept for i in keys):  # drawn: its input and its series, one read
            return (
                np.stack([self._kept[i][0] for i in keys]),
                np.stack([self._kept[i][1] for i in keys]),
                None,
            )
        x, series, labels = self._batch(idx)
        if len(keys) <= 64:
            for j, i in enumerate(keys):
                self._kept[i] = (x[j], series[j])
            while len(self._kept) > 64:
                self._kept.pop(next(iter(self._kept)))
        return x, series, labels

    def read_input(self, idx: np.ndarray) -> tuple[np.ndarray, Any]:
        x, _, labels = self._get(idx)
        return x, labels

    def read_series(self, idx: np.ndarray) -> tuple[np.ndarray, Any]:
        _, series, labels = self._get(idx)
        return series, labels


def _as3d(a: np.ndarray) -> np.ndarray:
    return a[:, None, :] if a.ndim == 2 else a


def cheap_labels(ds: Any, index: np.ndarray) -> np.ndarray | None:
    """Labels of items ``index`` read without their series (tsai keeps ``y`` apart; fastai's
    ``Datasets`` has a label pipeline of its own), or None where that is not possible."""
    from tscam_widget.explain.inputs import to_plain_tensor

    for attr in ("ptls", "tls"):
        tls = getattr(ds, attr, None)
        try:
            if tls is None or len(tls) < 2:
                continue
            tl = tls[-1]
            got = tl[index] if hasattr(tl, "shape") else tl[list(index.tolist())]
            if hasattr(got, "detach"):
                arr = np.asarray(to_plain_tensor(got).cpu().numpy())
            elif isinstance(got, np.ndarray):
                arr = got
            else:
                arr = np.array([_item_label(v) for v in got])
            if arr.shape == (len(index),):
                return arr
        except Exception:  # noqa: BLE001 - not a layout we know: labels come with the data
            continue
    return None


__all__ = ["LazySeries", "LearnerReader", "cheap_labels", "dataset_reader", "is_dataset"]
