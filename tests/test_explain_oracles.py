"""The explainer against independent oracles: captum 0.9 (exact, float64), the ``grad-cam`` package
(pytorch-grad-cam 1.5.7, normalised upsampled maps), a per-sample re-computation of the
``timeseries`` package's ``cam_acts`` / ``grad_cam_acts``, a model-randomisation sanity check
(Adebayo et al. 2018) on GunPoint, localisation on synthetic data with known motifs, and real
fastai / tsai Learners.

Conventions aligned with pytorch-grad-cam (see ``_aligned_scale`` and ``_gradcam_pkg``):

* it only takes 2-D image models: the 1-D model is wrapped to take ``[N, C, 1, T]`` (``_To2d``
  squeezes dim 2) and activations/gradients are lifted with ``reshape_transform=t.unsqueeze(2)``;
* its ``scale_cam_image`` min-max scales with ``/(max + 1e-7)`` and THEN resizes with
  ``cv2.resize``; ours applies ReLU, upsamples with ``F.interpolate(mode="linear",
  align_corners=False)`` and THEN min-max scales (constant map -> zeros). We monkeypatch
  ``pytorch_grad_cam.base_cam.scale_cam_image`` (the name its ``compute_cam_per_layer`` and
  ``aggregate_multi_layers`` call) with exactly that; its own ReLU (``np.maximum(cam, 0)``) and
  everything before it are untouched;
* one CAM object per layer (its multi-layer output is a mean over layers); targets are
  ``ClassifierOutputTarget`` (the raw logit, like ours);
* AblationCAM: its ``AblationLayer`` indexes 4-D activations, so ``_AblationLayer1d`` repeats 3-D
  ones (and accepts the extra ``res`` argument of our stage-closing InceptionTime modules); it
  zeroes a channel when the sample's minimum activation is 0 (ReLU outputs: our default
  ``ablation_value=0.0``) and otherwise sets it to min - 1e7 (our ``ablation_value="auto"``);
  its AblationCAM rounds scores to float32 before ``(y - y_k) / y``: we let its module's
  ``np.float32`` mean float64 (``_NumpyFloat32As64``);
* EigenCAM: pytorch-grad-cam applies a ReLU to the SVD projection, whose sign is arbitrary; ours
  keeps the signed projection (no ReLU), so we compare the projection itself (up to sign per
  sample) and our normalisation of it.
"""

from __future__ import annotations

import copy
import time
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from captum.attr import LayerActivation, LayerAttribution, LayerGradCam, LayerGradientXActivation
from pytorch_grad_cam import (
    AblationCAM,
    EigenCAM,
    GradCAM,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
)
from pytorch_grad_cam import ablation_cam as gradcam_ablation
from pytorch_grad_cam import base_cam as gradcam_base
from pytorch_grad_cam.ablation_layer import AblationLayer
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from scipy.stats import spearmanr
from torch import nn

from tscam_widget.data import load_ucr, synthetic
from tscam_widget.explain import METHODS, Explainer, from_learner
from tscam_widget.models import InceptionTime

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ALL_METHODS = [
    "activation",
    "cam",
    "gradcam",
    "gradcam_classic",
    "gradcam++",
    "xgradcam",
    "hirescam",
    "layercam",
    "eigencam",
    "scorecam",
    "ablationcam",
]
BLOCKS = [f"blocks.{i}" for i in range(6)]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models on 2 shared cores: OpenMP spin-waiting makes 2 threads ~10x slower than 1
    for these sizes (measured), so this module runs single-threaded and restores the setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------- models and helpers
