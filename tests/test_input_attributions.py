"""The input attribution methods (:mod:`tscam_widget.explain.attributions`) and the maps per channel
against independent oracles: captum 0.9 (``Saliency``, ``InputXGradient``, ``IntegratedGradients``,
``NoiseTunnel(Saliency)``, ``Occlusion``, ``ShapleyValueSampling``) on a float64 model, scipy's
Gaussian filter for the blur baseline, a hand computation for occlusion's clipped last window, and a
direct transcription of Temporal Saliency Rescaling (Ismail et al. 2020) over captum's
``Saliency``. Tolerance: 1e-5 relative to each map's largest magnitude."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import (
    InputXGradient,
    IntegratedGradients,
    NoiseTunnel,
    Occlusion,
    Saliency,
    ShapleyValueSampling,
)
from scipy.ndimage import gaussian_filter1d
from torch import nn

from tscam_widget.explain import METHODS, Explainer
from tscam_widget.explain.input_ops import make_baseline, segments

pytestmark = pytest.mark.usefixtures("one_torch_thread")

C, T, K = 3, 24, 4


def _model(c: int = C) -> nn.Module:
    torch.manual_seed(0)
    return (
        nn.Sequential(
            nn.Conv1d(c, 6, 5, padding=2),
            nn.Tanh(),
            nn.Conv1d(6, 6, 3, padding=1),
            nn.GELU(),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
            nn.Linear(6, K),
        )
        .double()
        .eval()
    )


def _x(n: int = 5, c: int = C, t: int = T) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, c, t, generator=g, dtype=torch.float64)


def _close(ours: np.ndarray, oracle: torch.Tensor | np.ndarray, what: str) -> float:
    ref = np.asarray(oracle.detach() if isinstance(oracle, torch.Tensor) else oracle)
    assert ours.shape == ref.shape, what
    scale = max(np.abs(ref).max(), 1e-30)
    rel = float(np.abs(ours - ref).max() / scale)
    assert rel <= 1e-5, f"{what}: max |ours - oracle| / max |oracle| = {rel:.2e}"
    assert np.abs(ref).max() > 0, f"{what}: the oracle is all zeros (a test that cannot fail)"
    return rel


def _explain(model: nn.Module, x: torch.Tensor, method: str, **kw):
    ex = Explainer(model, layers=["input", "2"]).explain(x, methods=[method], norm="none", **kw)
    tgt = torch.as_tensor(ex.target)
    return ex, tgt


def _check_sum_and_layers(ex, method: str) -> None:
    ch = ex.channel_raw(method)  # float32, like every stored map
    r = ex.raw(method, "input")
    np.testing.assert_allclose(ch.sum(1), r, rtol=0, atol=1e-6 * np.abs(r).max())
    assert not ex.defined(method, "2")  # input layer only: NaN elsewhere
    assert np.isnan(ex.raw(method, "2")).all()


def test_saliency_and_inputxgradient_equal_captum():
    m, x = _model(), _x()
    ex, tgt = _explain(m, x, "saliency")
    _close(ex.channel_raw("saliency"), Saliency(m).attribute(x, target=tgt), "saliency")
    _check_sum_and_layers(ex, "saliency")
    ex, tgt = _explain(m, x, "inputxgradient")
    ref = InputXGradient(m).attribute(x, target=tgt)
    _close(ex.channel_raw("inputxgradient"), ref, "inputxgradient")
    _check_sum_and_layers(ex, "inputxgradient")


@pytest.mark.parametrize(
    "baseline, integration",
    [
        ("zeros", "gausslegendre"),
        ("mean", "riemann_trapezoid"),
        ("array", "gausslegendre"),
        ("blur", "riemann_middle"),
    ],
)
def test_integrated_gradients_equals_captum(baseline, integration):
    m, x = _model(), _x()
    if baseline == "array":
        arg = np.linspace(-1, 1, C * T).reshape(C, T)  # a "training mean"
        b = torch.as_tensor(arg).expand_as(x)
    elif baseline == "mean":
        arg, b = "mean", x.mean(-1, keepdim=True).expand_as(x)
    elif baseline == "blur":
        arg = "blur"
        b = torch.as_tensor(gaussian_filter1d(x.numpy(), T / 20, axis=-1))
    else:
        arg, b = "zeros", torch.zeros_like(x)
    # chunk_size 7: the 5 x 16 rows run in chunks that split samples
    ex, tgt = _explain(
        m, x, "integrated_gradients", steps=16, baseline=arg, integration=integration, chunk_size=7
    )
    ref = IntegratedGradients(m).attribute(
        x, baselines=b.contiguous(), target=tgt, n_steps=16, method=integration
    )
    _close(ex.channel_raw("integrated_gradients"), ref, f"IG {baseline} {integration}")
    _check_sum_and_layers(ex, "integrated_gradients")


def test_blur_baseline_equals_scipy_and_bad_baselines_are_named():
    x = _x(2, 2, 100)
    ours = make_baseline(x, "blur", blur_sigma=3.0)
    _close(ours.numpy(), gaussian_filter1d(x.numpy(), 3.0, axis=-1), "blur")
    with pytest.raises(ValueError, match=r"baseline: expected one of .* \[C, T\] = \[2, 100\]"):
        make_baseline(x, np.zeros((3, 100)))
    with pytest.raises(ValueError, match="baseline: expected one of"):
        make_baseline(x, "median")


def test_smoothgrad_equals_captum_noise_tunnel_with_the_same_draws():
    m, x = _model(), _x()
    kw = dict(noise_samples=6, noise_std=0.3, seed=11)
    ex, tgt = _explain(m, x, "smoothgrad", chunk_size=4, **kw)
    # our draws for sample i come from seed + i, as randn(n, C, T): captum draws
    # torch.normal(0, std) of the same shape from the global generator seeded the same way
    refs = []
    for i in range(len(x)):
        torch.manual_seed(11 + i)
        refs.append(
            NoiseTunnel(Saliency(m)).attribute(
                x[i : i + 1], nt_type="smoothgrad", nt_samples=6, stdevs=0.3, target=tgt[i : i + 1]
            )
        )
    _close(ex.channel_raw("smoothgrad"), torch.cat(refs), "smoothgrad")
    _check_sum_and_layers(ex, "smoothgrad")
    # the draws follow the sample, not the batch
    ex2 = Explainer(m, layers="input").explain(
        x, methods=["smoothgrad"], norm="none", batch_size=2, **kw
    )
    np.testing.assert_allclose(ex2.channel_raw("smoothgrad"), ex.channel_raw("smoothgrad"))


@pytest.mark.parametrize(
    "per_channel, window, stride", [(False, 6, 6), (False, 8, 4), (True, 4, 4)]
)
def test_occlusion_equals_captum(per_channel, window, stride):
    m, x = _model(), _x()
    ex, tgt = _explain(
        m, x, "occlusion", window=window, stride=stride, per_channel=per_channel, chunk_size=5
    )
    shape = (1, window) if per_channel else (C, window)
    ref = Occlusion(m).attribute(
        x, sliding_window_shapes=shape, strides=(1, stride), baselines=0, target=tgt
    )
    _close(ex.channel_raw("occlusion"), ref, f"occlusion {shape} stride {stride}")
    _check_sum_and_layers(ex, "occlusion")


def test_occlusion_clips_the_last_window_by_hand():
    m, x = _model(), _x(2)
    ex, tgt = _explain(m, x, "occlusion", window=10, stride=10)  # windows 0:10, 10:20, 20:24
    with torch.no_grad():
        y = m(x)[torch.arange(2), tgt]
        ref = torch.empty_like(x)
        for s, e in [(0, 10), (10, 20), (20, 24)]:
            xo = x.clone()
            xo[:, :, s:e] = 0
            ref[:, :, s:e] = (y - m(xo)[torch.arange(2), tgt])[:, None, None]
    _close(ex.channel_raw("occlusion"), ref, "occlusion tail")


def _segment_mask(n_seg: int) -> torch.Tensor:
    mask = torch.zeros(1, C, T, dtype=torch.long)
    for k, (s, e) in enumerate(segments(T, n_seg)):
        mask[:, :, s:e] = k
    return mask


def test_shapley_segments_equals_captum():
    m, x = _model(), _x()
    ex, tgt = _explain(m, x, "shapley_segments", n_segments=5, shapley_samples=7, seed=3)
    torch.manual_seed(3)
    ref = ShapleyValueSampling(m).attribute(
        x, baselines=0, target=tgt, feature_mask=_segment_mask(5), n_samples=7
    )
    _close(ex.channel_raw("shapley_segments"), ref, "shapley_segments")
    _check_sum_and_layers(ex, "shapley_segments")
    assert segments(T, 5) == [(0, 5), (5, 10), (10, 15), (15, 20), (20, 24)]


class _RocketLike(nn.Module):
    """MiniRocket-like: fixed random kernels, the share of positive values per kernel (PPV, not
    differentiable), a linear head; the whole forward under ``torch.no_grad``."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.kernels = nn.Conv1d(C, 16, 9, padding=4).double()
        self.head = nn.Linear(16, K).double()

    def forward(self, x):
        with torch.no_grad():
            ppv = (self.kernels(x) > 0).double().mean(-1)
            return self.head(ppv)


