"""Big data sets (issue 13): a torch Dataset and a fastai/tsai DataLoaders read lazily (the items
read are counted), the sample menu's filters from Python, the memory budget."""

from __future__ import annotations

import asyncio
import threading
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from tscam_widget.models import InceptionTime
from tscam_widget.widget import CamWidget, unpack

N, C, T = 120, 2, 64


class Counting(Dataset):
    """(x, y) items of X, y; counts every item read."""

    def __init__(self, X, y=None):
        self.X, self.y, self.reads, self.kernel_reads = X, y, [], []

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        self.reads.append(int(i))
        if threading.current_thread() is threading.main_thread():
            self.kernel_reads.append(int(i))  # not the background worker's
        x = torch.from_numpy(self.X[i])
        return x if self.y is None else (x, int(self.y[i]))


@pytest.fixture(scope="module")
def data():
    torch.manual_seed(0)
    model = InceptionTime(C, 3, nf=4, depth=3, bottleneck=4, kernel_sizes=(9, 5, 3)).eval()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, C, T)).astype(np.float32).cumsum(-1)
    y = np.arange(N) % 3
    return model, X, y


def softmax_of(model, X):
    with torch.no_grad():
        return torch.softmax(model(torch.from_numpy(X)).double(), 1).float().numpy()


# module level: the worker's deep copy of the model shares them
_WORKER_GATE = threading.Event()
_WORKER_AT_GATE = threading.Event()


