"""Models whose prediction has no gradient with respect to the input (tsai's MiniRocketPlus, a
hand-made model with thresholded features): the default selection is the input, explained by the
methods that need no gradient (occlusion, shapley_segments, checked against captum's
``Occlusion`` and ``ShapleyValueSampling`` with the same windows, feature mask and seed); a
gradient method asked for by name is a clear error; ``CamWidget(model, X, y)`` opens with a note
that says why only perturbation methods are shown; the user's model is left as it was, buffers
included (MiniRocket assigns new bias tensors on the first forward it sees)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import Occlusion, ShapleyValueSampling
from torch import nn
from traitlets import TraitError

from tscam_widget import CamWidget
from tscam_widget.explain import Explainer, default_layers
from tscam_widget.explain.input_ops import segments
from tscam_widget.metrics.evaluate import evaluate

pytestmark = pytest.mark.usefixtures("one_torch_thread")

C, T, K = 3, 40, 3
GRADIENT_METHODS = ["gradcam", "hirescam", "saliency", "inputxgradient", "integrated_gradients"]


class Thresholded(nn.Module):
    """Hand-made, not differentiable: the share of time steps where each conv kernel's output is
    positive (a comparison: no gradient), then a linear head."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(4)
        self.conv = nn.Conv1d(C, 12, 7, padding=3).double()
        self.bn = nn.BatchNorm1d(12).double()
        self.head = nn.Linear(12, K).double()
        nn.init.normal_(self.head.weight, std=2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        share = (self.conv(x) > 0).to(x.dtype).mean(-1)
        return self.head(self.bn(share))


def _x(n: int = 4, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    return torch.randn(n, C, T, generator=g, dtype=dtype)


def _mask(n_seg: int) -> torch.Tensor:
    mask = torch.zeros(1, C, T, dtype=torch.long)
    for k, (s, e) in enumerate(segments(T, n_seg)):
        mask[:, :, s:e] = k
    return mask


def _rel(ours: np.ndarray, ref: torch.Tensor) -> float:
    r = ref.detach().numpy()
    assert np.abs(r).max() > 0, "the oracle is all zeros (a test that cannot fail)"
    assert ours.shape == r.shape
    return float(np.abs(ours - r).max() / np.abs(r).max())


def _minirocket(fit_on: torch.Tensor | None = None) -> nn.Module:
    from tsai.models.MINIROCKETPlus_Pytorch import MiniRocketPlus

    torch.manual_seed(0)
    m = MiniRocketPlus(C, K, T, num_features=840)
    if fit_on is not None:
        m.backbone.fit(fit_on)
    lin = m.head[-1]
    nn.init.normal_(lin.weight, std=0.5)  # zero-initialised: every logit would be 0
    return m.eval()


def _buffers(m: nn.Module) -> dict[str, torch.Tensor]:
    return dict(m.named_buffers())


def _assert_buffers(m: nn.Module, before: dict[str, torch.Tensor]) -> None:
    now = _buffers(m)
    assert now.keys() == before.keys()
    for k, b in before.items():
        assert now[k] is b, f"buffer {k} replaced"


def test_default_selection_is_the_input_with_the_methods_that_need_no_gradient(model_state):
    m, x = Thresholded().train(), _x()
    state = model_state(m)
    assert default_layers(m, x) == ["input"]
    ex = Explainer(m)
    e = ex.explain(x, norm="none", window=8, n_segments=5, shapley_samples=6, seed=2)
    assert e.layers == ["input"] and not ex.input_differentiable
    assert e.methods == ["occlusion", "shapley_segments"]
    state.assert_unchanged(m)
    tgt = torch.as_tensor(e.target)
    m.eval()
    ref = Occlusion(m).attribute(
        x, sliding_window_shapes=(C, 8), strides=(1, 8), baselines=0, target=tgt
    )
    assert _rel(e.channel_raw("occlusion"), ref) <= 1e-5
    torch.manual_seed(2)
    ref = ShapleyValueSampling(m).attribute(
        x, baselines=0, target=tgt, feature_mask=_mask(5), n_samples=6
    )
    assert _rel(e.channel_raw("shapley_segments"), ref) <= 1e-5


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_a_gradient_method_asked_for_by_name_is_refused_with_the_reason(method, model_state):
    m, x = Thresholded(), _x()
    state = model_state(m)
    with pytest.raises(
        ValueError,
        match=rf"methods: '{method}' needs gradients, and the model's prediction has no gradient "
        r"with respect to its input .*occlusion and shapley_segments need no gradient",
    ):
        Explainer(m).explain(x, methods=[method, "occlusion"])
    state.assert_unchanged(m)


def test_minirocket_is_explained_by_shapley_segments_like_captum():
    x = _x(6, torch.float32)
    m = _minirocket(fit_on=_x(32, torch.float32) * 1.5)
    before = _buffers(m)
    ex = Explainer(m, with_input=True)
    e = ex.explain(x, methods=["shapley_segments"], norm="none", shapley_samples=5, seed=1)
    assert e.layers == ["input"]
    _assert_buffers(m, before)
    torch.manual_seed(1)
    ref = ShapleyValueSampling(m).attribute(
        x, baselines=0, target=torch.as_tensor(e.target), feature_mask=_mask(10), n_samples=5
    )
    # float32 model: the same forwards in other batches differ by rounding
    assert _rel(e.channel_raw("shapley_segments"), ref) <= 1e-4


def test_an_unfitted_minirocket_is_left_unfitted(model_state):
    # MiniRocket fits its biases on the first batch it sees (new tensors assigned to its
    # buffers): explaining it must not fit the user's model on our samples
    m = _minirocket()
    for k, b in m.backbone.named_buffers():
        if k.startswith("biases"):
            b.fill_(0.25)  # torch.empty until fitted: values that compare equal to themselves
    before = {k: v.clone() for k, v in _buffers(m).items()}
    same = _buffers(m)
    state = model_state(m)
    Explainer(m).explain(_x(2, torch.float32), methods=["occlusion"])
    _assert_buffers(m, same)
    assert not bool(m.backbone.prefit)
    state.assert_unchanged(m)
    assert all(torch.equal(v, _buffers(m)[k]) for k, v in before.items())


def test_widget_opens_on_minirocket_with_perturbation_methods_and_says_why(model_state):
    x = _x(5, torch.float32).numpy()
    y = np.array([0, 1, 2, 0, 1])
    m = _minirocket(fit_on=_x(32, torch.float32))
    state, bufs = model_state(m), _buffers(m)
    w = CamWidget(m, x, y, progress=False, precision="float32")
    assert w.layers == ["input"]
    assert w.methods == ["occlusion", "shapley_segments"]
    assert not w.precomputed  # both run forwards of their own: maps on demand
    w.method = "shapley_segments"
    w.sample = 3
    drawn = w.current_map
    assert w.status.startswith("no gradients: the model's prediction has no gradient")
    assert "only perturbation methods are shown" in w.status
    assert w.error == ""
    # captum's Shapley values (same segments, samples and seed: the defaults) summed over
    # channels, min-max scaled as norm="sample" draws them
    pred = int(w.y_pred[3])
    torch.manual_seed(0)
    ref = (
        ShapleyValueSampling(m)
        .attribute(
            torch.from_numpy(x[3:4]), baselines=0, target=pred, feature_mask=_mask(10), n_samples=25
        )[0]
        .sum(0)
    )
    ref = (ref - ref.min()) / (ref.max() - ref.min())
    np.testing.assert_allclose(drawn, ref.numpy(), atol=1e-4)
    with pytest.raises(TraitError, match=r"method: expected one of \['occlusion', 'shapley"):
        w.method = "gradcam"  # not offered
    with pytest.raises(TraitError, match=r"methods: 'gradcam' needs gradients"):
        w.methods = ["shapley_segments", "gradcam"]
    assert w.methods == ["occlusion", "shapley_segments"]
    w.close()
    state.assert_unchanged(m)
    _assert_buffers(m, bufs)


def test_widget_refuses_a_gradient_method_by_name():
    m = _minirocket(fit_on=_x(32, torch.float32))
    with pytest.raises(ValueError, match=r"methods: 'integrated_gradients' needs gradients"):
        CamWidget(m, _x(3, torch.float32).numpy(), methods=["integrated_gradients"])


def test_trust_scores_a_model_without_gradients_by_its_perturbation_methods(model_state):
    m, x = Thresholded().eval(), _x(6)
    y = np.array([0, 1, 2, 0, 1, 2])
    state = model_state(m)
    with pytest.raises(TypeError, match=r"progress: expected a function progress\(stage"):
        evaluate(m, x, y, progress=1)
    r = evaluate(
        m, x, y, method_kwargs={"window": 8, "n_segments": 5, "shapley_samples": 6}, progress=False
    )
    assert r.layers == ["input"] and r.methods == ["occlusion", "shapley_segments"]
    assert np.isfinite(r.gain).all() and r.gain.shape == (1, 2)
    # nothing deleted yet: each curve starts at the model's own probability of the target
    with torch.no_grad():
        p = torch.softmax(m(x), -1)[torch.arange(6), torch.as_tensor(r.target)].numpy()
    np.testing.assert_allclose(
        r.curves[..., 0], np.broadcast_to(p[:, None, None, None], r.curves.shape[:-1]), atol=1e-6
    )
    state.assert_unchanged(m)
