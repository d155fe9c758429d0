"""The widget follows the user's model: train (or load, or move) between two reads, and the
second read equals a fresh widget's on the new weights; nothing of the old weights survives in
the maps, the predictions, the trust scores or the exported page, and background work stops
while the weights change. In a script, in an event loop (as in a kernel) and in a real kernel."""

from __future__ import annotations

import asyncio
import copy

import nbformat
import numpy as np
import pytest
import torch
from nbclient import NotebookClient

from tscam_widget.models import InceptionTime
from tscam_widget.widget import CamWidget, unpack
from tscam_widget.widget.export import page_spec
from tscam_widget.widget.version import ModelWatch, fingerprint

N, T = 40, 48

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_model(seed: int = 0) -> InceptionTime:
    torch.manual_seed(seed)
    return InceptionTime(1, 3, nf=4, depth=3, bottleneck=4, kernel_sizes=(9, 5, 3)).eval()


@pytest.fixture()
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, 1, T)).astype(np.float32).cumsum(-1)
    y = np.arange(N) % 3
    return make_model(), X, y


def train(model, X, y, steps: int = 5) -> None:
    """A few SGD steps in training mode (BatchNorm statistics move too), as a user would."""
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y))
        loss.backward()
        opt.step()
    model.eval()


def softmax_of(model, X) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(model(torch.from_numpy(X)), 1).numpy()


@pytest.mark.parametrize("precompute", [True, False])
def test_script_train_between_reads_equals_a_fresh_widget(data, precompute):
    model, X, y = data
    kw = dict(progress=False, precompute=precompute, precision="float32")
    w = CamWidget(model, X, y, **kw)
    w.sample, w.layer = 3, 2
    before = w.current_map
    old_pred = w.y_pred.copy()
    train(model, X, y)
    after = w.current_map
    fresh = CamWidget(model, X, y, **kw)
    fresh.sample, fresh.layer = 3, 2
    assert w.model_version == 1 and w.status.startswith("model changed: maps from the new weights")
    np.testing.assert_array_equal(after, fresh.current_map)
    assert np.nanmax(np.abs(after - before)) > 1e-3  # the maps did move
    np.testing.assert_array_equal(w.y_pred, fresh.y_pred)
    np.testing.assert_array_equal(w.probs, fresh.probs)
    assert (old_pred != w.y_pred).any()  # training changed predictions
    if precompute:
        for norm in ("none", "sample", "layer"):
            np.testing.assert_array_equal(w.cube_array(norm=norm), fresh.cube_array(norm=norm))
        assert unpack(w.cube).shape == unpack(fresh.cube).shape  # no old row left in the store


def _step(model, X, y):
    train(model, X, y, steps=1)


def _load_state_dict(model, X, y):
    model.load_state_dict(make_model(seed=7).state_dict())


def _moved(model, X, y):
    # what model.to(device) does to each parameter: new storage under the same Parameter
    with torch.no_grad():
        for p in model.parameters():
            p.data = p.data.clone() * 1.5


def _bn_statistics(model, X, y):
    model.train()
    with torch.no_grad():
        model(torch.from_numpy(X[:8]))
    model.eval()


@pytest.mark.parametrize(
    "change", [_step, _load_state_dict, _moved, _bn_statistics], ids=lambda f: f.__name__[1:]
)
def test_every_way_of_changing_weights_is_seen(data, change):
    model, X, y = data
    w = CamWidget(model, X, y, progress=False, precompute=True, precision="float32")
    change(model, X, y)
    fresh = CamWidget(model, X, y, progress=False, precompute=True, precision="float32")
    np.testing.assert_array_equal(w.cube_array(), fresh.cube_array())
    assert w.model_version == 1
    np.testing.assert_allclose(w.probs, softmax_of(model, X), atol=1e-5)


def test_the_widget_own_work_is_not_a_change(data):
    """Reads, other controls, trust scores and grad/requires_grad restored by the explainer
    leave the version alone (no needless recomputation)."""
    model, X, y = data
    w = CamWidget(model, X, y, progress=False, precompute=False)
    for s in range(4):
        w.sample, w.method = s, ["gradcam", "hirescam"][s % 2]
        _ = w.current_map
    w.view = "trust"
    w.flush()
    w.randomised = True
    _ = w.current_map
    assert w.model_version == 0 and w.trust_meta["state"] == "done"


def test_fingerprint_is_cheap_and_exact():
    model = make_model()
    watch = ModelWatch(lambda: model)
    assert not watch.check()
    with torch.no_grad():
        next(model.parameters()).add_(0.0)  # an in-place write, even of the same values
    assert watch.check() and watch.version == 1 and not watch.check()
    a = fingerprint(model)
    model.requires_grad_(False)
    assert fingerprint(model) == a  # not a weight change


