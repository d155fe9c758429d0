"""Compact maps (``precision``): the quantisation error bound, NaN and flat maps, every norm from
one stored cube, the bytes saved in the widget state, and progress without a tqdm widget."""

from __future__ import annotations

import asyncio
import zlib

import numpy as np
import pytest
import torch
import traitlets
from ipywidgets.widgets.widget import _instances, _remove_buffers

from tscam_widget.models import InceptionTime
from tscam_widget.widget import CamWidget, unpack
from tscam_widget.widget.compact import (
    MapStore,
    dequantise,
    layer_ranges,
    normalise,
    quantise,
    step,
)

N, T = 8, 48


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(3)
    X = rng.randn(N, 1, T).astype(np.float32).cumsum(-1)
    y = np.arange(N) % 3
    torch.manual_seed(0)
    model = InceptionTime(1, 3, nf=4, depth=3, bottleneck=4, kernel_sizes=(9, 5, 3)).eval()
    return model, X, y


@pytest.fixture(scope="module")
def widgets(data):
    model, X, y = data
    return {
        p: CamWidget(model, X, y, precompute=True, progress=False, precision=p)
        for p in ("uint8", "float16", "float32")
    }


@pytest.mark.parametrize("precision", ["uint8", "float16", "float32"])
def test_quantise_error_is_within_half_a_step(precision):
    rng = np.random.RandomState(0)
    # maps of very different offsets and spans, as raw CAMs are
    x = rng.randn(20, 5, 300).cumsum(-1) * rng.uniform(1e-3, 1e3, (20, 5, 1)) + rng.uniform(
        -1e4, 1e4, (20, 5, 1)
    )
    u, scale = quantise(x, precision)
    assert u.dtype == np.dtype(precision) and scale.shape == (20, 5, 2)
    np.testing.assert_array_equal(scale[..., 0], x.min(-1).astype(np.float32))
    back = dequantise(u, scale).astype(np.float64)
    err = np.abs(back - x).max(-1)
    # half a step of the map's own range, plus float32 rounding of lo, hi and the result
    bound = step(scale, precision) + 2e-7 * np.abs(x).max(-1) + 1e-12
    assert (err <= bound).all(), float((err / bound).max())
    if precision == "uint8":
        # the error really is of the order of the step (not far below: it is quantised)
        assert (err > 0.2 * step(scale, precision)).mean() > 0.9


def test_nan_and_flat_maps():
    x = np.stack([np.full(10, 3.5), np.r_[np.nan, np.ones(9)], np.linspace(-1, 1, 10)])
    u, scale = quantise(x, "uint8")
    assert (u[:2] == 0).all() and u[2, 0] == 0 and u[2, -1] == 255
    assert np.isnan(scale[1]).all() and scale[0].tolist() == [3.5, 3.5]
    back = dequantise(u, scale)
    assert np.isnan(back[1]).all() and (back[0] == 3.5).all()
    # a flat map normalised per sample is the low end of the scale range (the explainer's rule)
    s = normalise(u, scale, "sample", (0.0, 1.0))
    assert (s[0] == 0).all() and np.isnan(s[1]).all()
    assert s[2, 0] == 0 and s[2, -1] == 1
    lr = layer_ranges(scale[:, None, None, :][[0, 2]])
    assert lr.shape == (1, 1, 2) and lr[0, 0].tolist() == [-1.0, 3.5]


def test_map_store_rows_and_selection():
    store = MapStore(n=3, k=4, layers=1, keys=1, length=5, precision="uint8")
    store.add(np.array([0, 1, 2]), np.array([1, 1, 3]), np.arange(15.0).reshape(3, 1, 1, 5))
    store.add(np.array([1]), np.array([0]), -np.arange(5.0).reshape(1, 1, 1, 5))
    assert store.rows.tolist() == [[-1, 0, -1, -1], [3, 1, -1, -1], [-1, -1, -1, 2]]
    assert store.missing(np.array([2, 0, -1]), np.arange(3)).tolist() == [0]
    maps = store.maps(np.array([1, 0, 3]), "none", (0, 1))
    np.testing.assert_allclose(maps[0, 0, 0], np.arange(5.0), atol=4 / 510 + 1e-6)
    assert np.isnan(store.maps(np.array([0, 0, 3]), "none", (0, 1))[0]).all()  # no row: NaN
    np.testing.assert_allclose(maps[1, 0, 0], -np.arange(5.0), atol=4 / 510 + 1e-6)
    np.testing.assert_allclose(maps[2, 0, 0], np.arange(10.0, 15.0), atol=4 / 510 + 1e-6)


