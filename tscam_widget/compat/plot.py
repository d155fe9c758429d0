"""``show_cam``: series coloured by their CAM values, drawn with bqplot (``FlexLine`` or
``Scatter`` through a ``ColorScale`` built from a matplotlib colour map, and a ``ColorAxis``), as
the ``timeseries`` package drew them with matplotlib; ``savefig`` writes a static matplotlib copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
from torch import nn

from tscam_widget.widget.colormaps import cmap_table, resolve_cmap

from .acts import cam_acts, compute_maps, func_name
from .batch import noop, to_items

PX_PER_INCH = 80
N_COLORS = 256
# bqplot line_style names and matplotlib's, -> the canonical matplotlib name
LINESTYLES = {
    "solid": "solid",
    "-": "solid",
    "dashed": "dashed",
    "--": "dashed",
    "dashdot": "dashdot",
    "dash_dotted": "dashdot",
    "-.": "dashdot",
    "dotted": "dotted",
    ":": "dotted",
}
# on/off lengths in multiples of the line width (matplotlib's scaled dash patterns)
_DASHES = {"dashed": (3.7, 1.6), "dashdot": (6.4, 1.6, 1.0, 1.6), "dotted": (1.0, 1.65)}
# the colour bar (a horizontal ColorAxis) sits below the time axis; bqplot draws it 44 px above
# the figure's bottom edge and 200 px shorter than the plot is wide (a vertical one would be
# 200 px shorter than the plot is high: nothing left at 4 inches), so side margins are small
_MARGIN = {"top": 40, "bottom": 72, "left": 45, "right": 15}


def check_linestyle(linestyles: Any) -> str:
    """The canonical style (solid, dashed, dashdot, dotted) for a matplotlib or bqplot name."""
    if not isinstance(linestyles, str) or linestyles not in LINESTYLES:
        raise ValueError(
            "linestyles: expected one of 'solid', 'dashed', 'dashdot' ('dash_dotted'), 'dotted' "
            f"(or '-', '--', '-.', ':'), got {linestyles!r}"
        )
    return LINESTYLES[linestyles]


def palette(cmap: Any, alpha: float = 1.0, n: int = N_COLORS) -> list[str]:
    """``n`` colours sampled evenly from matplotlib colour map ``cmap``: ``#rrggbb`` strings, or
    ``rgba(r, g, b, alpha)`` when ``alpha < 1``."""
    table = cmap_table(cmap, n)
    if alpha >= 1:
        return ["#{:02x}{:02x}{:02x}".format(*row[:3]) for row in table]
    return [f"rgba({r}, {g}, {b}, {alpha:g})" for r, g, b, _ in table]


def dash_mask(n_points: int, style: str, linewidth: float, px_per_step: float) -> np.ndarray:
    """Per-point 1 (drawn) / 0 (gap) for ``FlexLine``'s ``width`` channel; segment ``s`` (between
    points ``s`` and ``s + 1``) is drawn thick where ``mask[s] == 1``. All ones for ``solid``.

    bqplot's ``FlexLine`` has no ``line_style``; a dash is drawn as thick segments and a gap as
    bqplot's thinnest width (0.5 px), with matplotlib's dash lengths in line widths."""
    if style == "solid":
        return np.ones(n_points, dtype=np.float32)
    pattern = np.array(_DASHES[style]) * max(float(linewidth), 1.0)
    period = pattern.sum()
    pos = (np.arange(n_points) + 0.5) * px_per_step % period  # segment centres, in px
    edges = np.cumsum(pattern)
    idx = np.searchsorted(edges, pos, side="right")
    return (idx % 2 == 0).astype(np.float32)


def _ylim(x: np.ndarray) -> tuple[float, float]:
    lo, hi = float(x.min()), float(x.max())
    pad = 0.1 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
    return lo - pad, hi + pad


def _title(labels: list[Any], name: str, reduction: str, confidence: Any) -> str:
    title = f"[{' - '.join(str(v) for v in labels)}] - {name} - {reduction}"
    if confidence is not None:
        title = f"{title}\n {confidence}"
    return title


def _confidence(confidence: Any, i: int) -> Any:
    """Entry ``i`` of a per-series ``confidence`` sequence; a string or number as it is."""
    if confidence is None or isinstance(confidence, (str, bytes)):
        return confidence
    if not hasattr(confidence, "__getitem__"):
        return confidence
    return confidence[i]


class CamGrid(widgets.VBox):
    """The ``multi_fig`` grid: a VBox of HBox rows holding one bqplot ``Figure`` per series.

    ``figures`` lists them in sample order; ``nrows``/``ncols`` the ``timeseries`` grid shape
    (``nrows = int(sqrt(n))``, ``ncols = ceil(n / nrows)``)."""

    def __init__(self, figures: list[Any], nrows: int, ncols: int, **kwargs: Any):
        rows = [widgets.HBox(figures[r * ncols : (r + 1) * ncols]) for r in range(nrows)]
        super().__init__(rows, **kwargs)
        self.figures = list(figures)
        self.nrows = nrows
        self.ncols = ncols


def grid_shape(n: int) -> tuple[int, int]:
    """``(nrows, ncols)`` of the ``timeseries`` package's grid for ``n`` figures."""
    nrows = int(math.sqrt(n))
    return nrows, int(np.ceil(n / nrows))


