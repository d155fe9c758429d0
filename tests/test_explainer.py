"""The explainer core: hand-computed maps, normalisation, layer resolution, batching, model state,
bad input, adapters. Oracle comparisons (captum, grad-cam) live in test_explain_oracles.py."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from tscam_widget.explain import (
    METHODS,
    Explainer,
    as_inputs,
    candidate_layers,
    default_layers,
    from_learner,
    methods_table,
    register_method,
    unregister_method,
)
from tscam_widget.explain.attributions import INPUT_METHODS

#: the layer methods (the input attributions are defined on "input" only: test_input_attributions)
CAMS = [n for n in METHODS if n not in {m.name for m in INPUT_METHODS}]

# ---------------------------------------------------------------- a model whose numbers we know
# lift: 1x1 conv, A_k(t) = a_k x(t) + b_k; gap: time mean; fc: logits = W mean_t(A) (no bias).
# For x = [1, 2, 3, 4]: A = [[1, 2, 3, 4], [0, -1, -2, -3], [2, 4, 6, 8]], mean_t A = [2.5, -1.5, 5]
# logits = [2.5 - 3 - 5, 1.25 + 1.5 + 5] = [-5.5, 7.75]; G_k(t) = W[c, k] / 4.
A_W, A_B = [1.0, -1.0, 2.0], [0.0, 1.0, 0.0]
W = [[1.0, 2.0, -1.0], [0.5, -1.0, 1.0]]
X1 = np.array([[1.0, 2.0, 3.0, 4.0]], dtype=np.float32)


class HandNet(nn.Module):
    def __init__(self, pool: bool = False):
        super().__init__()
        self.lift = nn.Conv1d(1, 3, 1)
        self.pool = nn.AvgPool1d(2) if pool else nn.Identity()
        self.gap = nn.AdaptiveAvgPool1d(1)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(3, 2, bias=False)
        with torch.no_grad():
            self.lift.weight.copy_(torch.tensor(A_W)[:, None, None])
            self.lift.bias.copy_(torch.tensor(A_B))
            self.fc.weight.copy_(torch.tensor(W))

    def forward(self, x):
        return self.fc(self.flat(self.gap(self.pool(self.lift(x)))))


def conv_stack(seed: int = 0) -> nn.Sequential:
    """A tiny timeseries-style Sequential with BN (random running stats), GAP and a linear head."""
    torch.manual_seed(seed)
    m = nn.Sequential(
        nn.Conv1d(2, 4, 5, padding=2),
        nn.BatchNorm1d(4),
        nn.ReLU(),
        nn.Conv1d(4, 6, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(6, 3),
    )
    with torch.no_grad():
        m[1].running_mean.uniform_(-0.5, 0.5)
        m[1].running_var.uniform_(0.5, 2.0)
    return m


def rand_x(n=6, c=2, t=24, seed=1):
    return np.random.default_rng(seed).standard_normal((n, c, t)).astype(np.float32)


# ---------------------------------------------------------------- hand-computed maps
def test_activation_reductions_by_hand():
    ex = Explainer(HandNet(), layers="lift").explain(
        X1, methods=["activation"], reductions=("mean", "median", "max", "mean_max"), norm="none"
    )
    assert ex.keys == [("activation", r) for r in ("mean", "median", "max", "mean_max")]
    exp = {
        "mean": [1, 5 / 3, 7 / 3, 3],
        "median": [1, 2, 3, 4],
        "max": [2, 4, 6, 8],
        "mean_max": [1.5, 17 / 6, 25 / 6, 5.5],
    }
    for r, v in exp.items():
        np.testing.assert_allclose(ex.raw("activation", "lift", r)[0], v, rtol=1e-6)
        np.testing.assert_allclose(ex.get("activation", 0, r)[0], v, rtol=1e-6)


def test_median_even_channel_count_is_the_lower_middle_value():
    # the `timeseries` package used torch.median: the lower of the two middle values
    A = torch.tensor([[[1.0, 5.0], [4.0, 0.0], [2.0, 2.0], [10.0, 1.0]]])
    from tscam_widget.explain.methods import reduce

    np.testing.assert_allclose(reduce(A, "median", 1)[0].numpy(), [2.0, 1.0])


def test_gradient_methods_by_hand():
    # target 1: w = W[1] / 4 = [0.125, -0.25, 0.25]
    ex = Explainer(HandNet(), layers=["lift"]).explain(X1, methods=CAMS, norm="none")
    np.testing.assert_allclose(ex.logits[0], [-5.5, 7.75], rtol=1e-6)
    assert ex.pred.tolist() == [1] and ex.target.tolist() == [1]
    gc = [0.625, 1.5, 2.375, 3.25]
    np.testing.assert_allclose(ex.raw("gradcam", "lift")[0], gc, rtol=1e-5)
    np.testing.assert_allclose(ex.raw("hirescam", "lift")[0], gc, rtol=1e-5)
    np.testing.assert_allclose(ex.raw("xgradcam", "lift")[0], gc, rtol=1e-5)  # G constant in t
    np.testing.assert_allclose(ex.raw("layercam", "lift")[0], [0.625, 1.25, 1.875, 2.5], rtol=1e-5)
    np.testing.assert_allclose(
        ex.raw("gradcam_classic", "lift")[0], np.array(gc) / 3, rtol=1e-5
    )  # mean over 3 channels instead of the sum
    np.testing.assert_allclose(ex.raw("cam", "lift")[0], [2.5, 6.0, 9.5, 13.0], rtol=1e-5)
    # gradcam++ by hand: a_k = g^2 / (2 g^2 + sum_t A_k g^3 + 1e-6), w_k = 4 relu(g_k) a_k
    a0 = 0.125**2 / (2 * 0.125**2 + 10 * 0.125**3 + 1e-6)
    a2 = 0.25**2 / (2 * 0.25**2 + 20 * 0.25**3 + 1e-6)
    w0, w2 = 4 * 0.125 * a0, 4 * 0.25 * a2
    np.testing.assert_allclose(
        ex.raw("gradcam++", "lift")[0],
        [w0 * 1 + w2 * 2, w0 * 2 + w2 * 4, w0 * 3 + w2 * 6, w0 * 4 + w2 * 8],
        rtol=1e-5,
    )
    # eigencam: centred A^T = rows t of [A_0 - 2.5, A_1 + 1.5, A_2 - 5] = s * [1, -1, 2] with
    # s = [-1.5, -0.5, 0.5, 1.5]; the first principal direction is [1, -1, 2]/sqrt(6)
    eig = ex.raw("eigencam", "lift")[0]
    expected = np.array([-1.5, -0.5, 0.5, 1.5]) * np.sqrt(6)
    assert min(np.abs(eig - expected).max(), np.abs(eig + expected).max()) < 1e-4
    # scorecam by hand: masks = min-max of each A_k, the input times each mask, target logit
    x = X1[0].astype(np.float64)
    A = np.array([A_W]).T * x + np.array([A_B]).T
    masks = (A - A.min(1, keepdims=True)) / (
        A.max(1, keepdims=True) - A.min(1, keepdims=True) + 1e-8
    )
    Wn, a, b = np.array(W), np.array(A_W), np.array(A_B)
    scores = np.array([Wn[1] @ (a * (x * mk).mean() + b) for mk in masks])
    w = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
    np.testing.assert_allclose(ex.raw("scorecam", "lift")[0], w @ A, rtol=1e-4)
    # ablationcam by hand: channel k zeroed, w_k = (y - y_k) / y
    y = 7.75
    yk = np.array([y - Wn[1, k] * A[k].mean() for k in range(3)])
    np.testing.assert_allclose(ex.raw("ablationcam", "lift")[0], ((y - yk) / y) @ A, rtol=1e-4)


def test_targets_pred_true_int_array():
    x = np.concatenate([X1, 2 * X1])
    e = Explainer(HandNet(), layers="lift")
    by_target = {
        c: (np.array(W[c]) / 4) @ (np.array([A_W]).T * X1[0] + np.array([A_B]).T) for c in (0, 1)
    }
    cases = {
        "pred": ([1, 1], {}),
        "true": ([0, 1], {"y": np.array([0, 1])}),
        0: ([0, 0], {}),
        "array": ([1, 0], {}),
    }
    for tgt, (expect, kw) in cases.items():
        t = np.array([1, 0]) if tgt == "array" else tgt
        ex = e.explain(x, target=t, methods=["gradcam"], norm="none", **kw)
        assert ex.target.tolist() == expect
        for i, c in enumerate(expect):
            # sample 1 is x scaled by 2: A = 2 a x + b
            A = np.array([A_W]).T * x[i] + np.array([A_B]).T
            np.testing.assert_allclose(ex.raw("gradcam", 0)[i], (np.array(W[c]) / 4) @ A, rtol=1e-5)
    assert by_target[0].max() < 0  # target 0 gives an all-negative map ...
    ex = e.explain(X1, target=0, methods=["gradcam", "hirescam"])
    for m in ("gradcam", "hirescam"):  # ... which normalises to zeros, never NaN
        np.testing.assert_array_equal(ex.get(m, "lift"), np.zeros((1, 4), np.float32))


# ---------------------------------------------------------------- normalisation and upsampling
def test_norm_sample_layer_none_and_constant():
    x = np.concatenate([X1, 10 * X1, np.full((1, 4), 3.0, np.float32)])
    e = Explainer(HandNet(), layers="lift")
    r0 = np.array([1, 5 / 3, 7 / 3, 3])  # channel mean of A for X1
    r1 = (
        10 * np.array([1, 2, 3, 4]) * np.array([[1], [-1], [2]]) + np.array([[0], [1], [0]])
    ).mean(0)
    ex = e.explain(x, methods=["activation"], norm="sample")
    got = ex.get("activation", "lift")
    np.testing.assert_allclose(got[0], (r0 - 1) / 2, atol=1e-6)
    np.testing.assert_allclose(got[1], (r1 - r1.min()) / (r1.max() - r1.min()), atol=1e-6)
    np.testing.assert_array_equal(got[2], np.zeros(4, np.float32))  # constant series -> zeros
    ex = e.explain(x, methods=["activation"], norm="layer", scale_range=(-1, 1))
    raw = np.stack([r0, r1, np.full(4, (3 * 1 + 3 * -1 + 1 + 3 * 2) / 3)])
    lo, hi = raw.min(), raw.max()
    np.testing.assert_allclose(
        ex.get("activation", "lift"), -1 + 2 * (raw - lo) / (hi - lo), atol=1e-6
    )
    ex = e.explain(x, methods=["activation"], norm="none")
    np.testing.assert_allclose(ex.get("activation", "lift"), raw, rtol=1e-6)
    assert ex.get("activation", "lift").dtype == np.float32


def test_upsampling_is_linear_align_corners_false_by_hand():
    ex = Explainer(HandNet(pool=True), layers="pool").explain(
        X1, methods=["activation"], norm="none"
    )
    v0, v1 = 4 / 3, 8 / 3  # AvgPool(2) of the channel mean [1, 5/3, 7/3, 3]
    np.testing.assert_allclose(ex.raw("activation", "pool")[0], [v0, v1], rtol=1e-6)
    # output i samples source (i + 0.5) * 2/4 - 0.5 = -0.25, 0.25, 0.75, 1.25 (clamped at the ends)
    expect = [v0, 0.75 * v0 + 0.25 * v1, 0.25 * v0 + 0.75 * v1, v1]
    np.testing.assert_allclose(ex.get("activation", "pool")[0], expect, rtol=1e-6)


def test_to_array_cube_and_cam_nan_off_head():
    ex = Explainer(HandNet(pool=True), layers=["lift", "pool"]).explain(
        X1, methods=["activation", "cam"]
    )
    cube, keys = ex.to_array()
    assert cube.shape == (2, 2, 1, 4) and cube.dtype == np.float32
    assert keys == ["activation/mean", "cam"]
    # pool's time-mean feeds fc (lift's does too: AvgPool(2) of an even length keeps the mean)
    assert not np.isnan(cube).any()
    np.testing.assert_array_equal(cube[1, 0], ex.get("activation", "pool"))
    m = conv_stack()
    ex = Explainer(m, layers=[0, 4]).explain(rand_x(n=2), methods=["cam", "gradcam"])
    cube, keys = ex.to_array()
    assert keys == ["cam", "gradcam"]
    assert (
        np.isnan(cube[0, 0]).all()
        and not np.isnan(cube[1]).any()
        and not np.isnan(cube[0, 1]).any()
    )
    with pytest.raises(ValueError, match="undefined for layer '0'"):
        ex.get("cam", "0")


# ---------------------------------------------------------------- layers
def test_candidate_and_default_layers():
    m = conv_stack()
    x = rand_x(n=2)
    assert candidate_layers(m, x) == ["0", "1", "2", "3", "4"]
    assert default_layers(m, x) == ["0", "1", "2", "3", "4"]
    wrapped = nn.Sequential(
        nn.Sequential(*list(conv_stack())[:5]), nn.Sequential(*list(conv_stack())[5:])
    )
    assert default_layers(wrapped, x) == ["0.0", "0.1", "0.2", "0.3", "0.4"]
    assert Explainer(m, layers=3).layers == ["3"]  # known before any forward
    assert Explainer(m, layers=3).resolve(x) == ["3"]
    assert Explainer(m, layers=[m[0], "4", -7]).resolve(x) == ["0", "4", "1"]


class TokensFirst(nn.Module):
    """[N, C=3, T] -> tokens [N, T, D] by a Linear on the channels -> time-mean -> head."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(3, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x.transpose(1, 2)).mean(1))