class WorkerWaits(nn.Module):
    """``model``, whose forwards outside the main thread (the background worker's) wait for
    ``_WORKER_GATE``: the worker holds still after reading its first batch, outside the reader's
    lock, so which items it has read is known when the user jumps."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if threading.current_thread() is not threading.main_thread():
            _WORKER_AT_GATE.set()
            assert _WORKER_GATE.wait(30), "the test never opened the gate"
        return self.model(x)


def test_dataset_is_read_lazily_in_the_background(data):
    model, X, y = data
    gated = WorkerWaits(model).eval()
    ds = Counting(X, y)
    _WORKER_GATE.clear()
    _WORKER_AT_GATE.clear()

    async def main():
        try:
            w = CamWidget(gated, ds, progress=False, background=True)
            reads_at_start = list(ds.kernel_reads)
            assert w.background_running and not w.precomputed
            assert unpack(w.series).shape == (1, C, T)  # only the drawn sample's series travel
            for _ in range(1000):  # up to 10 s on a busy machine
                if _WORKER_AT_GATE.is_set():
                    break
                await asyncio.sleep(0.01)
            worker_read = sorted(set(ds.reads) - set(ds.kernel_reads))
            assert worker_read and 77 not in worker_read  # its first batch, then it waits
            w.sample = 77
            await asyncio.sleep(0.05)
            assert w.maps_meta["samples"] == [77] and unpack(w.series_samples).tolist() == [77]
            assert ds.kernel_reads == [0, 77]  # the jump was served by the kernel, reading 77
        finally:
            _WORKER_GATE.set()
        await w.ready()
        return w, reads_at_start

    w, reads_at_start = asyncio.run(main())
    assert reads_at_start == [0]  # the constructor read the first sample, the worker the rest
    assert len(ds.reads) == N and sorted(ds.reads) == list(range(N))  # each item once
    np.testing.assert_allclose(w.probs, softmax_of(model, X), atol=1e-5)
    np.testing.assert_array_equal(w.y_true, y)  # labels came with the items
    np.testing.assert_array_equal(w.current_series, X[77])
    arr = CamWidget(model, X[77:78], progress=False, precision="float32")
    np.testing.assert_allclose(w.current_map, arr.current_map, atol=1 / 255 + 1e-5)


def test_dataset_of_bare_series_and_labels_apart(data):
    model, X, y = data
    ds = Counting(X)
    ds.targets = y  # torchvision-style: the labels without reading the series
    w = CamWidget(model, ds, progress=False, background=False, classes=["a", "b", "c"])
    np.testing.assert_array_equal(w.y_true, y)
    assert w.classes == ["a", "b", "c"]
    # no event loop: predictions now, batch by batch; each item read once
    assert sorted(ds.reads) == list(range(N))
    bad = Counting([X[0], X[1], X[2, :, :10], X[3]])
    with pytest.raises(ValueError, match=r"X \(dataset\): item 2 has shape \[2, 10\]"):
        CamWidget(model, bad, progress=False)


def test_fastai_dataloaders_never_read_whole(data):
    from fastai.data.core import DataLoaders
    from fastai.data.transforms import Transform
    from fastai.learner import Learner

    model, X, y = data

    class Scale(Transform):  # a batch transform: the model sees x * 2 + 1
        def encodes(self, x: torch.Tensor):
            return x * 2 + 1

    train = Counting(X[:8], y[:8])
    valid = Counting(X, y)
    dls = DataLoaders.from_dsets(train, valid, bs=16, after_batch=[Scale()], device="cpu")
    learn = Learner(dls, model, loss_func=nn.CrossEntropyLoss())

    async def main():
        w = CamWidget(learn, progress=False, background=True, lazy=True)
        at_start = list(valid.kernel_reads)
        w.sample = 50
        await asyncio.sleep(0.05)
        assert w.maps_meta["samples"] == [50]
        await w.ready()
        return w, at_start

    w, at_start = asyncio.run(main())
    # the constructor read the first sample (and fastai one item to set its DataLoader up)
    assert at_start == [0, 0]
    assert sorted(set(valid.reads)) == list(range(N)) and len(valid.reads) <= N + 2
    assert not train.reads
    np.testing.assert_allclose(w.probs, softmax_of(model, X * 2 + 1), atol=1e-5)
    np.testing.assert_array_equal(w.y_true, y)
    w.sample = 50
    np.testing.assert_array_equal(w.current_series, X[50])  # the user's units
    w.series_view = "input"
    np.testing.assert_allclose(w.current_series, X[50] * 2 + 1)  # what the model sees


def test_tsai_dataloaders_lazy_with_labels_read_apart(data):
    from fastai.learner import Learner
    from tsai.basics import TSClassification, TSStandardize, get_ts_dls
    from tsai.data.core import NoTfmLists

    model, X, y = data
    names = np.array(["up", "down", "flat"])[y]
    splits = (list(range(20)), list(range(20, N)))
    dls = get_ts_dls(
        X,
        names,
        splits=splits,
        tfms=[None, TSClassification()],
        bs=16,
        inplace=False,
        batch_tfms=[TSStandardize(by_sample=True)],
    )
    learn = Learner(dls, model, loss_func=nn.CrossEntropyLoss())
    reads: list[int] = []
    real = NoTfmLists.__getitem__

    def counting(self, it):
        out = real(self, it)
        if getattr(out, "ndim", 0) == 3:  # series, not labels
            reads.append(len(out))
        return out

    NoTfmLists.__getitem__ = counting
    try:
        w = CamWidget(learn, progress=False, background=False, lazy=True, batch_size=32)
        lazy_reads = list(reads)
        grid = CamWidget(learn, progress=False, background=False, lazy=False)
    finally:
        NoTfmLists.__getitem__ = real
    n = N - 20
    # tsai's own set-up pass (one batch of bs=16), the first sample, then batches of at most 32:
    # each item read about once, the dataset never whole
    assert sum(lazy_reads) <= n + 16 and max(lazy_reads) <= 32
    assert w.classes == grid.classes == ["down", "flat", "up"]
    np.testing.assert_array_equal(w.y_true, grid.y_true)
    np.testing.assert_allclose(w.probs, grid.probs, atol=1e-5)
    for s in (0, 33):
        w.sample = grid.sample = s
        w.series_view = grid.series_view = "input"
        np.testing.assert_allclose(w.current_series, grid.current_series, atol=1e-6)


def test_mistakes_filter_and_confidence_sort(data):
    model, X, y = data
    probs = softmax_of(model, X)
    pred = probs.argmax(1)

    async def main():
        w = CamWidget(model, X, y, progress=False, background=True)
        w.sample_filter = "mistakes"  # while predictions are still filling in
        early = w.sample_list
        assert not w.predictions_complete
        assert set(early.tolist()) <= set(np.flatnonzero(pred != y).tolist())
        await w.ready()
        return w

    w = asyncio.run(main())
    mistakes = np.flatnonzero(pred != y)
    np.testing.assert_array_equal(w.sample_list, mistakes)
    assert w.sample in set(mistakes.tolist())
    w.sample_sort = "confidence"
    conf = probs[mistakes, pred[mistakes]]
    np.testing.assert_array_equal(w.sample_list, mistakes[np.argsort(conf, kind="stable")])
    w.sample_filter, w.sample_sort, w.filter_pred = "all", "index", 1
    np.testing.assert_array_equal(w.sample_list, np.flatnonzero(pred == 1))
    w.filter_pred, w.filter_true = -1, 2
    np.testing.assert_array_equal(w.sample_list, np.flatnonzero(y == 2))
    assert y[w.sample] == 2  # moved to a listed sample
    with pytest.raises(Exception, match="sample_filter: expected one of"):
        w.sample_filter = "wrong"
    with pytest.raises(Exception, match=r"filter_true: expected a class index 0..2 or -1"):
        w.filter_true = 3


def test_memory_budget_switches_to_on_demand_and_says_so(data):
    model, X, y = data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        w = CamWidget(model, X, y, progress=False, precompute=True, memory_mb=0.5)
    assert not w.precomputed
    assert "over the memory budget (memory_mb=0.5)" in w.status
    assert any("over the memory budget" in str(c.message) for c in caught)
    w.sample = 5
    w.flush()
    assert "over the memory budget" in w.status and w.memory_bytes <= 0.5e6
    full = CamWidget(model, X, y, progress=False, precompute=True)
    assert full.precomputed and full.memory_bytes <= 2048e6
    with pytest.raises(ValueError, match="memory_mb: expected a number of MB > 0, got 0"):
        CamWidget(model, X, y, memory_mb=0)


def test_layer_norm_range_fills_in_behind(data):
    model, X, y = data

    async def main():
        w = CamWidget(model, X, y, progress=False, background=True, precompute=False)
        w.norm = "layer"
        await asyncio.sleep(0)
        w.flush()
        early = w.status
        assert "per-layer colour range filling in" in early
        assert np.isfinite(w.current_map).all()  # drawn meanwhile with the range seen so far
        await w.ready()
        await asyncio.sleep(0.05)
        return w, early

    w, early = asyncio.run(main())
    assert "filling in" not in w.status
    sync = CamWidget(model, X, y, progress=False, precompute=False, norm="layer")
    for s in (0, 17):
        w.sample = sync.sample = s
        np.testing.assert_allclose(w.current_map, sync.current_map, atol=2 / 255 + 1e-5)


def test_memmap_finiteness_checked_as_read(tmp_path, data):
    """A memmap is not read whole to find non-finite samples (the first picture would wait on
    N): a sample's NaN is found when it is read, and it gets no map and no prediction."""
    model, X, y = data
    path = tmp_path / "X.f32"
    mm = np.memmap(path, np.float32, "w+", shape=X.shape)
    mm[:] = X
    mm[0, 0, 3] = np.nan  # the first sample: the widget starts at the next finite one
    mm[50, 1, 7] = np.inf
    mm.flush()
    Xm = np.memmap(path, np.float32, "r", shape=X.shape)
    w = CamWidget(model, Xm, y, progress=False, background=False)
    assert w.sample == 1
    assert (
        not w._maps.comp.finite[0]
        and not w._maps.comp.finite[50]
        and w._maps.comp.finite.sum() == N - 2
    )
    assert w.y_pred[50] == -2 and w.y_pred[51] >= 0  # -2: never predicted
    w.sample = 50
    w.flush()
    assert "NaN or inf" in w.error


