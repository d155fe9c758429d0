"""tsai's models (which we did not design) through the explainer: the default layers end at the
tensor that feeds the model's pooling or head (found by this test's own hooks), trained models
localise a planted motif at that layer, and Learners feed the model exactly what
``learn.get_preds`` feeds it (batch transforms included)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from tscam_widget.data import synthetic
from tscam_widget.explain import Explainer, from_learner

warnings.filterwarnings("ignore", category=DeprecationWarning)

# model -> the module whose input is the deepest temporal tensor (its pooling, or its head)
POOLS = {
    "FCN": "gap",
    "FCNPlus": "head.0",
    "ResNet": "gap",
    "ResCNN": "gap",
    "InceptionTime": "gap",
    "InceptionTimePlus": "head.0.0",
    "XceptionTime": "head.4",
    "OmniScaleCNN": "gap",
    "TCN": "gap",
    "LSTM_FCN": "gap",
    "XCM": "head.0",
    "TST": "head.1",
    "TSTPlus": "head.1",
    "ConvTranPlus": "head.0",
}


def tsai_model(name: str, c_in: int = 3, c_out: int = 2, seq_len: int = 64) -> torch.nn.Module:
    import tsai.models.all as zoo

    torch.manual_seed(0)
    cls = getattr(zoo, name)
    try:
        return cls(c_in, c_out, seq_len=seq_len)
    except TypeError:
        return cls(c_in, c_out)


@pytest.mark.parametrize("name", sorted(POOLS))
def test_tsai_default_layers_end_at_the_deepest_temporal_layer(name):
    m = tsai_model(name).eval()
    x = torch.randn(4, 3, 64)
    ex = Explainer(m)
    ex.resolve(x)
    spec = ex._specs[-1]
    mods = dict(m.named_modules())
    seen: dict[str, list] = {"pool": [], "last": []}
    h1 = mods[POOLS[name]].register_forward_pre_hook(lambda mod, a: seen["pool"].append(a[0]))
    h2 = mods[spec.module_name].register_forward_hook(
        lambda mod, a, out: seen["last"].append(spec.layout.pick(out))
    )
    try:
        with torch.no_grad():
            m(x)
    finally:
        h1.remove()
        h2.remove()
    last = seen["last"][spec.call] if spec.multi else seen["last"][-1]
    assert torch.equal(last, seen["pool"][-1]), (name, ex.layers)
    # at least 3 layers spread through the depth, never one block's internals only
    assert len(ex.layers) >= 3, ex.layers
    # the maps exist and are finite at every default layer
    e = ex.explain(x, methods=["gradcam", "hirescam"])
    for layer in e.layers:
        assert np.isfinite(e.get("hirescam", layer)).all(), layer


def test_tst_dropout_is_not_a_default_layer():
    from tscam_widget.explain import candidate_layers, default_layers

    m = tsai_model("TST").eval()
    x = torch.randn(2, 3, 64)
    assert isinstance(m.dropout, torch.nn.Dropout) and "dropout" in candidate_layers(m, x)
    assert default_layers(m, x) == [
        "W_P",
        "encoder.layers.0",
        "encoder.layers.1",
        "encoder.layers.2",
        "head.0",
    ]


def test_tstplus_explains():
    # TSTPlus modifies its input in place; explained through a copy, the leaf is untouched
    m = tsai_model("TSTPlus").eval()
    x = np.random.default_rng(0).standard_normal((3, 3, 64)).astype(np.float32)
    e = Explainer(m).explain(x, methods=["gradcam", "hirescam"])
    assert e.layouts[e.layers[-1]] == "NCT"
    assert any("NTC" in v for v in e.layouts.values())
    for layer in e.layers:
        assert np.isfinite(e.get("gradcam", layer)).all()


@pytest.fixture(scope="module")
def motif_data():
    Xtr, ytr, _ = synthetic(n=240, length=64, n_classes=2, n_channels=3, seed=0)
    Xte, yte, mask = synthetic(n=120, length=64, n_classes=2, n_channels=3, seed=1)
    classes = sorted(set(ytr.tolist()))
    enc = {c: i for i, c in enumerate(classes)}
    return (
        Xtr,
        np.array([enc[v] for v in ytr]),
        Xte,
        np.array([enc[v] for v in yte]),
        mask,
    )


def _train(model, X, y, epochs):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(X)).split(32):
            loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, kw, epochs",
    [("FCN", {}, 8), ("ResCNN", {}, 8), ("TST", {"d_model": 32, "n_layers": 2, "d_ff": 64}, 12)],
)
def test_trained_tsai_models_localise_the_motif_at_the_deepest_default_layer(
    motif_data, name, kw, epochs
):
    import tsai.models.all as zoo

    torch.manual_seed(0)
    torch.set_num_threads(2)
    Xtr, ytr, Xte, yte, mask = motif_data
    cls = getattr(zoo, name)
    model = cls(3, 2, seq_len=64, **kw) if name == "TST" else cls(3, 2)
    model = _train(model, Xtr, ytr, epochs)
    e = Explainer(model).explain(Xte, methods=["gradcam", "hirescam"])
    ok = e.pred == yte
    assert ok.mean() >= 0.85, ok.mean()
    chance = mask.mean()
    deepest = e.layers[-1]
    for method in ("gradcam", "hirescam"):
        peak = e.get(method, deepest)[ok].argmax(1)
        loc = mask[ok][np.arange(ok.sum()), peak].mean()
        assert loc >= max(0.7, 3 * chance), (name, method, deepest, loc, chance)


# ---------------------------------------------------------------- the Learner's pipeline
def _ts_learner(batch_tfms, scale=50.0, shift=200.0):
    from tsai.basics import TSClassification, get_ts_dls, ts_learner
    from tsai.models.FCN import FCN

    X, y, _ = synthetic(n=90, length=48, n_classes=2, n_channels=2, seed=3)
    X = X * scale + shift  # raw units: the model only works after the batch transforms
    splits = (list(range(60)), list(range(60, 90)))
    dls = get_ts_dls(
        X, y, splits=splits, tfms=[None, TSClassification()], batch_tfms=batch_tfms, bs=16
    )
    torch.manual_seed(0)
    learn = ts_learner(dls, FCN, layers=[8, 16, 8], kss=[5, 3, 3])
    with learn.no_bar(), learn.no_logging():
        learn.fit(3, 3e-3)
    return learn, X


@pytest.mark.parametrize("tfm", ["TSStandardize", "TSNormalize"])
def test_learner_samples_go_through_the_batch_transforms(tfm):
    import tsai.basics as tb

    learn, X = _ts_learner([getattr(tb, tfm)()])
    with learn.no_bar():
        probs, _ = learn.get_preds(ds_idx=1)
    model, Xm, y, classes = from_learner(learn, ds_idx=1)
    e = Explainer(model).explain(Xm, methods=["gradcam"])
    np.testing.assert_array_equal(e.pred, probs.argmax(1).numpy())
    np.testing.assert_allclose(e.probs, probs.numpy(), atol=1e-5)
    # what the model sees is not the raw data (which sits around 200)
    assert abs(float(Xm.mean())) < 5 and abs(float(X.mean()) - 200) < 5
    # a subset, out of order, gets the same rows
    _, Xs, ys, _ = from_learner(learn, ds_idx=1, idxs=[7, 2, 29])
    np.testing.assert_array_equal(Xs, Xm[[7, 2, 29]])
    np.testing.assert_array_equal(ys, y[[7, 2, 29]])


from fastai.torch_core import TensorBase  # noqa: E402, I001
from fasttransform import Transform  # noqa: E402 - the base of fastai's own transforms


class TSeries(TensorBase):
    """A series item, so the batch transform below leaves the labels alone."""


class Normalize(Transform):
    """fastai's ``Normalize``, for a ``[N, C, T]`` series batch."""

    order = 99

    def __init__(self, mean, std):
        self.mean, self.std = mean, std

    def encodes(self, x: TSeries):
        return (x - self.mean) / self.std

    def decodes(self, x: TSeries):
        return x * self.std + self.mean