class _Noop(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class _WithIdentities(nn.Module):
    """Identity-at-inference modules after ops that are not modules (so each is the only module
    returning its tensor): a Dropout, a parameter-free pass-through and an ``nn.Identity`` that
    returns the tensor feeding the head; and an in-place ReLU, which returns its input object
    too but changed."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(2, 4, 3, padding=1)
        self.pos = nn.Parameter(torch.randn(4, 1))
        self.drop = nn.Dropout(0.5)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv1d(4, 4, 3, padding=1)
        self.noop = _Noop()
        self.conv3 = nn.Conv1d(4, 4, 3, padding=1)
        self.ident = nn.Identity()
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act1(self.drop(self.conv1(x) + self.pos))
        h = self.noop(self.conv2(h) * 2)
        h = self.ident(torch.tanh(self.conv3(h)))
        return self.head(h.mean(-1))


def test_identity_at_inference_layers_are_not_default_layers():
    m = _WithIdentities()
    x = rand_x(n=2)
    names = ["conv1", "drop", "act1", "conv2", "noop", "conv3", "ident"]
    assert candidate_layers(m, x) == names  # still there to pick by name
    # drop (a type) and noop (returns its input) skipped; act1 changes its input in place; ident
    # alone returns the head's input, and the list ends there
    assert default_layers(m, x) == ["conv1", "act1", "conv2", "conv3", "ident"]
    ex = Explainer(m, layers=["drop", "noop"]).explain(x, methods=["hirescam"], norm="none")
    assert np.abs(ex.raw("hirescam", "drop")).max() > 0  # explicit selection still explained


def test_reference_inception_time_default_layers_and_cam():
    from tscam_widget import models

    torch.manual_seed(0)
    m = models.InceptionTime(1, 3, nf=4, bottleneck=4, kernel_sizes=(5, 3))
    x = rand_x(n=3, c=1, t=16)
    assert default_layers(m, x) == [f"blocks.{i}" for i in range(6)]
    seen = {}
    h = m.blocks[5].register_forward_hook(lambda mod, i, o: seen.__setitem__("A", o.detach()))
    ex = Explainer(m).explain(x, methods=["cam"], norm="none")
    with torch.no_grad():
        logits = m.eval()(torch.from_numpy(x))
    h.remove()
    A = seen["A"].double()
    W = m.head.weight.detach().double()
    cls = logits.argmax(1)
    by_hand = torch.einsum("nk,nkt->nt", W[cls], A).numpy()
    np.testing.assert_allclose(ex.raw("cam", "blocks.5"), by_hand, rtol=1e-4, atol=1e-5)
    assert all(not ex.defined("cam", f"blocks.{i}", None) for i in range(5))
    assert ex.layers == [f"blocks.{i}" for i in range(6)]
    np.testing.assert_allclose(ex.logits, logits.numpy(), rtol=1e-5, atol=1e-6)
    c = logits.argmax(1)
    expect = torch.einsum("nc,nct->nt", m.head.weight[c].detach(), seen["A"]).numpy()
    np.testing.assert_allclose(ex.raw("cam", "blocks.5"), expect, rtol=1e-4, atol=1e-5)
    cube, _ = ex.to_array()
    assert np.isnan(cube[:5]).all() and not np.isnan(cube[5]).any()


def test_tsai_inception_time_default_layers():
    from tsai.models.InceptionTime import InceptionTime as TsaiInception

    torch.manual_seed(0)
    m = TsaiInception(1, 2, nf=4)
    x = rand_x(n=2, c=1, t=16)
    names = default_layers(m, x)
    p = "inceptionblock."
    # every inception module, and the shared residual ReLU `act` (not the `add` before it) where
    # the shortcut joins at depths 2 and 5
    assert names == [
        p + "inception.0",
        p + "inception.1",
        p + "inception.2",
        p + "act@0",
        p + "inception.3",
        p + "inception.4",
        p + "inception.5",
        p + "act@1",
    ]
    outs = []
    h = m.inceptionblock.act.register_forward_hook(lambda mod, i, o: outs.append(o.detach()))
    ex = Explainer(m).explain(x, methods=["activation", "cam"], norm="none")
    h.remove()
    outs = outs[-2:]  # act runs twice per forward (act@0, act@1); the last forward is explain's
    np.testing.assert_allclose(
        ex.raw("activation", p + "act@0"), outs[0].mean(1).numpy(), rtol=1e-5
    )
    np.testing.assert_allclose(
        ex.raw("activation", p + "act@1"), outs[1].mean(1).numpy(), rtol=1e-5
    )
    assert ex.defined("cam", p + "act@1") and not ex.defined("cam", p + "act@0")


# ---------------------------------------------------------------- consistency
def test_all_layers_equals_per_layer_and_batch_equals_single():
    m = conv_stack()
    x = rand_x(n=5)
    meths = [n for n in CAMS if n != "eigencam"] + ["eigencam"]
    kw = dict(methods=meths, reductions=("mean", "max"), norm="none")
    full = Explainer(m, layers="all").explain(x, batch_size=5, **kw)
    assert full.layers == ["0", "1", "2", "3", "4"]
    for layer in ("1", "4"):
        # cam is defined on '4' only (an explicit cam on '1' alone is an error)
        kw1 = {
            **kw,
            "methods": meths if layer == "4" else [n for n in meths if not METHODS[n].only_on],
        }
        one = Explainer(m, layers=layer).explain(x, **kw1)
        for meth, red in one.keys:
            np.testing.assert_allclose(
                one.raw(meth, layer, red), full.raw(meth, layer, red), atol=1e-5, rtol=1e-5
            )
    single = Explainer(m, layers="all").explain(x, batch_size=1, **kw)
    odd = Explainer(m, layers="all").explain(x, batch_size=2, chunk_size=3, **kw)
    for other in (single, odd):
        cube_a, _ = full.to_array()
        cube_b, _ = other.to_array()
        sign = np.ones_like(cube_a)  # eigencam's sign is arbitrary per sample
        ek = [k[0] for k in full.keys].index("eigencam")
        sign[:, ek] = np.sign(np.sum(cube_a[:, ek] * cube_b[:, ek], -1, keepdims=True))
        np.testing.assert_allclose(cube_a * sign, cube_b, atol=1e-5, equal_nan=True)


def test_in_place_op_after_a_captured_layer_changes_nothing():
    # ReLU(inplace=True) overwrites the conv's output after it is captured: the explainer sees
    # the version counter move and runs the forward again, passing a clone downstream
    def stack(inplace: bool) -> nn.Sequential:
        m = conv_stack()
        m[2] = nn.ReLU(inplace=inplace)
        m[4] = nn.ReLU(inplace=inplace)
        return m.eval()

    x = rand_x(n=4)
    kw = dict(methods=CAMS, norm="none", reductions=("mean", "max"))
    layers = ["1", "3", "4"]
    plain = Explainer(stack(False), layers=layers).explain(x, **kw)
    inplace = Explainer(stack(True), layers=layers).explain(x, **kw)
    assert plain.keys == inplace.keys
    for meth, red in plain.keys:
        for ln in layers:
            a, b = plain.raw(meth, ln, red), inplace.raw(meth, ln, red)
            if meth == "eigencam":  # sign arbitrary per sample
                b = b * np.sign(np.sum(a * b, -1, keepdims=True))
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, err_msg=f"{meth} {ln}")
    # and the conv's own output was kept, not the ReLU'd one: activation/max can be negative
    assert (inplace.raw("activation", "3", "max") < 0).any() or (
        inplace.raw("activation", "3", "mean") < 0
    ).any()


# ---------------------------------------------------------------- model state
def _messy_model():
    m = conv_stack()
    m.train()
    m[3].eval()
    m[0].weight.requires_grad_(False)
    m[3].weight.grad = torch.full_like(m[3].weight, 0.5)
    m[7].bias.grad = torch.zeros_like(m[7].bias)
    m[2].register_forward_hook(lambda mod, i, o: None)
    m[1].register_forward_pre_hook(lambda mod, i: None)
    return m


def test_state_restored_for_every_method(model_state):
    m = _messy_model()
    before = model_state(m)
    x = rand_x(n=3)
    ex = Explainer(m, layers="all").explain(x, methods=CAMS, reductions=("mean", "median"))
    before.assert_unchanged(m)
    assert set(ex.methods) == set(CAMS)
    inputs = [n for n in METHODS if n not in CAMS]  # with their own passes, on the input
    kw = dict(steps=2, noise_samples=2, shapley_samples=2, n_segments=3, window=4, chunk_size=5)
    ex_in = Explainer(m, layers="input").explain(x, methods=inputs, **kw)
    before.assert_unchanged(m)
    assert set(ex_in.methods) == set(inputs)
    # a frozen model (no parameter requires grad) still gets gradient maps
    for p in m.parameters():
        p.requires_grad_(False)
    before = model_state(m)
    ex2 = Explainer(m, layers="all").explain(x, methods=["gradcam"], norm="none")
    before.assert_unchanged(m)
    np.testing.assert_allclose(
        ex2.raw("gradcam", "3"), ex.raw("gradcam", "3"), rtol=1e-5, atol=1e-6
    )


def test_frozen_body_maps_equal_and_second_forward_only_once():
    """The input gets a gradient only when needed: with the first conv frozen (fastai's
    ``freeze``), the first layer's output is outside the graph unless the input is in it, so the
    first batch runs again with the input's gradient and the explainer remembers that."""
    m = conv_stack()
    frozen = copy.deepcopy(m)
    for p in frozen[0].parameters():
        p.requires_grad_(False)
    calls = [0]
    frozen.register_forward_pre_hook(lambda mod, i: calls.__setitem__(0, calls[0] + 1))
    x = rand_x(n=5)
    want = Explainer(m, layers="all").explain(x, methods=["gradcam", "hirescam"], norm="none")
    ex = Explainer(frozen, layers="all")
    ex.resolve(x)
    calls[0] = 0
    got = ex.explain(x, methods=["gradcam", "hirescam"], norm="none", batch_size=2)
    assert calls[0] == 3 + 1  # three batches, the first one twice
    for method in ("gradcam", "hirescam"):
        for layer in want.layers:
            np.testing.assert_allclose(
                got.raw(method, layer), want.raw(method, layer), rtol=1e-5, atol=1e-7
            )
    assert np.abs(got.raw("hirescam", "0")).max() > 0  # the frozen layer's map is not zeros


def test_state_restored_after_exceptions(model_state):
    m = _messy_model()
    before = model_state(m)

    def boom(a, g, r):
        raise ZeroDivisionError("boom")

    register_method("_boom", boom, uses_gradients=True)
    try:
        with pytest.raises(ZeroDivisionError):
            Explainer(m, layers="all").explain(rand_x(n=2), methods=["gradcam", "_boom"])
    finally:
        unregister_method("_boom")
    before.assert_unchanged(m)

    class Marked(nn.Module):
        def forward(self, x):
            if bool((x > 100).any()):
                raise KeyError("marked input")
            return x

    m2 = nn.Sequential(Marked(), *_messy_model())
    before = model_state(m2)
    x = rand_x(n=4)
    x[3, 0, 0] = 1000.0
    with pytest.raises(KeyError, match="marked input"):
        Explainer(m2, layers=[1, 4]).explain(x, batch_size=2)
    before.assert_unchanged(m2)


def test_state_restored_when_the_forward_fails_and_is_diagnosed(model_state):
    # a too-short series: the forward raises a RuntimeError, _diagnose reruns it with tracking
    # hooks on every module to name the layer; those hooks go too
    m = _messy_model()
    m[3] = nn.Conv1d(4, 6, 9)  # no padding: fails on length < 9
    before = model_state(m)
    with pytest.raises(ValueError, match="layer '3'"):
        Explainer(m, layers=[1]).explain(rand_x(n=2, t=5))
    before.assert_unchanged(m)


def test_the_state_check_catches_a_leaked_hook(monkeypatch, model_state):
    # the hooks are removed through their handles and nothing else: with RemovableHandle.remove
    # a no-op, the hooks the explainer registered stay and the snapshot sees them
    from torch.utils.hooks import RemovableHandle

    m = _messy_model()
    before = model_state(m)
    monkeypatch.setattr(RemovableHandle, "remove", lambda self: None)
    Explainer(m, layers="all").explain(rand_x(n=2), methods=["gradcam"])
    monkeypatch.undo()
    with pytest.raises(AssertionError):
        before.assert_unchanged(m)


def test_no_grad_and_inference_mode():
    m = conv_stack()
    x = rand_x(n=2)
    ref = Explainer(m).explain(x, methods=["gradcam", "activation"]).to_array()[0]
    with torch.no_grad():
        a = Explainer(m).explain(x, methods=["gradcam", "activation"]).to_array()[0]
    with torch.inference_mode():
        b = (
            Explainer(m)
            .explain(torch.from_numpy(x), methods=["gradcam", "activation"])
            .to_array()[0]
        )
    np.testing.assert_allclose(a, ref, atol=1e-6)
    np.testing.assert_allclose(b, ref, atol=1e-6)
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()


def test_float64_model_and_tensor_inputs_give_cpu_float32():
    m = conv_stack().double()
    x = torch.from_numpy(rand_x(n=2)).double()
    ex = Explainer(m).explain(x, methods=["gradcam"], norm="none")
    assert ex.raw("gradcam", 0).dtype == np.float32 and ex.logits.dtype == np.float32
    with torch.no_grad():
        np.testing.assert_allclose(ex.logits, m.eval()(x).numpy(), rtol=1e-5)


# ---------------------------------------------------------------- bad input
def test_bad_inputs_have_clear_errors():
    m = conv_stack()
    x = rand_x(n=3)
    e = Explainer(m)
    with pytest.raises(
        ValueError, match=r"x: expected a series batch \[N, T\] or \[N, C, T\], got 4"
    ):
        e.explain(x[None])
    bad = x.copy()
    bad[1, 0, 3] = np.nan
    bad[2, 1, 0] = np.inf
    with pytest.raises(ValueError, match=r"x: expected finite values.*sample\(s\) \[1, 2\]"):
        e.explain(bad)
    short = nn.Sequential(
        nn.Conv1d(1, 2, 7),
        nn.Conv1d(2, 2, 7),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(2, 2),
    )
    with pytest.raises(ValueError, match=r"length 10.*too short for layer '1'"):
        Explainer(short, layers=0).explain(np.zeros((2, 10), np.float32))
    tokens = TokensFirst()  # its first layer, a Linear, reads the channels after a transpose
    with pytest.raises(
        ValueError,
        match=r"^x: the model expects 3 channels \(first layer embed takes in_features=3\), "
        r"got x of shape \[N, 20, 3\]: channels last\? pass x\.transpose\(0, 2, 1\)",
    ):
        Explainer(tokens).explain(np.zeros((2, 20, 3), np.float32))
    with pytest.raises(ValueError, match=r"^x: the model expects 3 channels .* got 2 channels"):
        Explainer(tokens).explain(np.zeros((2, 2, 20), np.float32))
    with pytest.raises(ValueError, match=r"^y: expected class indices in 0\.\.1 \(2 classes "):
        as_inputs(tokens, np.zeros((3, 3, 20)), [0, 1, 2], classes=["a", "b"])
    with pytest.raises(
        IndexError, match=r"index 9 out of range.*8 top-level children \(valid: -8\.\.7\)"
    ):
        Explainer(m, layers=9).explain(x)
    with pytest.raises(ValueError, match=r"layers: the model has no submodule named 'lfit'"):
        Explainer(HandNet(), layers="lfit")
    with pytest.raises(ValueError, match=r"close matches: \['lift'\]"):
        Explainer(HandNet(), layers="lfit")
    with pytest.raises(
        ValueError, match=r"output of '6' \(shape \[2, 6\]\) has no time axis: a layer needs 3"
    ):
        Explainer(m, layers=6).explain(x)
    with pytest.raises(ValueError, match=r"output of '5'.*shape \[2, 6, 1\]: no time axis"):
        Explainer(m, layers="5").explain(x)
    no_head = nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReLU())
    with pytest.raises(
        ValueError,
        match=r"model: its output is a tensor of shape \[2, 3, 22\], expected logits \[N, K\]",
    ):
        Explainer(no_head, layers=0).explain(x)
    with pytest.raises(
        ValueError, match=r"target: expected an int in 0\.\.2 \(the model has 3 classes\), got 3"
    ):
        e.explain(x, target=3)
    with pytest.raises(
        ValueError, match=r"target: 'true' needs the true label of every sample, got no y"
    ):
        e.explain(x, target="true")
    with pytest.raises(ValueError, match=r"y: expected 3 labels.*got shape \[2\]"):
        e.explain(x, target="true", y=[0, 1])
    with pytest.raises(
        ValueError, match=r"methods: unknown method 'gradcamm'; known: \[.*'gradcam'.*did you mean"
    ):
        e.explain(x, methods=["gradcamm"])
    with pytest.raises(
        ValueError,
        match=r"reductions: expected one or more of \['mean', 'median', 'max', 'mean_max'\], "
        r"got \['min'\]",
    ):
        e.explain(x, reductions=("min",))
    with pytest.raises(
        ValueError, match=r"norm: expected one of \['none', 'sample', 'layer'\], got 'global'"
    ):
        e.explain(x, norm="global")
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['chunk_size'\]"):
        e.explain(x, methods=["gradcam"], chunk_size=4)
    with pytest.raises(
        ValueError, match=r"'cam' needs.*last nn.Linear is '7', fed by none of the layers \['0'\]"
    ):
        Explainer(m, layers=0).explain(x, methods=["cam"])
    with pytest.raises(RuntimeError, match=r"call explain\(x\) or resolve\(x\) first"):
        Explainer(m).layers  # noqa: B018
    with pytest.raises(KeyError, match=r"reduction: 'max' not computed"):
        e.explain(x, methods=["activation"]).get("activation", 0, "max")


