"""Layouts: every kind of layer output is read along its time axis.

Each model here is built so that the answer is known without training: its head reads ONE time
step ``T0`` (or one patch) of the layer under test, so the gradient of the logit with respect to
that layer's output is zero everywhere else, and the raw HiResCAM map (sum over channels of
gradient x activation) must be non-zero at ``T0`` only. Read along the wrong axis, the map would
have the length of a channel axis, or its non-zero entry would sit elsewhere.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tscam_widget.explain import Explainer, candidate_layers, default_layers
from tscam_widget.explain.layers import INPUT

C, D, K, T, T0 = 3, 16, 2, 48, 30


def x_batch(n: int = 4, t: int = T, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, C, t)).astype(np.float32)


def only_at(ex, layer: str, step: int, length: int) -> None:
    raw = ex.raw("hirescam", layer)
    assert raw.shape == (len(ex.target), length), raw.shape
    assert np.all(np.abs(raw[:, step]) > 0)
    others = np.delete(raw, step, axis=1)
    np.testing.assert_array_equal(others, 0.0)


class SeqNTC(nn.Module):
    """[N, C, T] -> tokens [N, T, D] (batch first) -> pointwise mix -> head reads token T0."""

    def __init__(self, d: int = D, fixed_length: int | None = None):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Linear(C, d)
        self.pos = nn.Parameter(torch.randn(fixed_length, d) * 0.1) if fixed_length else None
        self.mix = nn.Sequential(nn.Linear(d, d), nn.Tanh())
        self.head = nn.Linear(d, K)

    def forward(self, x):
        h = self.embed(x.transpose(1, 2))
        if self.pos is not None:
            h = h + self.pos  # only one length works
        return self.head(self.mix(h)[:, T0])


class SeqTNC(nn.Module):
    """Sequence-first: nn.TransformerEncoderLayer's default [T, N, D]."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Linear(C, D)
        self.enc = nn.TransformerEncoderLayer(D, 2, 32, dropout=0.0)
        self.head = nn.Linear(D, K)

    def forward(self, x):
        return self.head(self.enc(self.embed(x.permute(2, 0, 1)))[T0])


class LSTMChannelsLast(nn.Module):
    """A batch_first LSTM that takes [N, T, C] (input_layout="NTC"); (output, (h, c))."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.rnn = nn.LSTM(C, D, batch_first=True)
        self.head = nn.Linear(D, K)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, T0])


class GRUSeqFirst(nn.Module):
    """A sequence-first GRU: (output [T, N, H], h_n)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.rnn = nn.GRU(C, D)
        self.head = nn.Linear(D, K)

    def forward(self, x):
        out, _ = self.rnn(x.permute(2, 0, 1))
        return self.head(out[T0])