def test_fastai_normalize_style_batch_transform():
    from fastai.data.core import DataLoaders, TfmdDL
    from fastai.learner import Learner
    from fastai.torch_core import TensorCategory

    X, y, _ = synthetic(n=40, length=32, n_classes=2, n_channels=1, seed=4)
    X = X * 10 + 5
    labels = np.array([0 if v == y[0] else 1 for v in y])
    items = [(TSeries(X[i]), TensorCategory(int(labels[i]))) for i in range(len(X))]
    tfm = Normalize(5.0, 10.0)
    dl_train = TfmdDL(items[:30], bs=8, after_batch=[tfm], shuffle=True)
    dl_valid = TfmdDL(items[30:], bs=8, after_batch=[tfm])
    dls = DataLoaders(dl_train, dl_valid)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv1d(1, 4, 5, padding=2),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool1d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 2),
    )
    from fastai.losses import CrossEntropyLossFlat

    learn = Learner(dls, model, loss_func=CrossEntropyLossFlat())  # get_preds applies softmax
    with learn.no_bar():
        probs, _ = learn.get_preds(ds_idx=1)
    _, Xm, _, _ = from_learner(learn, ds_idx=1)
    np.testing.assert_allclose(Xm, (X[30:] - 5.0) / 10.0, rtol=1e-5, atol=1e-6)
    e = Explainer(model).explain(Xm)
    np.testing.assert_allclose(e.probs, probs.numpy(), atol=1e-6)
