"""Trust scores of the input attributions (issue 20, item 3) against independent oracles.

- Per-channel and time deletion on a hand-built linear model ``f(x) = sum_c sum_t w_ct x_ct``
  (logits ``[f, -f]``): with the ``zero`` perturbation a curve is ``F(x)`` less the removed
  cells' contributions ``w x`` in the order of the map, computed here by hand; with ``interp``
  (no noise) each channel is refilled by ``numpy.interp`` over its own kept steps.
- Localisation of ``integrated_gradients`` / ``occlusion`` equals ``metrics.localisation`` of
  captum's ``IntegratedGradients`` / ``Occlusion`` maps (min-max scaled here per sample) with
  the same ``method_kwargs``.
- The sanity cascade of ``shapley_segments`` on a model without gradients equals scipy's
  Spearman correlation of captum's ``ShapleyValueSampling`` maps of the model and of its
  randomised copy.
- NaN (not zeros, not errors) on every layer but ``input`` for the input attributions, in
  :func:`evaluate` and in the widget's trust traits.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients, Occlusion, ShapleyValueSampling
from scipy.stats import spearmanr
from torch import nn

from tscam_widget.metrics import cascade_stages, evaluate, localisation, randomised_models
from tscam_widget.metrics.deletion import random_orders

pytestmark = pytest.mark.usefixtures("one_torch_thread")

C, T, B, K = 3, 20, 5, 5  # channels, length, chunks, steps: 15 cells, 3 per step


class Linear(nn.Module):
    """``f(x) = sum_c sum_t w[c, t] x[c, t]``; logits ``[f, -f]``."""

    def __init__(self, w: np.ndarray):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = (x * self.w).sum((1, 2))
        return torch.stack([f, -f], 1)


@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(C, T))
    X = rng.normal(size=(6, C, T)).astype(np.float32).astype(np.float64)  # as the model gets it
    return Linear(w).eval(), w, X


def _sign_and_logit(w: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = (w * X).sum((1, 2))
    s = np.where(f >= 0, 1.0, -1.0)  # the predicted class's sign: target logit s f
    return s, s * f


def _cells(w: np.ndarray, X: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Contribution of each (channel, chunk) to the target logit: ``[N, C, B]``."""
    return (s[:, None, None] * w * X).reshape(len(X), C, B, T // B).sum(-1)


def _removal_curve(start: np.ndarray, contrib: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Target logit after each step: ``start - sum of the first 3k units of order``."""
    per_step = order.shape[-1] // K
    taken = np.take_along_axis(contrib, order, -1)
    cum = np.concatenate([np.zeros((len(start), 1)), np.cumsum(taken, -1)], -1)
    return start[:, None] - cum[:, ::per_step]


def test_channel_deletion_curves_equal_the_hand_computation(linear):
    m, w, X = linear
    rep = evaluate(
        m, X, layers=["input"], methods=["inputxgradient"], perturbation="zero", steps=K,
        blocks=B, random_draws=2, deletion="channel", sanity=False, seed=4,
    )  # fmt: skip
    s, start = _sign_and_logit(w, X)
    cells = _cells(w, X, s).reshape(len(X), C * B)  # channel-major, as the map's cells
    assert rep.deletion == "channel"
    np.testing.assert_allclose(rep.fractions, np.arange(K + 1) / K)
    morf = _removal_curve(start, cells, np.argsort(-cells, -1))
    lerf = _removal_curve(start, cells, np.argsort(cells, -1))
    np.testing.assert_allclose(rep.logit_curves[:, 0, 0, 0], morf, atol=1e-5)
    np.testing.assert_allclose(rep.logit_curves[:, 0, 0, 1], lerf, atol=1e-5)
    np.testing.assert_allclose(rep.curves[:, 0, 0, 0], 1 / (1 + np.exp(-2 * morf)), atol=1e-5)
    # random curves: random orders of the 15 cells (not of the 5 chunks)
    rnd = random_orders(len(X), 2, C * B, 4)
    for r in range(2):
        want = _removal_curve(start, cells, rnd[:, r])
        np.testing.assert_allclose(rep.random_logit_curves[:, r], want, atol=1e-5)
    # MoRF of the true contributions falls fastest: a large gain over random cells
    assert (rep.gain_per_sample[:, 0, 0] > 0).all()
    # one channel's chunk at a time differs from removing every channel of a chunk
    time = evaluate(
        m, X, layers=["input"], methods=["inputxgradient"], perturbation="zero", steps=K,
        blocks=B, deletion="time", sanity=False,
    )  # fmt: skip
    chunks = _cells(w, X, s).sum(1)  # [N, B]
    morf_t = _removal_curve(start, chunks, np.argsort(-chunks, -1))
    np.testing.assert_allclose(time.logit_curves[:, 0, 0, 0], morf_t, atol=1e-5)
    assert np.abs(morf - morf_t).max() > 0.1


def _interp_fill(x: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """Each channel's removed steps from numpy.interp over its kept steps (the channel mean when
    nothing is kept); ``x``, ``removed`` ``[C, T]``."""
    out = x.copy()
    t = np.arange(T)
    for c in range(C):
        keep = ~removed[c]
        if keep.any():
            out[c, removed[c]] = np.interp(t[removed[c]], t[keep], x[c, keep])
        else:
            out[c] = x[c].mean()
    return out


def test_channel_deletion_interp_refills_each_channel_from_its_own_neighbours(linear):
    m, w, X = linear
    rep = evaluate(
        m, X, layers=["input"], methods=["inputxgradient"], perturbation="interp", noise=0.0,
        steps=K, blocks=B, deletion="channel", sanity=False,
    )  # fmt: skip
    s, _ = _sign_and_logit(w, X)
    cells = _cells(w, X, s).reshape(len(X), C * B)
    order = np.argsort(-cells, -1)
    chunk_of_t = np.repeat(np.arange(B), T // B)
    for n in range(len(X)):
        for k in range(K + 1):
            gone = np.zeros(C * B, bool)
            gone[order[n, : 3 * k]] = True
            removed = gone.reshape(C, B)[:, chunk_of_t]
            want = s[n] * (w * _interp_fill(X[n], removed)).sum()
            assert abs(rep.logit_curves[n, 0, 0, 0, k] - want) < 1e-5, (n, k)


def _conv_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv1d(2, 6, 5, padding=2),
        nn.Tanh(),
        nn.Conv1d(6, 6, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(6, 3),
    ).eval()


@pytest.fixture(scope="module")
def conv_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 2, 30)).astype(np.float32).cumsum(-1)
    mask = np.zeros((6, 30), bool)
    for n in range(6):
        mask[n, 4 * n : 4 * n + 8] = True
    return _conv_model(), X, mask


def _unit(a: np.ndarray) -> np.ndarray:
    lo, hi = a.min(1, keepdims=True), a.max(1, keepdims=True)
    return (a - lo) / (hi - lo)


def test_localisation_equals_captum_maps_and_other_layers_are_nan(conv_data):
    m, X, mask = conv_data
    kw = {"steps": 8, "window": 5}
    rep = evaluate(
        m, X, mask=mask, layers=["input", "0", "2"], methods=["gradcam", "integrated_gradients",
        "occlusion"], method_kwargs=kw, steps=5, random_draws=1, sanity=True,
    )  # fmt: skip
    x = torch.as_tensor(X)
    tgt = torch.as_tensor(rep.target)
    ig = IntegratedGradients(m).attribute(x, target=tgt, n_steps=8).sum(1).detach().numpy()
    occ = Occlusion(m).attribute(
        x, sliding_window_shapes=(2, 5), strides=(1, 5), baselines=0, target=tgt
    )
    occ = occ.sum(1).detach().numpy()
    li = rep.layers.index("input")
    for key, ref in (("integrated_gradients", ig), ("occlusion", occ)):
        mi = rep.methods.index(key)
        want = localisation(_unit(ref), mask)
        for name, v in want.items():
            got = rep.localisation_per_sample[name][:, li, mi]
            np.testing.assert_allclose(got, v, atol=1e-5, err_msg=f"{key} {name}")
        assert np.isfinite(rep.gain[li, mi]) and np.isfinite(rep.curves[:, li, mi]).all()
        assert np.isfinite(rep.self_agreement[li, mi]) and np.isfinite(rep.cascade[:, li, mi]).all()
        for other in range(len(rep.layers)):
            if other == li:
                continue
            for arr in (rep.gain, rep.symmetric, rep.self_agreement, rep.random_logit):
                assert np.isnan(arr[other, mi])
            assert np.isnan(rep.cascade[:, other, mi]).all()
            assert np.isnan(rep.curves[:, other, mi]).all()
            assert np.isnan(rep.localisation["relevance_mass"][other, mi])
            assert not rep.passes[other, mi]
    assert np.isfinite(rep.gain[rep.layers.index("2"), rep.methods.index("gradcam")])
    table = rep.table("gain").splitlines()
    assert table[1 + rep.layers.index("2")].split()[1 + rep.methods.index("occlusion")] == "-"


def test_method_kwargs_reach_the_methods_and_bad_ones_are_named(conv_data):
    m, X, _ = conv_data
    one = dict(layers=["input"], methods=["occlusion"], steps=5, random_draws=1, sanity=False)
    a = evaluate(m, X, method_kwargs={"window": 3}, **one)
    b = evaluate(m, X, method_kwargs={"window": 15}, **one)
    assert not np.allclose(a.curves, b.curves)
    with pytest.raises(TypeError, match="window_size"):
        evaluate(m, X, method_kwargs={"window_size": 3}, **one)
    with pytest.raises(TypeError, match="method_kwargs"):
        evaluate(m, X, method_kwargs=[("window", 3)], **one)
    with pytest.raises(ValueError, match="deletion.*'time', 'channel'.*'cells'"):
        evaluate(m, X, deletion="cells", **one)


def test_channel_deletion_is_nan_where_there_are_no_maps_per_channel(conv_data):
    m, X, _ = conv_data
    rep = evaluate(
        m, X, layers=["input", "2"], methods=["gradcam", "integrated_gradients"],
        method_kwargs={"steps": 4}, steps=5, random_draws=1, deletion="channel", sanity=False,
    )  # fmt: skip
    li, l2 = rep.layers.index("input"), rep.layers.index("2")
    assert np.isfinite(rep.gain[li]).all()  # both have maps per channel on the input
    assert np.isnan(rep.gain[l2]).all() and np.isnan(rep.curves[:, l2]).all()
    np.testing.assert_allclose(rep.fractions, np.arange(6) / 5)


class NoGradient(nn.Module):
    """A conv feature whose sign is counted (no gradient to the input), a linear head."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.conv = nn.Conv1d(2, 8, 5, padding=2)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head((self.conv(x) > 0).float().mean(-1))


def test_sanity_of_shapley_segments_on_a_model_without_gradients(conv_data):
    _, X, _ = conv_data
    m = NoGradient().eval()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    kw = {"n_segments": 5, "shapley_samples": 3, "seed": 1}
    rep = evaluate(
        m, X, layers=["input"], methods=["shapley_segments"], method_kwargs=kw, steps=5,
        random_draws=1, sanity=True, seed=0,
    )  # fmt: skip
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in before.items())
    assert rep.sanity_note == "" and rep.cascade.shape == (1, 1, 1)
    assert np.isfinite(rep.gain).all() and np.isfinite(rep.self_agreement).all()
    # oracle: captum's maps of the model and of the same randomised copy, scipy's Spearman
    x = torch.as_tensor(X)
    tgt = torch.as_tensor(rep.target)
    fmask = torch.arange(30).reshape(1, 1, 30).expand(1, 2, 30) // 6

    def shap(model: nn.Module) -> np.ndarray:
        torch.manual_seed(1)
        a = ShapleyValueSampling(model).attribute(
            x, baselines=0, target=tgt, feature_mask=fmask, n_samples=3
        )
        return a.sum(1).numpy()

    stages = cascade_stages(m, x, [("input", 0)])
    rand = randomised_models(m, stages, 0)[-1]
    ours, theirs = shap(m), shap(rand)
    want = np.mean([spearmanr(a, b).statistic for a, b in zip(ours, theirs)])
    np.testing.assert_allclose(rep.cascade[-1, 0, 0], want, atol=1e-6)