class Conv2dChannelsTime(nn.Module):
    """XCM-style 2-D convolution over channels x time: [N, F, C, T]."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv2d = nn.Conv2d(1, 4, (1, 5), padding=(0, 2))
        self.head = nn.Linear(4 * C, K)

    def forward(self, x):
        return self.head(self.conv2d(x[:, None])[..., T0].flatten(1))


class AddClassToken(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.cls = nn.Parameter(torch.randn(1, 1, d))

    def forward(self, h):
        return torch.cat([self.cls.expand(h.shape[0], -1, -1), h], 1)


class PatchTokens(nn.Module):
    """Patches of 8 steps (a strided conv), a class token in front, a token mixer; the head reads
    the token of patch 4 (steps 32..39)."""

    P, PATCH = 4, 8

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.patch = nn.Conv1d(C, D, self.PATCH, stride=self.PATCH)
        self.tokens = AddClassToken(D)
        self.mix = nn.Sequential(nn.Linear(D, D), nn.Tanh())
        self.head = nn.Linear(D, K)

    def forward(self, x):
        h = self.tokens(self.patch(x).transpose(1, 2))
        return self.head(self.mix(h)[:, 1 + self.P])


class Gram(nn.Module):
    """Returns the Gram matrix of the tokens [N, T, T]: symmetric, so no probe can tell which of
    its two axes is time."""

    def forward(self, h):
        return h @ h.transpose(1, 2)


class AttnMapNet(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Linear(C, D)
        self.attn = Gram()
        self.head = nn.Linear(T, K)

    def forward(self, x):
        return self.head(self.attn(self.embed(x.transpose(1, 2)))[:, T0])


@pytest.mark.parametrize(
    "model, layer, layout, kw",
    [
        (SeqNTC(), "mix", "NTC", {}),
        (SeqTNC(), "enc", "TNC", {}),
        (LSTMChannelsLast(), "rnn", "[0] NTC", {"input_layout": "NTC"}),
        (GRUSeqFirst(), "rnn", "[0] TNC", {}),
        (Conv2dChannelsTime(), "conv2d", "NCCT, channel axes flattened", {}),
    ],
    ids=["NTC", "TNC", "LSTM-tuple-channels-last", "GRU-tuple-seq-first", "4-D"],
)
def test_layout_time_axis_from_a_single_step_head(model, layer, layout, kw):
    ex = Explainer(model, layers=layer, **kw).explain(
        x_batch(), methods=["hirescam", "gradcam"], norm="none"
    )
    assert ex.layouts == {layer: layout}
    only_at(ex, layer, T0, T)
    # normalised: where the evidence at T0 is positive HiResCAM peaks there (1, the rest 0);
    # where it is negative its ReLU leaves a map of zeros (a constant map normalises to 0).
    # Both classes as targets, so that some sample has positive evidence
    positive = 0
    for target in range(K):
        ex = Explainer(model, layers=layer, **kw).explain(
            x_batch(), target=target, methods=["hirescam"], norm="none"
        )
        pos = ex.raw("hirescam", layer)[:, T0] > 0
        norm = ex.get("hirescam", layer, norm="sample")
        np.testing.assert_array_equal(norm[pos, T0], 1.0)
        np.testing.assert_array_equal(np.delete(norm, T0, axis=1), 0.0)
        np.testing.assert_array_equal(norm[~pos], 0.0)
        positive += int(pos.sum())
    assert positive > 0


def test_input_layout_ntc_feeds_channels_last_and_keeps_series_nct():
    model = LSTMChannelsLast()
    x = x_batch()
    ex = Explainer(model, layers=[INPUT, "rnn"], input_layout="NTC").explain(
        x, methods=["hirescam"], norm="none"
    )
    with torch.no_grad():
        want = model.eval()(torch.from_numpy(x).transpose(1, 2))
    np.testing.assert_allclose(ex.logits, want.numpy(), rtol=1e-5, atol=1e-6)
    # the input layer is [N, C, T]: gradient x input is non-zero at steps <= T0 only (causal LSTM)
    raw = ex.raw("hirescam", INPUT)
    assert raw.shape == (4, T)
    np.testing.assert_array_equal(raw[:, T0 + 1 :], 0.0)
    assert np.abs(raw[:, : T0 + 1]).sum() > 0
    with pytest.raises(ValueError, match=r"input_layout: expected one of \['NCT', 'NTC'\]"):
        Explainer(model, input_layout="TNC")


def test_patch_tokens_drop_the_class_token_and_map_back_through_the_stride():
    m = PatchTokens()
    ex = Explainer(m, layers="mix").explain(x_batch(), methods=["hirescam"], norm="none")
    assert ex.layouts == {"mix": "NTC, stride 8, token 0 dropped (class token)"}
    only_at(ex, "mix", PatchTokens.P, T // PatchTokens.PATCH)
    up = ex.get("hirescam", "mix", norm="sample")
    lo, hi = PatchTokens.P * 8, (PatchTokens.P + 1) * 8
    peaks = np.abs(ex.raw("hirescam", "mix")[:, PatchTokens.P]) > 0
    assert peaks.all()
    positive = ex.raw("hirescam", "mix")[:, PatchTokens.P] > 0
    assert ((up.argmax(1) >= lo) & (up.argmax(1) < hi))[positive].all()
    assert "patch" in candidate_layers(m, x_batch(n=2))


def test_fixed_length_model_with_width_equal_to_length_uses_the_probe():
    # width D == T and a positional table that admits one length only: sizes cannot tell the
    # time axis from the channel axis; the bumped probe copies can
    m = SeqNTC(d=T, fixed_length=T)
    ex = Explainer(m, layers="mix").explain(x_batch(), methods=["hirescam"], norm="none")
    assert ex.layouts == {"mix": "NTC"}
    only_at(ex, "mix", T0, T)
    assert default_layers(m, x_batch(n=2))[-1] == "mix.1"  # the Tanh: the output of `mix`


def test_ambiguous_layout_error_names_layer_shape_and_override():
    m = AttnMapNet()
    with pytest.raises(
        ValueError,
        match=r"cannot read the output of 'attn' as activations \[N, C, T'\] \(shape \[2, 48, "
        r"48\].*pass layouts=\{'attn': 'NTC'\}",
    ):
        Explainer(m, layers="attn").explain(x_batch())
    assert "attn" not in candidate_layers(m, x_batch(n=2))
    ex = Explainer(m, layers="attn", layouts={"attn": "NTC"}).explain(
        x_batch(), methods=["hirescam"], norm="none"
    )
    assert ex.layouts == {"attn": "NTC, given"}
    only_at(ex, "attn", T0, T)
    with pytest.raises(ValueError, match=r"layouts\['attn'\]: expected a layout like 'NCT'"):
        Explainer(m, layouts={"attn": "NXT"})
    with pytest.raises(ValueError, match=r"layouts: the model has no submodule named 'atn'"):
        Explainer(m, layouts={"atn": "NTC"})


# ---------------------------------------------------------------- model outputs of other shapes
class TupleOut(nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(C, 4, 3, padding=1)
        self.fc = nn.Linear(4, K)
        self.kind = kind

    def forward(self, x):
        a = self.conv(x)
        logits = self.fc(a.mean(-1))
        if self.kind == "tuple":
            return logits, a
        if self.kind == "dict":
            return {"aux": a, "logits": logits}
        return type("Out", (), {"logits": logits, "aux": a})()


def test_output_option_picks_the_logits():
    x = x_batch()
    plain = Explainer(TupleOut("tuple"), layers="conv", output=0).explain(x, norm="none")
    with pytest.raises(ValueError, match=r"its output is a tuple of 2 .*pass output= to pick"):
        Explainer(TupleOut("tuple"), layers="conv").explain(x)
    with pytest.raises(ValueError, match=r"its output is a dict with keys \['aux', 'logits'\]"):
        Explainer(TupleOut("dict"), layers="conv").explain(x)
    with pytest.raises(ValueError, match=r"attribute\(s\) \['logits'\].*pass output="):
        Explainer(TupleOut("obj"), layers="conv").explain(x)
    for kind, output in [("dict", "logits"), ("obj", "logits"), ("tuple", lambda o: o[0])]:
        ex = Explainer(TupleOut(kind), layers="conv", output=output).explain(x, norm="none")
        np.testing.assert_allclose(ex.logits, plain.logits, rtol=1e-6)
        np.testing.assert_allclose(ex.raw("gradcam", "conv"), plain.raw("gradcam", "conv"))
    with pytest.raises(ValueError, match=r"output='scores': could not pick the logits"):
        Explainer(TupleOut("dict"), layers="conv", output="scores").explain(x)
    with pytest.raises(TypeError, match=r"output: expected None, an int index"):
        Explainer(TupleOut("dict"), output=1.5)


# ---------------------------------------------------------------- no temporal layer
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(C * T, K)

    def forward(self, x):
        return self.fc(self.flat(x))


class PositiveCounts(nn.Module):
    """ROCKET-style features: the share of positive conv outputs, which has no gradient."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(C, 8, 9)
        self.fc = nn.Linear(8, K)

    def forward(self, x):
        return self.fc((self.conv(x) > 0).float().mean(-1))


