"""The widget's trust view (issue 10): the ground-truth mask, the trust traits, the cell ->
layer/method mapping, the randomised-model toggle (the user's model untouched) and the export.

The oracle for the scores is :func:`tscam_widget.metrics.evaluate` called directly on the same
model, samples, layers, methods and target."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tscam_widget.metrics import evaluate
from tscam_widget.models import InceptionTime
from tscam_widget.widget import CamWidget, unpack
from tscam_widget.widget.export import page_spec
from tscam_widget.widget.trust import curves_of

N, T = 8, 32


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model(seed: int = 0) -> InceptionTime:
    torch.manual_seed(seed)
    return InceptionTime(1, 3, nf=4, depth=3, bottleneck=4, kernel_sizes=(9, 5, 3)).eval()


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(N, 1, T).astype(np.float32).cumsum(-1)
    y = np.arange(N) % 3
    mask = np.zeros((N, T), bool)
    for n in range(N):
        s = 3 * n
        mask[n, s : s + 6] = True
    return tiny_model(), X, y, mask


@pytest.fixture(scope="module")
def wtrust(data):
    m, X, y, mask = data
    w = CamWidget(m, X, y, mask=mask, progress=False, precision="float32")
    w.view = "trust"
    w.flush()
    return w


# ---- the mask ------------------------------------------------------------------------------
def test_mask_travels_as_uint8_and_a_selection_takes_its_rows(data):
    m, X, y, mask = data
    w = CamWidget(m, X, y, mask=mask.astype(int), progress=False)
    got = unpack(w.mask)
    assert got.dtype == np.uint8 and got.shape == (N, T)
    np.testing.assert_array_equal(got, mask)
    # idxs: the mask of the whole data, the widget keeps its samples' rows
    idxs = [5, 2, 7]
    ws = CamWidget(m, X, y, idxs=idxs, mask=mask, progress=False)
    np.testing.assert_array_equal(unpack(ws.mask), mask[idxs])
    np.testing.assert_array_equal(ws.ground_truth, mask[idxs])
    # no mask: an empty array
    assert unpack(CamWidget(m, X, y, progress=False).mask).size == 0


@pytest.mark.parametrize(
    "bad, err, words",
    [
        (np.zeros((N, T - 1), bool), ValueError, ["mask", f"= [{N}, {T}]", f"[{N}, {T - 1}]"]),
        (np.zeros((N - 1, T), bool), ValueError, ["mask", f"[{N}, {T}]", f"[{N - 1}, {T}]"]),
        (np.zeros(T, bool), ValueError, ["mask", f"[{T}]"]),
        (np.full((N, T), 2), ValueError, ["mask", "0/1", "2"]),
        (np.full((N, T), "x"), TypeError, ["mask", "dtype"]),
    ],
)
def test_mask_errors_name_the_argument_and_shapes(data, bad, err, words):
    m, X, y, _ = data
    with pytest.raises(err) as e:
        CamWidget(m, X, y, mask=bad, progress=False)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


# ---- the trust traits ----------------------------------------------------------------------
def test_trust_is_computed_on_demand_only(data):
    m, X, y, mask = data
    w = CamWidget(m, X, y, mask=mask, progress=False)
    w.flush()
    assert w.trust_meta["state"] == "pending"
    assert unpack(w.trust_gain).size == 0
    off = CamWidget(m, X, y, trust=False, progress=False)
    off.view = "trust"
    off.flush()
    assert off.trust_meta["state"] == "off" and unpack(off.trust_gain).size == 0
    with pytest.raises(RuntimeError, match="trust=False"):
        off.compute_trust()


def test_trust_traits_equal_evaluate(wtrust, data):
    m, X, y, mask = data
    w = wtrust
    meta = w.trust_meta
    assert meta["state"] == "done"
    assert meta["layers"] == list(w.layers)
    # one column per method (its default variant): reduction methods with the first reduction
    assert [k.split("/")[0] for k in meta["keys"]] == list(w.methods)
    pred = w.y_pred.astype(np.int64)
    rep = evaluate(
        m, X, mask=mask, layers=list(w.layers), methods=list(w.methods), target=pred, sanity=False
    )
    order = [rep.methods.index(k) for k in meta["keys"]]
    L, M = len(w.layers), len(meta["keys"])
    gain = unpack(w.trust_gain)
    assert gain.shape == (L, M)
    np.testing.assert_allclose(gain, rep.gain[:, order], atol=1e-5, equal_nan=True)
    loc = unpack(w.trust_loc)
    np.testing.assert_allclose(
        loc, rep.localisation["relevance_mass"][:, order], atol=1e-5, equal_nan=True
    )
    assert np.isfinite(gain).sum() > L  # real numbers, not an empty table
    curves = curves_of(unpack(w.trust_curves))
    assert curves.shape == (N, L, M, 2, meta["steps"] + 1)
    np.testing.assert_allclose(curves, rep.curves[:, :, order], atol=2e-3, equal_nan=True)
    np.testing.assert_allclose(
        curves_of(unpack(w.trust_random)), rep.random_curves.mean(1), atol=2e-3
    )
    np.testing.assert_allclose(unpack(w.trust_fractions), np.linspace(0, 1, 11), atol=1e-6)
    assert meta["forwards"] == rep.forwards
    assert "trust scores" in w.status


def test_trust_rand_corr_equals_scipy_spearman_of_the_randomised_maps(wtrust, data):
    """The oracle: the cascading-randomised copy of the model (every stage), both models'
    unnormalised maps from a plain Explainer, and scipy's Spearman per sample (a constant map:
    0, the documented convention; scipy gives NaN there), averaged over samples."""
    from scipy.stats import spearmanr

    from tscam_widget.explain import Explainer
    from tscam_widget.metrics import cascade_stages, randomised_models

    m, X, y, _ = data
    w = wtrust
    keys = [k.partition("/") for k in w.trust_meta["keys"]]
    layers = list(w.layers)
    pred = w.y_pred.astype(np.int64)
    specs = [(n, 0) for n in layers]
    stages = cascade_stages(m, torch.as_tensor(X[:1]), specs)
    rand = randomised_models(m, stages, 0)[-1]
    methods = [k[0] for k in keys]
    reds = [k[2] for k in keys if k[2]] or ["mean"]

    def maps(model):
        return Explainer(model, layers=layers).explain(
            X, target=pred, methods=methods, reductions=reds, norm="none"
        )

    orig, randm = maps(m), maps(rand)
    want = np.full((len(layers), len(keys)), np.nan)
    for li, ln in enumerate(layers):
        for ki, (meth, _, red) in enumerate(keys):
            if not orig.defined(meth, ln):
                continue
            a = orig.get(meth, ln, reduction=red or "mean")
            b = randm.get(meth, ln, reduction=red or "mean")
            rows = []
            for i in range(len(X)):
                if np.isnan(a[i]).any() or np.isnan(b[i]).any():
                    continue
                if np.ptp(a[i]) == 0 or np.ptp(b[i]) == 0:
                    rows.append(0.0)
                else:
                    rows.append(spearmanr(a[i], b[i]).statistic)
            if rows:
                want[li, ki] = np.mean(rows)
    got = unpack(w.trust_rand_corr)
    assert np.isfinite(want).sum() > len(layers)  # real correlations, not an empty table
    assert np.nanstd(want) > 0.1  # they differ across cells (1 where a map ignores the model)
    np.testing.assert_allclose(got, want, atol=1e-4, equal_nan=True)


def test_no_number_lists_in_the_json_state(wtrust):
    from ipywidgets.widgets.widget import _remove_buffers

    state = {k: v for k, v in wtrust.get_state().items() if k.startswith(("trust", "mask"))}
    plain, _, bufs = _remove_buffers(state)
    assert len(bufs) >= 10
    text = json.dumps(plain)
    assert len(text) < 2000, text[:300]  # names and the meta only


def test_a_cell_selects_its_layer_and_method(wtrust):
    w = wtrust
    keys = w.trust_meta["keys"]
    col = keys.index("gradcam")
    w.select_cell(1, col)
    assert (w.layer, w.method) == (1, "gradcam")
    assert w.cell_of(w.layer, w.method) == (1, col)
    act = next(i for i, k in enumerate(keys) if k.startswith("activation/"))
    w.reduction = "max"
    w.select_cell(2, act)
    assert (w.layer, w.method, w.reduction) == (2, "activation", keys[act].split("/")[1])
    w.select_cell(len(w.layers) - 1, col)
    assert (w.layer, w.method) == (len(w.layers) - 1, "gradcam")


# ---- the randomised model ------------------------------------------------------------------
def test_randomised_toggle_changes_the_maps_not_the_model(data, model_state):
    m, X, y, mask = data
    m.train()  # a user's model left in training mode stays so
    before = model_state(m)
    w = CamWidget(m, X, y, mask=mask, progress=False, precision="float32")
    w.layer, w.method, w.sample = len(w.layers) - 1, "gradcam", 3
    original = w.current_map.copy()
    w.randomised = True
    rand = w.current_map.copy()
    assert w.trust_meta["state"] == "done"
    assert np.isfinite(rand).all() and np.isfinite(original).all()
    assert np.abs(rand - original).max() > 0.05  # other maps, not a copy of the original's
    # the randomised cube has one row per sample, for the class the original predicted
    rows = unpack(w.trust_rand_rows)
    pred = w.y_pred
    assert (rows[np.arange(N), pred] >= 0).all()
    assert (rows >= 0).sum() == N
    w.randomised = False
    np.testing.assert_array_equal(w.current_map, original)
    before.assert_unchanged(m)
    assert all(p.grad is None for p in m.parameters())
    m.eval()


# ---- the exported page ---------------------------------------------------------------------
def test_export_holds_the_trust_state(wtrust, tmp_path):
    spec = page_spec(wtrust)
    state = spec["state"]
    assert state["trust_meta"]["state"] == "done"
    assert state["view"] == "trust"
    paths = {b["path"][0] for b in spec["buffers"]}
    for k in ("trust_gain", "trust_curves", "trust_random", "trust_rand_cube", "mask"):
        assert k in paths, k
    # trust=True: save_html computes the scores the page shows
    m = tiny_model(1)
    X = np.random.RandomState(1).randn(4, 1, T).astype(np.float32)
    w = CamWidget(m, X, trust=True, progress=False)
    assert w.trust_meta["state"] == "pending"
    out = w.save_html(tmp_path / "t.html")
    assert w.trust_meta["state"] == "done"
    assert '"trust_meta":{"state":"done"' in out.read_text()


# ---- in a kernel: a worker thread ----------------------------------------------------------
def test_background_trust_when_asked_or_with_trust_true(data):
    import asyncio

    m, X, y, mask = data

    async def main() -> tuple[str, str, str, list[str]]:
        # trust="auto": a widget nobody looks at costs nothing after its maps
        idle = CamWidget(m, X, y, mask=mask, background=True, progress=False)
        await idle.ready(120)
        assert idle.trust_meta["state"] == "pending" and not idle.background_running
        # trust=True: computed behind, right after the predictions
        small = CamWidget(m, X, y, mask=mask, background=True, progress=False, trust=True)
        statuses: list[str] = []
        small.observe(lambda c: statuses.append(c["new"]), "status")
        small.sample = 2  # the controls stay live meanwhile
        await small.ready(120)
        auto = small.trust_meta["state"]
        # kernel mode (maps on demand): the scores wait for the trust view
        lazy = CamWidget(m, X, y, background=True, precompute=False, progress=False)
        await lazy.ready(120)
        before = lazy.trust_meta["state"]
        lazy.view = "trust"
        await asyncio.sleep(0)
        lazy.flush()
        await lazy.ready(120)
        return auto, before, lazy.trust_meta["state"], statuses

    auto, before, after, statuses = asyncio.run(main())
    assert auto == "done"
    assert (before, after) == ("pending", "done")
    assert any(s.startswith("trust scores:") and "forwards" in s for s in statuses), statuses


def test_other_layers_compute_the_scores_again(data):
    m, X, y, mask = data
    w = CamWidget(m, X, y, mask=mask, progress=False, view="trust")
    assert w.trust_meta["state"] == "done" and len(w.trust_meta["layers"]) == 4
    w.layers = ["blocks.1", "blocks.2"]
    w.flush()
    assert w.trust_meta["state"] == "done"
    assert w.trust_meta["layers"] == ["blocks.1", "blocks.2"]
    # the input attributions need the input layer: no column for them on these layers
    on_input = {"saliency", "inputxgradient"}
    assert on_input <= set(w.methods)
    assert unpack(w.trust_gain).shape == (2, len(w.methods) - len(on_input))
    assert not on_input & {k.split("/")[0] for k in w.trust_meta["keys"]}
    w.view = "single"
    w.methods = ["gradcam", "hirescam"]
    assert w.trust_meta["state"] == "pending" and unpack(w.trust_gain).size == 0