# ---------------------------------------------------------------- register_method
def test_register_method_user_function():
    def energy(a, g, r):
        return (a * g).pow(2).sum(1)

    register_method("energy", energy, uses_gradients=True)
    try:
        with pytest.raises(ValueError, match="already exists"):
            register_method("energy", energy)
        ex = Explainer(HandNet(), layers="lift").explain(
            X1, methods=["energy", "gradcam"], norm="none"
        )
        A = np.array([A_W]).T * X1[0] + np.array([A_B]).T
        G = np.array(W[1])[:, None] / 4
        np.testing.assert_allclose(ex.raw("energy", "lift")[0], ((A * G) ** 2).sum(0), rtol=1e-5)
        assert "energy" not in Explainer(HandNet()).explain(X1).methods  # not in the default set
    finally:
        unregister_method("energy")
    assert "energy" not in METHODS


def test_register_method_never_changes_the_instance_passed_in():
    gc = METHODS["gradcam"]
    before = dict(vars(gc)), type(gc).name
    got = register_method("my_gradcam", gc)
    try:
        assert got is not gc and got.name == "my_gradcam"
        assert gc.name == "gradcam" and dict(vars(gc)) == before[0] and METHODS["gradcam"] is gc
        assert type(gc).name == before[1]
        ex = Explainer(HandNet(), layers="lift").explain(
            X1, methods=["gradcam", "my_gradcam"], norm="none"
        )
        np.testing.assert_array_equal(ex.raw("my_gradcam", "lift"), ex.raw("gradcam", "lift"))
    finally:
        unregister_method("my_gradcam")
    # an instance already named as registered is registered as it is
    got = register_method("gradcam", gc, overwrite=True)
    assert got is gc and METHODS["gradcam"] is gc