def test_trust_scores_and_the_page_follow_the_model(data, tmp_path):
    model, X, y = data
    kw = dict(progress=False, precompute=True, view="trust", trust=True)
    w = CamWidget(model, X, y, **kw)
    gain_before = unpack(w.trust_gain).copy()
    train(model, X, y)
    w.flush()
    fresh = CamWidget(model, X, y, **kw)
    assert w.trust_meta["state"] == "done"
    np.testing.assert_array_equal(unpack(w.trust_gain), unpack(fresh.trust_gain))
    assert not np.array_equal(gain_before, unpack(w.trust_gain), equal_nan=True)
    w.save_html(tmp_path / "w.html")
    fresh.save_html(tmp_path / "f.html")
    bufs = {tuple(b["path"]): b["data"] for b in page_spec(w)["buffers"]}
    fbufs = {tuple(b["path"]): b["data"] for b in page_spec(fresh)["buffers"]}
    names = ("y_pred_buffer", "probs_buffer", "cube", "cube_scale", "trust_gain")
    for name in (*names, "trust_rand_cube"):
        key = next(k for k in bufs if k[0] == name)
        assert bufs[key] == fbufs[key], name


def test_background_stops_while_training_and_restarts_on_the_new_weights():
    """In an event loop (a kernel): the user trains while the predictions are computed behind;
    the worker stops at its next batch, the results of the old weights are dropped, and once
    the weights rest every prediction and map is the new weights'."""
    rng = np.random.default_rng(1)
    n = 3000
    X = rng.standard_normal((n, 1, T)).astype(np.float32).cumsum(-1)
    y = np.arange(n) % 3
    model = make_model()

    async def main():
        kw = dict(progress=False, precompute=False, precision="float32")
        w = CamWidget(model, X, y, background=True, **kw)
        await asyncio.sleep(0)
        assert w.background_running and not w.predictions_complete
        seen: list[np.ndarray] = []
        w.observe(lambda c: seen.append(unpack(c["new"])), "y_pred_buffer")
        worker = w._jobs.jobs["predict"]
        train(model, X[:64], y[:64])  # blocks the loop, as a training cell does
        worker.join(5)  # the worker saw the change and stopped at its next batch
        assert not worker.running
        assert w.check_model() and w.model_version == 1
        assert "model changed" in w.status
        held_back = w.background_running
        await w.ready(120)
        return w, seen, held_back

    w, seen, held_back = asyncio.run(main())
    assert not held_back  # the work waited while the weights had just changed
    new = softmax_of(model, X)
    np.testing.assert_allclose(w.probs, new, atol=1e-5)
    np.testing.assert_array_equal(w.y_pred, new.argmax(1))
    # every prediction shown after the change is the new weights' (never a mix)
    for shown in seen:
        known = shown >= 0
        np.testing.assert_array_equal(shown[known], new.argmax(1)[known])
    fresh = CamWidget(model, X, y, progress=False, precompute=False, precision="float32")
    for s in (0, 1234, n - 1):
        w.sample = fresh.sample = s  # (one method alone or all at once: float sums differ)
        np.testing.assert_allclose(w.current_map, fresh.current_map, atol=1e-5)


def test_tsai_learner_fit_load_and_a_replaced_model(ucr_dir, tmp_path):
    """The loop of the issue: tsai FCN on GunPoint, a widget, more training, ``learn.save`` /
    ``learn.load``, and a new module put in ``learn.model``: each read equals a fresh widget's."""
    from tsai.basics import TSClassification, get_ts_dls, ts_learner
    from tsai.models.FCN import FCN

    from tscam_widget.data import load_ucr

    Xtr, ytr = load_ucr("GunPoint", "train", data_dir=ucr_dir)
    X, y = Xtr[:48], ytr[:48]
    dls = get_ts_dls(
        X, y, splits=(list(range(32)), list(range(32, 48))), tfms=[None, TSClassification()], bs=16
    )
    torch.manual_seed(0)
    learn = ts_learner(dls, FCN, layers=[8, 8, 8], kss=[7, 5, 3], path=tmp_path)
    kw = dict(progress=False, precompute=True, precision="float32")

    def fit() -> None:
        with learn.no_bar(), learn.no_logging():
            learn.fit_one_cycle(1, 3e-3)

    w = CamWidget(learn, dls, **kw)
    learn.save("one")
    first = w.cube_array()
    fit()
    np.testing.assert_array_equal(w.cube_array(), CamWidget(learn, dls, **kw).cube_array())
    np.testing.assert_array_equal(w.y_pred, CamWidget(learn, dls, **kw).y_pred)
    learn.load("one")  # the saved weights come back: so do their maps
    np.testing.assert_array_equal(w.cube_array(), first)
    learn.model = copy.deepcopy(learn.model)  # a new module in the Learner
    with torch.no_grad():
        for p in learn.model.parameters():
            p.mul_(0.5)
    np.testing.assert_array_equal(w.cube_array(), CamWidget(learn, dls, **kw).cube_array())
    assert w.data[0] is learn.model and w.model_version == 3


