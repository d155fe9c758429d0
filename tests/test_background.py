"""Background work: in a running event loop (a Jupyter kernel), ``CamWidget(...)`` returns after
the first sample's maps; predictions and the precomputed cube follow from a worker thread, the
controls answer meanwhile, errors reach the user, and closing the widget stops the work."""

from __future__ import annotations

import asyncio
import threading
import warnings

import numpy as np
import pytest
import torch

from tscam_widget.models import InceptionTime
from tscam_widget.widget import CamWidget, unpack
from tscam_widget.widget.compute import MapComputer

N, T = 160, 64


@pytest.fixture(scope="module")
def data():
    torch.manual_seed(0)
    model = InceptionTime(2, 3, nf=4, depth=3, bottleneck=4, kernel_sizes=(9, 5, 3)).eval()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, 2, T)).astype(np.float32).cumsum(-1)
    y = np.arange(N) % 3
    return model, X, y


def softmax_of(model, X):
    with torch.no_grad():
        return torch.softmax(model(torch.from_numpy(X)).double(), 1).float().numpy()


def test_first_picture_first_then_predictions_and_cube(data):
    model, X, y = data

    async def main():
        w = CamWidget(model, X, y, progress=False, background=True)
        statuses: list[str] = []
        w.observe(lambda c: statuses.append(c["new"]), "status")
        # the constructor returned with the first sample's maps, nothing more
        assert w.background_running and not w.precomputed
        assert w.maps_meta["samples"] == [0] and unpack(w.maps).shape[0] == 1
        # a read before every prediction is in warns, once per widget, naming ready()
        with pytest.warns(UserWarning, match=r"await w\.ready\(\)") as caught:
            pred, probs = w.y_pred, w.probs
        assert len(caught) == 1 and "1 / " in str(caught[0].message)
        assert pred.dtype == np.int32 and int((pred >= 0).sum()) == 1
        assert probs.dtype == np.float32 and probs.shape == (N, 3)
        assert np.isnan(probs[pred < 0]).all() and not np.isnan(probs[pred >= 0]).any()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            w.y_pred  # noqa: B018 - once per widget: no second warning
        # a jump to another sample is served while the background runs
        w.sample = N - 5
        await asyncio.sleep(0.05)
        assert w.maps_meta["samples"] == [N - 5]
        assert w.background_running
        await w.ready()
        return w, statuses

    w, statuses = asyncio.run(main())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # after ready(): complete, no warning
        np.testing.assert_allclose(w.probs, softmax_of(model, X), atol=1e-5)
    np.testing.assert_array_equal(w.y_pred, softmax_of(model, X).argmax(1))
    # progress advanced through predictions, then the cube, which matches a synchronous widget
    counts = [int(s.split()[1]) for s in statuses if s.startswith("predicting:")]
    assert counts and counts == sorted(counts) and counts[-1] < N
    assert any(s.startswith("precomputing maps:") for s in statuses)
    assert w.precomputed
    sync = CamWidget(model, X, y, progress=False, precompute=True, precision="float32")
    for norm in ("none", "sample"):
        a, b = w.cube_array(norm=norm), sync.cube_array(norm=norm)
        # background batches are sized by time, so float sums differ in the last bits; uint8
        # quantisation then moves a value by at most one step of its map's range
        step = np.nanmax(b, -1, keepdims=True) - np.nanmin(b, -1, keepdims=True)
        assert (np.abs(a - b) <= step / 255 + 1e-5)[np.isfinite(b)].mean() > 0.995, norm


def test_target_change_during_background_adds_the_rows_it_needs(data):
    model, X, y = data

    async def main():
        w = CamWidget(model, X, y, progress=False, background=True)
        await asyncio.sleep(0.05)
        w.target = "true"
        await w.ready()
        return w

    w = asyncio.run(main())
    assert w.precomputed and not w._maps.rows_missing(w.target)
    np.testing.assert_array_equal(unpack(w.targets), y)
    rows = unpack(w.cube_rows)  # every sample has the maps of its true class
    assert (rows[np.arange(N), y] >= 0).all()


def test_errors_in_the_background_reach_the_widget_and_python(data, monkeypatch):
    model, X, y = data
    real = MapComputer.for_worker

    def broken(self):
        worker = real(self)

        def fail(x, **kw):
            raise RuntimeError("boom in the worker")

        worker.explainer.probs = fail
        return worker

    monkeypatch.setattr(MapComputer, "for_worker", broken)

    async def main():
        w = CamWidget(model, X, y, progress=False, background=True)
        with pytest.raises(RuntimeError, match="background work failed: RuntimeError: boom"):
            await w.ready()
        return w

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        w = asyncio.run(main())
    assert "boom in the worker" in w.error and "boom in the worker" in w.status
    assert any("boom in the worker" in str(c.message) for c in caught)