class NoParameters(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x.mean((1, 2)), (x > 0).float().mean((1, 2))], 1)


def test_sanity_without_parameters_says_why_instead_of_failing(conv_data):
    _, X, _ = conv_data
    rep = evaluate(
        NoParameters(), X, layers=["input"], methods=["occlusion"], method_kwargs={"window": 6},
        steps=5, random_draws=1, sanity=True,
    )  # fmt: skip
    assert "no parameters" in rep.sanity_note and rep.cascade.shape[0] == 0
    assert rep.table("passes").splitlines()[1].split()[1] == "-"


def test_widget_trust_table_holds_the_input_attributions(conv_data):
    from tscam_widget.widget import CamWidget, unpack

    m, X, mask = conv_data
    y = np.arange(len(X)) % 3
    w = CamWidget(
        m, X, y, mask=mask, methods=["gradcam", "integrated_gradients"],
        method_kwargs={"steps": 4}, progress=False, precision="float32",
    )  # fmt: skip
    w.view = "trust"
    w.flush()
    meta = w.trust_meta
    assert meta["state"] == "done"
    col = meta["keys"].index("integrated_gradients")
    li = meta["layers"].index("input")
    rep = evaluate(
        m, X, mask=mask, layers=list(w.layers), methods=["gradcam", "integrated_gradients"],
        method_kwargs={"steps": 4}, target=w.y_pred.astype(np.int64), sanity=False,
    )  # fmt: skip
    gain, loc, corr = unpack(w.trust_gain), unpack(w.trust_loc), unpack(w.trust_rand_corr)
    mi = rep.methods.index("integrated_gradients")
    np.testing.assert_allclose(gain[:, col], rep.gain[:, mi], atol=1e-5, equal_nan=True)
    np.testing.assert_allclose(
        loc[:, col], rep.localisation["relevance_mass"][:, mi], atol=1e-5, equal_nan=True
    )
    for arr in (gain, loc, corr):
        assert np.isfinite(arr[li, col])
        assert np.isnan(np.delete(arr[:, col], li)).all()
    # a keyword no method takes is named; one taken by some methods only reaches just those
    with pytest.raises(TypeError, match=r"method_kwargs: \['stepz'\]"):
        CamWidget(m, X, y, methods=["gradcam", "integrated_gradients"], method_kwargs={"stepz": 4})
    with pytest.raises(TypeError, match=r"method_kwargs: expected a dict .* got list"):
        CamWidget(m, X, y, methods=["integrated_gradients"], method_kwargs=[("steps", 4)])