KERNEL_CELLS = [
    """
import asyncio, numpy as np, torch
from tscam_widget.models import InceptionTime
from tscam_widget.widget import CamWidget
torch.manual_seed(0); torch.set_num_threads(1)
rng = np.random.default_rng(0)
X = rng.standard_normal((300, 1, 48)).astype(np.float32).cumsum(-1); y = np.arange(300) % 3
model = InceptionTime(1, 3, nf=4, depth=3, bottleneck=4, kernel_sizes=(9, 5, 3)).eval()
w = CamWidget(model, X, y, progress=False, precision="float32")
assert w.background_running, "a kernel works behind"

async def followed(version, model=model, X=X, w=w):
    await asyncio.sleep(1.5)  # the kernel's own look at the model, with no request
    assert w.model_version == version, (w.model_version, version)
    assert w.status.startswith("model changed: maps from the new weights"), w.status
    await w.ready()
    with torch.no_grad():
        new = torch.softmax(model(torch.from_numpy(X)), 1).numpy()
    assert (w.y_pred == new.argmax(1)).all() and np.allclose(w.probs, new, atol=1e-5)
    fresh = CamWidget(model, X, y, progress=False, precision="float32", background=False)
    assert np.allclose(w.cube_array(), fresh.cube_array(), atol=1e-5, equal_nan=True)
    assert w.trust_meta["state"] == "pending"  # trust="auto": nobody asked, nothing computed
w
""",
    """
await w.ready()
old = w.y_pred.copy()
model.train(); opt = torch.optim.SGD(model.parameters(), lr=0.5)
for _ in range(5):
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y)).backward()
    opt.step()
model.eval()
""",
    """
await followed(1)
assert (old != w.y_pred).any()
other = InceptionTime(1, 3, nf=4, depth=3, bottleneck=4, kernel_sizes=(9, 5, 3))
model.load_state_dict(other.state_dict())
""",
    """
await followed(2)
with torch.no_grad():  # what model.to(device) does: new storage under each parameter
    for p in model.parameters():
        p.data = p.data.clone() * 1.5
""",
    """
await followed(3)
print("FOLLOWED")
""",
    """
from tsai.basics import TSClassification, get_ts_dls, ts_learner
from tsai.models.FCN import FCN
from tscam_widget.data import load_ucr
Xg, yg = load_ucr("GunPoint", "train")
dls = get_ts_dls(Xg[:48], yg[:48], splits=(list(range(32)), list(range(32, 48))),
                 tfms=[None, TSClassification()], bs=16)
learn = ts_learner(dls, FCN, layers=[8, 8, 8], kss=[7, 5, 3], path=".")
lw = CamWidget(learn, dls, progress=False, precision="float32")
await lw.ready()
learn.save("one")
first = lw.y_pred.copy(), lw.probs.copy()
with learn.no_bar(), learn.no_logging():
    learn.fit_one_cycle(2, 1e-2)
""",
    """
await asyncio.sleep(1.5)
assert lw.model_version == 1 and lw.status.startswith("model changed"), lw.status
await lw.ready()
fresh = CamWidget(learn, dls, progress=False, precision="float32", background=False)
assert (lw.y_pred == fresh.y_pred).all() and np.allclose(lw.probs, fresh.probs, atol=1e-5)
learn.load("one")
await asyncio.sleep(1.5)
await lw.ready()
assert lw.model_version == 2 and np.allclose(lw.probs, first[1], atol=1e-5)
print("LEARNER FOLLOWED")
""",
]


@pytest.mark.slow
def test_train_look_train_in_a_real_kernel(tmp_path, ucr_dir, monkeypatch):
    """In a real kernel, with no request: training, load_state_dict, new storage (.to()), a
    tsai Learner's fit_one_cycle and learn.load are each seen by the kernel's own look."""
    monkeypatch.setenv("TSCAM_WIDGET_DATA", str(ucr_dir))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in KERNEL_CELLS])
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    out = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "FOLLOWED" in out and "LEARNER FOLLOWED" in out