def test_models_without_gradients_get_occlusion_and_shapley_without_backward(monkeypatch):
    m, x = _RocketLike().eval(), _x()
    before = {k: v.clone() for k, v in m.state_dict().items()}

    def no_backward(*a, **k):
        raise AssertionError("a backward ran")

    monkeypatch.setattr(torch.autograd, "grad", no_backward)
    monkeypatch.setattr(torch.Tensor, "backward", no_backward)
    e = Explainer(m, layers="input")
    ex = e.explain(x, methods=["shapley_segments"], n_segments=4, shapley_samples=5, seed=0)
    ex_o = e.explain(x, methods=["occlusion"], window=6, norm="none")
    monkeypatch.undo()
    tgt = torch.as_tensor(ex.target)
    torch.manual_seed(0)
    ref = ShapleyValueSampling(m).attribute(
        x, baselines=0, target=tgt, feature_mask=_segment_mask(4), n_samples=5
    )
    _close(ex.channel_raw("shapley_segments"), ref, "shapley_segments (no gradients)")
    ref = Occlusion(m).attribute(
        x, sliding_window_shapes=(C, 6), strides=(1, 6), baselines=0, target=tgt
    )
    _close(ex_o.channel_raw("occlusion"), ref, "occlusion (no gradients)")
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in before.items())
    with pytest.raises(ValueError, match="occlusion and shapley_segments need no gradient"):
        e.explain(x, methods=["integrated_gradients"], steps=2)