def _figure(
    xs: np.ndarray,
    maps: np.ndarray,
    styles: list[str],
    title: str,
    colors: list[str],
    domain: tuple[float, float],
    ylim: tuple[float, float],
    size_px: tuple[float, float],
    linewidth: float,
    alpha: float,
    scatter: bool,
) -> Any:
    """One bqplot Figure: ``xs [S, C, T]`` series with maps ``[S, T]``; one mark per series and
    channel."""
    import bqplot as bq

    t = np.arange(xs.shape[-1], dtype=np.float64)
    sx = bq.LinearScale(min=0.0, max=float(max(t[-1], 1.0)))
    sy = bq.LinearScale(min=ylim[0], max=ylim[1])
    sc = bq.ColorScale(colors=colors, min=float(domain[0]), max=float(domain[1]))
    width_px = size_px[0] - _MARGIN["left"] - _MARGIN["right"]
    step = max(width_px, 10.0) / max(len(t) - 1, 1)
    marks = []
    for x, m, style in zip(xs, maps, styles):
        for channel in x:
            if scatter:
                mark = bq.Scatter(
                    x=t,
                    y=channel.astype(np.float64),
                    color=m.astype(np.float64),
                    scales={"x": sx, "y": sy, "color": sc},
                    default_size=max(4.0, (2.0 * linewidth) ** 2),
                    opacities=[float(alpha)],
                    stroke=None,
                )
            else:
                extra: dict[str, Any] = {}
                if style != "solid":
                    extra = {"width": dash_mask(len(t), style, linewidth, step).astype(np.float64)}
                scales = {"x": sx, "y": sy, "color": sc}
                if extra:
                    scales["width"] = bq.LinearScale(min=0.0, max=1.0)
                mark = bq.FlexLine(
                    x=t,
                    y=channel.astype(np.float64),
                    color=m.astype(np.float64),
                    scales=scales,
                    stroke_width=float(linewidth),
                    **extra,
                )
                mark.line_style = style  # plain attribute: FlexLine has no line_style trait
            marks.append(mark)
    axes = [
        bq.Axis(scale=sx, grid_lines="none"),
        bq.Axis(scale=sy, side="left", grid_lines="none"),
        bq.ColorAxis(
            scale=sc, side="bottom", num_ticks=5 if width_px >= 320 else 3, tick_format=".2g"
        ),
    ]
    return bq.Figure(
        marks=marks,
        axes=axes,
        title=title,
        fig_margin=dict(_MARGIN),
        layout=widgets.Layout(width=f"{size_px[0]:g}px", height=f"{size_px[1]:g}px"),
    )


def _savefig(
    path: Any,
    xs: np.ndarray,
    maps: np.ndarray,
    panels: list[tuple[list[int], list[str], str]],
    grid: tuple[int, int],
    cmap: str,
    domain: tuple[float, float],
    ylim: tuple[float, float],
    figsize: tuple[float, float],
    linewidth: float,
    alpha: float,
    scatter: bool,
) -> None:
    """A static matplotlib copy (LineCollection / scatter, a colour bar per panel); the format
    follows ``path``'s extension (png, svg, pdf ...)."""
    import matplotlib
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axs = np.atleast_1d(fig.subplots(*grid, squeeze=False)).ravel()
    cm = matplotlib.colormaps[cmap]
    lo, hi = domain
    norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1e-12)
    t = np.arange(xs.shape[-1])
    for ax, (idxs, styles, title) in zip(axs, panels):
        mappable = None
        for i, style in zip(idxs, styles):
            for channel in xs[i]:
                if scatter:
                    mappable = ax.scatter(
                        t,
                        channel,
                        c=maps[i],
                        cmap=cm,
                        norm=norm,
                        s=(2 * linewidth) ** 2,
                        alpha=alpha,
                        linewidths=0,
                    )
                else:
                    pts = np.stack([t, channel], 1).reshape(-1, 1, 2)
                    lc = LineCollection(
                        np.concatenate([pts[:-1], pts[1:]], 1),
                        cmap=cm,
                        norm=norm,
                        linewidths=linewidth,
                        linestyles=style,
                        alpha=alpha,
                    )
                    lc.set_array(maps[i][:-1])
                    mappable = ax.add_collection(lc)
        ax.set_xlim(t.min(), t.max())
        ax.set_ylim(*ylim)
        ax.set_title(title)
        if mappable is not None:
            fig.colorbar(mappable, ax=ax)
    for ax in axs[len(panels) :]:
        ax.set_axis_off()
    fig.savefig(path)


