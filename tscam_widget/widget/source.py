"""Turn what the user hands to ``CamWidget`` (a fastai/tsai ``Learner`` + ``DataLoaders``, or a
model + arrays) into one :class:`Source`: model, series, labels, class names and sample ids.

The heavy lifting is done by the explainer's adapters (``from_learner``, ``as_inputs``); this
module only dispatches, selects samples and decodes class labels for display.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

LabelDecoder = Mapping[Any, Any] | Callable[[Any], Any]


@dataclass
class Source:
    """The widget's data.

    model: the classifier (``nn.Module``); X: float32 ``[N, C, T]``, what the model receives;
    y: int32 ``[N]`` (-1 where unknown); classes: display label per class index (``[K]``, may be
    empty when unknown); sample_ids: int32 ``[N]``, each sample's index in the user's data;
    series: float32 ``[N, C, T]``, the series in the user's units (a Learner's items before its
    batch transforms), or None when it is ``X`` itself.
    """

    model: Any
    X: np.ndarray
    y: np.ndarray
    classes: list[str]
    sample_ids: np.ndarray
    series: np.ndarray | None = None

    @property
    def display(self) -> np.ndarray:
        """float32 ``[N, C, T]``: what the widget draws by default."""
        return self.X if self.series is None else self.series


def is_learner(obj: Any) -> bool:
    """Duck-typed fastai/tsai ``Learner``: has ``.model`` and ``.dls``."""
    return hasattr(obj, "model") and hasattr(obj, "dls")


def _check_idxs(idxs: Any, n: int) -> np.ndarray | None:
    if idxs is None:
        return None
    arr = np.asarray(idxs)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
        raise ValueError(f"idxs: expected a non-empty sequence of ints, got {idxs!r}")
    if arr.min() < 0 or arr.max() >= n:
        raise ValueError(
            f"idxs: expected indices in 0..{n - 1}, got min {arr.min()}, max {arr.max()}"
        )
    return arr.astype(np.int64)


def _is_array(a: Any) -> bool:
    """A numpy array or a torch tensor (series, not DataLoaders)."""
    import torch

    return isinstance(a, (np.ndarray, torch.Tensor))


def _as_array(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def decode_labels(classes: Sequence[Any], labels: LabelDecoder | None) -> list[str]:
    """Display names of ``classes``.

    ``labels`` is None (``str`` of each class), a dict (looked up by the class label, then by its
    index, then by the label as an int when it is numeric; missing entries keep the label) or a
    callable such as the ``timeseries`` package's ``i2o`` (called with the class label).
    """
    out: list[str] = []
    for i, c in enumerate(classes):
        if labels is None:
            out.append(str(c))
        elif callable(labels) and not isinstance(labels, Mapping):
            out.append(str(labels(c)))
        elif isinstance(labels, Mapping):
            value: Any = c
            for key in (c, str(c), i):
                if key in labels:
                    value = labels[key]
                    break
            else:
                try:
                    ic = int(str(c))
                except ValueError:
                    ic = None
                if ic is not None and ic in labels:
                    value = labels[ic]
            out.append(str(value))
        else:
            raise TypeError(
                f"labels: expected a dict or a callable (e.g. i2o), got {type(labels).__name__}"
            )
    return out


def resolve_source(
    data: Any,
    X: Any = None,
    y: Any = None,
    *,
    classes: Sequence[Any] | None = None,
    ds_idx: int = 1,
    idxs: Any = None,
    labels: LabelDecoder | None = None,
    lazy: bool | str = "auto",
    lazy_bytes: int = 32 * 10**6,
) -> Source:
    """Build a :class:`Source` from ``(learn, dls=None)`` or ``(model, X, y=None, classes=)``.

    For a Learner, ``X`` is an optional ``DataLoaders`` (default ``learn.dls``), ``ds_idx`` picks
    the dataset (0 train, 1 valid) and ``idxs`` the samples (positions in that dataset). For a
    model, ``X`` is ``[N, T]`` or ``[N, C, T]`` and ``idxs`` positions in ``X``.
    """
    from tscam_widget.explain import as_inputs
    from tscam_widget.explain.adapters import learner_data

    from .lazy import is_dataset

    if lazy not in (True, False, "auto"):
        raise ValueError(f"lazy: expected True, False or 'auto', got {lazy!r}")
    series = None
    if is_learner(data):
        if y is not None:
            raise ValueError("y: a Learner brings its own labels; pass y only with a plain model")
        if _is_array(X):
            raise TypeError(
                f"dls: CamWidget(learn, dls=None) takes fastai DataLoaders (default: learn.dls), "
                f"got a {type(X).__name__} of shape {list(X.shape)}; for arrays pass the model: "
                f"CamWidget(learn.model, X, y)"
            )
        if X is not None and not hasattr(X, "__getitem__"):
            raise TypeError(f"dls: expected fastai DataLoaders, got {type(X).__name__}")
        if lazy is True:
            src = _lazy_learner(data, X, ds_idx, idxs, classes, labels, lazy, lazy_bytes)
            if src is not None:
                return src
        elif lazy == "auto":
            try:
                src = _lazy_learner(data, X, ds_idx, idxs, classes, labels, lazy, lazy_bytes)
            except (TypeError, ValueError, IndexError):
                src = None  # the whole-read path below reports what is wrong, plainly
            if src is not None:
                return src
        ld = learner_data(data, dls=X, ds_idx=ds_idx, idxs=idxs)
        model, Xa, ya, cls = ld.model, ld.x, ld.y, ld.classes
        if ld.decoded and not np.array_equal(ld.series, ld.x):
            series = np.ascontiguousarray(ld.series, dtype=np.float32)
        n_all = Xa.shape[0]
        ids = np.asarray(idxs, dtype=np.int64).reshape(-1) if idxs is not None else np.arange(n_all)
        if classes is not None:
            cls = list(classes)
    else:
        if X is None:
            raise TypeError(
                "CamWidget: expected (learn, dls=None) for a fastai/tsai Learner (an object "
                f"with .model and .dls) or (model, X, y=None, classes=...); got a "
                f"{type(data).__name__} and no X"
            )
        model = data
        if is_dataset(X) and lazy is not False:
            return _lazy_dataset(model, X, y, idxs, classes, labels)
        if is_dataset(X):  # lazy=False: read every item now
            from .lazy import dataset_reader

            X, y_read = dataset_reader(X)(np.arange(len(X)))
            y = y_read if y is None else y
        out = as_inputs(model, X, y=y, classes=classes, check_range=False)  # see _class_names
        model, Xa, ya, cls = _unpack_inputs(out, model)
        Xa = _as_array(Xa)
        sel = _check_idxs(idxs, Xa.shape[0])
        ids = np.arange(Xa.shape[0])
        if sel is not None:
            Xa, ids = Xa[sel], sel
            ya = None if ya is None else _as_array(ya)[sel]
    Xa = np.ascontiguousarray(Xa, dtype=np.float32)
    if Xa.ndim == 2:
        Xa = Xa[:, None, :]
    n = Xa.shape[0]
    yv = np.full(n, -1, np.int32) if ya is None else _as_array(ya).astype(np.int32).reshape(n)
    return Source(
        model=model,
        X=Xa,
        y=yv,
        classes=decode_labels(list(cls) if cls is not None else [], labels),
        sample_ids=ids.astype(np.int32),
        series=series,
    )


def _first_index(idxs: Any, n: int) -> np.ndarray:
    sel = _check_idxs(idxs, n)
    return np.arange(n, dtype=np.int64) if sel is None else sel


def _lazy_dataset(
    model: Any, ds: Any, y: Any, idxs: Any, classes: Any, labels: LabelDecoder | None
) -> Source:
    """A torch Dataset read on demand (see :mod:`.lazy`)."""
    from torch import nn

    from tscam_widget.explain.inputs import prepare_labels

    from .lazy import LazySeries, dataset_reader, label_sink

    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    n_all = len(ds)
    if n_all == 0:
        raise ValueError("X: the dataset is empty")
    index = _first_index(idxs, n_all)
    read_all = dataset_reader(ds, "X (dataset)")

    def read(idx: np.ndarray) -> tuple[np.ndarray, Any]:
        return read_all(index[idx])

    first, first_y = read(np.array([0]))
    cls = list(classes) if classes is not None else None
    if cls is None:
        got = getattr(ds, "classes", None)
        if isinstance(got, (list, tuple)) and got:
            cls = [str(c) for c in got]
    n = len(index)
    yv = np.full(n, -1, np.int32)
    if y is None:
        for attr in ("targets", "y"):  # torchvision / tsai-style datasets keep labels apart
            arr = getattr(ds, attr, None)
            if arr is not None and hasattr(arr, "__len__") and len(arr) == n_all:
                y = arr
                break
        if y is not None:
            try:
                y = _as_array(y)[index]
            except Exception:  # noqa: BLE001 - labels then come with the data
                y = None
    elif len(y) == n_all and idxs is not None:
        y = _as_array(y)[index]
    if y is not None:
        arr = _as_array(y)
        if arr.dtype.kind in "USO" and cls is None:
            cls = sorted({str(v) for v in arr.ravel()})
        yv[:] = prepare_labels(arr, n, arg="y", classes=cls)
    X = LazySeries(n, read, first[0], what="X (dataset)")
    if y is None:
        X.on_labels = label_sink(yv, cls)
        if first_y is not None:
            X.on_labels(np.array([0]), first_y)
    return Source(
        model=model,
        X=X,
        y=yv,
        classes=decode_labels(cls or [], labels),
        sample_ids=index.astype(np.int32),
    )


def _lazy_learner(
    learn: Any,
    dls: Any,
    ds_idx: int,
    idxs: Any,
    classes: Any,
    labels: LabelDecoder | None,
    lazy: bool | str,
    lazy_bytes: int,
) -> Source | None:
    """A Learner's dataset read on demand through its DataLoader (see :mod:`.lazy`); None when
    ``lazy="auto"`` and the data is small enough to read now (or not a DataLoaders we can read
    item by item)."""
    from tscam_widget.explain.adapters import learner_parts, vocab_of

    from .lazy import LazySeries, LearnerReader, cheap_labels, label_sink

    model, dls, ds = learner_parts(learn, dls, ds_idx)
    n_all = len(ds)
    index = _first_index(idxs, n_all)
    try:
        reader = LearnerReader(dls, ds_idx, index)
    except TypeError:
        if lazy is True:
            raise
        return None
    n = len(index)
    cls = list(classes) if classes is not None else vocab_of(dls, ds)
    yv = np.full(n, -1, np.int32)
    cheap = cheap_labels(ds, index)
    if cheap is not None:
        label_sink(yv, cls)(np.arange(n), cheap)
    else:
        reader.on_labels = label_sink(yv, cls)
    x0, _ = reader.read_input(np.array([0]))
    if lazy == "auto" and x0.nbytes * len(index) <= lazy_bytes:
        return None
    s0, _ = reader.read_series(np.array([0]))
    import threading

    lock = threading.RLock()  # one DataLoader behind both: one reader at a time
    X = LazySeries(n, reader.read_input, x0[0], what="dls (model inputs)", lock=lock)
    series = None
    if s0.shape == x0.shape:
        series = LazySeries(n, reader.read_series, s0[0], what="dls (items)", lock=lock)
    if cls is None:
        cls = []
    return Source(
        model=model,
        X=X,
        y=yv,
        classes=decode_labels(cls, labels),
        sample_ids=index.astype(np.int32),
        series=series,
    )


def _unpack_inputs(out: Any, model: Any) -> tuple[Any, Any, Any, Any]:
    """Accept ``as_inputs`` results as (model, X, y, classes) or (X, y, classes)."""
    if isinstance(out, tuple) and len(out) == 4:
        return out
    if isinstance(out, tuple) and len(out) == 3:
        return (model, *out)
    raise TypeError(f"as_inputs returned an unexpected value: {type(out).__name__}")