class SmallConv(nn.Module):
    """A small conv net whose layers change length (T, T/2, T/4), so upsampling is exercised."""

    def __init__(self, c_in: int = 2, n_classes: int = 3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(c_in, 6, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(6, 8, 3, padding=1),
            nn.BatchNorm1d(8),
            nn.ReLU(),
            nn.Conv1d(8, 8, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(8, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1))


def _randomise_bn(model: nn.Module, seed: int) -> None:
    """Non-trivial BatchNorm statistics/affine so eval-mode BN is not the identity."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.2)


def _fit(model: nn.Module, X: np.ndarray, y: np.ndarray, epochs: int, lr: float, bs: int, seed=0):
    """Plain Adam + one-cycle training loop (independent of tscam_widget.models.train)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.int64)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(Xt) + bs - 1) // bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(Xt), generator=g).split(bs):
            loss = F.cross_entropy(model(Xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    for p in model.parameters():
        p.grad = None
    return model


def _predict(model: nn.Module, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.eval()(torch.as_tensor(X, dtype=torch.float32)).argmax(1).numpy()


def _modules(model: nn.Module) -> dict[str, nn.Module]:
    return dict(model.named_modules())


def _close(ours: np.ndarray, ref: np.ndarray, rtol: float = 1e-6, what: str = "") -> None:
    """Exact up to the float32 storage of our maps: rtol 1e-6 plus an atol of 1e-6 x max|ref|."""
    ref = np.asarray(ref, dtype=np.float64)
    atol = 1e-6 * max(1e-30, float(np.abs(ref).max()))
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=atol, err_msg=what)


def _minmax_rows(m: np.ndarray) -> np.ndarray:
    """Min-max per row into (0, 1); constant rows -> zeros (our convention, written out here)."""
    m = np.asarray(m, dtype=np.float64)
    lo, hi = m.min(1, keepdims=True), m.max(1, keepdims=True)
    span = hi - lo
    ok = span > 1e-12 * np.maximum(1.0, np.maximum(np.abs(hi), np.abs(lo)))
    return np.where(ok, (m - lo) / np.where(ok, span, 1.0), 0.0)


def _up(m: torch.Tensor | np.ndarray, length: int) -> np.ndarray:
    """``[N, T'] -> [N, length]`` with F.interpolate(linear, align_corners=False), float64."""
    t = torch.as_tensor(np.asarray(m, dtype=np.float64))[:, None, :]
    return F.interpolate(t, size=length, mode="linear", align_corners=False)[:, 0].numpy()


@pytest.fixture(scope="session")
def small_conv():
    torch.manual_seed(0)
    model = SmallConv()
    _randomise_bn(model, 1)
    model = model.double().eval()
    x = torch.randn(5, 2, 36, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    return model, x, np.array([0, 2, 1, 1, 2])


@pytest.fixture(scope="session")
def tiny_inception():
    torch.manual_seed(3)
    model = InceptionTime(2, 3, nf=4, kernel_sizes=(9, 5, 3))
    _randomise_bn(model, 4)
    model = model.double().eval()
    x = torch.randn(4, 2, 40, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    return model, x, np.array([2, 0, 1, 2])


@pytest.fixture(params=["small_conv", "tiny_inception"])
def exact_case(request):
    return request.getfixturevalue(request.param)


# --------------------------------------------------------------------------- captum (exact)
def test_raw_maps_equal_captum_on_every_layer(exact_case):
    model, x, target = exact_case
    ex = Explainer(model, layers="all").explain(
        x,
        target=target,
        methods=["activation", "cam", "gradcam", "hirescam", "layercam"],
        norm="none",
    )
    mods = _modules(model)
    tt = torch.as_tensor(target)
    assert len(ex.layers) >= 8, ex.layers
    seen = []
    h = model.head.register_forward_pre_hook(lambda m, i: seen.append(i[0].detach()))
    with torch.no_grad():
        model(x)
    h.remove()
    head_in = seen[0]
    n_cam = 0
    for name in ex.layers:
        layer = mods[name.split("@")[0]]
        what = f"layer {name}"
        gc = LayerGradCam(model, layer).attribute(x, target=tt, relu_attributions=False)
        _close(ex.raw("gradcam", name), gc[:, 0].detach(), what=what)
        gxa = LayerGradientXActivation(model, layer).attribute(x, target=tt)
        _close(ex.raw("hirescam", name), gxa.sum(1).detach(), what=what)
        grad = LayerGradientXActivation(model, layer, multiply_by_inputs=False).attribute(
            x, target=tt
        )
        act = LayerActivation(model, layer).attribute(x).detach()
        _close(ex.raw("layercam", name), (grad.relu() * act).sum(1).detach(), what=what)
        _close(ex.raw("activation", name, "mean"), act.mean(1), what=what)
        # upsampled (captum's interpolate defaults to nearest: ask for linear) and ReLU'd
        T = x.shape[-1]
        up = LayerAttribution.interpolate(gc.relu(), T, interpolate_mode="linear")[:, 0]
        _close(ex.get("gradcam", name, norm="none"), up.detach(), what=what)
        _close(ex.get("gradcam", name, norm="sample"), _minmax_rows(up.detach()), what=what)
        # cam (Zhou): defined only where the layer's time-mean is the head's input; there it is
        # W[target] @ A, and (hand relation for GAP + linear) gradcam raw x T'
        gap_in = act.mean(-1)
        feeds_head = gap_in.shape == head_in.shape and torch.allclose(gap_in, head_in)
        assert ex.defined("cam", name) == feeds_head, what
        if feeds_head:
            n_cam += 1
            W = model.head.weight.detach()[tt]
            _close(ex.raw("cam", name), torch.einsum("nc,nct->nt", W, act), what=what)
            _close(ex.raw("cam", name), gc[:, 0].detach() * act.shape[-1], what=what)
    assert n_cam >= 1


# --------------------------------------------------------------------------- pytorch-grad-cam
class _To2d(nn.Module):
    """pytorch-grad-cam takes images only: ``[N, C, 1, T] -> model(x.squeeze(2))``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.squeeze(2))


def _to4d(t: torch.Tensor) -> torch.Tensor:
    return t.unsqueeze(2)


class _AblationLayer1d(AblationLayer):
    """pytorch-grad-cam's AblationLayer for ``[N, C, T]`` activations (its set_next_batch indexes
    4-D ones); also accepts (and ignores) extra positional inputs such as a residual."""

    def set_next_batch(self, input_batch_index, activations, num_channels_to_ablate):
        a = activations[input_batch_index].clone().unsqueeze(0)
        self.activations = a.repeat(num_channels_to_ablate, *([1] * (a.ndim - 1)))

    def __call__(self, x, *args, **kwargs):
        return super().__call__(x)


def _aligned_scale(cam, target_size=None):
    """Replacement for pytorch_grad_cam's scale_cam_image: our order and eps. ``cam`` is ``[N, 1,
    T']`` (already ReLU'd by pytorch-grad-cam); upsample linear (align_corners=False) to
    ``target_size[0]`` (= T, its (width, height)), then min-max per sample, constant -> 0."""
    c = np.asarray(cam, dtype=np.float64)
    n = c.shape[0]
    flat = c.reshape(n, -1)
    if target_size is not None:
        flat = _up(flat, target_size[0])
    return _minmax_rows(flat).reshape(n, 1, -1)


class _NumpyFloat32As64:
    """``numpy`` whose ``float32`` is ``float64``: pytorch-grad-cam's AblationCAM rounds the target
    scores to float32 before ``(y - y_k) / y``, a cancellation worth ~3e-5 in the normalised map
    of our float64 model. Swapped in as ``pytorch_grad_cam.ablation_cam.np``; the algorithm is
    untouched."""

    float32 = staticmethod(np.float64)

    def __getattr__(self, name):
        return getattr(np, name)


def _gradcam_pkg(cls, model, layer_module, x, target, monkeypatch, **kw):
    """One pytorch-grad-cam CAM object for one layer; normalised maps ``[N, T]`` (float64)."""
    monkeypatch.setattr(gradcam_base, "scale_cam_image", _aligned_scale)
    monkeypatch.setattr(gradcam_ablation, "np", _NumpyFloat32As64())
    wrapped = _To2d(model)
    cam = cls(model=wrapped, target_layers=[layer_module], reshape_transform=_to4d, **kw)
    targets = [ClassifierOutputTarget(int(t)) for t in target]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = cam(input_tensor=x.unsqueeze(2), targets=targets)
    cam.activations_and_grads.release()
    return np.asarray(out, dtype=np.float64).reshape(len(x), -1)


GRADCAM_PKG = {
    "gradcam": GradCAM,
    "hirescam": HiResCAM,
    "gradcam++": GradCAMPlusPlus,
    "xgradcam": XGradCAM,
    "layercam": LayerCAM,
    "scorecam": ScoreCAM,
    "ablationcam": AblationCAM,
}


def _layers_for_pkg(case_name: str, model: nn.Module) -> list[str]:
    if case_name == "small_conv":
        return [f"features.{i}" for i in range(8)]
    # InceptionTime: the block outputs, via the module producing them (act, or res_act for the
    # stage-closing blocks 2 and 5), since pytorch-grad-cam's AblationCAM swaps the module out
    # and our InceptionTime.features reads ``block.shortcut``
    return [f"blocks.{i}.{'res_act' if i % 3 == 2 else 'act'}" for i in range(6)] + ["blocks.0"]


@pytest.mark.parametrize("case_name", ["small_conv", "tiny_inception"])
def test_normalised_maps_equal_pytorch_grad_cam(case_name, request, monkeypatch):
    model, x, target = request.getfixturevalue(case_name)
    model = copy.deepcopy(model)  # pytorch-grad-cam's backward() leaves .grad in parameters
    layers = _layers_for_pkg(case_name, model)
    ex = Explainer(model, layers=layers).explain(
        x, target=target, methods=list(GRADCAM_PKG) + ["eigencam"], norm="sample"
    )
    ex_auto = Explainer(model, layers=layers).explain(
        x, target=target, methods=["ablationcam"], norm="sample", ablation_value="auto"
    )
    mods = _modules(model)
    acts = {ln: LayerActivation(model, mods[ln]).attribute(x).detach() for ln in layers}
    compared = {m: 0 for m in GRADCAM_PKG}
    for ln in layers:
        relu_like = bool((acts[ln].amin(dim=(1, 2)) == 0).all())
        for method, cls in GRADCAM_PKG.items():
            if method == "ablationcam":
                # the module is swapped out, so not whole InceptionTime blocks (see above)
                if ln == "blocks.0":
                    continue
                kw = {"ablation_layer": _AblationLayer1d()}
            else:
                kw = {}
            ref = _gradcam_pkg(cls, model, mods[ln], x, target, monkeypatch, **kw)
            # where activations go negative, its ablation value is min - 1e7: our "auto"
            ours_ex = ex if method != "ablationcam" or relu_like else ex_auto
            np.testing.assert_allclose(
                ours_ex.get(method, ln), ref, atol=1e-5, rtol=0, err_msg=f"{method} at {ln}"
            )
            compared[method] += 1
        # EigenCAM: the signed projection, up to sign per sample, and its normalisation
        eig = EigenCAM(model=_To2d(model), target_layers=[mods[ln]], reshape_transform=_to4d)
        with torch.no_grad():
            eig.activations_and_grads(x.unsqueeze(2))  # its hooks + reshape_transform
        a4 = eig.activations_and_grads.activations[0].numpy()
        proj = eig.get_cam_image(x.unsqueeze(2), mods[ln], None, a4, None, False)
        eig.activations_and_grads.release()
        proj = np.asarray(proj, dtype=np.float64).reshape(len(x), -1)
        ours_raw = ex.raw("eigencam", ln)
        ours = ex.get("eigencam", ln)
        for i in range(len(x)):
            scale = np.abs(proj[i]).max()
            ok = [np.allclose(ours_raw[i], s * proj[i], rtol=0, atol=1e-5 * scale) for s in (1, -1)]
            assert any(ok), f"eigencam raw at {ln}, sample {i}"
            s = 1 if ok[0] else -1
            ref_n = _minmax_rows(_up(s * proj[i][None], x.shape[-1]))[0]
            np.testing.assert_allclose(ours[i], ref_n, atol=1e-5, err_msg=f"eigencam {ln} {i}")
    assert all(v >= 3 for v in compared.values()), compared


def test_xgradcam_on_standardised_input_equals_pytorch_grad_cam(small_conv):
    """XGrad-CAM divides by ``sum_t A``, about 0 at the input of a standardised series: ours adds
    pytorch-grad-cam's ``1e-7`` to that sum, as its ``XGradCAM.get_cam_weights`` does, so the raw
    maps (after its ReLU) are equal at the input (huge: ``~ sum_t G A / 1e-7``) and at a conv
    layer (float64, so the near-0 sums agree)."""
    model, x, target = small_conv
    x = (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True)
    wrapped = nn.Sequential(nn.Identity(), copy.deepcopy(model))  # [0] outputs the input
    ex = Explainer(model, layers=["input", "features.0"]).explain(
        x, target=target, methods=["xgradcam"], norm="none"
    )
    refs = {}
    for ln, mod in (("input", wrapped[0]), ("features.0", wrapped[1].features[0])):
        cam = XGradCAM(model=_To2d(wrapped), target_layers=[mod], reshape_transform=_to4d)
        out = cam.activations_and_grads(x.unsqueeze(2).clone().requires_grad_(True))
        sum(ClassifierOutputTarget(int(t))(o) for t, o in zip(target, out)).backward()
        a = cam.activations_and_grads.activations[0].numpy()
        g = cam.activations_and_grads.gradients[0].numpy()
        ref = cam.get_cam_image(None, mod, None, a, g, False).reshape(len(x), -1)
        cam.activations_and_grads.release()
        refs[ln] = ref = np.maximum(ref, 0)
        ours = np.maximum(ex.raw("xgradcam", ln), 0)
        scale = np.abs(ref).max()
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5 * scale, err_msg=ln)
    assert np.abs(x.sum(-1)).max() < 1e-12  # the sums over time are rounding noise
    assert refs["input"].max() > 1e4 * refs["features.0"].max()  # pytorch-grad-cam's own size


# --------------------------------------------------------------------------- timeseries package
def _ts_reduce(t: torch.Tensor, how: str, dim: int) -> torch.Tensor:
    # as the timeseries package did it, with torch: median is torch's (lower) median
    if how == "mean":
        return t.mean(dim)
    if how == "median":
        return t.median(dim).values
    if how == "max":
        return t.max(dim).values
    return (t.mean(dim) + t.max(dim).values) / 2


def _force_scale(cam: np.ndarray, scale_range=(0, 1)) -> np.ndarray:
    """The timeseries package's ``force_scale``: min-max each map into ``scale_range``. A
    constant map gave 0/0 = NaN there; we document ``scale_range[0]`` instead, so such rows
    (e.g. a lower median of ReLU outputs that is 0 everywhere) are expected at the low end."""
    a, b = scale_range
    lo, hi = cam.min(-1, keepdims=True), cam.max(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = (cam - lo) / (hi - lo) * (b - a) + a
    return np.where(hi == lo, a, scaled)


def _timeseries_cam(model, x, y, layer, func, reduction):
    """Per-sample re-computation of the timeseries package's ``cam_acts`` (func="acts") and
    ``grad_cam_acts`` (func="grad"): hook model[layer], preds = model(x[None]),
    preds[0, y].backward(), reduce (``_force_scale`` is applied by the caller). Works on a deep
    copy so the user's model is not touched."""
    m = copy.deepcopy(model).eval()
    module = _modules(m)[layer]
    out = []
    for xi, yi in zip(x, y):
        store = {}

        def hook(mod, inp, o, store=store):
            store["acts"] = o.detach().clone()
            o.register_hook(lambda g: store.__setitem__("grads", g.detach().clone()))

        handle = module.register_forward_hook(hook)
        preds = m(xi[None])
        preds[0, int(yi)].backward()
        handle.remove()
        acts = store["acts"][0]
        if func == "acts":
            cam = _ts_reduce(acts, reduction, 0)
        else:
            w = _ts_reduce(store["grads"][0], reduction, 1)
            cam = (w[:, None] * acts).mean(0)
        out.append(cam.numpy())
    return np.stack(out)


@pytest.mark.parametrize("reduction", ["mean", "median", "max", "mean_max"])
def test_activation_and_gradcam_classic_equal_timeseries_package(tiny_inception, reduction):
    model, x, y = tiny_inception
    before = copy.deepcopy(model.state_dict())
    expl = Explainer(model, layers=BLOCKS)
    kw = dict(target="true", y=y, methods=["activation", "gradcam_classic"], reductions=[reduction])
    scaled = expl.explain(x, norm="sample", **kw)
    plain = expl.explain(x, norm="none", **kw)
    scaled_pm = expl.explain(x, norm="sample", scale_range=(-1, 1), **kw)
    for ln in BLOCKS:
        for method, func in (("activation", "acts"), ("gradcam_classic", "grad")):
            what = f"{method}/{reduction} at {ln}"
            ref = _timeseries_cam(model, x, y, ln, func, reduction)
            _close(plain.get(method, ln, reduction), ref, what=what)
            np.testing.assert_allclose(
                scaled.get(method, ln, reduction), _force_scale(ref), atol=1e-6, err_msg=what
            )
            np.testing.assert_allclose(
                scaled_pm.get(method, ln, reduction),
                _force_scale(ref, (-1, 1)),
                atol=2e-6,
                err_msg=what,
            )
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())


# --------------------------------------------------------------------------- consistency
CONSISTENCY_METHODS = [
    "activation",
    "gradcam",
    "gradcam_classic",
    "gradcam++",
    "xgradcam",
    "hirescam",
    "layercam",
    "eigencam",
    "scorecam",
    "ablationcam",
]


def test_all_layers_at_once_equal_per_layer_calls_and_batch_equals_one_by_one(tiny_inception):
    model, x, target = tiny_inception
    kw = dict(target=target, methods=CONSISTENCY_METHODS, reductions=["mean", "max"], norm="none")
    together = Explainer(model, layers=BLOCKS).explain(x, **kw)
    one_by_one = Explainer(model, layers=BLOCKS).explain(x, batch_size=1, **kw)
    for ln in BLOCKS:
        alone = Explainer(model, layers=[ln]).explain(x, **kw)
        assert alone.layers == [ln]
        for m in CONSISTENCY_METHODS:
            for r in ("mean", "max"):
                ref = together.raw(m, ln, r)
                _close(alone.raw(m, ln, r), ref, what=f"{m}/{r} {ln} per-layer")
                _close(one_by_one.raw(m, ln, r), ref, what=f"{m}/{r} {ln} batch_size=1")
    np.testing.assert_array_equal(together.target, target)
    np.testing.assert_allclose(one_by_one.logits, together.logits, rtol=1e-6)


# --------------------------------------------------------------------------- trained models
@pytest.fixture(scope="session")
def gunpoint(ucr_dir):
    Xtr, ytr = load_ucr("GunPoint", "train", data_dir=ucr_dir)
    Xte, yte = load_ucr("GunPoint", "test", data_dir=ucr_dir)
    classes = sorted(set(ytr.tolist()))
    enc = {c: i for i, c in enumerate(classes)}
    return (Xtr, np.array([enc[v] for v in ytr]), Xte, np.array([enc[v] for v in yte]), classes)


@pytest.fixture(scope="session")
def gunpoint_models(gunpoint):
    Xtr, ytr, Xte, yte, _ = gunpoint
    t0 = time.perf_counter()
    torch.manual_seed(0)
    trained = _fit(InceptionTime(1, 2, nf=8), Xtr, ytr, epochs=12, lr=1e-2, bs=25, seed=0)
    acc = float((_predict(trained, Xte) == yte).mean())
    torch.manual_seed(1)
    random = InceptionTime(1, 2, nf=8).eval()
    print(
        f"\n[gunpoint] InceptionTime(nf=8) trained in {time.perf_counter() - t0:.1f}s, "
        f"test accuracy {acc:.3f}"
    )
    return trained, random, acc


# Model-randomisation sanity check (Adebayo et al. 2018): a map that barely changes when the
# trained weights are replaced by random ones explains the architecture, not what was learnt.
# Per method: the largest mean per-sample Spearman rank correlation (trained vs re-initialised
# model, GunPoint test set, blocks.5) it may reach, and why. Measured (torch 2.x, seeds below):
# every method but eigencam lies between -0.26 and +0.01, so 0.5 leaves a wide margin yet fails
# a method that ignores the weights (its correlation would be near 1).
SANITY_MAX_RHO = {
    "activation": (0.5, "activations change with the weights"),
    "cam": (0.5, "head weights and activations both re-initialised"),
    "gradcam": (0.5, "the usual sanity-check subject; gradients change with the weights"),
    "gradcam_classic": (0.5, "as gradcam, mean over channels instead of the sum"),
    "gradcam++": (0.5, "gradient powers change with the weights"),
    "xgradcam": (0.5, "gradient x activation weights"),
    "hirescam": (0.5, "elementwise gradient x activation"),
    "layercam": (0.5, "elementwise ReLU(gradient) x activation"),
    # its sign is arbitrary per sample, so the plain mean could be ~0 for identical maps: the
    # mean of |rho| is asserted instead. It is a known weak case of this check: measured 0.62,
    # the first principal component of a random conv net's activations still follows the
    # input's shape (as the edge-detector-like maps of Adebayo et al.); the bound only fails a
    # map that ignores the weights altogether (|rho| near 1)
    "eigencam": (0.8, "class-agnostic principal component; |rho|; known weak (0.62)"),
    "scorecam": (0.5, "scores from forwards of the model itself; 16 samples (a forward each)"),
    "ablationcam": (0.5, "logit drops of the model itself; 16 samples (a forward each)"),
}


def test_model_randomisation_sanity_check(gunpoint, gunpoint_models):
    _, _, Xte, _, _ = gunpoint
    trained, random, acc = gunpoint_models
    assert acc >= 0.85, f"GunPoint test accuracy {acc:.3f}"
    assert set(SANITY_MAX_RHO) == set(ALL_METHODS)  # every method has its threshold
    heavy = sorted(m for m in ALL_METHODS if METHODS[m].extra_forwards)
    light = [m for m in ALL_METHODS if m not in heavy]
    layer = "blocks.5"
    rho = {}
    n_heavy = 16
    for methods, X in ((light, Xte), (heavy, Xte[:n_heavy])):
        maps = []
        for model in (trained, random):
            ex = Explainer(model, layers=[layer]).explain(X, methods=methods, target="pred")
            maps.append(ex)
        for m in methods:
            a, b = maps[0].get(m, layer), maps[1].get(m, layer)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = np.array([spearmanr(a[i], b[i])[0] for i in range(len(a))])
            rho[m] = float(np.nanmean(np.abs(r) if m == "eigencam" else r))
    print(
        "\n[sanity] mean per-sample Spearman(trained, re-initialised), GunPoint test, "
        f"{layer} (scorecam/ablationcam on {n_heavy} samples; eigencam: mean |rho|):"
    )
    for m, r in rho.items():
        print(f"  {m:16s} {r:+.3f}  (max {SANITY_MAX_RHO[m][0]})")
    failed = {m: r for m, r in rho.items() if not r < SANITY_MAX_RHO[m][0]}
    assert not failed, {m: (r, SANITY_MAX_RHO[m]) for m, r in failed.items()}


@pytest.fixture(scope="session")
def synthetic_model():
    Xtr, ytr_s, _ = synthetic(n=240, length=96, n_classes=4, seed=0)
    Xte, yte_s, mask = synthetic(n=120, length=96, n_classes=4, seed=1)
    classes = sorted(set(ytr_s.tolist()))
    ytr = np.array([classes.index(v) for v in ytr_s])
    yte = np.array([classes.index(v) for v in yte_s])
    t0 = time.perf_counter()
    # kernels 9/5/3 (InceptionTime's are 39/19/9): with 39/19/9 the last block's receptive field
    # (~230 samples) exceeds the series (96) and last-block gradcam hit the motif for only 43 %
    # of samples (measured); with 9/5/3 it is ~50 samples and training is ~4x cheaper
    model = InceptionTime(1, 4, nf=8, kernel_sizes=(9, 5, 3))
    model = _fit(model, Xtr, ytr, epochs=10, lr=1e-2, bs=32, seed=0)
    acc = float((_predict(model, Xte) == yte).mean())
    print(
        f"\n[synthetic] InceptionTime(nf=8, kernels 9/5/3) trained in "
        f"{time.perf_counter() - t0:.1f}s, test accuracy {acc:.3f}"
    )
    return model, Xte, yte, mask, acc


# Localisation: the share of correctly classified synthetic test samples whose map's argmax
# falls inside the class motif, at the deepest block (blocks.5; chance ~0.18). Per method: the
# least share it must reach, and why. Measured (torch 2.x, seeds below): 0.98-1.00 for every
# method but eigencam (0.46).
LOCALISATION_MIN = {
    "activation": (0.8, "the motif drives the last block's activations"),
    "cam": (0.8, "class-weighted activations at the layer feeding the head"),
    "gradcam": (0.8, "the reference method"),
    "gradcam_classic": (0.8, "gradcam's weights, mean over channels (same argmax)"),
    "gradcam++": (0.8, "positive-gradient weights"),
    "xgradcam": (0.8, "gradient x activation weights"),
    "hirescam": (0.8, "elementwise gradient x activation"),
    "layercam": (0.8, "elementwise ReLU(gradient) x activation"),
    # class-agnostic and of arbitrary sign per sample: its argmax is the motif or the opposite
    # extreme, so only "well above chance" (twice it) is asserted
    "eigencam": (0.36, "first principal component, sign arbitrary; twice chance"),
    "scorecam": (0.8, "masks from the last block; first 16 samples (a forward per channel)"),
    "ablationcam": (0.8, "channel ablations of the last block; first 16 samples"),
}


def test_localisation_on_synthetic_motifs(synthetic_model):
    model, Xte, yte, mask, acc = synthetic_model
    assert acc >= 0.8, acc
    assert set(LOCALISATION_MIN) == set(ALL_METHODS)  # every method has its threshold
    heavy = [m for m in ALL_METHODS if METHODS[m].extra_forwards]
    methods = [m for m in ALL_METHODS if m not in heavy]
    ex = Explainer(model, layers=BLOCKS).explain(Xte, methods=methods, target="pred")
    ok = ex.pred == yte
    idx = np.flatnonzero(ok)
    scores = {}
    for m in methods:
        for ln in BLOCKS:
            if not ex.defined(m, ln):
                continue
            arg = ex.get(m, ln).argmax(1)[idx]
            scores[(m, ln)] = float(mask[idx, arg].mean())
    heavy_idx = idx[:16]
    ex_h = Explainer(model, layers=["blocks.5"]).explain(
        Xte[heavy_idx], methods=heavy, target="pred"
    )
    for m in heavy:
        arg = ex_h.get(m, "blocks.5").argmax(1)
        scores[(m, "blocks.5")] = float(mask[heavy_idx, arg].mean())
    print(
        f"\n[localisation] argmax inside motif, {len(idx)} correctly classified test samples "
        f"(scorecam/ablationcam: first {len(heavy_idx)}), chance ~{mask.mean():.2f}:"
    )
    print("  " + " " * 16 + " ".join(f"{b:>8s}" for b in BLOCKS))
    for m in ALL_METHODS:
        row = [scores.get((m, b)) for b in BLOCKS]
        print(f"  {m:16s}" + " ".join("       -" if v is None else f"{v:8.2f}" for v in row))
    assert LOCALISATION_MIN["eigencam"][0] >= 2 * mask.mean()  # the documented "twice chance"
    failed = {
        m: scores[(m, "blocks.5")]
        for m in ALL_METHODS
        if not scores[(m, "blocks.5")] >= LOCALISATION_MIN[m][0]
    }
    assert not failed, {m: (v, LOCALISATION_MIN[m]) for m, v in failed.items()}


# --------------------------------------------------------------------------- fastai / tsai
def test_fastai_learner_through_from_learner(gunpoint):
    from fastai.basics import CrossEntropyLossFlat, DataLoaders, Learner, accuracy

    Xtr, ytr, Xte, yte, _ = gunpoint
    train_ds = list(zip(torch.as_tensor(Xtr), torch.as_tensor(ytr)))
    valid_ds = list(zip(torch.as_tensor(Xte), torch.as_tensor(yte)))
    dls = DataLoaders.from_dsets(train_ds, valid_ds, bs=25, device="cpu")
    torch.manual_seed(0)
    learn = Learner(
        dls, InceptionTime(1, 2, nf=8), loss_func=CrossEntropyLossFlat(), metrics=accuracy
    )
    with learn.no_logging():
        learn.fit(2, 1e-3)
        preds, targs = learn.get_preds(ds_idx=1)
    model, X, y, classes = from_learner(learn)
    assert X.shape == Xte.shape and np.array_equal(X, Xte)
    np.testing.assert_array_equal(y, targs.numpy())
    ex = Explainer(model).explain(X, methods=["gradcam"], target="pred")
    np.testing.assert_array_equal(ex.pred, preds.argmax(1).numpy())
    np.testing.assert_allclose(ex.probs, preds.numpy(), atol=1e-5)


def test_tsai_learner_through_from_learner(ucr_dir):
    from fastai.metrics import accuracy
    from tsai.basics import TSClassification, combine_split_data, get_ts_dls, ts_learner
    from tsai.models.InceptionTime import InceptionTime as TsaiInceptionTime

    Xtr, ytr = load_ucr("GunPoint", "train", data_dir=ucr_dir)
    Xte, yte = load_ucr("GunPoint", "test", data_dir=ucr_dir)
    X, y, splits = combine_split_data([Xtr, Xte], [ytr, yte])
    dls = get_ts_dls(X, y, splits=splits, tfms=[None, TSClassification()], bs=64)
    torch.manual_seed(0)
    learn = ts_learner(dls, TsaiInceptionTime, metrics=accuracy, seed=0)
    with learn.no_logging():
        learn.fit_one_cycle(1, 1e-3)
        preds, targs = learn.get_preds(ds_idx=1)
    model, Xv, yv, classes = from_learner(learn)
    for p in model.parameters():
        p.grad = None
    assert classes == [str(c) for c in dls.vocab]
    np.testing.assert_array_equal(np.asarray(classes)[yv], yte)  # labels decoded via dls.vocab
    np.testing.assert_allclose(Xv, Xte)
    ex = Explainer(model).explain(Xv, methods=["gradcam"], target="pred", norm="none")
    np.testing.assert_array_equal(ex.pred, preds.argmax(1).numpy())
    # the gradcam map on a layer called once equals captum's LayerGradCam on the same module
    name = "inceptionblock.inception.5"
    ex5 = Explainer(model, layers=[name]).explain(Xv[:20], methods=["gradcam"], target="pred")
    layer = _modules(model)[name]
    ref = LayerGradCam(model, layer).attribute(
        torch.as_tensor(Xv[:20]), target=torch.as_tensor(ex5.pred), relu_attributions=False
    )
    scale = float(ref.abs().max())
    np.testing.assert_allclose(
        ex5.raw("gradcam", name), ref[:, 0].detach().numpy(), rtol=1e-4, atol=1e-5 * scale
    )
    assert all(p.grad is None for p in model.parameters())