def test_every_norm_from_one_uint8_cube_matches_float32(widgets):
    w8, w32 = widgets["uint8"], widgets["float32"]
    assert unpack(w8.cube).dtype == np.uint8 and unpack(w32.cube).dtype == np.float32
    np.testing.assert_array_equal(unpack(w8.cube_rows), unpack(w32.cube_rows))
    scale = unpack(w32.cube_scale)
    span = np.nanmax(scale[..., 1] - scale[..., 0])
    for target in ("pred", "true", 2):
        for norm in ("none", "sample", "layer"):
            a = w8.cube_array(target, norm)
            b = w32.cube_array(target, norm)
            assert np.array_equal(np.isnan(a), np.isnan(b))
            ok = np.isfinite(b)
            # none: half a step of each map's range; sample/layer: half a step of the unit range
            tol = span * 0.5 / 255 if norm == "none" else 0.5 / 255
            err = np.abs(a[ok] - b[ok]).max()
            assert err <= tol * 1.001 + 1e-6, (target, norm, err, tol)
            assert err > 0.1 * tol  # it is quantised, not float32 in disguise


def test_uint8_state_is_a_quarter(widgets):
    sizes = {}
    for p, w in widgets.items():
        _, _, bufs = _remove_buffers(w.get_state())
        sizes[p] = sum(len(b) for b in bufs)
    cube32 = unpack(widgets["float32"].cube).nbytes
    cube8 = unpack(widgets["uint8"].cube).nbytes
    assert cube8 * 4 == cube32
    assert sizes["uint8"] < sizes["float16"] < sizes["float32"]
    assert sizes["uint8"] < 0.3 * sizes["float32"], sizes


def test_deflated_traits_round_trip():
    from tscam_widget.widget.buffers import pack

    t = np.linspace(0, 6, 200)
    smooth = np.rint(127.5 + 127 * np.sin(t[None, :] * np.arange(1, 5)[:, None])).astype(np.uint8)
    p = pack(smooth, "uint8", deflate=True)
    assert p["z"] == "deflate" and p["delta"] == 200 and len(p["data"]) < 0.5 * smooth.nbytes
    # the oracle: plain zlib, then a running sum mod 256 along each row
    raw = np.frombuffer(zlib.decompress(p["data"]), np.uint8).reshape(4, 200)
    np.testing.assert_array_equal(np.cumsum(raw, axis=1, dtype=np.uint8), smooth)
    np.testing.assert_array_equal(unpack(p), smooth)
    noise = np.random.RandomState(0).randint(0, 256, (4, 200)).astype(np.uint8)
    assert "z" not in pack(noise, "uint8", deflate=True)  # no gain: sent as it is
    f = np.repeat(np.float32([[0.25, -3.0]]), 50, axis=0)
    pf = pack(f, "float32", deflate=True)
    assert pf["z"] == "deflate" and "delta" not in pf
    np.testing.assert_array_equal(unpack(pf), f)
    with pytest.raises(ValueError, match="compression"):
        unpack({**pf, "z": "gzip"})


def test_cube_travels_deflated(widgets):
    for p, w in widgets.items():
        store = w._maps.store
        assert w.cube["z"] == "deflate", p
        assert ("delta" in w.cube) == (p == "uint8")
        sent = unpack(w.cube)  # cube_array() may have added rows since the last publish
        assert len(sent) >= N
        np.testing.assert_array_equal(sent, store.u[: len(sent)])
        np.testing.assert_array_equal(unpack(w.cube_scale), store.scale[: len(sent)])


