"""CamWidget (Python side): maps equal the explainer's, binary state, coalescing, cache bound,
inputs (plain model, fastai and tsai Learners, multivariate UEA data) and errors.

The oracle is always ``Explainer(model, with_input=True).explain(...)`` (the widget's default
layers: the input, then the explainer's defaults) called directly for the same choice."""

from __future__ import annotations

import asyncio
import json

import matplotlib
import numpy as np
import pytest
import torch
import traitlets
from ipywidgets.widgets.widget import _remove_buffers

from tscam_widget.explain import (
    METHODS,
    Explainer,
    WeightedMethod,
    register_method,
    unregister_method,
)
from tscam_widget.models import InceptionTime
from tscam_widget.widget import CamWidget, cmap_table, pack, unpack
from tscam_widget.widget import maps as precompute_mod
from tscam_widget.widget.cache import LRUCache
from tscam_widget.widget.compact import dequantise
from tscam_widget.widget.trust import TRUST_ARRAYS

N, T = 8, 32
ATOL = 2e-5


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model(c_in: int = 1, n_classes: int = 3, seed: int = 0) -> InceptionTime:
    torch.manual_seed(seed)
    return InceptionTime(c_in, n_classes, nf=4, depth=3, bottleneck=4, kernel_sizes=(9, 5, 3))


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(N, 1, T).astype(np.float32).cumsum(-1)
    y = np.arange(N) % 3
    return tiny_model().eval(), X, y


@pytest.fixture(scope="module")
def wpre(data):
    m, X, y = data
    return CamWidget(m, X, y, precompute=True, progress=False, precision="float32")


@pytest.fixture(scope="module")
def wker(data):
    m, X, y = data
    return CamWidget(m, X, y, precompute=False, progress=False, precision="float32")


def sent_maps(w) -> np.ndarray:
    """The kernel-mode maps as the frontend decodes them (``maps`` + ``maps_scale``)."""
    return dequantise(unpack(w.maps), unpack(w.maps_scale))


def oracle(model, X, y, s, layer, method, reduction, target, norm):
    """The explainer's map for one choice; norm='layer' needs every sample in one call."""
    ex = Explainer(model, layers=WIDGET_LAYERS).explain(
        X, target=target, y=y, methods=[method], reductions=(reduction,), norm=norm
    )
    return ex.get(method, layer, reduction)[s]


# the widget's default layers: the input, then the explainer's default selection
WIDGET_LAYERS = ["input", "blocks.0", "blocks.1", "blocks.2"]

CHOICES = [  # sample, layer, method, reduction, target, norm
    (0, 3, "gradcam", "mean", "pred", "sample"),
    (3, 1, "activation", "max", "pred", "sample"),
    (5, 2, "gradcam_classic", "median", "true", "none"),
    (6, 2, "layercam", "mean", 2, "layer"),
    (2, 1, "activation", "mean_max", "true", "layer"),
    (7, 3, "eigencam", "mean", 1, "none"),
    (1, 3, "cam", "mean", "pred", "sample"),
    (4, 0, "hirescam", "mean", "pred", "sample"),  # gradient x input
]


@pytest.mark.parametrize("mode", ["precompute", "kernel"])
def test_current_map_equals_explainer(data, wpre, wker, mode):
    model, X, y = data
    w = wpre if mode == "precompute" else wker
    assert w.precomputed is (mode == "precompute")
    assert w.layers == WIDGET_LAYERS
    assert w.layouts == dict.fromkeys(WIDGET_LAYERS, "NCT")
    for s, layer, method, red, target, norm in CHOICES:
        w.sample, w.layer, w.method, w.reduction, w.target, w.norm = (
            s,
            layer,
            method,
            red,
            target,
            norm,
        )
        got = w.current_map
        want = oracle(model, X, y, s, layer, method, red, target, norm)
        assert got.dtype == np.float32 and got.shape == (T,)
        assert np.ptp(want) > 0, (method, layer)  # a non-trivial map
        np.testing.assert_allclose(got, want, atol=ATOL, err_msg=str((method, layer, norm)))
        np.testing.assert_array_equal(w.current_series, X[s])
        targets = unpack(w.targets)
        want_t = {
            "pred": Explainer(model, with_input=True).explain(X[s : s + 1]).pred[0],
            "true": y[s],
        }.get(target, target)
        assert targets[s] == want_t


