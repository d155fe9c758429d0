"""CamWidget's arguments: every bad one gets a specific error (which argument, what was expected,
what was given) and leaves the user's model as it was; more samples than ``batch_size`` give the
same maps as one batch, ``norm="layer"`` included; ``save_html`` from a kernel-mode widget."""

from __future__ import annotations

import gc
import sys

import numpy as np
import pytest
import torch

from tscam_widget.models import InceptionTime
from tscam_widget.widget import CamWidget

N, T = 10, 40


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(5)
    X = rng.randn(N, 1, T).astype(np.float32).cumsum(-1)
    torch.manual_seed(1)
    model = InceptionTime(1, 3, nf=4, depth=3, bottleneck=4, kernel_sizes=(9, 5, 3)).eval()
    return model, X, np.arange(N) % 3


BAD = {
    "too few class names": (
        dict(classes=["a", "b"], y=np.arange(N) % 2),
        ValueError,
        r"classes: expected 3 names \(the model has 3 outputs\), got 2",
    ),
    "too few class names for y": (
        dict(classes=["a", "b"]),  # y holds 0, 1 and 2
        ValueError,
        r"^classes: expected 3 names \(the model has 3 outputs\), got 2$",
    ),
    "X channels last": (
        "channels last",
        ValueError,
        r"^X: the model expects 1 channel \(first layer blocks\.0\.convs\.0 takes "
        r"in_channels=1\), got X of shape \[N, 40, 1\]: channels last\? pass "
        r"X\.transpose\(0, 2, 1\)",
    ),
    "y beyond the model's classes": (
        dict(y=np.arange(N) + 4),
        ValueError,
        r"y: expected class indices in 0\.\.2 .* got 13",
    ),
    "y of the wrong length": (dict(y=np.arange(4)), ValueError, r"y: expected 10 labels"),
    "both X and dls": (dict(dls=object()), TypeError, "either as X or as dls=, not both"),
    "bad precompute": (
        dict(precompute="yes"),
        ValueError,
        r"precompute: expected True, False or 'auto', got 'yes'",
    ),
    "idxs out of range": (dict(idxs=[0, N]), ValueError, r"idxs: expected indices in 0\.\.9"),
    "negative idxs": (dict(idxs=[-11]), ValueError, r"idxs: expected indices in 0\.\.9"),
    "all-NaN samples": ("nan", ValueError, "X: every sample contains NaN or inf values"),
    "X of four axes": ("4d", ValueError, r"X: expected series \[N, T\] or \[N, C, T\]"),
    "unknown layer": (dict(layers=["nope"]), ValueError, "layers: the model has no submodule"),
    "unknown method": (dict(methods=["nope"]), ValueError, r"methods: expected .*got \['nope'\]"),
    "unknown reduction": (dict(reductions=["nope"]), ValueError, "reductions: expected"),
    "batch_size 0": (dict(batch_size=0), ValueError, r"batch_size: expected an int >= 1, got 0"),
    "negative cache": (dict(cache_mb=-1), ValueError, "cache_mb must be a number >= 0, got -1"),
    "reversed scale_range": (
        dict(scale_range=(1, 0)),
        ValueError,
        r"scale_range: expected \(lo, hi\) with lo < hi",
    ),
    "bad precision": (dict(precision="int4"), ValueError, "precision: expected one of"),
    "bad background": (dict(background="yes"), ValueError, "background: expected True, False"),
    "bad input_layout": (dict(input_layout="TNC"), ValueError, "input_layout: expected one of"),
    "unknown control": (dict(colour="red"), TypeError, r"unexpected keyword argument\(s\)"),
    "bad view": (dict(view="nope"), Exception, r"view: expected one of \['single'"),
    "bad norm": (dict(norm="nope"), Exception, "norm: expected one of"),
    "target beyond the classes": (dict(target=7), Exception, r"target: expected an int in 0\.\.2"),
    "unknown colour map": (dict(cmap="nope"), ValueError, "cmap must be one of"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_argument_is_named_and_the_model_is_untouched(data, case, model_state):
    model, X, y = data
    kw, kind, message = BAD[case]
    args: dict = {"y": y}
    if kw == "nan":
        args["X"] = np.full_like(X, np.nan)
    elif kw == "4d":
        args["X"] = X[..., None]
    elif kw == "channels last":
        args["X"] = X.transpose(0, 2, 1)
    else:
        args["X"] = X
        args.update(kw)
    before = model_state(model)
    unraisable: list = []
    old_hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        with pytest.raises(kind, match=message):
            CamWidget(model, progress=False, **args)
        gc.collect()  # the half-built widget's __del__ (close) must not fail either
    finally:
        sys.unraisablehook = old_hook
    assert not unraisable, [str(u.exc_value) for u in unraisable]
    before.assert_unchanged(model)
    assert all(p.grad is None for p in model.parameters())


def layer_normalised(raw: np.ndarray) -> np.ndarray:
    """By hand: min-max over all samples' maps of each layer and method ``raw [N, L, M, T]``."""
    lo = np.nanmin(raw, axis=(0, 3), keepdims=True)
    hi = np.nanmax(raw, axis=(0, 3), keepdims=True)
    return (raw - lo) / (hi - lo)


def test_more_samples_than_batch_size(data):
    model, X, y = data
    kw = dict(methods=["gradcam", "activation"], reductions=["mean"], progress=False)
    one = CamWidget(model, X, y, precompute=True, precision="float32", batch_size=256, **kw)
    small = CamWidget(model, X, y, precompute=True, precision="float32", batch_size=3, **kw)
    assert small.stats["computations"] >= 4  # ceil(10 / 3) explain batches
    raw = one.cube_array("pred", "none")
    np.testing.assert_allclose(small.cube_array("pred", "none"), raw, rtol=1e-4, atol=1e-5)
    by_hand = layer_normalised(raw.astype(np.float64))
    np.testing.assert_allclose(small.cube_array("pred", "layer"), by_hand, atol=1e-4)
    # kernel mode: the layer range also spans every batch, not only the one holding the sample
    kern = CamWidget(model, X, y, precompute=False, precision="float32", batch_size=3, **kw)
    kern.norm = "layer"
    m = one.cube_keys.index("gradcam")
    for s in (0, 4, 9):
        kern.sample = s
        np.testing.assert_allclose(kern.current_map, by_hand[s, kern.layer, m], atol=1e-4)


def test_save_html_from_a_kernel_mode_widget(data, tmp_path):
    model, X, y = data
    w = CamWidget(model, X, y, precompute=False, progress=False, methods=["gradcam"])
    assert not w.precomputed
    out = w.save_html(tmp_path / "page.html")
    assert w.precomputed  # the maps were computed for the page
    html = out.read_text()
    assert 'type="application/vnd.tscam-widget+json"' in html and len(html) < 2_000_000


class Backbone(torch.nn.Module):
    """A plain conv net taking 3 channels (no check of its own on the input)."""

    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Linear(4, 3)  # declared first, runs last
        self.backbone = torch.nn.Sequential(torch.nn.Conv1d(3, 4, 5, padding=2), torch.nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x).mean(-1))


@pytest.mark.parametrize(
    "shape, message",
    [
        (
            (6, 150, 3),
            r"^X: the model expects 3 channels \(first layer backbone\.0 takes in_channels=3\), "
            r"got X of shape \[N, 150, 3\]: channels last\? pass X\.transpose\(0, 2, 1\)",
        ),
        (
            (6, 2, 150),
            r"^X: the model expects 3 channels \(first layer backbone\.0 takes in_channels=3\), "
            r"got 2 channels \(X of shape \[N, 2, 150\]\)$",
        ),
        (
            (6, 150),
            r"^X: the model expects 3 channels \(first layer backbone\.0 takes in_channels=3\), "
            r"got 1 channel \(X of shape \[N, 1, 150\]\)$",
        ),
    ],
    ids=["channels last", "2 of 3 channels", "[N, T]"],
)
def test_channel_errors_name_the_first_layer(shape, message, model_state):
    model = Backbone().eval()
    before = model_state(model)
    X = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with pytest.raises(ValueError, match=message):
        CamWidget(model, X, progress=False)
    before.assert_unchanged(model)
    CamWidget(model, np.zeros((2, 3, 150), np.float32), progress=False)  # the right shape works


def _tsai_learner():
    from fastai.learner import Learner
    from tsai.data.core import TSClassification, get_ts_dls

    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 2, 24)).astype(np.float32)
    labels = np.array(["up", "down"] * 5)
    splits = (list(range(6)), list(range(6, 10)))
    dls = get_ts_dls(X, labels, splits=splits, tfms=[None, TSClassification()], bs=4)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv1d(2, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool1d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 2),
    )
    return Learner(dls, model, loss_func=torch.nn.CrossEntropyLoss()), X, dls