def test_kernel_maps_travel_compact(data):
    model, X, y = data
    w8 = CamWidget(model, X, y, precompute=False, progress=False, view="grid", view_count=3)
    w32 = CamWidget(
        model,
        X,
        y,
        precompute=False,
        progress=False,
        view="grid",
        view_count=3,
        precision="float32",
    )
    assert unpack(w8.maps).dtype == np.uint8 and unpack(w8.maps).shape == unpack(w32.maps).shape
    assert unpack(w8.maps_scale).shape == (3, len(w8.layers), 2)
    a = dequantise(unpack(w8.maps), unpack(w8.maps_scale))
    b = dequantise(unpack(w32.maps), unpack(w32.maps_scale))
    ok = np.isfinite(b)
    assert np.abs(a[ok] - b[ok]).max() <= 0.5 / 255 + 1e-6  # norm="sample": unit range
    # current_map is what the frontend draws (the quantised map)
    np.testing.assert_allclose(w8.current_map, a[0, w8.layer], atol=1e-7)


def test_precision_errors(data):
    model, X, y = data
    with pytest.raises(ValueError, match=r"precision: expected one of \['uint8', 'float16'"):
        CamWidget(model, X, y, progress=False, precision="int8")
    w = CamWidget(model, X[:2], y[:2], progress=False, precompute=False)
    with pytest.raises(traitlets.TraitError, match="precision is fixed"):
        w.precision = "float32"
    with pytest.raises(ValueError, match="targets: expected 'auto' or 'all'"):
        w.save_html("/tmp/never.html", targets="every")


def test_target_methods(widgets):
    w = widgets["uint8"]
    assert {"gradcam", "cam", "hirescam", "gradcam_classic"} <= set(w.target_methods)
    assert "activation" not in w.target_methods and "eigencam" not in w.target_methods


def test_progress_is_plain_text_not_a_widget(data, capsys):
    model, X, y = data
    before = set(_instances)
    w = CamWidget(model, X, y, precompute=True, progress=True)
    new = {type(_instances[k]).__name__ for k in set(_instances) - before}
    assert new <= {"CamWidget", "Layout"}, new  # no tqdm bar (FloatProgress, HBox, HTML)
    err = capsys.readouterr().err
    assert "tscam-widget: precomputing maps: batch 1/1" in err
    assert w.status.startswith("precomputed 8 samples")


def test_in_a_kernel_the_first_computation_waits_for_the_loop(data, capsys, monkeypatch):
    """In a running event loop (a kernel) the widget returns at once and precomputes on the
    loop's next turn, with progress in its status line (no text on stderr)."""
    model, X, y = data
    seen: list[str] = []

    class Shell:  # what IPython.get_ipython() returns in a kernel: a shell with a kernel
        kernel = object()

    monkeypatch.setattr("IPython.get_ipython", lambda: Shell())

    async def main():
        # background=False: one computation of everything, deferred to the loop's next turn
        # (the default in a kernel computes it behind: tests/test_background.py)
        w = CamWidget(model, X, y, precompute=True, progress=True, background=False)
        w.observe(lambda c: seen.append(c["new"]), "status")
        assert unpack(w.cube).shape == (0,) and w.status == "starting..."
        await asyncio.sleep(0)
        return w

    w = asyncio.run(main())
    assert unpack(w.cube).shape[0] >= N
    assert seen[0] == "precomputing maps: batch 0/1" and "precomputing maps: batch 1/1" in seen
    assert seen[-1].startswith("precomputed 8 samples")
    assert "tscam-widget" not in capsys.readouterr().err
    # a running loop outside a kernel (marimo, an async host): the first picture at once, the
    # rest behind, as in a kernel
    monkeypatch.setattr("IPython.get_ipython", lambda: None)

    async def outside():
        w = CamWidget(model, X, y, precompute=True, progress=False)
        first = (unpack(w.maps).shape[0], unpack(w.cube).shape)
        await w.ready()
        return w, first

    w, first = asyncio.run(outside())
    assert first == (1, (0,)) and unpack(w.cube).shape[0] >= N
    # ... but a loop seen running outside its tasks (Playwright's sync API: its loop turns only
    # while its caller waits for it) computes at once
    from playwright.sync_api import sync_playwright

    with sync_playwright():
        asyncio.get_running_loop()  # seen running here
        w = CamWidget(model, X, y, precompute=True)
    assert not w.background_running and unpack(w.cube).shape[0] >= N
