"""Maps per channel in the widget (issue 20): on BasicMotions (6 accelerometer and gyroscope
channels) the widget sends the input layer's maps per channel, in the precomputed store (offline
page too) and in kernel mode, and they equal independent oracles: HiResCAM on the input is
``ReLU(G_c(t) x_c(t))`` by hand (torch autograd), Integrated Gradients is captum's."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients

from tscam_widget import CamWidget
from tscam_widget.data import load_ucr
from tscam_widget.models import FCN
from tscam_widget.widget import unpack
from tscam_widget.widget.compact import dequantise
from tscam_widget.widget.export import page_spec

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def motions(ucr_dir):
    X, y = load_ucr("BasicMotions", "test", data_dir=ucr_dir)
    X, y = X[::3].astype(np.float32), y[::3]  # 14 samples of all 4 classes
    torch.manual_seed(0)
    model = FCN(X.shape[1], 4).eval()
    return model, X, y


def hirescam_by_hand(model, X: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """``ReLU(dF_cls/dx_c(t) * x_c(t))`` ``[N, C, T]`` with plain autograd."""
    x = torch.tensor(X, requires_grad=True)
    out = model(x)
    (g,) = torch.autograd.grad(out[torch.arange(len(cls)), torch.tensor(cls)].sum(), x)
    return torch.relu(g * x).detach().numpy()


def step_of(a: np.ndarray) -> float:
    """Half a uint8 step of a map's range, plus float32 slack."""
    return float(np.nanmax(a) - np.nanmin(a)) / 510 + 1e-6


def test_precomputed_store_holds_maps_per_channel(motions):
    model, X, y = motions
    w = CamWidget(model, X, y, precompute=True, progress=False)
    keys = w.channel_keys
    assert "hirescam" in keys and "gradcam" in keys and "activation/mean" not in keys
    cube = unpack(w.channel_cube)
    scale = unpack(w.channel_scale)
    rows = unpack(w.cube_rows)
    R, K, C, T = cube.shape
    assert (C, T) == X.shape[1:] and K == len(keys) and R == unpack(w.cube).shape[0]
    pred = w.y_pred
    want = hirescam_by_hand(model, X, pred)
    k = keys.index("hirescam")
    got = dequantise(cube[:, k].reshape(R, C * T), scale[:, k]).reshape(R, C, T)
    for n in range(len(X)):
        r = rows[n, pred[n]]
        np.testing.assert_allclose(got[r], want[n], atol=step_of(want[n]), rtol=0)
    # the [T] map of the input layer is the ReLU of the sum over channels, not of their ReLUs
    m = unpack(w.cube)[rows[0, pred[0]], 0, w.cube_keys.index("hirescam")]
    assert m.shape == (T,)


def test_kernel_mode_sends_the_shown_samples_maps_per_channel(motions):
    model, X, y = motions
    w = CamWidget(model, X, y, precompute=False, progress=False)
    w.layer, w.method, w.view, w.view_count = 0, "hirescam", "grid", 3
    w.sample = 2
    w.flush()
    meta = w.maps_meta
    assert meta["channels"] is True and meta["samples"] == [2, 3, 4]
    u, scale = unpack(w.channel_maps), unpack(w.channel_maps_scale)
    assert u.shape == (3, 6, 100) and scale.shape == (3, 2)
    got = dequantise(u.reshape(3, -1), scale).reshape(3, 6, 100)
    want = hirescam_by_hand(model, X[2:5], w.y_pred[2:5])
    for i in range(3):
        np.testing.assert_allclose(got[i], want[i], atol=step_of(want[i]), rtol=0)
    # a method without maps per channel: none sent, and the meta says so
    w.method = "eigencam"
    w.flush()
    assert w.maps_meta["channels"] is False and unpack(w.channel_maps).size == 0