def test_cam_is_nan_off_head(wpre):
    wpre.method, wpre.target, wpre.norm, wpre.layer = "cam", "pred", "sample", 0
    assert np.isnan(wpre.current_map).all()


def test_cube_equals_on_demand_maps(data):
    model, X, y = data
    pre = CamWidget(
        model,
        X,
        y,
        precompute=True,
        progress=False,
        target="true",
        norm="layer",
        precision="float32",
    )
    ker = CamWidget(
        model,
        X,
        y,
        precompute=False,
        progress=False,
        precision="float32",
        target="true",
        norm="layer",
        view="grid",
        view_count=N,
    )
    cube = pre.cube_array()
    L, M = len(pre.layers), len(pre.cube_keys)
    assert cube.shape == (N, L, M, T) and pre.cube_meta == {"scale_range": [0.0, 1.0]}
    for m, key in enumerate(pre.cube_keys):
        method, _, red = key.partition("/")
        ker.method = method
        if red:
            ker.reduction = red
        ker.flush()
        maps = sent_maps(ker)
        assert ker.maps_meta["samples"] == list(range(N)) and ker.maps_meta["method"] == method
        np.testing.assert_allclose(maps, cube[:, :, m], atol=ATOL, err_msg=key)
    # and one cube slice against the explainer directly
    ex = Explainer(model, with_input=True).explain(
        X, target="true", y=y, methods=["xgradcam"], norm="layer"
    )
    m = pre.cube_keys.index("xgradcam")
    for li in range(L):
        np.testing.assert_allclose(cube[:, li, m], ex.get("xgradcam", li), atol=ATOL)


def test_target_adds_rows_and_norm_needs_no_computation(data):
    model, X, y = data
    w = CamWidget(model, X, y, precompute=True, progress=False, precision="float32")
    pred = w.y_pred
    rows = unpack(w.cube_rows)
    # one row per sample for its predicted class, one more only where the label differs
    assert rows.shape == (N, 3)
    assert (rows[np.arange(N), pred] >= 0).all() and (rows[np.arange(N), y] >= 0).all()
    assert unpack(w.cube).shape[0] == N + int((pred != y).sum()) == (rows >= 0).sum()
    builds, computations = w.stats["cube_builds"], w.stats["computations"]
    w.norm = "none"
    w.target = "true"
    w.flush()
    assert w.stats["computations"] == computations  # both already there
    w.target = 1
    w.flush()
    assert w.stats["cube_builds"] == builds + 1
    rows = unpack(w.cube_rows)
    assert (rows[:, 1] >= 0).all()
    assert unpack(w.cube).shape[0] == N + int((pred != y).sum()) + int(
        ((pred != 1) & (y != 1)).sum()
    )
    ex = Explainer(model, with_input=True).explain(X, target=1, methods=["hirescam"], norm="none")
    cube = w.cube_array()
    np.testing.assert_allclose(
        cube[:, 1, w.cube_keys.index("hirescam")], ex.get("hirescam", 1), atol=ATOL
    )
    for norm in ("sample", "layer"):
        ex = Explainer(model, with_input=True).explain(X, target=1, methods=["gradcam"], norm=norm)
        np.testing.assert_allclose(
            w.cube_array(norm=norm)[:, 3, w.cube_keys.index("gradcam")],
            ex.get("gradcam", 3),
            atol=ATOL,
        )
    # layer / method / reduction / sample / norm changes need no kernel computation
    computations = w.stats["computations"]
    w.layer, w.method, w.reduction, w.sample, w.norm = 0, "activation", "median", 4, "layer"
    w.flush()
    w.norm = "none"
    w.flush()
    assert w.stats["cube_builds"] == builds + 1 and w.stats["computations"] == computations
    ex = Explainer(model, with_input=True).explain(
        X, target=1, methods=["activation"], reductions=["median"], norm="none"
    )
    np.testing.assert_allclose(w.current_map, ex.get("activation", 0, "median")[4], atol=ATOL)
    # norm "none": the colour range of the current layer and method over every sample's map
    # (the explainer's, independently), not of every layer and method
    maps = ex.get("activation", 0, "median")
    assert w.value_range == pytest.approx(
        [float(np.nanmin(maps)), float(np.nanmax(maps))], abs=1e-5
    )
    whole = w.cube_array()
    assert w.value_range != pytest.approx([float(np.nanmin(whole)), float(np.nanmax(whole))])
    w.layer = 2  # a layer change moves the range to that layer's, without computing
    maps = ex.get("activation", 2, "median")
    assert w.value_range == pytest.approx(
        [float(np.nanmin(maps)), float(np.nanmax(maps))], abs=1e-5
    )
    assert w.stats["computations"] == computations