@pytest.mark.parametrize(
    ("kind", "norm"), [("numpy", "sample"), ("dataset", "sample"), ("dataset", "layer")]
)
def test_non_finite_samples_have_no_prediction_and_do_not_block(data, kind, norm):
    """Sample 0 and a middle sample hold NaN / inf: the first picture is the first finite
    sample's, the predictions are complete once every finite sample has one, and the menu lists
    the non-finite ones as such (y_pred -2: never a mistake, sorted last by confidence)."""
    model, X, y = data
    X = X.copy()
    X[0, 0, 3] = np.nan
    X[50, 1, 7] = np.inf
    ds = Counting(X, y)
    ok = np.ones(N, bool)
    ok[[0, 50]] = False
    pred = np.full(N, -2)
    pred[ok] = softmax_of(model, X[ok]).argmax(1)

    async def main():
        kw = dict(progress=False, background=True, norm=norm, precompute=False, trust=False)
        w = CamWidget(model, X, y, **kw) if kind == "numpy" else CamWidget(model, ds, **kw)
        at_start = list(ds.kernel_reads)
        assert w.sample == 1 and np.isfinite(w.current_map).all()
        await w.ready()
        await asyncio.sleep(0.05)
        return w, at_start

    w, at_start = asyncio.run(main())
    if kind == "dataset":
        assert at_start == [0, 1]  # the first finite sample, found by reading on from 0
    assert w.predictions_complete and not w.error
    np.testing.assert_array_equal(w.y_pred, pred)
    if norm == "sample":  # (with "layer", the range's final redraw writes the status last)
        assert "2 with NaN or inf values: no prediction" in w.status
    else:
        assert w._maps.comp.has_range(w.method, w.reduction, w.target)  # the range over 118 samples
    w.sample_filter = "mistakes"
    np.testing.assert_array_equal(w.sample_list, np.flatnonzero(ok & (pred != y)))
    w.sample_filter, w.sample_sort = "all", "confidence"
    assert w.sample_list[-2:].tolist() == [0, 50]
    w.sample = 50
    w.flush()
    assert "NaN or inf" in w.error


def test_bad_dataset_items_are_named(data):
    model, X, y = data
    before = {k: v.clone() for k, v in model.state_dict().items()}

    class Items(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"x": i}, 0

    with pytest.raises(TypeError, match=r"X \(dataset\): expected item 0 to be an array or tensor"):
        CamWidget(model, Items())
    with pytest.raises(ValueError, match=r"X: the dataset is empty"):
        CamWidget(model, Counting(X[:0]))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