def test_integrated_gradients_per_channel_equal_captum(motions):
    model, X, y = motions
    w = CamWidget(
        model, X, y, methods=["gradcam", "integrated_gradients"], precompute=False, progress=False
    )
    w.method, w.sample = "integrated_gradients", 5
    w.flush()
    assert w.maps_meta["channels"] is True
    assert w.method_costs == {"integrated_gradients": "32 fwd+bwd"}
    got = dequantise(unpack(w.channel_maps).reshape(1, -1), unpack(w.channel_maps_scale))
    x = torch.tensor(X[5:6])
    want = (
        IntegratedGradients(model)
        .attribute(x, target=int(w.y_pred[5]), n_steps=32, method="gausslegendre")
        .detach()
        .numpy()
        .reshape(1, -1)
    )
    np.testing.assert_allclose(got, want, atol=step_of(want) + 1e-5, rtol=0)


def test_background_rows_job_fills_the_maps_per_channel(motions):
    model, X, y = motions

    async def main():
        w = CamWidget(model, X, y, background=True, precompute=True, progress=False)
        await w.ready()
        return w

    w = asyncio.run(main())
    assert w.precomputed
    cube = unpack(w.channel_cube)
    assert cube.shape[0] == unpack(w.cube).shape[0]
    scale = unpack(w.channel_scale)
    rows = unpack(w.cube_rows)
    k = w.channel_keys.index("hirescam")
    want = hirescam_by_hand(model, X, w.y_pred)
    for n in (0, 7, 11):
        r = rows[n, w.y_pred[n]]
        got = dequantise(cube[r, k].reshape(1, -1), scale[r, k][None]).reshape(6, 100)
        np.testing.assert_allclose(got, want[n], atol=step_of(want[n]), rtol=0)


def test_one_channel_has_no_maps_per_channel(motions):
    model, X, y = motions
    torch.manual_seed(0)
    uni = FCN(1, 4).eval()
    w = CamWidget(uni, X[:, :1], y, precompute=True, progress=False)
    assert w.channel_keys == [] and unpack(w.channel_cube).size == 0


def test_offline_page_embeds_the_maps_per_channel(motions):
    model, X, y = motions
    w = CamWidget(model, X, y, precompute=True, progress=False)
    spec = page_spec(w)
    state = spec["state"]
    assert state["channel_keys"] == w.channel_keys and "hirescam" in state["channel_keys"]
    assert state["channel_cube"]["shape"] == list(unpack(w.channel_cube).shape)
    assert ["channel_cube", "data"] in [b["path"] for b in spec["buffers"]]


@pytest.mark.parametrize("precompute", [True, False])
def test_maps_per_channel_follow_training(motions, precompute):
    """Train, look, train more, look again: the maps per channel are the new weights' (an oracle
    by hand on the trained model), never the old ones'."""
    import copy

    model, X, y = motions
    model = copy.deepcopy(model)
    w = CamWidget(model, X, y, precompute=precompute, progress=False)
    w.layer, w.method, w.sample = 0, "hirescam", 2
    w.flush()

    def drawn() -> np.ndarray:
        w.flush()
        if precompute:
            keys, cube, scale = w.channel_keys, unpack(w.channel_cube), unpack(w.channel_scale)
            r, k = unpack(w.cube_rows)[2, w.y_pred[2]], keys.index("hirescam")
            return dequantise(cube[r, k].reshape(1, -1), scale[r, k][None]).reshape(X.shape[1:])
        u, scale = unpack(w.channel_maps), unpack(w.channel_maps_scale)
        assert w.maps_meta["samples"][0] == 2
        return dequantise(u[:1].reshape(1, -1), scale[:1]).reshape(X.shape[1:])

    before = drawn()
    labels = torch.as_tensor(np.unique(y, return_inverse=True)[1])
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(torch.from_numpy(X)), labels).backward()
        opt.step()
    model.eval()
    w.sample = 3
    w.sample = 2  # the user looks again
    after = drawn()
    assert w.model_version == 1
    want = hirescam_by_hand(model, X[2:3], w.y_pred[2:3])[0]
    np.testing.assert_allclose(after, want, atol=step_of(want), rtol=0)
    assert np.abs(after - before).max() > 10 * step_of(want)  # the maps did move
