"""The ``timeseries``-compatible API (``tscam_widget.compat``) against hand-written expectations
and an independent re-computation of the ``timeseries`` package's formulas (one hooked backward
per sample on a deep copy of the model), on real GunPoint series."""

from __future__ import annotations

import copy
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tscam_widget.compat import (
    CMAP,
    acts_scaled,
    batchify,
    cam_acts,
    get_batch,
    get_list_items,
    grad_cam_acts,
    i2o,
    itemize,
    noop,
    show_cam,
)
from tscam_widget.explain import Explainer

REDUCTIONS = ["mean", "median", "max", "mean_max"]
LAYER = 5  # model[5]: a conv after a stride-2 conv, so T' = 75 for T = 150


@pytest.fixture(scope="module")
def gunpoint(ucr_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The first 6 GunPoint train series ``[6, 1, 150]`` and labels (class 1 -> 0, 2 -> 1)."""
    raw = np.loadtxt(ucr_dir / "GunPoint" / "GunPoint_TRAIN.tsv", delimiter="\t", max_rows=6)
    X = torch.tensor(raw[:, 1:], dtype=torch.float32)[:, None, :]
    y = torch.tensor(raw[:, 0].astype(np.int64) - 1)
    return X, y


@pytest.fixture(scope="module")
def model() -> nn.Sequential:
    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv1d(1, 8, 5, padding=2),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.Conv1d(8, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(16, 12, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(12, 2),
    )
    with torch.no_grad():  # non-trivial BatchNorm statistics
        m[1].running_mean.uniform_(-0.5, 0.5)
        m[1].running_var.uniform_(0.5, 2.0)
    return m.eval()


def _reduce(t: torch.Tensor, how: str, dim: int) -> torch.Tensor:
    if how == "mean":
        return t.mean(dim)
    if how == "median":
        return t.median(dim).values
    if how == "max":
        return t.max(dim).values
    return (t.mean(dim) + t.max(dim).values) / 2


def oracle(x, y, model, layer, reduction, grad, force_scale=True, scale_range=(0, 1)):
    """The ``timeseries`` formulas, one hooked backward on a deep copy: ``[1, T']``."""
    m = copy.deepcopy(model).eval()
    store: dict[str, torch.Tensor] = {}

    def hook(mod, inp, out):
        store["a"] = out
        out.register_hook(lambda g: store.__setitem__("g", g))

    h = m[layer].register_forward_hook(hook)
    preds = m(x[None])
    preds[0, int(y)].backward()
    h.remove()
    acts, g = store["a"][0].detach(), store["g"][0]
    if grad:
        w = _reduce(g, reduction, 1)
        out = (w[:, None] * acts).mean(0)
    else:
        out = _reduce(acts, reduction, 0)
    if force_scale:
        out = (out - out.min()) / (out.max() - out.min())
        out = out * (scale_range[1] - scale_range[0]) + scale_range[0]
    return out[None]


def oracle_colours(X, y, model, layer, reduction, grad, force_scale, scale_range=(0, 1)):
    """Per sample: the unscaled formula, linear upsampling (align_corners=False) to T, then
    min-max into scale_range: ``[N, T]`` numpy."""
    rows = []
    for x, yi in zip(X, y):
        raw = oracle(x, yi, model, layer, reduction, grad, force_scale=False)
        up = F.interpolate(raw[None], size=X.shape[-1], mode="linear", align_corners=False)[0, 0]
        if force_scale:
            up = (up - up.min()) / (up.max() - up.min())
            up = up * (scale_range[1] - scale_range[0]) + scale_range[0]
        rows.append(up.numpy())
    return np.stack(rows)


@pytest.mark.parametrize("force_scale", [True, False])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("func,grad", [(cam_acts, False), (grad_cam_acts, True)])
def test_acts_equal_timeseries_formulas(gunpoint, model, func, grad, reduction, force_scale):
    X, y = gunpoint
    for i in (0, 2):  # one of each class
        got = func(X[i], y[i], model, LAYER, reduction, force_scale, (-1, 2))
        want = oracle(X[i], y[i], model, LAYER, reduction, grad, force_scale, (-1, 2))
        assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
        assert got.device.type == "cpu" and tuple(got.shape) == (1, 75)
        torch.testing.assert_close(got, want.float(), rtol=1e-4, atol=1e-5)
    assert cam_acts.name == "CAM" and grad_cam_acts.name == "GRAD-CAM"


def test_acts_by_layer_name_and_model_untouched(gunpoint, model):
    X, y = gunpoint
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    try:
        got = grad_cam_acts(X[1], y[1], model, "3", "max")
        assert model.training
    finally:
        model.eval()
    want = oracle(X[1], y[1], model, 3, "max", grad=True)
    torch.testing.assert_close(got, want.float(), rtol=1e-4, atol=1e-5)
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_acts_scaled():
    a = torch.tensor([2.0, 4.0, 3.0])
    torch.testing.assert_close(acts_scaled(a), torch.tensor([0.0, 1.0, 0.5]))
    np.testing.assert_allclose(acts_scaled(np.array([2.0, 4.0, 3.0]), (-1, 1)), [-1, 1, 0])


def _colours(fig) -> np.ndarray:
    return np.stack([np.asarray(m.color) for m in fig.marks])


@pytest.mark.parametrize(
    "func,method,reduction,force_scale",
    [
        (cam_acts, "activation", "mean", True),
        (grad_cam_acts, "gradcam_classic", "mean", True),
        (grad_cam_acts, "gradcam_classic", "max", False),
        (cam_acts, "activation", "mean_max", False),
    ],
)
def test_show_cam_colours_equal_explainer(gunpoint, model, func, method, reduction, force_scale):
    X, y = gunpoint
    fig = show_cam(
        (X[:4], y[:4]),
        model,
        layer=LAYER,
        func_cam=func,
        reduction=reduction,
        force_scale=force_scale,
        scale_range=(0, 1),
    )
    assert len(fig.marks) == 4
    assert all(type(m).__name__ == "FlexLine" for m in fig.marks)
    expl = Explainer(model, layers=[LAYER]).explain(
        X[:4],
        target="true",
        y=y[:4],
        methods=[method],
        reductions=(reduction,),
        norm="sample" if force_scale else "none",
    )
    want = expl.get(method, 0, reduction)
    np.testing.assert_allclose(_colours(fig), want, rtol=1e-5, atol=1e-6)
    indep = oracle_colours(
        X[:4], y[:4], model, LAYER, reduction, func is grad_cam_acts, force_scale
    )
    np.testing.assert_allclose(_colours(fig), indep, rtol=1e-4, atol=1e-5)
    for m, x in zip(fig.marks, X[:4]):
        np.testing.assert_allclose(m.y, x[0].numpy(), rtol=1e-6)
        np.testing.assert_array_equal(m.x, np.arange(150))
    cs = fig.marks[0].scales["color"]
    assert all(m.scales["color"] is cs for m in fig.marks)
    if force_scale:
        assert (cs.min, cs.max) == (0.0, 1.0)
    else:
        assert cs.min == pytest.approx(float(indep.min()), rel=1e-4, abs=1e-6)
        assert cs.max == pytest.approx(float(indep.max()), rel=1e-4, abs=1e-6)
    assert any(type(a).__name__ == "ColorAxis" and a.scale is cs for a in fig.axes)


def test_show_cam_median_follows_torch_median(gunpoint, model):
    """The timeseries package reduced with torch.median (lower middle value)."""
    X, y = gunpoint
    fig = show_cam((X[:3], y[:3]), model, layer=LAYER, func_cam=grad_cam_acts, reduction="median")
    want = oracle_colours(X[:3], y[:3], model, LAYER, "median", True, True)
    np.testing.assert_allclose(_colours(fig), want, rtol=1e-4, atol=1e-5)


def test_titles_and_palette(gunpoint, model):
    X, y = gunpoint  # labels of train rows 0..5: 2 2 1 1 1 2 -> Point Point Gun Gun Gun Point
    fig = show_cam([(X[0], y[0]), (X[2], y[2])], model, i2o=i2o, func_cam=grad_cam_acts)
    assert fig.title == "[Point - Gun] - GRAD-CAM - mean"
    names = {0: "Normal", 1: "Myocardial Infarction"}
    fig = show_cam((X[2:4], y[2:4]), model, reduction="max", i2o=lambda v: names[int(v)])
    assert fig.title == "[Normal - Normal] - CAM - max"
    fig = show_cam((X[:2], y[:2]), model, i2o=i2o, confidence=["0.93", "0.71"])
    assert fig.title == "[Point - Point] - CAM - mean\n 0.93"
    assert fig.layout.width == "480px" and fig.layout.height == "320px"
    # the ColorScale colours are the default Spectral_r sampled evenly
    rgba = matplotlib.colormaps["Spectral_r"](np.linspace(0, 1, 256))
    want = ["#" + "".join(f"{round(c * 255):02x}" for c in row[:3]) for row in rgba]
    assert fig.marks[0].scales["color"].colors == want
    grid = show_cam((X[:3], y[:3]), model, i2o=i2o, multi_fig=True, confidence=[1, 2, 3])
    assert [f.title for f in grid.figures] == [
        "[Point] - CAM - mean\n 1",
        "[Point] - CAM - mean\n 2",
        "[Gun] - CAM - mean\n 3",
    ]


@pytest.mark.parametrize(
    "n,shape", [(1, (1, 1)), (2, (1, 2)), (3, (1, 3)), (4, (2, 2)), (5, (2, 3))]
)
def test_multi_fig_grid_shape(gunpoint, model, n, shape):
    X, y = gunpoint
    grid = show_cam((X[:n], y[:n]), model, multi_fig=True, cmap=CMAP.seismic)
    assert (grid.nrows, grid.ncols) == shape
    assert len(grid.children) == shape[0]
    assert [len(r.children) for r in grid.children] == [
        min(shape[1], n - r * shape[1]) for r in range(shape[0])
    ]
    assert len(grid.figures) == n and all(len(f.marks) == 1 for f in grid.figures)
    assert grid.figures[0].layout.width == f"{1040 / shape[1]:g}px"
    # each figure: its own series' colours, equal to the whole-batch figure's
    single = show_cam((X[:n], y[:n]), model)
    for f, m in zip(grid.figures, single.marks):
        np.testing.assert_array_equal(f.marks[0].color, m.color)
    r, g, b, _ = matplotlib.colormaps["seismic"](0.0)
    first = "#" + "".join(f"{round(c * 255):02x}" for c in (r, g, b))
    assert all(f.marks[0].scales["color"].colors[0] == first for f in grid.figures)


def test_batch_forms_agree(gunpoint, model):
    from fastai.torch_core import TensorBase, TensorCategory

    X, y = gunpoint
    idxs = [0, 2, 5]
    ref = show_cam((X[idxs], y[idxs]), model, func_cam=grad_cam_acts, i2o=i2o)
    dset = list(zip(X, y))
    forms = [
        (TensorBase(X[idxs]), TensorCategory(y[idxs])),  # dls.one_batch() style
        [dset[i] for i in idxs],  # list of items
        get_list_items(dset, idxs),
        get_batch(dset, idxs),
        get_batch((X.numpy()[:, 0], y.numpy()), idxs),  # (X [N, T], y) arrays
        batchify(dset, idxs),
        itemize((X[idxs], y[idxs])),
        (X[idxs].numpy(), y[idxs].numpy()),
    ]
    for b in forms:
        fig = show_cam(b, model, func_cam=grad_cam_acts, i2o=i2o)
        assert fig.title == ref.title == "[Point - Gun - Point] - GRAD-CAM - mean"
        np.testing.assert_allclose(_colours(fig), _colours(ref), rtol=1e-6, atol=1e-7)
    one = show_cam((X[2], y[2]), model, func_cam=grad_cam_acts, i2o=i2o)  # one item
    assert one.title == "[Gun] - GRAD-CAM - mean" and len(one.marks) == 1
    np.testing.assert_allclose(one.marks[0].color, ref.marks[1].color, rtol=1e-6, atol=1e-7)
    xb, yb = get_batch(dset, idxs)
    assert tuple(xb.shape) == (3, 1, 150) and yb.tolist() == [1, 0, 1]
    assert noop(5) == 5


def test_user_func_cam(gunpoint, model):
    X, y = gunpoint
    calls = []

    def my_cam(tseries, y, model, layer, reduction="mean", force_scale=True, scale_range=(0, 1)):
        calls.append((tuple(tseries.shape), int(y), layer, reduction))
        return tseries[:1, ::2] * 2  # [1, 75]: upsampled back to 150 by show_cam

    my_cam.name = "MY-CAM"
    fig = show_cam((X[:2], y[:2]), model, layer=3, func_cam=my_cam, reduction="max", i2o=i2o)
    assert fig.title == "[Point - Point] - MY-CAM - max"
    assert calls == [((1, 150), 1, 3, "max"), ((1, 150), 1, 3, "max")]
    want = F.interpolate(X[:2, :, ::2] * 2, size=150, mode="linear", align_corners=False)[:, 0]
    np.testing.assert_allclose(_colours(fig), want.numpy(), rtol=1e-5, atol=1e-6)

    def plain_cam(tseries, y, model, layer, reduction="mean", force_scale=True, scale_range=(0, 1)):
        return tseries[:1]

    fig = show_cam((X[2], y[2]), model, func_cam=plain_cam, i2o=i2o, force_scale=False)
    assert fig.title == "[Gun] - plain_cam - mean"
    np.testing.assert_allclose(fig.marks[0].color, X[2, 0].numpy())
    assert fig.marks[0].scales["color"].min == pytest.approx(float(X[2].min()))


def test_line_styles_scatter_and_alpha(gunpoint, model):
    X, y = gunpoint
    fig = show_cam((X[:3], y[:3]), model)
    assert fig.marks[0].width is None  # solid
    for m in fig.marks[1:]:  # 2nd and later series dashed, as in the timeseries package
        w = np.asarray(m.width)
        assert set(np.unique(w)) == {0.0, 1.0} and w[0] == 1.0
        assert m.scales["width"].min == 0.0 and m.line_style == "dashed"
    dashed = np.asarray(fig.marks[1].width)
    dotted = show_cam((X[0], y[0]), model, linestyles="dotted").marks[0]
    dd = show_cam((X[0], y[0]), model, linestyles="dash_dotted").marks[0]
    assert dotted.line_style == "dotted" and dd.line_style == "dashdot"
    # dotted gaps are relatively longer than dashed gaps
    assert np.mean(np.asarray(dotted.width)) < np.mean(dashed)
    sc = show_cam((X[:2], y[:2]), model, scatter=True, cmap="hot_r", linewidth=2, alpha=0.5)
    assert [type(m).__name__ for m in sc.marks] == ["Scatter", "Scatter"]
    assert list(sc.marks[0].opacities) == [0.5]
    assert sc.marks[0].scales["color"].colors[0].startswith("rgba(")
    ref = show_cam((X[:2], y[:2]), model)
    np.testing.assert_array_equal(_colours(sc), _colours(ref))


def test_cmap_namespace():
    names = list(matplotlib.colormaps)
    assert len(CMAP) == len(names) == len(set(CMAP))
    assert set(CMAP) == set(names)
    for name in names:
        assert getattr(CMAP, name) == name
        matplotlib.colormaps[getattr(CMAP, name)]
    assert CMAP.seismic == "seismic" and CMAP.Spectral_r == "Spectral_r" and "viridis" in CMAP
    assert {"hot_r", "rainbow", "viridis_r"} <= set(dir(CMAP))
    with pytest.raises(AttributeError, match="seismik"):
        CMAP.seismik  # noqa: B018


def test_cmap_names_in_camwidget(gunpoint, model):
    from tscam_widget.widget import CamWidget

    X, y = gunpoint
    for name in (CMAP.seismic, CMAP.viridis_r, CMAP.hot_r):
        w = CamWidget(model, X[:2].numpy(), y[:2].numpy(), cmap=name, layers=[LAYER])
        assert w.cmap == name


def test_savefig_png_and_svg(gunpoint, model, tmp_path):
    X, y = gunpoint
    png, svg = tmp_path / "cam.png", tmp_path / "cam.svg"
    show_cam((X[:2], y[:2]), model, i2o=i2o, savefig=png)
    show_cam((X[:3], y[:3]), model, i2o=i2o, multi_fig=True, scatter=True, savefig=str(svg))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    text = svg.read_text()
    assert "<svg" in text and "[Gun] - CAM - mean" in text and len(text) > 5000


def test_bad_input(gunpoint, model):
    X, y = gunpoint
    b = (X[:2], y[:2])
    with pytest.raises(ValueError, match="linestyles"):
        show_cam(b, model, linestyles="wavy")
    with pytest.raises(ValueError, match="cmap"):
        show_cam(b, model, cmap="not_a_map")
    with pytest.raises(ValueError, match="reduction"):
        show_cam(b, model, reduction="sum")
    with pytest.raises(TypeError, match="batch"):
        show_cam("GunPoint", model)
    with pytest.raises(ValueError, match="class index"):
        show_cam((X[:2], np.array([0.5, 1.0])), model)
    with pytest.raises(ValueError, match="labels"):
        show_cam((X[:3], y[:2]), model)
    with pytest.raises(ValueError, match="figsize"):
        show_cam(b, model, figsize=(6,))
    with pytest.raises(ValueError, match="alpha"):
        show_cam(b, model, alpha=2)
    with pytest.raises(IndexError):
        cam_acts(X[0], y[0], model, 42)


def test_hooks_and_batch_compute(gunpoint, model):
    from tscam_widget.compat import CAM_batch_compute, hook_acts, hooked_backward

    X, y = gunpoint
    m = copy.deepcopy(model)
    store = {}
    h = m[LAYER].register_forward_hook(lambda mod, i, o: store.__setitem__("a", o.detach()))
    m(X[2][None])
    h.remove()
    torch.testing.assert_close(hook_acts(X[2], y[2], model, LAYER), store["a"][0])
    hook_a, hook_g = hooked_backward(X[2], y[2], model, LAYER)
    assert tuple(hook_a.stored.shape) == (1, 12, 75) and tuple(hook_g.stored[0].shape) == (
        1,
        12,
        75,
    )
    w = hook_g.stored[0][0].mean(1)  # the GRAD-CAM formula from the hooks' tensors
    want = oracle(X[2], y[2], model, LAYER, "mean", grad=True, force_scale=False)[0]
    torch.testing.assert_close((w[:, None] * hook_a.stored[0]).mean(0), want, rtol=1e-4, atol=1e-6)
    assert all(p.grad is None for p in model.parameters())
    ts, acts, ys, ts_mm, acts_mm = CAM_batch_compute((X[:3], y[:3]), model, layer=LAYER)
    assert [t.shape for t in ts] == [(150,)] * 3 and [int(v) for v in ys] == [1, 1, 0]
    assert ts_mm == [float(X[:3].min()), float(X[:3].max())]
    want = oracle_colours(X[:3], y[:3], model, LAYER, "mean", True, True)
    np.testing.assert_allclose(np.stack(acts), want, rtol=1e-4, atol=1e-5)
    assert acts_mm == [pytest.approx(float(want.min()), abs=1e-6), pytest.approx(1.0)]