def test_norm_none_range_per_layer_and_method_in_kernel_mode(data):
    """Kernel mode: the colour range of norm "none" is the current layer's maps of the current
    method over the samples shown (a layer change moves it without computing)."""
    model, X, y = data
    w = CamWidget(model, X, y, precompute=False, progress=False, norm="none", view="grid")
    w.view_count, w.sample, w.method = 3, 2, "xgradcam"
    w.flush()
    ex = Explainer(model, with_input=True).explain(X, methods=["xgradcam"], norm="none")
    computations = w.stats["computations"]
    for layer in (0, 3, 1):
        w.layer = layer
        w.flush()
        maps = ex.get("xgradcam", layer)[2:5]
        want = [float(np.nanmin(maps)), float(np.nanmax(maps))]
        assert w.value_range == pytest.approx(want, rel=1e-5, abs=1e-6), layer
    assert w.stats["computations"] == computations


def test_rapid_changes_from_python_coalesce(data):
    model, X, y = data
    w = CamWidget(
        model, X, y, precompute=False, progress=False, method="gradcam++", precision="float32"
    )
    before = w.stats["computations"]

    async def drag():
        for i in range(100):
            w.sample = i % N
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(drag())
    assert w.stats["computations"] - before <= 2
    assert w.maps_meta["samples"] == [99 % N]
    want = oracle(model, X, y, 99 % N, 2, "gradcam++", "mean", "pred", "sample")
    np.testing.assert_allclose(sent_maps(w)[0, 2], want, atol=ATOL)
    # without an event loop nothing is computed until current_map is read
    before = w.stats["computations"]
    for i in range(100):
        w.sample = (i * 3) % N
    assert w.stats["computations"] == before
    got = w.current_map
    assert w.stats["computations"] - before <= 1
    want = oracle(model, X, y, (99 * 3) % N, w.layer, "gradcam++", "mean", "pred", "sample")
    np.testing.assert_allclose(got, want, atol=ATOL)


def _update_msg(state: dict) -> dict:
    """An ipywidgets comm message as the frontend sends it for a control change."""
    return {
        "content": {"data": {"method": "update", "state": state, "buffer_paths": []}},
        "buffers": [],
    }


def test_frontend_messages_coalesce_and_never_show_stale(data):
    model, X, y = data
    w = CamWidget(
        model, X, y, precompute=False, progress=False, method="xgradcam", precision="float32"
    )
    before = dict(w.stats)
    seen: list[int] = []
    w.observe(lambda ch: seen.append(ch["new"]["request_id"]), "maps_meta")

    async def drag():
        rid = 0
        for i in range(60):
            rid += 1
            w._handle_msg(_update_msg({"sample": i % N, "request_id": rid}))
            if i % 20 == 19:
                await asyncio.sleep(0)  # the kernel gets to run its callbacks now and then
        w._handle_msg(_update_msg({"layer": 0}))  # layer: no kernel work
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return rid

    last = asyncio.run(drag())
    assert w.request_id == last and w.sample == 59 % N and w.layer == 0
    assert w.stats["computations"] - before["computations"] <= 3
    assert w.stats["flushes"] - before["flushes"] <= 3
    assert seen and seen[-1] == last and seen == sorted(seen)
    assert w.maps_meta["samples"] == [59 % N]
    want = oracle(model, X, y, 59 % N, 0, "xgradcam", "mean", "pred", "sample")
    np.testing.assert_allclose(sent_maps(w)[0, 0], want, atol=ATOL)