def test_mlp_is_explained_at_its_input_as_gradient_times_input():
    m = MLP()
    x = x_batch()
    assert default_layers(m, x) == [INPUT]
    ex = Explainer(m).explain(x, methods=["hirescam"], norm="none")
    c = ex.pred
    W = m.fc.weight.detach().numpy().reshape(K, C, T)
    by_hand = np.einsum("nct,nct->nt", W[c], x)  # sum over channels of d logit/dx * x
    np.testing.assert_allclose(ex.raw("hirescam", INPUT), by_hand, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"layers='all': no submodule output has a time axis"):
        Explainer(m, layers="all").explain(x)


def test_models_without_gradient_to_the_input_get_the_input_and_gradient_methods_are_refused():
    m = PositiveCounts()
    x = x_batch()
    # no temporal layer on a differentiable path: the input, for the methods needing no gradient
    e = Explainer(m).explain(x, window=4, n_segments=3, shapley_samples=2)
    assert e.layers == [INPUT] and e.methods == ["occlusion", "shapley_segments"]
    with pytest.raises(ValueError, match=r"'gradcam' needs gradients, and the model's prediction"):
        Explainer(m, layers=INPUT).explain(x, methods=["gradcam"])
    # the conv is still there to be asked for by name, for the gradient-free methods
    ex = Explainer(m, layers="conv").explain(x, methods=["activation"])
    assert ex.layers == ["conv"]