def test_close_stops_the_work(data):
    model, X, y = data

    async def main():
        w = CamWidget(model, X, y, progress=False, background=True)
        bg = w._jobs.jobs["predict"]
        w.close()
        assert bg.cancelled
        await asyncio.sleep(0.01)
        bg.join(10)
        assert not bg.running

    asyncio.run(main())
    assert not [t for t in threading.enumerate() if t.name == "tscam-widget"]


def test_worker_threads_halve_while_the_user_is_active():
    """The worker computes with the kernel's torch threads while the user is idle and half of
    them after a request (a request finds a core free); the count new threads start with is
    left as found."""
    from tscam_widget.widget.background import Background

    before = torch.get_num_threads()
    torch.set_num_threads(4)
    seen: list[int] = []
    gate = threading.Event()

    def job():
        seen.append(torch.get_num_threads())
        gate.wait(10)
        yield lambda: None
        seen.append(torch.get_num_threads())  # the batch after a user request
        yield lambda: None

    async def main():
        bg = Background(asyncio.get_running_loop(), lambda e: None)
        bg.start([job])
        while not seen:
            await asyncio.sleep(0.005)
        with bg.user_first():
            pass
        gate.set()
        while bg.running:
            await asyncio.sleep(0.005)
        assert bg.error is None

    try:
        asyncio.run(main())
        fresh: list[int] = []
        t = threading.Thread(target=lambda: fresh.append(torch.get_num_threads()))
        t.start()
        t.join()
        assert seen == [4, 2]
        assert torch.get_num_threads() == 4 and fresh == [4]
    finally:
        torch.set_num_threads(before)


def test_worker_predictions_need_no_saved_state(data):
    """The worker's copy of the model is its own and in eval mode: its plain forwards skip the
    state bookkeeping and give the kernel's probabilities; the user's model is untouched."""
    model, X, y = data
    model.train()
    try:
        comp = MapComputer(model, X[:12], y[:12], predict=False)
        worker = comp.for_worker()
        assert not worker.model.training and model.training
        idx = np.arange(12)
        np.testing.assert_allclose(worker.probs_of(idx)[1], comp.probs_of(idx)[1], atol=1e-6)
        np.testing.assert_allclose(worker.probs_of(idx)[1], softmax_of(model.eval(), X[:12]))
    finally:
        model.eval()


def test_background_needs_a_loop_and_false_computes_now(data):
    model, X, y = data
    with pytest.raises(ValueError, match="background=True needs a running event loop"):
        CamWidget(model, X[:4], y[:4], background=True)
    with pytest.raises(ValueError, match="background: expected True, False or 'auto'"):
        CamWidget(model, X[:4], y[:4], background="yes")

    async def main():
        return CamWidget(model, X[:20], y[:20], background=False, progress=False)

    w = asyncio.run(main())
    assert not w._jobs.jobs and (w.y_pred >= 0).all() and w.precomputed


def test_memmap_stays_on_disk_and_only_visible_series_travel(tmp_path):
    from tscam_widget.explain import Explainer
    from tscam_widget.widget import parts as cw

    n, c, t = 300, 1, 4000  # 4.8 MB of series; the limit is lowered below it
    path = tmp_path / "X.f32"
    mm = np.memmap(path, np.float32, "w+", shape=(n, c, t))
    mm[:] = np.random.default_rng(0).standard_normal((n, c, t)).cumsum(-1) / 30
    mm.flush()
    X = np.memmap(path, np.float32, "r", shape=(n, c, t))
    torch.manual_seed(0)
    model = InceptionTime(1, 2, nf=4, depth=3, bottleneck=4, kernel_sizes=(9, 5, 3)).eval()
    old = cw.SERIES_LIMIT_BYTES
    cw.SERIES_LIMIT_BYTES = 10**6
    try:
        w = CamWidget(model, X, progress=False)
    finally:
        cw.SERIES_LIMIT_BYTES = old
    assert np.shares_memory(w._src.X, X)  # the widget reads the file, it holds no copy
    assert not w.precomputed  # the series travel on demand: so do the maps
    assert unpack(w.series).shape == (1, c, t) and unpack(w.series_samples).tolist() == [0]
    w.view, w.view_count, w.sample = "grid", 3, 200
    w.flush()
    assert unpack(w.series_samples).tolist() == [200, 201, 202]
    np.testing.assert_array_equal(unpack(w.series), X[200:203])
    w.view = "single"
    want = Explainer(model, with_input=True).explain(X[200:201], methods=["gradcam"])
    np.testing.assert_allclose(w.current_map, want.get("gradcam", w.layer)[0], atol=1 / 255 + 1e-6)
    with pytest.raises(ValueError, match="save_html: the series alone are 5 MB"):
        w.save_html(tmp_path / "x.html")