def _tsr_transcription(model, x, target, q=0.55, mask=0.0):
    """Temporal Saliency Rescaling as in Ismail et al. 2020's code (getTwoStepRescaling), one
    sample at a time, loops as written there, base = captum's Saliency."""
    sal = Saliency(model)
    out = []
    for i in range(len(x)):
        inp, tgt = x[i : i + 1], int(target[i])
        n_ch, n_t = inp.shape[1:]
        actual = sal.attribute(inp, target=tgt).numpy()
        time_grad = np.zeros(n_t)
        for t in range(n_t):
            new = inp.clone()
            new[:, :, t] = mask
            time_grad[t] = np.abs(actual - sal.attribute(new, target=tgt).numpy()).sum()
        time_c = (time_grad - time_grad.min()) / (time_grad.max() - time_grad.min())
        thr = np.quantile(time_c, q)
        new_grad = np.zeros((n_ch, n_t))
        for t in range(n_t):
            if time_c[t] > thr:
                feat = np.zeros(n_ch)
                for c in range(n_ch):
                    new = inp.clone()
                    new[:, c, t] = mask
                    feat[c] = np.abs(actual - sal.attribute(new, target=tgt).numpy()).sum()
                feat_c = (feat - feat.min()) / (feat.max() - feat.min())
            else:
                feat_c = np.full(n_ch, 0.1)
            for c in range(n_ch):
                new_grad[c, t] = time_c[t] * feat_c[c]
        out.append(new_grad)
    return np.stack(out)