def test_tsai_minirocket_gets_the_input_and_refuses_gradient_methods_with_the_reason():
    from tsai.models.MINIROCKETPlus_Pytorch import MiniRocketPlus

    m = MiniRocketPlus(C, K, T)
    assert default_layers(m, x_batch()) == [INPUT]
    with pytest.raises(ValueError, match=r"has no gradient with respect to its input"):
        Explainer(m).explain(x_batch(), methods=["gradcam"])


def test_model_state_untouched_by_tracing():
    m = SeqTNC().train()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    hooks = len(m.enc._forward_hooks), len(m._forward_pre_hooks)
    Explainer(m).explain(x_batch())
    assert m.training and all(mod.training for mod in m.modules())
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    assert (len(m.enc._forward_hooks), len(m._forward_pre_hooks)) == hooks
    assert all(p.grad is None for p in m.parameters())


class Squeezer(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.squeeze()  # drops the batch axis of a batch of one


class SqueezesBatchOfOne(nn.Module):
    """A generic ``squeeze()`` mid-model: a batch of one loses its batch axis (the next conv takes
    the unbatched ``[C, T]``, so the forward still runs and the logits come out ``[N, K]``)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(C, D, 3, padding=1)
        self.squeeze = Squeezer()
        self.conv2 = nn.Conv1d(D, D, 3, padding=1)
        self.head = nn.Linear(D, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(self.squeeze(self.conv(x)))
        return self.head(h.mean(-1).reshape(x.shape[0], -1))


def test_trace_runs_two_samples_where_one_changes_ranks(monkeypatch):
    # the longer forward and (for a model that takes any length) the batch-size forward run one
    # sample first; ranks differ here, so they run again as before (two samples at twice the
    # length, the three probe copies) and the layouts are traced from the length
    from tscam_widget.explain import trace

    runs: list[tuple[int, int]] = []
    run = trace._run

    def logged(model, io, x, *args, **kwargs):
        runs.append((x.shape[0], x.shape[-1]))
        return run(model, io, x, *args, **kwargs)

    monkeypatch.setattr(trace, "_run", logged)
    x = torch.from_numpy(x_batch())
    plain = nn.Sequential(nn.Conv1d(C, D, 3), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten())
    trace.trace_model(plain, x)
    assert runs == [(2, T), (1, 2 * T), (1, T)]  # a plain model: one sample is enough
    runs.clear()
    m = SqueezesBatchOfOne()
    assert m(x[:1]).shape == (1, K)
    tr = trace.trace_model(m, x)
    assert runs == [(2, T), (1, 2 * T), (2, 2 * T), (1, T), (3, T)]
    assert tr.longer_error is None
    lays = {r.module_name: r.layouts[()] for r in tr.calls}
    assert {n: (lay.axes, lay.source) for n, lay in lays.items() if n != "head"} == {
        n: ("NCT", "traced") for n in ("conv", "squeeze", "conv2")
    }
