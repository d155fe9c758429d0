"""The training timeline: snapshots hold the maps a fresh explain gives with the same weights
(to the recorded levels), the probabilities a plain forward gives, labels and metrics; a fastai
fit records one per epoch; save_html embeds them; the memory budget caps the samples."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
import traitlets
from torch import nn

from tscam_widget import CamWidget
from tscam_widget.explain import Explainer
from tscam_widget.explain.explanation import map_key
from tscam_widget.widget.buffers import unpack
from tscam_widget.widget.protocol import TIMELINE as TIMELINE_TRAITS
from tscam_widget.widget.timeline import Timeline, coarsen, level_error

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Net(nn.Module):
    def __init__(self, c: int = 1, k: int = 3) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(c, 6, 5, padding=2)
        self.c2 = nn.Conv1d(6, 8, 3, padding=1)
        self.fc = nn.Linear(8, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.relu(self.c2(torch.relu(self.c1(x))))
        return self.fc(a.mean(-1))


@pytest.fixture()
def data():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 1, 40)).astype(np.float32)
    y = rng.integers(0, 3, 20)
    return Net().eval(), X, y


def _train_a_little(model: nn.Module, X: np.ndarray, y: np.ndarray) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    model.train()
    for _ in range(3):
        loss = nn.functional.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def test_snapshot_equals_a_fresh_explain_with_the_same_weights(data):
    model, X, y = data
    w = CamWidget(model, X, y, progress=False, trust=False)
    w.snapshot()
    _train_a_little(model, X, y)
    w.snapshot("after", {"valid_accuracy": 0.75})
    assert len(w.timeline) == 2 and w.timeline_meta["labels"] == ["snapshot 1", "after"]
    assert w.timeline_meta["metrics"] == [{}, {"valid_accuracy": 0.75}]
    snap = w.timeline.snapshots[1]
    samples = snap.samples
    assert samples.tolist() == list(range(20))  # the shown samples: every one, current first
    # a fresh explainer on the trained weights, the default variant of each method
    keys = Timeline.keys(w._maps.comp)
    ex = Explainer(model, with_input=True).explain(
        X[samples], target="pred", methods=[m for m, _ in keys], reductions=("mean",), norm="none"
    )
    assert snap.keys == [map_key(*k) for k in keys]
    np.testing.assert_array_equal(snap.target, ex.pred)
    with torch.no_grad():
        p = torch.softmax(model(torch.from_numpy(X)).double(), 1).numpy()
    np.testing.assert_allclose(snap.probs, p, atol=1e-6)
    np.testing.assert_array_equal(unpack(w.timeline_probs[1]), snap.probs)
    got = snap.maps()  # [S, L, M, T]
    tol = level_error(snap.scale, w.timeline.levels)[..., None] * (1 + 1e-5) + 1e-6
    for li, layer in enumerate(ex.layers):
        for mi, (m, r) in enumerate(keys):
            if not ex.defined(m, layer, r):
                assert np.isnan(got[:, li, mi]).all()
                continue
            want = ex.get(m, layer, r, norm="none")
            assert (np.abs(got[:, li, mi] - want) <= tol[:, li, mi]).all(), (layer, m)
    # the weights changed between the snapshots, so did the maps
    assert not np.allclose(w.timeline.snapshots[0].maps(), got, equal_nan=True)


def test_256_levels_are_the_uint8_quantisation(data):
    model, X, y = data
    w = CamWidget(model, X, y, progress=False, trust=False)
    tl = Timeline(levels=256)
    snap = tl.record(w._maps.comp, [3, 4], "x")
    ex = Explainer(model, with_input=True).explain(X[[3, 4]], methods=["gradcam"], norm="none")
    gi = snap.keys.index("gradcam")
    want = ex.get("gradcam", ex.layers[-1], norm="none")
    lo, hi = want.min(1, keepdims=True), want.max(1, keepdims=True)
    q = np.rint((want - lo) / (hi - lo) * 255)  # the uint8 quantisation by hand
    np.testing.assert_array_equal(snap.u[:, -1, gi], q)
    np.testing.assert_allclose(snap.scale[:, -1, gi, 0], lo[:, 0], rtol=1e-6)


def test_coarsen_keeps_levels_on_the_uint8_grid():
    u = np.arange(256, dtype=np.uint8)
    c = coarsen(u, 32)
    assert len(np.unique(c)) == 32 and c[0] == 0 and c[-1] == 255
    assert np.abs(c.astype(int) - u).max() <= 255 / 31 / 2 + 0.5
    np.testing.assert_array_equal(coarsen(u, 256), u)


def test_epoch_control_and_bad_arguments(data):
    model, X, y = data
    w = CamWidget(model, X, y, progress=False, trust=False)
    with pytest.raises(traitlets.TraitError, match="no snapshot recorded yet"):
        w.epoch = 0
    w.snapshot("one")
    w.epoch = 0
    with pytest.raises(traitlets.TraitError, match=r"0\.\.0, got 1"):
        w.epoch = 1
    with pytest.raises(ValueError, match="metrics: expected numbers"):
        w.snapshot("bad", {"acc": "high"})
    assert len(w.timeline) == 1
    with pytest.raises(ValueError, match="track=True: expected a fastai Learner"):
        CamWidget(model, X, y, progress=False, trust=False, track=True)
    with pytest.raises(ValueError, match="levels"):
        Timeline(levels=300)
    with pytest.raises(ValueError, match="max_snapshots=1"):
        tl = Timeline(max_snapshots=1)
        tl.record(w._maps.comp, [0], "a")
        tl.record(w._maps.comp, [0], "b")
    assert {t.name for t in TIMELINE_TRAITS} <= set(w.keys)


def test_memory_budget_caps_the_samples(data):
    model, X, y = data
    w = CamWidget(model, X, y, progress=False, trust=False)
    comp = w._maps.comp
    per = len(comp.layers) * len(Timeline.keys(comp)) * (X.shape[-1] + 8)
    tl = Timeline(memory_mb=7 * per * 10 / 1e6, max_snapshots=10)
    assert tl.sample_cap(comp) == 7
    snap = tl.record(comp, range(20), "capped")
    assert snap.samples.tolist() == list(range(7))
    assert Timeline(max_samples=4).sample_cap(comp) == 4
    # the widget: the menu's list (mistakes here), the current sample first
    w.timeline = Timeline(max_samples=5)
    w.sample_filter = "mistakes"
    listed = w.sample_list
    w.sample = int(listed[-1])
    w.snapshot()
    want = [int(listed[-1]), *[int(s) for s in listed[:4]]]
    assert w.timeline.snapshots[0].samples.tolist() == want[:5]


def test_save_html_embeds_the_timeline(data, tmp_path):
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent / "browser"))
    from test_export import page_arrays

    model, X, y = data
    w = CamWidget(model, X, y, progress=False, trust=False)
    w.snapshot("epoch 0")
    _train_a_little(model, X, y)
    w.snapshot("epoch 1", {"accuracy": 0.5})
    w.epoch = 1
    html = w.save_html(tmp_path / "t.html").read_text()
    arrays = page_arrays(html)
    for i, snap in enumerate(w.timeline.snapshots):
        np.testing.assert_array_equal(arrays[f"timeline_maps.{i}"], snap.u)
        np.testing.assert_array_equal(arrays[f"timeline_scale.{i}"], snap.scale)
        np.testing.assert_array_equal(arrays[f"timeline_probs.{i}"], snap.probs)
        np.testing.assert_array_equal(arrays[f"timeline_samples.{i}"], snap.samples)
    spec = json.loads(html.split('type="application/vnd.tscam-widget+json">\n')[1].split("\n</")[0])
    assert spec["state"]["epoch"] == 1
    assert spec["state"]["timeline_meta"]["labels"] == ["epoch 0", "epoch 1"]
    assert spec["state"]["timeline_meta"]["metrics"][1] == {"accuracy": 0.5}


def test_fastai_fit_records_one_snapshot_per_epoch(ucr_dir):
    from tsai.basics import TSClassification, accuracy, get_ts_dls, ts_learner
    from tsai.models.FCN import FCN

    from tscam_widget.data import load_ucr

    X, y = load_ucr("GunPoint", "train", data_dir=ucr_dir)
    splits = (list(range(0, 50, 2)), list(range(1, 50, 2)))
    dls = get_ts_dls(X, y, splits=splits, tfms=[None, TSClassification()], bs=16)
    learn = ts_learner(dls, FCN, layers=[8, 8, 8], kss=[7, 5, 3], metrics=accuracy)
    w = CamWidget(learn, dls=dls, progress=False, trust=False, track=True)
    with learn.no_bar(), learn.no_logging():
        learn.fit(2, lr=1e-3, cbs=w.callback)  # tracked and passed: still one per epoch
    # during the fit only the weights were kept; the maps come at the next read (a script)
    assert w.timeline_meta["pending"] == 2 and w.timeline_meta["labels"] == []
    assert len(w.timeline.snapshots) == 2 and w.timeline_meta["pending"] == 0
    assert w.timeline_meta["labels"] == ["epoch 1", "epoch 2"]
    rec = learn.recorder.values
    for i, m in enumerate(w.timeline_meta["metrics"]):
        assert m["train_loss"] == pytest.approx(rec[i][0])
        assert m["valid_loss"] == pytest.approx(rec[i][1])
        assert m["accuracy"] == pytest.approx(rec[i][2])
    # the last snapshot belongs to the weights after the fit
    snap = w.timeline.snapshots[-1]
    xs = np.asarray(w.data[1])
    ex = Explainer(learn.model, with_input=True).explain(
        xs[snap.samples], methods=["gradcam"], norm="none"
    )
    got = snap.maps()[:, -1, snap.keys.index("gradcam")]
    want = ex.get("gradcam", ex.layers[-1], norm="none")
    tol = level_error(snap.scale[:, -1, snap.keys.index("gradcam")], w.timeline.levels)
    assert (np.abs(got - want) <= tol[:, None] * (1 + 1e-5) + 1e-6).all()
    # a later fit goes on counting; the learner pickles without the widget
    with learn.no_bar(), learn.no_logging():
        learn.fit(1, lr=1e-3)
    w.flush()
    assert w.timeline_meta["labels"][-1] == "epoch 3"
    import pickle

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cb = pickle.loads(pickle.dumps(w.callback))
    assert cb.tscam_record is None


def test_in_a_kernel_snapshots_are_computed_behind_once_training_rests(data):
    """While the user trains (the loop blocked), a snapshot keeps only the weights; once they
    rest, a background job computes each moment's maps from its own weights (not today's)."""
    import asyncio
    import copy

    model, X, y = data
    model = copy.deepcopy(model)

    async def main():
        w = CamWidget(model, X, y, progress=False, trust=False, background=True)
        await w.ready()
        states = []
        for e in range(3):
            _train_a_little(model, X, y)
            w.snapshot(f"epoch {e + 1}")
            states.append(copy.deepcopy(model.state_dict()))
        held = (w.timeline_meta["pending"], len(w.timeline.snapshots))
        await w.ready(60)
        return w, states, held

    w, states, held = asyncio.run(main())
    assert held == (3, 0)  # nothing computed while the weights were changing
    assert w.timeline_meta["labels"] == ["epoch 1", "epoch 2", "epoch 3"]
    assert w.timeline_meta["pending"] == 0
    for snap, state in zip(w.timeline.snapshots, states):
        m = copy.deepcopy(model)
        m.load_state_dict(state)
        xs = X[snap.samples]
        ex = Explainer(m, with_input=True).explain(xs, methods=["gradcam"], norm="none")
        k = snap.keys.index("gradcam")
        got, want = snap.maps()[:, -1, k], ex.get("gradcam", ex.layers[-1], norm="none")
        tol = level_error(snap.scale[:, -1, k], w.timeline.levels)
        assert (np.abs(got - want) <= tol[:, None] * (1 + 1e-5) + 1e-6).all()
        with torch.no_grad():
            p = torch.softmax(m(torch.from_numpy(xs)), 1).numpy()
        np.testing.assert_allclose(snap.probs[snap.samples], p, atol=1e-5)