def show_cam(
    batch: Any,
    model: nn.Module,
    layer: Any = 5,
    func_cam: Callable[..., Any] = cam_acts,
    reduction: str = "mean",
    force_scale: bool = True,
    scale_range: tuple[float, float] = (0, 1),
    cmap: Any = "Spectral_r",
    linewidth: float = 4,
    linestyles: str = "solid",
    alpha: float = 1.0,
    scatter: bool = False,
    i2o: Callable[[Any], Any] = noop,
    figsize: tuple[float, float] | None = None,
    multi_fig: bool = False,
    confidence: Sequence[Any] | None = None,
    savefig: Any = None,
) -> Any:
    """Compute CAMs with ``func_cam`` and draw the series coloured by them (the ``timeseries``
    package's ``show_cam``, on bqplot).

    ``batch``: a batch ``(xb [N, C, T], yb [N])`` (e.g. ``dls.one_batch()``), a list of ``(x, y)``
    items or one item; the map of each series is for its true label ``y``. ``layer``: index
    (``model[layer]`` of an ``nn.Sequential``, else the default block selection) or name.
    ``func_cam``: ``cam_acts``, ``grad_cam_acts`` (one explainer pass for the batch) or a function
    with their signature returning ``[1, T']`` (called per series; its ``.name`` or ``__name__``
    goes into the title). ``cmap``: a matplotlib colour map name (``CMAP.*``). Colours span
    ``scale_range`` with ``force_scale``, else the maps' overall range. ``i2o`` decodes labels for
    titles. ``figsize`` in inches (80 px each; default (6, 4), (13, 4) with ``multi_fig``).
    ``confidence``: a line added under the title (per figure with ``multi_fig``). ``savefig``: also
    write a static matplotlib picture to this path (png, svg, ...).

    Returns a bqplot ``Figure`` (all series; the second and later dashed), or with ``multi_fig``
    a :class:`CamGrid` of one figure per series.
    """
    style = check_linestyle(linestyles)
    for name, v in (("linewidth", linewidth), ("alpha", alpha)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not v > 0:
            raise ValueError(f"{name}: expected a positive number, got {v!r}")
    if alpha > 1:
        raise ValueError(f"alpha: expected a number in (0, 1], got {alpha!r}")
    cmap = resolve_cmap(cmap)
    if figsize is None:
        figsize = (13, 4) if multi_fig else (6, 4)
    try:
        fw, fh = (float(v) for v in figsize)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"figsize: expected (width, height) in inches, got {figsize!r}") from e
    if not (fw > 0 and fh > 0):
        raise ValueError(f"figsize: expected positive (width, height), got {figsize!r}")
    if not callable(i2o):
        raise TypeError(f"i2o: expected a function of a label, got {type(i2o).__name__}")

    items = to_items(batch)
    n = len(items.labels)
    maps = compute_maps(items, model, layer, func_cam, reduction, force_scale, scale_range)
    xs = items.x.numpy()
    if force_scale:
        domain = (float(scale_range[0]), float(scale_range[1]))
    else:
        domain = (float(np.nanmin(maps)), float(np.nanmax(maps)))
    if (
        multi_fig
        and confidence is not None
        and not isinstance(confidence, (str, bytes))
        and hasattr(confidence, "__len__")
        and len(confidence) < n
    ):
        raise ValueError(f"confidence: expected one entry per series ({n}), got {len(confidence)}")
    colors = palette(cmap, float(alpha))
    ylim = _ylim(xs)
    labels = [i2o(y) for y in items.labels]
    name = func_name(func_cam)
    w_px, h_px = fw * PX_PER_INCH, fh * PX_PER_INCH

    if not multi_fig:
        styles = [style] + ["dashed"] * (n - 1)  # as the timeseries package: 2nd+ dashed
        conf = _confidence(confidence, 0)
        title = _title(labels, name, reduction, conf)
        result = _figure(
            xs, maps, styles, title, colors, domain, ylim, (w_px, h_px), linewidth, alpha, scatter
        )
        panels = [(list(range(n)), styles, title)]
        grid = (1, 1)
    else:
        nrows, ncols = grid_shape(n)
        cell = (w_px / ncols, max(h_px / nrows, 200.0))
        panels = []
        figures = []
        for i in range(n):
            conf = _confidence(confidence, i)
            title = _title([labels[i]], name, reduction, conf)
            panels.append(([i], [style], title))
            figures.append(
                _figure(
                    xs[i : i + 1],
                    maps[i : i + 1],
                    [style],
                    title,
                    colors,
                    domain,
                    ylim,
                    cell,
                    linewidth,
                    alpha,
                    scatter,
                )
            )
        result = CamGrid(figures, nrows, ncols)
        grid = (nrows, ncols)
    if savefig is not None:
        _savefig(
            savefig, xs, maps, panels, grid, cmap, domain, ylim, (fw, fh), linewidth, alpha, scatter
        )
    return result


def cam_batch_plot_one_fig(batch: Any, model: nn.Module, **kwargs: Any) -> Any:
    """``show_cam(..., multi_fig=False)`` (the ``timeseries`` package's name)."""
    kwargs.setdefault("figsize", (6, 4))
    return show_cam(batch, model, multi_fig=False, **kwargs)


def cam_batch_plot_multi_fig(batch: Any, model: nn.Module, **kwargs: Any) -> Any:
    """``show_cam(..., multi_fig=True)`` (the ``timeseries`` package's name)."""
    kwargs.setdefault("figsize", (13, 4))
    return show_cam(batch, model, multi_fig=True, **kwargs)