def test_tsr_equals_a_transcription_of_the_published_algorithm():
    m, x = _model(), _x(3, C, 12)
    ex = Explainer(m, layers=["input", "2"]).explain(x, methods=["tsr"], norm="none", chunk_size=9)
    ref = _tsr_transcription(m, x, ex.target)
    _close(ex.channel_raw("tsr"), ref, "tsr")
    _check_sum_and_layers(ex, "tsr")


def test_channel_maps_of_input_gradient_cams_and_importance():
    m, x = _model(), _x()
    ex = Explainer(m, layers=["input", "2"]).explain(
        x, methods=["hirescam", "gradcam", "layercam"], norm="none"
    )
    xin = x.clone().requires_grad_(True)
    out = m(xin)
    (g,) = torch.autograd.grad(out[torch.arange(len(x)), torch.as_tensor(ex.target)].sum(), xin)
    _close(ex.channel_raw("hirescam"), g * x, "hirescam per channel")
    _close(ex.channel_raw("gradcam"), g.mean(-1, keepdim=True) * x, "gradcam per channel")
    _close(ex.channel_raw("layercam"), g.clamp_min(0) * x, "layercam per channel")
    for k in ("hirescam", "gradcam", "layercam"):
        r = ex.raw(k, "input")
        np.testing.assert_allclose(ex.channel_raw(k).sum(1), r, atol=1e-6 * np.abs(r).max())
    # ReLU (hirescam ends in one) then min-max over each sample's [C, T]
    cm = ex.channel_maps("hirescam", norm="sample")
    relu = np.maximum(ex.channel_raw("hirescam"), 0)
    lo = relu.min((1, 2), keepdims=True)
    np.testing.assert_allclose(cm, (relu - lo) / (relu.max((1, 2), keepdims=True) - lo), atol=1e-6)
    imp = ex.channel_importance("hirescam")
    a = relu.sum(2)
    np.testing.assert_allclose(imp, a / a.sum(1, keepdims=True), rtol=1e-6)
    assert ex.channel_keys == [("hirescam", None), ("gradcam", None), ("layercam", None)]
    with pytest.raises(KeyError, match="no maps per channel"):
        Explainer(m, layers=["2"]).explain(x, methods=["gradcam"]).channel_maps("gradcam")


def test_costs_and_selection():
    assert METHODS["integrated_gradients"].menu_label(3, 500) == "Integrated Gradients (32 fwd+bwd)"
    assert METHODS["occlusion"].cost(3, 500) == (20, 0)  # T/20 = 25 steps: 20 windows
    assert METHODS["occlusion"].cost(3, 500, window=50, per_channel=True) == (30, 0)
    assert METHODS["shapley_segments"].cost(1, 500) == (25 * 9 + 1, 0)
    assert METHODS["smoothgrad"].menu_label(1, 100, noise_samples=8) == "SmoothGrad (8 fwd+bwd)"
    assert METHODS["saliency"].cost(3, 500) == (0, 0)
    expensive = {"integrated_gradients", "smoothgrad", "occlusion", "shapley_segments", "tsr"}
    for name in expensive:
        assert METHODS[name].extra_forwards and not METHODS[name].default, name
    # no extra pass, but opt-in until the widget shows per-channel input maps
    assert not METHODS["saliency"].extra_forwards and not METHODS["saliency"].default
    assert not METHODS["inputxgradient"].default
    m, x = _model(), _x(2)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        Explainer(m, layers="input").explain(x, methods=["saliency"], steps=4)
    with pytest.raises(ValueError, match="integration: expected one of"):
        Explainer(m, layers="input").explain(
            x, methods=["integrated_gradients"], integration="simpson"
        )
    with pytest.raises(ValueError, match=r"methods: 'saliency' needs the input layer"):
        Explainer(m, layers=["2"]).explain(x, methods=["saliency"])