def test_state_is_binary(wpre, wker):
    for w in (wpre, wker):
        state = w.get_state()
        array_traits = [
            "cmap_table",
            "sample_ids",
            "series",
            "input_series",
            "series_samples",
            "y_true_buffer",
            "y_pred_buffer",
            "probs_buffer",
            "targets",
            "cube",
            "cube_scale",
            "cube_rows",
            "maps",
            "maps_scale",
            "channel_cube",
            "channel_scale",
            "channel_maps",
            "channel_maps_scale",
            *TRUST_ARRAYS,
        ]
        for name in array_traits:
            assert isinstance(state[name]["data"], bytes), name
            # large maps travel deflated (+ delta-coded when uint8): buffers.pack(deflate=True)
            assert (
                {"dtype", "shape", "data"}
                <= set(state[name])
                <= {"dtype", "shape", "data", "z", "delta"}
            ), name
        plain, paths, bufs = _remove_buffers(state)
        assert sorted(p[0] for p in paths) == sorted(array_traits)
        text = json.dumps(plain)  # everything else is JSON
        assert '"data"' not in text
        # every buffer holds the array's bytes, deflated or not
        raw = [
            state[n]["data"] if state[n].get("z") else unpack(state[n]).tobytes()
            for n in array_traits
        ]
        assert sum(len(b) for b in bufs) == sum(len(r) for r in raw)

        def numbers_in_lists(o):
            if isinstance(o, dict):
                return max([numbers_in_lists(v) for v in o.values()] + [0])
            if isinstance(o, list):
                n = sum(isinstance(v, (int, float)) for v in o)
                return max([n] + [numbers_in_lists(v) for v in o])
            return 0

        assert numbers_in_lists(plain) <= max(N, 2)  # only maps_meta.samples / value_range
    series = unpack(wpre.series)
    assert series.dtype == np.float32 and series.shape == (N, 1, T)