def test_a_method_taking_some_reductions_only():
    def peak(a, g, r):
        return a.amax(1) if r == "max" else a.median(1).values

    m = register_method("_peak", peak)
    try:
        m2 = copy.copy(m)
        m2.reductions = ("max", "median")  # an instance attribute of the copy
        register_method("_peak", m2, overwrite=True)
        ex = Explainer(HandNet(), layers="lift").explain(
            X1, methods=["_peak", "activation"], reductions=("mean", "max"), norm="none"
        )
        assert ex.keys == [("_peak", "max"), ("activation", "mean"), ("activation", "max")]
        with pytest.raises(ValueError, match=r"'_peak' takes \['max', 'median'\], none of"):
            Explainer(HandNet(), layers="lift").explain(X1, methods=["_peak"], reductions="mean")
    finally:
        unregister_method("_peak")


def test_methods_table_in_readme_is_generated_from_the_classes():
    import pathlib

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert methods_table() in readme, "README methods table: paste methods_table() output"
    for name, m in METHODS.items():
        assert m.label and m.reference and m.formula, name  # every method fully described


# ---------------------------------------------------------------- adapters
def test_as_inputs_maps_labels():
    m = conv_stack()
    _, X, y, classes = as_inputs(m, np.zeros((3, 5)), ["b", "a", "b"])
    assert X.shape == (3, 1, 5) and X.dtype == np.float32
    assert classes == ["a", "b"] and y.tolist() == [1, 0, 1]
    _, _, y, _ = as_inputs(m, torch.zeros(2, 2, 5), ["x", "z"], classes=["z", "x"])
    assert y.tolist() == [1, 0]
    with pytest.raises(ValueError, match=r"y: label\(s\) \['q'\] not in classes"):
        as_inputs(m, np.zeros((1, 5)), ["q"], classes=["a"])


