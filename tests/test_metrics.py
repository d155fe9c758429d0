"""tscam_widget.metrics against independent oracles: a hand computation on a linear model (MoRF /
LeRF curves known exactly, random curves' expectation known analytically), Quantus 0.6
(localisation metrics; region perturbation with aligned conventions), scipy / scikit-learn
(Spearman, ROC-AUC), brute-force counting of distinct forwards; the model left as found; clear
errors; and the issue's evidence on InceptionTime and FCN trained briefly on synthetic data."""

from __future__ import annotations

import copy
import itertools
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from tscam_widget.data.synthetic import synthetic
from tscam_widget.metrics import (
    auc,
    cascade_stages,
    deletion_curves,
    evaluate,
    localisation,
    make_perturbation,
    randomised_models,
    spearman,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Small models on 2 shared cores run faster on one thread (see test_models.py)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------- tiny models
class Linear2(nn.Module):
    """logit_0 = sum_{c,t} w[c, t] x[c, t], logit_1 = -logit_0: everything known in closed form."""

    def __init__(self, w: np.ndarray):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = (x * self.w).sum((1, 2))
        return torch.stack([s, -s], 1)


def small_conv(c_in: int = 2, k: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv1d(c_in, 6, 5, padding=2),
        nn.BatchNorm1d(6),
        nn.ReLU(),
        nn.Conv1d(6, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(8, k),
    ).eval()


def zero_forward(model: nn.Module):
    def forward(b: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(b)

    return forward


# --------------------------------------------------------------------------- deletion: hand oracle
def hand_curve(w: np.ndarray, x: np.ndarray, score: np.ndarray, edges, order: str) -> np.ndarray:
    """Logit of class 0 after removing (zeroing) chunks one by one, most/least relevant first:
    plain Python loops, independent of the vectorised code."""
    chunks = [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]
    means = [float(np.mean(score[a:b])) for a, b in chunks]
    idx = sorted(range(len(chunks)), key=lambda i: (-means[i] if order == "morf" else means[i], i))
    xx = x.copy()
    out = [float((w * xx).sum())]
    for i in idx:
        a, b = chunks[i]
        xx[:, a:b] = 0.0
        out.append(float((w * xx).sum()))
    return np.array(out)


def test_morf_lerf_curves_equal_the_hand_computation_on_a_linear_model():
    rng = np.random.default_rng(0)
    c, t, k = 2, 30, 10
    w = rng.normal(size=(c, t))
    x = rng.normal(size=(3, c, t))
    model = Linear2(w)
    xt = torch.tensor(x, dtype=torch.float32)
    # maps: the exact contribution w*x summed over channels, its negative, and a random map
    maps = np.stack([(w * x).sum(1), -(w * x).sum(1), rng.random((3, t))], 1)
    pert = make_perturbation("zero", xt)
    res = deletion_curves(zero_forward(model), pert, maps, np.zeros(3, int), steps=k, seed=1)
    edges = np.round(np.linspace(0, t, k + 1)).astype(int)
    for n in range(3):
        for m in range(3):
            for o, order in enumerate(("morf", "lerf")):
                want = hand_curve(w, x[n], maps[n, m], edges, order)
                np.testing.assert_allclose(res.logit[n, m, o], want, rtol=1e-5, atol=1e-4)
                np.testing.assert_allclose(
                    res.prob[n, m, o], 1 / (1 + np.exp(-2 * want)), rtol=1e-5, atol=1e-6
                )
    # with the exact contributions as the map, MoRF is the steepest possible descent of the logit
    assert (res.logit[:, 0, 0, 1:-1] <= res.logit[:, 2, 0, 1:-1] + 1e-5).all()
    # AUC: trapezoid over fractions 0, 0.1, ..., 1
    np.testing.assert_allclose(
        auc(res.prob), np.trapezoid(res.prob, np.linspace(0, 1, k + 1)), rtol=1e-12
    )


def test_random_chunk_curves_have_the_analytic_expectation_on_a_linear_model():
    """Removing k of B chunks uniformly at random leaves E[logit] = (1 - k/B) * logit."""
    rng = np.random.default_rng(1)
    c, t, k = 1, 20, 5
    w = rng.normal(size=(c, t))
    x = np.abs(rng.normal(size=(1, c, t))) + 0.5
    model = Linear2(w)
    pert = make_perturbation("zero", torch.tensor(x, dtype=torch.float32))
    draws = 3000
    res = deletion_curves(
        zero_forward(model),
        pert,
        np.ones((1, 1, t)),
        np.zeros(1, int),
        steps=k,
        random_draws=draws,
        seed=3,
    )
    full = float((w * x).sum())
    got = res.random_logit[0].mean(0)
    sem = res.random_logit[0].std(0) / np.sqrt(draws) + 1e-9
    want = (1 - np.arange(k + 1) / k) * full
    assert (np.abs(got - want) < 4 * sem + 1e-6).all(), (got, want, sem)
    # every draw removes one chunk per step: each step's set has exactly k chunks of 4 steps
    assert res.random_logit[0, :, 0] == pytest.approx(full, rel=1e-5)
    assert res.random_logit[0, :, -1] == pytest.approx(0.0, abs=1e-6)


def test_forwards_are_shared_exactly_as_the_distinct_removed_sets():
    rng = np.random.default_rng(2)
    n, m, t, k, r = 4, 5, 24, 6, 2
    model = small_conv()
    xt = torch.tensor(rng.normal(size=(n, 2, t)), dtype=torch.float32)
    maps = rng.random((n, m, t))
    maps[:, 1] = maps[:, 0] * 3 + 1  # same ranking as map 0: shares every curve
    pert = make_perturbation("mean", xt)
    calls = []

    def fwd(b):
        calls.append(len(b))
        return zero_forward(model)(b)

    res = deletion_curves(
        fwd, pert, maps, np.zeros(n, int), steps=k, random_draws=r, seed=0, batch_size=7
    )
    # brute force: the distinct (sample, frozenset of removed chunks) over everything asked for
    edges = np.round(np.linspace(0, t, k + 1)).astype(int)
    sets = set()
    prng = np.random.default_rng(0)
    perms = np.argsort(prng.random((n, r, k)), -1)
    for i in range(n):
        for j in range(m):
            sc = [maps[i, j, edges[b] : edges[b + 1]].mean() for b in range(k)]
            for sign in (-1, 1):
                order = sorted(range(k), key=lambda b, sign=sign: (sign * sc[b], b))
                for s in range(k + 1):
                    sets.add((i, frozenset(order[:s])))
        for d in range(r):
            for s in range(k + 1):
                sets.add((i, frozenset(perms[i, d, :s].tolist())))
    assert res.forwards == len(sets) == sum(calls)
    assert res.forwards_unshared == n * (m * 2 + r) * (k + 1)
    assert res.forward_calls == len(calls) == -(-len(sets) // 7)
    np.testing.assert_array_equal(res.prob[:, 0], res.prob[:, 1])
    # sharing changes nothing: each map alone gives the same curves
    alone = deletion_curves(
        zero_forward(model), pert, maps[:, 2:3], np.zeros(n, int), steps=k, random_draws=r, seed=0
    )
    np.testing.assert_allclose(alone.prob[:, 0], res.prob[:, 2], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(alone.random_prob, res.random_prob, rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------- Quantus oracles
@pytest.mark.parametrize("order", ["morf", "lerf"])
def test_region_perturbation_curves_equal_quantus(order):
    """Quantus' RegionPerturbation on [N, C, T] series (patches of ``patch_size`` time steps,
    all channels; attributions summed per patch; baseline 0; softmax) records
    p(x) - p(x with the first k patches replaced). Ours with zero perturbation, blocks = T /
    patch_size, equal-length chunks (so mean and sum rank alike), tie-free maps."""
    quantus = pytest.importorskip("quantus")
    rng = np.random.default_rng(4)
    n, c, t, patch = 6, 2, 40, 4
    model = small_conv(c)
    x = rng.normal(size=(n, c, t)).astype(np.float32)
    a = rng.random((n, 1, t)).astype(np.float32)
    y = rng.integers(0, 3, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quantus.RegionPerturbation(
            patch_size=patch,
            order=order,
            regions_evaluation=t // patch,
            abs=False,
            normalise=False,
            perturb_baseline=0.0,
            disable_warnings=True,
        )(model=model, x_batch=x, y_batch=y, a_batch=a, device="cpu", softmax=True)
    q = np.asarray(q)
    pert = make_perturbation("zero", torch.from_numpy(x))
    res = deletion_curves(zero_forward(model), pert, a, y, steps=t // patch, random_draws=1)
    o = 0 if order == "morf" else 1
    ours = res.prob[:, 0, o, :1] - res.prob[:, 0, o, 1:]
    np.testing.assert_allclose(ours, q, atol=2e-6)


def test_localisation_equals_quantus():
    quantus = pytest.importorskip("quantus")
    rng = np.random.default_rng(5)
    n, t = 12, 50
    a = rng.random((n, 1, t)).astype(np.float32)
    a[:3, 0, 7] = 5.0  # a clear maximum at a masked step for some samples
    s = rng.random((n, 1, t)) < 0.3
    s[:3, 0, 7] = True
    x = rng.normal(size=(n, 1, t)).astype(np.float32)
    y = np.zeros(n, int)
    ours = localisation(a[:, 0], s[:, 0])
    oracle = {
        "pointing_game": quantus.PointingGame,
        "relevance_mass": quantus.RelevanceMassAccuracy,
        "relevance_rank": quantus.RelevanceRankAccuracy,
        "roc_auc": quantus.AUC,
    }
    for name, cls in oracle.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = cls(abs=False, normalise=False, disable_warnings=True)(
                model=None, x_batch=x, y_batch=y, a_batch=a, s_batch=s
            )
        np.testing.assert_allclose(ours[name], np.asarray(q, dtype=float), rtol=1e-6, err_msg=name)
    assert ours["pointing_game"][:3].tolist() == [1.0, 1.0, 1.0]


def test_roc_auc_and_spearman_equal_sklearn_and_scipy_with_ties():
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(6)
    a = rng.integers(0, 5, (20, 30)).astype(float)  # many ties
    b = rng.integers(0, 4, (20, 30)).astype(float)
    s = rng.random((20, 30)) < 0.4
    ours = localisation(a, s)["roc_auc"]
    np.testing.assert_allclose(ours, [roc_auc_score(s[i], a[i]) for i in range(20)], rtol=1e-12)
    rho = spearman(a, b)
    np.testing.assert_allclose(rho, [spearmanr(a[i], b[i])[0] for i in range(20)], rtol=1e-10)
    assert spearman(a[:1], np.zeros((1, 30)))[0] == 0.0  # constant map: 0 by definition
    assert np.isnan(localisation(a[:1], np.zeros((1, 30), bool))["roc_auc"][0])  # empty mask


# --------------------------------------------------------------------------- perturbations
def test_perturbations_fill_what_they_say():
    rng = np.random.default_rng(7)
    x = torch.tensor(rng.normal(size=(3, 2, 10)), dtype=torch.float64)
    ref = torch.tensor(rng.normal(size=(50, 2, 10)), dtype=torch.float64)
    removed = torch.zeros(3, 10, dtype=torch.bool)
    removed[:, 3:6] = True
    removed[1, :2] = True  # a chunk at the left edge
    removed[2, :] = True  # everything
    rows = torch.arange(3)
    keep = ~removed[:, None, :].expand(-1, 2, -1)
    for name in ("zero", "mean", "reference_mean", "noise", "interp"):
        out = make_perturbation(name, x, ref, noise=0.0)(rows, removed)
        assert torch.equal(out[keep], x[keep]), name
    out = make_perturbation("zero", x)(rows, removed)
    assert (out[~keep] == 0).all()
    out = make_perturbation("mean", x)(rows, removed)
    assert torch.allclose(out[0, :, 4], x[0].mean(-1))
    out = make_perturbation("reference_mean", x, ref)(rows, removed)
    assert torch.allclose(out[0, :, 4], ref[:, :, 4].mean(0))
    out = make_perturbation("interp", x, noise=0.0)(rows, removed)
    # steps 3..5 removed: straight line from x[2] to x[6]
    for j, tt in enumerate((3, 4, 5)):
        want = x[0, :, 2] + (j + 1) / 4 * (x[0, :, 6] - x[0, :, 2])
        assert torch.allclose(out[0, :, tt], want)
    assert torch.allclose(out[1, :, 0], x[1, :, 2]) and torch.allclose(out[1, :, 1], x[1, :, 2])
    assert torch.allclose(out[2], x[2].mean(-1, keepdim=True).expand(2, 10))
    # noise: reference statistics per time step, fixed per sample (same values whatever the set)
    big = torch.zeros(2000, 1, 4, dtype=torch.float64)
    refb = torch.tensor(rng.normal(3.0, 2.0, size=(4000, 1, 4)))
    p = make_perturbation("noise", big, refb, seed=1)
    out = p(torch.arange(2000), torch.ones(2000, 4, dtype=torch.bool))
    assert abs(float(out.mean()) - float(refb.mean())) < 0.15
    assert abs(float(out.std()) - float(refb.std())) < 0.15
    one = torch.zeros(2000, 4, dtype=torch.bool)
    one[:, 2] = True
    assert torch.equal(p(torch.arange(2000), one)[:, :, 2], out[:, :, 2])
    with pytest.raises(ValueError, match="perturbation: expected one of"):
        make_perturbation("blur", x)
    with pytest.raises(ValueError, match=r"reference: expected series \[R, 2, 10\]"):
        make_perturbation("noise", x, ref[:, :, :5])


# --------------------------------------------------------------------------- model state, errors
def prepared_model() -> nn.Module:
    model = small_conv(1, 2)
    model.train()  # the user left it in train mode
    model[0].weight.grad = torch.ones_like(model[0].weight)
    model[3].bias.requires_grad_(False)
    model[4].register_forward_hook(lambda m, i, o: None)
    return model


def test_evaluate_leaves_the_model_as_found_and_reports_named_axes(model_state):
    x, _, mask = synthetic(6, 32, n_classes=2, seed=0)
    model = prepared_model()
    snap = model_state(model)
    rep = evaluate(model, x, mask=mask, steps=4, random_draws=2)
    snap.assert_unchanged(model)
    n_l, n_m = len(rep.layers), len(rep.methods)
    assert rep.layers[0] == "input"
    assert rep.curves.shape == (6, n_l, n_m, 2, 5)
    assert rep.random_curves.shape == (6, 2, 5)
    assert rep.gain.shape == rep.symmetric.shape == rep.passes.shape == (n_l, n_m)
    assert rep.cascade.shape == (len(rep.stages), n_l, n_m)
    assert set(rep.localisation) == {"pointing_game", "relevance_mass", "relevance_rank", "roc_auc"}
    for name, axes in rep.axes.items():
        arr = getattr(rep, name)
        if isinstance(arr, dict):
            arr = next(iter(arr.values()))
        assert np.ndim(arr) == len(axes), name
    # cam is undefined away from the head: NaN there, defined at the deepest layer
    ci = rep.methods.index("cam")
    assert np.isnan(rep.gain[:-1, ci]).all() and np.isfinite(rep.gain[-1, ci])
    assert np.isnan(rep.localisation["roc_auc"][:-1, ci]).all()
    # the headline number is what it says: mean over samples of random AUC - MoRF AUC
    gi = rep.methods.index("gradcam")
    want = np.mean(auc(rep.random_curves).mean(1) - auc(rep.curves[:, -1, gi, 0]))
    assert rep.gain[-1, gi] == pytest.approx(want, rel=1e-9)
    assert "gain" in rep.table("gain")
    assert rep.table("passes").splitlines()[1].split()[1 + ci] == "-"  # cam at the input
    # stages head first, then the layers from the deepest
    assert rep.stages[0] == "head"


def test_evaluate_errors_are_specific_and_leave_the_model_alone(model_state):
    x, _, mask = synthetic(4, 32, n_classes=2, seed=0)
    model = prepared_model()
    snap = model_state(model)
    cases = [
        (dict(X=x, mask=mask[:, :10]), ValueError, r"mask: expected shape \[N, T\] = \[4, 32\]"),
        (dict(X=x, mask=mask * 2), ValueError, "mask: expected bool"),
        (dict(X=x, steps=0), ValueError, r"steps: expected an int in \[1, 32\], got 0"),
        (dict(X=x, steps=2.5), TypeError, "steps: expected an int, got float"),
        (dict(X=x, blocks=2), ValueError, r"blocks: expected an int in \[10, 32\], got 2"),
        (dict(X=x, random_draws=0), ValueError, "random_draws: expected an int >= 1"),
        (dict(X=x, perturbation="blur"), ValueError, "perturbation: expected one of"),
        (dict(X=x, methods=["gradcamm"]), ValueError, "methods: unknown method 'gradcamm'"),
        (dict(X=x, y=[0, 1]), ValueError, "y: expected 4 labels"),
        (dict(X=None), ValueError, "X: expected series"),
        (dict(X=x, reference=x[:, :, :8]), ValueError, "reference: expected series"),
    ]
    for kwargs, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            evaluate(model, **kwargs)
        snap.assert_unchanged(model)
    with pytest.raises(TypeError, match="model_or_learner: expected a torch.nn.Module"):
        evaluate("model", x)


# --------------------------------------------------------------------------- cascade stages
class Blocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv1d(1, 4, 3, padding=1)
        self.blocks = nn.ModuleList(
            [nn.Sequential(nn.Conv1d(4, 4, 3, padding=1), nn.BatchNorm1d(4)) for _ in range(2)]
        )
        self.shortcut = nn.Conv1d(4, 4, 1)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        h = self.stem(x)
        h = self.blocks[0](h)
        h = torch.relu(self.blocks[1](h) + self.shortcut(h))
        return self.head(h.mean(-1))


def test_cascade_stages_go_head_first_and_randomise_a_copy_cumulatively():
    model = Blocks().eval()
    with torch.no_grad():  # BatchNorm away from its default initialisation (a trained model)
        for b in (model.blocks[0][1], model.blocks[1][1]):
            b.weight.uniform_(0.5, 2.0)
            b.bias.normal_()
    x = torch.randn(2, 1, 16)
    stages = cascade_stages(model, x, [("input", 0), ("blocks.0", 0), ("blocks.1", 0)])
    assert stages == [
        ("head", ["shortcut", "head"]),  # the shortcut finishes after blocks.1
        ("blocks.1", ["blocks.1.0", "blocks.1.1"]),
        ("blocks.0", ["stem", "blocks.0.0", "blocks.0.1"]),
    ]
    before = copy.deepcopy(model.state_dict())
    models = randomised_models(model, stages, seed=0)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    changed = [
        {k.rsplit(".", 1)[0] for k, v in m.state_dict().items() if not torch.equal(v, before[k])}
        for m in models
    ]
    # cumulative: stage s has every module of stages 0..s re-initialised
    for s in range(len(stages)):
        want = set(itertools.chain.from_iterable(mods for _, mods in stages[: s + 1]))
        assert {c for c in changed[s] if c in want} == want
        assert not (changed[s] - want)


# --------------------------------------------------------------------------- trained models
def _train(kind: str, x: np.ndarray, y: np.ndarray, epochs: int) -> nn.Module:
    from tscam_widget.models import FCN, InceptionTime, train

    torch.manual_seed(0)
    model = InceptionTime(1, 2, nf=8, depth=3) if kind == "inception" else FCN(1, 2)
    if epochs:
        train(model, x, y, epochs=epochs, lr=1e-2, batch_size=32, seed=0)
    return model.eval()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["inception", "fcn"])
def test_trained_gradcam_beats_random_and_the_reinitialised_model_does_not(kind):
    from tscam_widget.models import accuracy, encode_labels

    xtr, ytr, _ = synthetic(160, 96, n_classes=2, seed=0)
    xte, yte, mte = synthetic(40, 96, n_classes=2, seed=1)
    yi, classes = encode_labels(ytr)
    yti, _ = encode_labels(yte, classes)
    model = _train(kind, xtr, yi, epochs=6)
    assert accuracy(model, xte, yti) > 0.9
    rep = evaluate(
        model,
        xte,
        yti,
        mask=mte,
        methods=["gradcam", "hirescam", "activation"],
        steps=10,
        random_draws=3,
    )
    gi = rep.methods.index("gradcam")
    deep = len(rep.layers) - 1
    assert rep.gain[deep, gi] > 0.1, rep.table("gain")
    assert rep.localisation["roc_auc"][deep, gi] > 0.75, rep.table("roc_auc")
    # parameter randomisation: the gradient methods' maps decorrelate from the originals
    for m in ("gradcam", "hirescam"):
        mi = rep.methods.index(m)
        assert rep.self_agreement[deep, mi] > 0.9
        assert rep.cascade[-1, deep, mi] < 0.5 * rep.self_agreement[deep, mi], rep.table("cascade")
        assert rep.passes[deep, mi]
    # the same architecture re-initialised: chance accuracy and no gain over random
    fresh = _train(kind, xtr, yi, epochs=0)
    rep0 = evaluate(fresh, xte, yti, methods=["gradcam"], steps=10, random_draws=3, sanity=False)
    assert abs(rep0.gain[deep, 0]) < 0.05, rep0.table("gain")
    assert rep.gain[deep, gi] > rep0.gain[deep, 0] + 0.1


def test_a_learner_with_model_inputs_gives_the_plain_models_table():
    class FakeLearner:  # duck-typed like fastai's: evaluate reads .model
        def __init__(self, model):
            self.model = model

    x, _, _ = synthetic(4, 32, n_classes=2, seed=2)
    model = small_conv(1, 2)
    a = evaluate(model, x, steps=4, random_draws=1, sanity=False)
    b = evaluate(FakeLearner(model), x, steps=4, random_draws=1, sanity=False)
    np.testing.assert_array_equal(a.curves, b.curves)
    assert a.layers == b.layers and a.methods == b.methods