def test_buffers_roundtrip():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    d = pack(a)
    assert d["dtype"] == "float32" and d["shape"] == [2, 3, 4] and isinstance(d["data"], bytes)
    np.testing.assert_array_equal(unpack(d), a)
    np.testing.assert_array_equal(unpack(pack(np.arange(5), "int32")), np.arange(5))
    assert unpack(pack(np.zeros(0, np.float32))).shape == (0,)
    with pytest.raises(ValueError, match="dtype must be one of"):
        pack(np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        unpack({"dtype": "uint8", "shape": [4], "data": b"abc"})


def test_cmap_table_and_errors(wker):
    want = np.round(matplotlib.colormaps["viridis"](np.linspace(0, 1, 256)) * 255).astype(np.uint8)
    wker.cmap = "viridis"
    table = unpack(wker.cmap_table)
    assert table.shape == (256, 4) and table.dtype == np.uint8
    np.testing.assert_array_equal(table, want)
    wker.cmap = "CMAP.magma_r"  # the timeseries package's CMAP.x style
    assert wker.cmap == "magma_r"
    np.testing.assert_array_equal(unpack(wker.cmap_table), cmap_table("magma_r"))
    assert set(wker.cmaps) == set(matplotlib.colormaps)
    with pytest.raises(traitlets.TraitError, match=r"Spectrl_r.*did you mean 'Spectral_r'"):
        wker.cmap = "Spectrl_r"
    assert wker.cmap == "magma_r"


def test_bad_values_from_python(wker):
    with pytest.raises(traitlets.TraitError, match=r"layer: expected an int in 0\.\.3, got 7"):
        wker.layer = 7
    with pytest.raises(traitlets.TraitError, match="method: expected one of .*'gradcm'"):
        wker.method = "gradcm"
    with pytest.raises(traitlets.TraitError, match=r"sample: expected an int in 0\.\.7"):
        wker.sample = N
    with pytest.raises(traitlets.TraitError, match="norm: expected one of"):
        wker.norm = "global"
    with pytest.raises(traitlets.TraitError, match="target: expected an int in 0..2"):
        wker.target = 5
    with pytest.raises(traitlets.TraitError, match="linestyle"):
        wker.linestyle = "wavy"
    with pytest.raises(traitlets.TraitError, match="alpha"):
        wker.alpha = 1.5
    with pytest.raises(TypeError, match="unexpected keyword"):
        CamWidget(tiny_model(), np.zeros((2, 1, T), np.float32), colour="red")


def test_target_true_needs_labels(data):
    model, X, _ = data
    w = CamWidget(model, X, precompute=False, progress=False)
    assert (w.y_true == -1).all()
    with pytest.raises(traitlets.TraitError, match="'true' needs the true label"):
        w.target = "true"


def test_nan_sample_sets_error_and_widget_keeps_working(data):
    model, X, y = data
    Xn = X.copy()
    Xn[2, 0, 5] = np.nan
    for precompute in (False, True):
        w = CamWidget(
            model,
            Xn,
            y,
            precompute=precompute,
            progress=False,
            precision="float32",
            method="gradcam",
        )
        w.sample = 2
        assert np.isnan(w.current_map).all()
        assert "sample 2" in w.error and "NaN" in w.error
        w.sample = 3
        got = w.current_map
        assert w.error == ""
        np.testing.assert_allclose(
            got, oracle(model, X, y, 3, w.layer, "gradcam", "mean", "pred", "sample"), atol=ATOL
        )
        assert w.y_pred[2] == -2  # never predicted (-1: not yet)


def test_cache_stays_within_bound():
    c = LRUCache(1000)
    arrs = {i: np.full(25, i, np.float32) for i in range(30)}  # 100 bytes each
    for i, a in arrs.items():
        c.put(i, a)
        assert c.nbytes <= 1000
    assert len(c) == 10 and list(c) == list(range(20, 30)) and c.evictions == 20
    c.get(20)  # now most recent
    c.put(99, np.zeros(25, np.float32))
    assert 21 not in c and 20 in c and 99 in c
    assert not c.put("big", np.zeros(1000, np.float32)) and "big" not in c


def test_widget_cache_bound_evicts_oldest(data):
    model, X, y = data
    entry = 4 * T * 4  # one (sample, method/reduction) entry: [L, T] float32
    w = CamWidget(
        model,
        X,
        y,
        precompute=False,
        progress=False,
        precision="float32",
        cache_mb=40 * entry / 1e6,
    )
    for s in range(N):
        w.sample = s
        w.flush()
        assert w.stats["cache_bytes"] <= 40 * entry
    assert w.stats["cache_evictions"] > 0
    keys = list(w._maps.comp.cache)
    assert all(k[0] != 0 for k in keys)  # the first sample's maps went first
    assert any(k[0] == N - 1 for k in keys)
    # an evicted sample is computed again, and right
    before = w.stats["computations"]
    w.sample = 0
    got = w.current_map
    assert w.stats["computations"] == before + 1
    np.testing.assert_allclose(
        got, oracle(model, X, y, 0, w.layer, "gradcam", "mean", "pred", "sample"), atol=ATOL
    )
    # layer changes after the first view of a sample are hits
    w.layer = 0
    _ = w.current_map
    assert w.stats["computations"] == before + 1


def test_precompute_auto_threshold(data, monkeypatch):
    model, X, y = data
    assert CamWidget(model, X, y, progress=False, precision="float32").precomputed
    monkeypatch.setattr(precompute_mod, "AUTO_LIMIT_BYTES", 1000)
    w = CamWidget(model, X, y, progress=False, precision="float32")
    assert not w.precomputed and w.cube["shape"] == [0]


def test_default_methods_and_opt_in(data):
    model, X, y = data
    w = CamWidget(model, X[:3], y[:3], progress=False, precision="float32")
    # the class attributes decide: every default method (cam is defined for InceptionTime)
    assert w.methods == [m for m, spec in METHODS.items() if spec.default]
    assert "scorecam" not in w.methods and "ablationcam" not in w.methods
    assert w.reduction_methods == [m for m, spec in METHODS.items() if spec.reductions]
    assert w.reduction_methods[:2] == ["activation", "gradcam_classic"]
    assert w.method_labels == {m: spec.display_label for m, spec in METHODS.items()}
    w.methods = ["gradcam", "scorecam"]
    w.method = "scorecam"
    got = w.current_map
    # a forward per channel: "auto" does not precompute these, the kernel computes on demand
    assert not w.precomputed and w.cube_keys == []
    np.testing.assert_allclose(
        got,
        oracle(model, X[:3], y[:3], w.sample, w.layer, "scorecam", "mean", "pred", "sample"),
        atol=ATOL,
    )
    w.layers = ["blocks.0", "blocks.2"]
    w.flush()
    assert w.layer == 1 and unpack(w.maps).shape[1] == 2
    w.methods = ["gradcam", "hirescam"]
    w.flush()
    assert w.precomputed and w.cube_keys == ["gradcam", "hirescam"]
    assert w.cube_array().shape[:3] == (3, 2, 2)


def test_user_method_with_extra_forwards_is_expensive_everywhere(data):
    """A method registered by a user with ``extra_forwards`` is treated as Score-CAM is: the
    class attribute alone keeps ``precompute="auto"`` in kernel mode and keeps it out of the
    kernel's prefetch of the cheap methods; its label comes from the class too."""
    model, X, y = data
    calls = []

    class Costly(WeightedMethod):
        label = "Costly (user)"
        extra_forwards = True
        default = False

        def weights(self, ctx):
            calls.append(ctx.layer)
            ctx.forward(ctx.x)  # an extra forward, as Score-CAM's
            return ctx.A.new_ones(ctx.A.shape[:2])

    register_method("_costly", Costly)
    try:
        kw = dict(progress=False, precision="float32", background=False)
        cheap = CamWidget(model, X[:3], y[:3], methods=["gradcam", "hirescam"], **kw)
        assert cheap.precomputed  # the same widget without it precomputes
        w = CamWidget(model, X[:3], y[:3], methods=["gradcam", "_costly"], **kw)
        assert not w.precomputed and w.cube_keys == []
        assert w.method_labels["_costly"] == "Costly (user)"
        assert "_costly" in w.target_methods
        w.method = "gradcam"
        _ = w.current_map
        assert calls == []  # not prefetched with gradcam
        w.method = "_costly"
        got = w.current_map
        assert calls and np.isfinite(got).all()
    finally:
        unregister_method("_costly")


def test_labels_idxs_and_classes(data):
    model, X, y = data
    w = CamWidget(
        model,
        X,
        y,
        idxs=[1, 4, 6],
        classes=["a", "b", "c"],
        labels={"a": "Alpha", 2: "Gamma"},
        precompute=False,
        progress=False,
        precision="float32",
    )
    assert w.classes == ["Alpha", "b", "Gamma"]
    np.testing.assert_array_equal(unpack(w.sample_ids), [1, 4, 6])
    assert w.n_samples == 3
    w.sample, w.layer = 2, 1
    np.testing.assert_array_equal(w.current_series, X[6])
    np.testing.assert_allclose(
        w.current_map,
        oracle(model, X[[1, 4, 6]], y[[1, 4, 6]], 2, 1, "gradcam", "mean", "pred", "sample"),
        atol=ATOL,
    )
    w2 = CamWidget(model, X, y, labels=lambda c: f"class {c}", progress=False, precision="float32")
    assert w2.classes == ["class 0", "class 1", "class 2"]
    w2.target = "class 2"  # a class name picks its index
    assert w2.target == 2


def test_multivariate_basicmotions(ucr_dir):
    from tscam_widget.data import load_ucr

    X, labels = load_ucr("BasicMotions", "test", data_dir=ucr_dir)
    classes = sorted(set(labels.tolist()))
    model = tiny_model(c_in=6, n_classes=len(classes)).eval()
    w = CamWidget(
        model,
        X[:6],
        labels[:6],
        classes=classes,
        precompute=False,
        progress=False,
        precision="float32",
    )
    assert w.current_series.shape == (6, 100) and w.current_map.shape == (100,)
    assert w.classes == classes
    w.sample, w.method = 4, "hirescam"
    y = np.array([classes.index(v) for v in labels[:6]])
    np.testing.assert_allclose(
        w.current_map,
        oracle(model, X[:6], y, 4, w.layer, "hirescam", "mean", "pred", "sample"),
        atol=ATOL,
    )


def test_fastai_learner(data):
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from torch.utils.data import TensorDataset

    model, X, y = data
    ds = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    dls = DataLoaders.from_dsets(ds, ds, bs=4)
    learn = Learner(dls, model, loss_func=torch.nn.CrossEntropyLoss())
    w = CamWidget(learn, idxs=[0, 5], precompute=False, progress=False, precision="float32")
    assert w.n_samples == 2 and w.classes == ["0", "1", "2"]
    np.testing.assert_array_equal(w.y_true, y[[0, 5]])
    w.sample, w.target = 1, "true"
    np.testing.assert_allclose(
        w.current_map,
        oracle(model, X[[0, 5]], y[[0, 5]], 1, w.layer, "gradcam", "mean", "true", "sample"),
        atol=ATOL,
    )


def test_tsai_learner(ucr_dir):
    from tsai.basics import TSClassification, get_ts_dls, ts_learner
    from tsai.models.InceptionTime import InceptionTime as TsaiInceptionTime

    from tscam_widget.data import load_ucr

    Xtr, ytr = load_ucr("GunPoint", "train", data_dir=ucr_dir)
    X, y = Xtr[:24], ytr[:24]
    splits = (list(range(16)), list(range(16, 24)))
    dls = get_ts_dls(X, y, splits=splits, tfms=[None, TSClassification()], bs=8)
    learn = ts_learner(dls, TsaiInceptionTime, nf=4)
    w = CamWidget(
        learn,
        dls=dls,
        ds_idx=1,
        idxs=[0, 3, 5],
        precompute=False,
        progress=False,
        precision="float32",
    )
    assert w.classes == list(dls.vocab) and w.n_samples == 3
    assert w.current_series.shape == (1, 150)
    np.testing.assert_array_equal(w.current_series, X[16])
    labels = np.array([list(dls.vocab).index(v) for v in y[[16, 19, 21]]])
    np.testing.assert_array_equal(w.y_true, labels)
    w.sample, w.method, w.target = 2, "layercam", "true"
    ex = Explainer(learn.model, with_input=True).explain(
        X[[16, 19, 21]], target="true", y=labels, methods=["layercam"]
    )
    assert w.layers == ex.layers
    np.testing.assert_allclose(w.current_map, ex.get("layercam", w.layer)[2], atol=ATOL)


def test_style_is_an_alias_of_the_synced_mark_trait(data):
    model, X, y = data
    w = CamWidget(model, X[:2], y[:2], progress=False, precision="float32", style="scatter")
    assert w.mark == "scatter" and w.style == "scatter"
    w.style = "line"
    assert w.mark == "line"
    with pytest.raises(traitlets.TraitError, match="mark"):
        w.style = "bars"
    # a synced `style` would be read by ipywidgets' views as a Style widget reference
    assert "style" not in w.keys and "mark" in w.keys