def test_from_learner_fastai_and_tsai():
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from tsai.data.core import TSClassification, get_ts_dls

    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 2, 24)).astype(np.float32)
    labels = np.array(["up", "down"] * 5)
    splits = (list(range(6)), list(range(6, 10)))
    dls = get_ts_dls(X, labels, splits=splits, tfms=[None, TSClassification()], bs=4)
    learn = Learner(dls, conv_stack(), loss_func=nn.CrossEntropyLoss())
    model, Xv, yv, classes = from_learner(learn)
    assert model is learn.model and classes == ["down", "up"]
    np.testing.assert_array_equal(Xv, X[6:])
    assert [classes[i] for i in yv] == labels[6:].tolist()
    _, Xt, yt, _ = from_learner(learn, ds_idx=0, idxs=[1, 2])
    np.testing.assert_array_equal(Xt, X[[1, 2]])
    assert [classes[i] for i in yt] == ["down", "up"]
    ex = Explainer(model).explain(Xv, target="true", y=yv, methods=["gradcam"])
    assert ex.target.tolist() == yv.tolist()

    train = [(torch.from_numpy(X[i]), int(i % 3)) for i in range(6)]
    valid = [(torch.from_numpy(X[i]), int(i % 3)) for i in range(6, 10)]
    fdls = DataLoaders.from_dsets(train, valid, bs=2)
    learn2 = Learner(fdls, conv_stack(), loss_func=nn.CrossEntropyLoss())
    _, Xv2, yv2, classes2 = from_learner(learn2)
    np.testing.assert_array_equal(Xv2, X[6:])
    assert yv2.tolist() == [0, 1, 2, 0] and classes2 == ["0", "1", "2"]
    with pytest.raises(IndexError, match=r"idxs: \[7\] out of range for a dataset of 4 items"):
        from_learner(learn2, idxs=[7])
    with pytest.raises(TypeError, match=r"^dls: expected fastai DataLoaders, got a ndarray of "):
        from_learner(learn2, X)