@pytest.mark.filterwarnings("ignore")
def test_learner_errors_say_what_camwidget_takes(tmp_path):
    from fastai.learner import load_learner

    learn, X, dls = _tsai_learner()
    for arr in (X, torch.from_numpy(X)):
        with pytest.raises(
            TypeError,
            match=r"^dls: CamWidget\(learn, dls=None\) takes fastai DataLoaders \(default: "
            r"learn\.dls\), got a (ndarray|Tensor) of shape \[10, 2, 24\]; for arrays pass the "
            r"model: CamWidget\(learn\.model, X, y\)$",
        ):
            CamWidget(learn, arr, progress=False)
    learn.export(tmp_path / "learn.pkl")
    loaded = load_learner(tmp_path / "learn.pkl")
    with pytest.raises(
        ValueError,
        match=r"^learn: the Learner has no data \(dataset 1 of its dls is empty, as after "
        r"load_learner\(\)\): pass fastai DataLoaders, CamWidget\(learn, dls\), or the model "
        r"with arrays, CamWidget\(learn\.model, X, y\)$",
    ):
        CamWidget(loaded, progress=False)
    w = CamWidget(loaded, dls, progress=False)  # what the message says works
    assert w.classes == ["down", "up"] and w.y_true.tolist() == [1, 0, 1, 0]
