"""The input attribution methods (:mod:`tscam_widget.explain.attributions`) and the maps per channel
against independent oracles: captum 0.9 (``Saliency``, ``InputXGradient``, ``IntegratedGradients``,
``NoiseTunnel(Saliency)``, ``Occlusion``, ``ShapleyValueSampling``) on a float64 model, scipy's
Gaussian filter for the blur baseline, a hand computation for occlusion's clipped last window, and a
line-by-line transcription of the authors' Temporal Saliency Rescaling code (Ismail et al. 2020,
``getTwoStepRescaling``) over captum's ``Saliency`` and ``IntegratedGradients``. Tolerance: 1e-5
relative to each map's largest magnitude."""

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
from sklearn import preprocessing
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


def _get_two_step_rescaling(
    grad, input, sequence_length, input_size, testing_label, has_baseline=None, **kw
):
    """``getTwoStepRescaling`` of the authors' code, transcribed line by line
    (github.com/ayaabdelsalam91/TS-Interpretability-Benchmark, ``MNIST Experiments/Scripts/
    interpret.py``): ``input`` ``[1, input_size, sequence_length]``, ``grad`` a captum
    attribution. Kept from it: ``assignment = input[0, 0, 0]``, the 0.55 quantile, the 0.1 below
    it, sklearn's ``minmax_scale``. Added: ``assignment`` and ``quantile`` overrides (as
    TSInterpret's port takes ``assignment``), extra ``attribute`` keywords ``kw``; left out: the
    feature-mask and sliding-window branches (no base here uses them). Returns ``newGrad``
    ``[input_size, sequence_length]`` and ``timeContibution`` ``[1, sequence_length]``."""
    assignment = kw.pop("assignment", input[0, 0, 0])
    quantile = kw.pop("quantile", 0.55)

    def attribute(inp):
        if has_baseline is None:
            return grad.attribute(inp, target=testing_label, **kw).data.cpu().numpy()
        out = grad.attribute(inp, baselines=has_baseline, target=testing_label, **kw)
        return out.data.cpu().numpy()

    timeGrad = np.zeros((1, sequence_length))
    inputGrad = np.zeros((input_size, 1))
    newGrad = np.zeros((input_size, sequence_length))
    ActualGrad = attribute(input)
    for t in range(sequence_length):
        newInput = input.clone()
        newInput[:, :, t] = assignment
        timeGrad_perTime = attribute(newInput)
        timeGrad_perTime = np.absolute(ActualGrad - timeGrad_perTime)
        timeGrad[:, t] = np.sum(timeGrad_perTime)
    timeContibution = preprocessing.minmax_scale(timeGrad, axis=1)
    meanTime = np.quantile(timeContibution, quantile)
    for t in range(sequence_length):
        if timeContibution[0, t] > meanTime:
            for c in range(input_size):
                newInput = input.clone()
                newInput[:, c, t] = assignment
                inputGrad_perInput = attribute(newInput)
                inputGrad_perInput = np.absolute(ActualGrad - inputGrad_perInput)
                inputGrad[c, :] = np.sum(inputGrad_perInput)
            featureContibution = preprocessing.minmax_scale(inputGrad, axis=0)
        else:
            featureContibution = np.ones((input_size, 1)) * 0.1
        for c in range(input_size):
            newGrad[c, t] = timeContibution[0, t] * featureContibution[c, 0]
    return newGrad, timeContibution


def _tsr_reference(grad, x, target, baseline=None, **kw):
    """The authors' TSR of each sample (batch of one, as they run it): ``[N, C, T]`` maps and
    ``[N, T]`` time contributions; ``baseline(x_i)`` the fixed baseline of sample ``i``."""
    maps, times = [], []
    for i in range(len(x)):
        inp = x[i : i + 1]
        b = None if baseline is None else baseline(inp)
        m, tc = _get_two_step_rescaling(
            grad, inp, inp.shape[2], inp.shape[1], int(target[i]), b, **kw
        )
        maps.append(m)
        times.append(tc[0])
    return np.stack(maps), np.stack(times)


def test_tsr_equals_the_authors_code_over_saliency():
    m, x = _model(), _x(3, C, 12)
    # chunk_size 9: the masked rows of a sample run in several chunks
    ex = Explainer(m, layers=["input", "2"]).explain(x, methods=["tsr"], norm="none", chunk_size=9)
    ref, time = _tsr_reference(Saliency(m), x, ex.target)
    low = np.isclose(ref, 0.1 * time[:, None, :], rtol=0, atol=1e-12).all(1)  # [N, T]
    assert low.any() and (~low).any()  # steps on both sides of the quantile
    _close(ex.channel_raw("tsr"), ref, "tsr over saliency")
    _check_sum_and_layers(ex, "tsr")


def test_tsr_equals_the_authors_code_over_integrated_gradients():
    # a per-sample mean baseline stays that of the unmasked sample (the authors pass one
    # baseline to every call); a number as assignment; another quantile
    m, x = _model(), _x(2, C, 10)
    ex = Explainer(m, layers=["input", "2"]).explain(
        x,
        methods=["tsr"],
        norm="none",
        tsr_base="integrated_gradients",
        baseline="mean",
        steps=6,
        tsr_quantile=0.3,
        tsr_assignment=0.5,
        chunk_size=20,
    )
    ref, _ = _tsr_reference(
        IntegratedGradients(m),
        x,
        ex.target,
        baseline=lambda inp: inp.mean(-1, keepdim=True).expand_as(inp).contiguous(),
        n_steps=6,
        assignment=0.5,
        quantile=0.3,
    )
    _close(ex.channel_raw("tsr"), ref, "tsr over integrated gradients (mean baseline)")


def test_tsr_with_one_channel_is_the_time_contribution():
    # our documented departure: the authors' min-max over one channel gives 0 at the relevant
    # steps (and 0.1 r(t) elsewhere); ours keeps r(t)
    m, x = _model(1), _x(2, 1, 12)
    ex = Explainer(m, layers=["input", "2"]).explain(x, methods=["tsr"], norm="none")
    ref, time = _tsr_reference(Saliency(m), x, ex.target)
    _close(ex.channel_raw("tsr")[:, 0], time, "tsr one channel")
    assert np.abs(ref[:, 0] - time).max() > 0.5  # the authors' map differs there
    with pytest.raises(ValueError, match="tsr_assignment: expected 'first' or a number"):
        Explainer(m, layers="input").explain(x, methods=["tsr"], tsr_assignment="last")
    with pytest.raises(ValueError, match=r"tsr_quantile: expected a number in \[0, 1\]"):
        Explainer(m, layers="input").explain(x, methods=["tsr"], tsr_quantile=1.5)


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
    # no extra pass: default (the widget draws their maps per channel)
    assert not METHODS["saliency"].extra_forwards and METHODS["saliency"].default
    assert METHODS["inputxgradient"].default
    m, x = _model(), _x(2)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        Explainer(m, layers="input").explain(x, methods=["saliency"], steps=4)
    with pytest.raises(ValueError, match="integration: expected one of"):
        Explainer(m, layers="input").explain(
            x, methods=["integrated_gradients"], integration="simpson"
        )
    with pytest.raises(ValueError, match=r"methods: 'saliency' needs the input layer"):
        Explainer(m, layers=["2"]).explain(x, methods=["saliency"])
