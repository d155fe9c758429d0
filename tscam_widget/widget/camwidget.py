"""``CamWidget``: its traits, construction, public views, flushing of control changes and
observers. The maths lives in the explainer, reached through :mod:`.compute`; the rest of the
work in mixins: the background jobs (:mod:`.jobs`), the precomputed maps and memory budget
(:mod:`.precompute`), the controls' validators (:mod:`.validation`) and the trust view
(:mod:`.trust`). The Python <-> frontend contract is ``docs/protocol.md``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import sys
from collections.abc import Sequence
from typing import Any

import anywidget
import numpy as np
import traitlets as t

from tscam_widget.explain.explanation import map_key

from . import buffers
from .background import Background, running_loop
from .colormaps import cmap_names, cmap_table
from .compact import MapStore, check_precision, dequantise, quantise
from .compute import ALL_REDUCTIONS, MapComputer
from .export import export_html
from .jobs import BackgroundMixin
from .options import NORMS, OPTIONS
from .precompute import PrecomputeMixin
from .samples import sample_list
from .source import LabelDecoder, decode_labels, resolve_source
from .trust import TrustMixin, check_mask
from .validation import ValidationMixin

_STATIC = pathlib.Path(__file__).resolve().parent.parent / "static"
#: above this many bytes of series, only the visible samples' series travel (``series_samples``)
SERIES_LIMIT_BYTES = 32 * 10**6
INIT_CONTROLS = (
    "layer",
    "method",
    "reduction",
    "sample",
    "view_count",
    "mark",
    "style",
    "linewidth",
    "linestyle",
    "alpha",
    "play_interval_ms",
    "playing",
    "series_view",
    "sample_filter",
    "filter_true",
    "filter_pred",
    "sample_sort",
)


class _Int(t.Int):
    """An Int trait that also takes numpy integers (not bools)."""

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(value, np.integer):
            value = int(value)
        if isinstance(value, bool):
            self.error(obj, value)
        return super().validate(obj, value)


def _in_kernel() -> bool:
    """Whether this runs in an IPython kernel (where a widget shows after its cell returns)."""
    ip = sys.modules.get("IPython")
    get = getattr(ip, "get_ipython", None) if ip is not None else None
    shell = get() if get is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def _check_controls(controls: dict[str, Any]) -> dict[str, Any]:
    """The initial control values given as keywords (``style`` is the alias of ``mark``)."""
    unknown = sorted(set(controls) - set(INIT_CONTROLS) - {"style"})
    if unknown:
        raise TypeError(
            f"CamWidget() got unexpected keyword argument(s) {unknown}; initial control "
            f"values can be given for {list(INIT_CONTROLS)}"
        )
    if "style" in controls:
        controls["mark"] = controls.pop("style")
    return controls


def _check_arguments(
    precompute: Any, batch_size: Any, scale_range: Any, memory_mb: Any, background: Any
) -> None:
    """ValueErrors naming the argument, what it takes and what it got."""
    if precompute not in (True, False, "auto"):
        raise ValueError(f"precompute: expected True, False or 'auto', got {precompute!r}")
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or (batch_size < 1)
    ):
        raise ValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
    lo_hi = np.asarray(scale_range, dtype=float).ravel()
    if lo_hi.size != 2 or not np.isfinite(lo_hi).all() or not lo_hi[0] < lo_hi[1]:
        raise ValueError(f"scale_range: expected (lo, hi) with lo < hi, got {scale_range!r}")
    if isinstance(memory_mb, bool) or not isinstance(memory_mb, (int, float)) or memory_mb <= 0:
        raise ValueError(f"memory_mb: expected a number of MB > 0, got {memory_mb!r}")
    if background not in (True, False, "auto"):
        raise ValueError(f"background: expected True, False or 'auto', got {background!r}")


def _background_mode(background: bool | str, loop: asyncio.AbstractEventLoop | None) -> bool:
    """Whether the work after the first picture runs in the background."""
    if background is True and loop is None:
        raise ValueError(
            "background=True needs a running event loop (a Jupyter kernel); outside one, "
            "pass background=False or 'auto'"
        )
    # "auto": in a Jupyter kernel (other running loops, e.g. Playwright's, do not turn their
    # callbacks while the caller waits for results)
    return loop is not None and (background is True or (background == "auto" and _in_kernel()))


def _class_names(src: Any, comp: MapComputer, labels: LabelDecoder | None) -> list[str]:
    """One name per model output; checks the names and the labels ``y`` against the outputs."""
    n_classes = comp.probs.shape[1]
    names = src.classes or decode_labels(list(range(n_classes)), labels)
    if len(names) != n_classes:
        raise ValueError(
            f"classes: expected {n_classes} names (the model has {n_classes} outputs), got "
            f"{len(names)}"
        )
    if src.y.size and int(src.y.max()) >= n_classes:
        raise ValueError(
            f"y: expected class indices in 0..{n_classes - 1} (the model has {n_classes} "
            f"outputs; -1 for unknown), got {int(src.y.max())}"
        )
    return list(names)


def _array() -> t.Dict:
    return t.Dict(buffers.empty()).tag(sync=True)


class CamWidget(TrustMixin, BackgroundMixin, PrecomputeMixin, ValidationMixin, anywidget.AnyWidget):
    """Time series coloured by class-activation maps, for every layer of a classifier.

    ``CamWidget(learn, dls=None, *, ds_idx=1, idxs=None, ...)`` for a fastai/tsai ``Learner``
    (anything with ``.model`` and ``.dls``), or ``CamWidget(model, X, y=None, *, classes=None,
    ...)`` with ``X`` ``[N, T]`` or ``[N, C, T]``.

    Every control is a synced trait; setting it from Python does what the control does
    (``layer``, ``method``, ``reduction``, ``sample``, ``target``, ``cmap``, ``norm``, ``view``,
    ``view_count``, ``mark`` (alias ``style``: ``"line"`` or ``"scatter"``), ``linewidth``,
    ``linestyle``, ``alpha``; also ``layers``, ``methods``, ``reductions``). Arrays travel as
    binary buffers (see ``docs/protocol.md``).

    ``precompute``: True ships the whole cube ``[N, L, M, T]`` once (per class explained: the
    predicted and the true one, one row when they are equal); False computes maps on demand
    (LRU cache of ``cache_mb`` MB); ``"auto"`` precomputes when the cube is at most 64 MB and no
    method runs forwards of its own (``Method.extra_forwards``: scorecam, ablationcam).

    ``precision``: how maps are stored and sent: ``"uint8"`` (default; values quantised to 1/255
    of each map's range, the colour table has 256 entries so the picture is the same),
    ``"float16"`` or ``"float32"`` (see :mod:`tscam_widget.widget.compact`).
    ``mask``: a ground-truth mask ``[N, T]`` (bool or 0/1; with ``idxs``, either the widget's
    samples or the whole data), drawn as a band under the series in every view and used for the
    localisation scores. ``trust``: the trust view's scores (``view="trust"``, the
    ``randomised`` toggle; see :mod:`tscam_widget.widget.trust`): ``"auto"`` computes them in
    the background in a kernel and on demand elsewhere, True also before ``save_html``, False
    never.

    ``X`` may also be a numpy memmap (read, never loaded whole) or a torch ``Dataset`` yielding
    ``(x, y)`` or ``x`` (read item by item, only the samples needed: the visible ones and the
    batch being computed). ``lazy``: for a Learner, read its DataLoader item by item through its
    transforms (True), read everything now (False), or ``"auto"`` (item by item above 32 MB of
    series); a Dataset is always read lazily unless ``lazy=False``.

    ``memory_mb``: the budget of the widget's own kernel memory (maps cache, precomputed maps,
    predictions; see :attr:`memory_bytes`); when the precomputed maps would pass it, maps are
    computed on demand instead, and the status line and a ``ResourceWarning`` say so.

    The sample menu (``sample_filter``, ``filter_true``, ``filter_pred``, ``sample_sort``;
    :attr:`sample_list`) lists the mistakes, the correct ones, a true or predicted class, sorted
    by index or confidence, from the predictions known so far.

    Outside a running event loop, control changes are computed on :meth:`flush` or when
    :attr:`current_map` is read; in a kernel they are coalesced into one computation per loop
    turn.
    """

    _esm = _STATIC / "widget.js"
    if (_STATIC / "widget.css").exists():
        _css = _STATIC / "widget.css"

    # ---- controls ----------------------------------------------------------------------
    layer = _Int(0).tag(sync=True)
    method = t.Unicode("gradcam").tag(sync=True)
    reduction = t.Unicode("mean").tag(sync=True)
    sample = _Int(0).tag(sync=True)
    target = t.Union([t.Unicode(), _Int()], default_value="pred").tag(sync=True)
    cmap = t.Unicode("Spectral_r").tag(sync=True)
    norm = t.Unicode("sample").tag(sync=True)
    view = t.Unicode("single").tag(sync=True)
    view_count = _Int(4).tag(sync=True)
    # "line" or "scatter"; not called `style`: ipywidgets views read a `style` trait as a Style
    # widget reference. `style` stays available as a Python alias (property below).
    mark = t.Unicode("line").tag(sync=True)
    linewidth = t.Float(2.0).tag(sync=True)
    linestyle = t.Unicode("solid").tag(sync=True)
    alpha = t.Float(1.0).tag(sync=True)
    playing = t.Bool(False).tag(sync=True)
    play_interval_ms = _Int(600).tag(sync=True)
    request_id = _Int(0).tag(sync=True)
    # "original": the series in the user's units; "input": what the model receives (a Learner's
    # batch transforms applied). Both arrays travel, so the switch works offline too.
    series_view = t.Unicode("original").tag(sync=True)

    # the sample menu's filters and sort (see .samples): synced so Python and the menu agree
    sample_filter = t.Unicode("all").tag(sync=True)
    filter_true = _Int(-1).tag(sync=True)
    filter_pred = _Int(-1).tag(sync=True)
    sample_sort = t.Unicode("index").tag(sync=True)

    # ---- information (Python writes) ---------------------------------------------------
    options = t.Dict(OPTIONS).tag(sync=True)  # the menus' values and labels (widget/options.py)
    layers = t.List(t.Unicode()).tag(sync=True)
    layer_layouts = t.List(t.Unicode()).tag(sync=True)
    methods = t.List(t.Unicode()).tag(sync=True)
    method_labels = t.Dict().tag(sync=True)
    reductions = t.List(t.Unicode()).tag(sync=True)
    reduction_methods = t.List(t.Unicode()).tag(sync=True)
    classes = t.List(t.Unicode()).tag(sync=True)
    cmaps = t.List(t.Unicode()).tag(sync=True)
    cmap_table = _array()
    n_samples = _Int(0).tag(sync=True)
    sample_ids = _array()
    series = _array()
    input_series = _array()
    series_samples = t.Dict(buffers.empty("int32")).tag(sync=True)
    y_true = _array()
    y_pred = _array()
    probs = _array()
    targets = _array()
    precomputed = t.Bool(False).tag(sync=True)
    target_methods = t.List(t.Unicode()).tag(sync=True)
    precision = t.Unicode("uint8").tag(sync=True)
    cube = _array()
    cube_scale = _array()
    cube_rows = _array()
    cube_keys = t.List(t.Unicode()).tag(sync=True)
    cube_meta = t.Dict().tag(sync=True)
    maps = _array()
    maps_scale = _array()
    maps_meta = t.Dict().tag(sync=True)
    value_range = t.List(t.Float(), default_value=[0.0, 1.0]).tag(sync=True)
    status = t.Unicode("").tag(sync=True)
    error = t.Unicode("").tag(sync=True)

    def __init__(
        self,
        learn_or_model: Any,
        X: Any = None,
        y: Any = None,
        *,
        dls: Any = None,
        classes: Sequence[Any] | None = None,
        ds_idx: int = 1,
        idxs: Sequence[int] | None = None,
        labels: LabelDecoder | None = None,
        layers: Sequence[Any] | None = None,
        methods: Sequence[str] | None = None,
        reductions: Sequence[str] = ALL_REDUCTIONS,
        target: str | int = "pred",
        cmap: Any = "Spectral_r",
        norm: str = "sample",
        precompute: bool | str = "auto",
        cache_mb: float = 64,
        view: str = "single",
        batch_size: int = 256,
        progress: bool = True,
        precision: str = "uint8",
        scale_range: tuple[float, float] = (0.0, 1.0),
        method_kwargs: dict[str, Any] | None = None,
        layouts: dict[str, str] | None = None,
        input_layout: str = "NCT",
        output: Any = None,
        background: bool | str = "auto",
        mask: Any = None,
        trust: bool | str = "auto",
        lazy: bool | str = "auto",
        memory_mb: float = 2048,
        **controls: Any,
    ) -> None:
        controls = _check_controls(controls)
        _check_arguments(precompute, batch_size, scale_range, memory_mb, background)
        precision = check_precision(precision)
        loop = running_loop()
        in_background = _background_mode(background, loop)
        if dls is not None and X is not None:
            raise TypeError("CamWidget: pass the DataLoaders either as X or as dls=, not both")
        src = resolve_source(
            learn_or_model,
            X if X is not None else dls,
            y,
            classes=classes,
            ds_idx=ds_idx,
            idxs=idxs,
            labels=labels,
            lazy=lazy,
            lazy_bytes=SERIES_LIMIT_BYTES,
        )
        mask = check_mask(mask, *src.X.shape[::2], src.sample_ids)  # before the costly work
        comp = MapComputer(
            src.model,
            src.X,
            src.y,
            layers=layers,
            methods=methods,
            reductions=reductions,
            cache_mb=min(cache_mb, memory_mb / 4),  # the rest of the budget: cube, predictions
            batch_size=batch_size,
            scale_range=scale_range,
            method_kwargs=method_kwargs,
            explainer_kwargs=dict(layouts=layouts, input_layout=input_layout, output=output),
            predict=not in_background,
        )
        names = _class_names(src, comp, labels)
        self._init_state(src, comp, precompute, memory_mb, progress, precision)
        init = self._initial_traits(names, precision, target, cmap, norm, view, in_background)
        super().__init__(**{**init, **controls})
        self._trust_init(mask, trust)
        self.targets = buffers.pack(comp.targets(self.target), "int32")
        self._ready = True
        self._start(loop, in_background)

    def _init_state(
        self,
        src: Any,
        comp: MapComputer,
        precompute: bool | str,
        memory_mb: float,
        progress: bool,
        precision: str,
    ) -> None:
        """The widget's private state before its traits exist."""
        self._src, self._comp = src, comp
        self._precompute_arg = precompute
        self._memory_bytes = int(memory_mb * 1e6)
        self._budget_note = ""
        self._progress = bool(progress)
        self._ready = False
        self._dirty: set[str] = set()
        self._scheduled: asyncio.AbstractEventLoop | None = None
        self._flushing = False
        self._store: MapStore | None = None
        self._sent_rows = -1  # rows of the store last sent in `cube`
        self._counts = {"flushes": 0, "cube_builds": 0, "map_updates": 0}
        self._sample_error = ""
        self._bg: Background | None = None
        self._bg_cube: Background | None = None
        self._bg_ranges: Background | None = None
        self._ranges_for: tuple[Any, ...] | None = None  # ((method, reduction), target) behind
        self._range_partial: tuple[np.ndarray, int, int] | None = None  # range, done, total
        self._last_range_draw = 0.0
        self._only_first = False
        self._user_dirty = False
        self._worker: MapComputer | None = None
        self._worker_made = False  # _make_worker tried (it leaves None for a model not copied)
        self._last_push = 0.0
        self.background_error: BaseException | None = None
        # a large data set, or one read on demand: only the visible samples' series travel
        self._windowed = src.display.nbytes > SERIES_LIMIT_BYTES or getattr(src.X, "lazy", False)
        self._itemsize = np.dtype(precision).itemsize
        self._check_budget()

    def _initial_traits(
        self,
        names: list[str],
        precision: str,
        target: str | int,
        cmap: Any,
        norm: str,
        view: str,
        in_background: bool,
    ) -> dict[str, Any]:
        """The traits the widget starts with (the user's initial controls go over them)."""
        src, comp = self._src, self._comp
        first_sample = int(np.flatnonzero(comp.finite)[0])
        return dict(
            layers=comp.layers,
            layer_layouts=comp.layer_layouts(),
            methods=comp.methods,
            method_labels=comp.method_labels(),
            reductions=comp.reductions,
            reduction_methods=comp.reduction_methods,
            target_methods=comp.target_methods,
            precision=precision,
            classes=names,
            cmaps=cmap_names(),
            cmap_table=buffers.pack(cmap_table(cmap), "uint8"),
            n_samples=int(src.X.shape[0]),
            sample_ids=buffers.pack(src.sample_ids, "int32"),
            **self._series_traits(src, [first_sample] if self._windowed else None),
            y_true=buffers.pack(src.y, "int32"),
            y_pred=buffers.pack(comp.pred_shown(), "int32"),
            probs=buffers.pack(comp.probs, "float32"),
            layer=len(comp.layers) - 1,
            sample=first_sample,
            method="gradcam" if "gradcam" in comp.methods else comp.methods[0],
            reduction=comp.reductions[0],
            target=target,
            cmap=cmap,
            norm=norm,
            view=view,
            precomputed=self._want_precompute() and not in_background,
        )

    def _start(self, loop: asyncio.AbstractEventLoop | None, in_background: bool) -> None:
        """The first computation: now (no kernel), on the loop's next turn (a kernel), or the
        first sample now and the rest in the background."""
        self._dirty = {"cube"} if self.precomputed else {"maps"}
        if in_background and loop is not None:
            # the first sample's maps (the shown method alone: the first picture sooner), then
            # the rest behind
            if self.norm == "layer":  # the worker's model copy first: the range is then
                self._make_worker()  # computed behind too, not over every sample before
            self._only_first = True
            self._flush(raise_errors=True)
            self._only_first = False
            self._start_background(loop)
        elif self._loop() is None or not _in_kernel():
            self._flush(raise_errors=True)
            self._trust_sync()  # view="trust" given
        else:
            # in a kernel: return now so the widget shows, and compute on the event loop's next
            # turn, reporting progress in the widget's own status line
            self.status = "starting..."
            self._schedule()

    # ---- public read-only views --------------------------------------------------------

    @property
    def current_map(self) -> np.ndarray:
        """float32 ``[T]``: the map drawn now for (``sample``, ``layer``, ``method``,
        ``reduction``, ``target``, ``norm``); flushes pending work first. All NaN when the
        method is undefined for the layer or the sample has no map (see ``error``)."""
        self.flush()
        if self.randomised:
            return self._trust_current_map()
        T = self._src.X.shape[-1]
        if self.precomputed:
            if self._store is None:
                return np.full(T, np.nan, np.float32)
            m = self.cube_keys.index(self._key_str())
            maps = self._store.maps(
                self._comp.targets(self.target),
                self.norm,
                self._comp.scale_range,
                samples=[self.sample],
            )
            return maps[0, self.layer, m].copy()
        try:
            maps, _ = self._maps_now([self.sample])
        except Exception:  # noqa: BLE001 - reported in `error` by the flush
            return np.full(T, np.nan, np.float32)
        u, scale = quantise(maps[0, self.layer], self.precision)  # as sent, so as drawn
        return dequantise(u, scale)

    def cube_array(self, target: str | int | None = None, norm: str | None = None) -> np.ndarray:
        """float32 ``[N, L, M, T]`` (M indexes ``cube_keys``): the precomputed maps under
        ``target`` and ``norm`` (default: the current ones) as the frontend draws them; NaN
        where a sample has no map. Computes the maps of a target not in the cube yet."""
        if not self.precomputed:
            raise RuntimeError("cube_array: the widget runs in kernel mode (precompute=False)")
        target = self.target if target is None else self._v_target({"value": target})
        norm = self.norm if norm is None else self._one_of("norm", norm, NORMS)
        self.flush()
        classes = self._comp.targets(target)
        self._fill_store([classes])
        assert self._store is not None
        return self._store.maps(classes, norm, self._comp.scale_range)

    @property
    def current_series(self) -> np.ndarray:
        """float32 ``[C, T]``: the series of ``sample`` as drawn (``series_view``)."""
        src = self._src.X if self.series_view == "input" else self._src.display
        return src[self.sample].copy()

    @property
    def sample_list(self) -> np.ndarray:
        """int64: the samples the menu lists under ``sample_filter``, ``filter_true``,
        ``filter_pred`` and ``sample_sort``, from the predictions known so far (``w.sample_filter
        = "mistakes"`` then ``w.sample_list``: the misclassified samples)."""
        comp = self._comp
        return sample_list(
            self._src.y,
            comp.pred,
            comp.probs,
            self.sample_filter,
            self.filter_true,
            self.filter_pred,
            self.sample_sort,
        )

    @property
    def predictions_complete(self) -> bool:
        """Whether every sample's prediction is in (filters and sorts are final)."""
        return self._comp.all_predicted

    @property
    def layouts(self) -> dict[str, str]:
        """Per layer, the layout its output is read with (``"NCT"``, ``"[0] NTC"`` ...)."""
        return dict(zip(self.layers, self.layer_layouts))

    @property
    def explainer(self) -> Any:
        """The :class:`~tscam_widget.explain.Explainer` the widget asks for maps."""
        return self._comp.explainer

    @property
    def data(self) -> tuple[Any, np.ndarray, np.ndarray, list[str]]:
        """``(model, X float32 [N, C, T], y int32 [N] (-1 unknown), classes)`` as the widget
        sees them (after ``idxs`` selection)."""
        return self._src.model, self._src.X, self._src.y, list(self.classes)

    @property
    def stats(self) -> dict[str, int]:
        """Counters: ``computations`` (explainer calls for maps), ``flushes``, ``map_updates``
        (kernel-mode ``maps`` sent), ``cube_builds``, ``cache_hits``, ``cache_misses``,
        ``cache_evictions``, ``cache_entries``, ``cache_bytes``."""
        c = self._comp.cache
        return {
            "computations": self._comp.n_computations,
            **self._counts,
            "cache_hits": c.hits,
            "cache_misses": c.misses,
            "cache_evictions": c.evictions,
            "cache_entries": len(c),
            "cache_bytes": c.nbytes,
        }

    @property
    def style(self) -> str:
        """Alias of :attr:`mark`: ``"line"`` or ``"scatter"`` (the ``timeseries`` name)."""
        return self.mark

    @style.setter
    def style(self, value: str) -> None:
        self.mark = value

    def save_html(
        self, path: str | os.PathLike, title: str = "tscam-widget", targets: str = "auto"
    ) -> pathlib.Path:
        """Write this widget as one self-contained HTML page that works offline from
        ``file://``; the precomputed maps are embedded (computed now if the widget runs in
        kernel mode), so every control works without a kernel: sliders, menus, every norm,
        views, play, and the target menu's "predicted" and "true" entries. ``targets="all"``
        also embeds the maps explained for every class (each class entry works offline; about
        K - 1 times more map data for K classes). Returns the path."""
        if targets not in ("auto", "all"):
            raise ValueError(f"targets: expected 'auto' or 'all', got {targets!r}")
        if self._windowed:
            raise ValueError(
                f"save_html: the series alone are {self._src.display.nbytes / 1e6:.0f} MB, too "
                f"much for one page; make a widget of a subset (idxs=...) and save that"
            )
        if not self.precomputed:
            self.precomputed = True
            self._mark("cube")
        self.flush()
        if self._trust_mode is True:
            self.compute_trust()
        if targets == "all":
            k = self._comp.probs.shape[1]
            self._fill_store([self._comp.targets(c) for c in range(k)])
            self._publish_store()
        return export_html(self, path, title=title)

    # ---- flushing ----------------------------------------------------------------------

    def flush(self) -> None:
        """Compute what pending control changes need, now (normally the event loop does)."""
        self._flush(raise_errors=False)
        self._trust_sync()

    def _flush(self, raise_errors: bool) -> None:
        self._scheduled = None
        if not self._dirty or self._flushing:
            return
        dirty, self._dirty = self._dirty, set()
        self._flushing = True
        self._counts["flushes"] += 1
        user, self._user_dirty = self._user_dirty, False
        running = [b for b in (self._bg, self._bg_cube, self._bg_ranges) if b is not None]
        running = running if user else []  # a redraw the background asked for: no pause
        try:
            with contextlib.ExitStack() as stack:  # every worker waits while the user is served
                for b in running:
                    stack.enter_context(b.user_first())
                if self._windowed:
                    self._send_series()
                if self.precomputed:
                    if "cube" in dirty or self._store is None:
                        self._store = None
                    self._fill_store(self._wanted_classes())
                    self._publish_store()
                    self._check_sample()
                else:
                    self._send_maps()
            self.error = self._sample_error or self.error_background()
        except Exception as e:
            if raise_errors:
                raise
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self._flushing = False

    def _mark(self, what: str, user: bool = True) -> None:
        """Note pending work and schedule one flush on the running event loop (if any);
        ``user``: asked for by the user (served before the background work)."""
        if not self._ready:
            return
        self._dirty.add(what)
        self._user_dirty = self._user_dirty or user
        self._schedule()

    @staticmethod
    def _loop() -> asyncio.AbstractEventLoop | None:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            return None

    def _schedule(self) -> None:
        loop = self._loop()
        if loop is None or self._scheduled is loop:
            return  # no loop: flush() / current_map computes
        self._scheduled = loop
        loop.call_soon(self.flush)

    def _key_str(self) -> str:
        return map_key(*self._comp.key_of(self.method, self.reduction))

    def _visible_samples(self) -> list[int]:
        if self.view == "single":
            return [self.sample]
        return list(range(self.sample, min(self.n_samples, self.sample + self.view_count)))

    @staticmethod
    def _series_traits(src: Any, samples: list[int] | None) -> dict[str, Any]:
        """``series``/``input_series``/``series_samples``: every sample's series, or (a large
        data set) only those of ``samples``."""
        rows = slice(None) if samples is None else np.asarray(samples, np.int64)
        return dict(
            series=buffers.pack(np.asarray(src.display[rows], np.float32), "float32"),
            input_series=(
                buffers.empty()
                if src.series is None
                else buffers.pack(np.asarray(src.X[rows], np.float32), "float32")
            ),
            series_samples=(
                buffers.empty("int32") if samples is None else buffers.pack(rows, "int32")
            ),
        )

    def _send_series(self) -> None:
        """A large data set: send the series of the visible samples (when they changed)."""
        samples = self._visible_samples()
        if samples != getattr(self, "_series_sent", None):
            self._series_sent = samples
            with self.hold_sync():
                for k, v in self._series_traits(self._src, samples).items():
                    setattr(self, k, v)

    def _check_sample(self) -> None:
        s = self.sample
        if self._comp.finite[s]:
            self._sample_error = ""
        else:
            self._sample_error = (
                f"ValueError: sample {s} (id {int(self._src.sample_ids[s])}): its series "
                "contains NaN or inf values, so it has no map"
            )

    def _maps_now(self, samples: list[int], only: bool = False) -> tuple[np.ndarray, str]:
        """``(maps [S, L, T], note)`` of ``samples`` for the current controls; with
        ``norm="layer"`` in background mode, while the dataset-wide range is computed behind,
        scaled by the range seen so far (the note says so)."""
        comp = self._comp
        if (
            self.norm == "layer"
            and self._worker is not None
            and not comp.has_range(self.method, self.reduction, self.target)
        ):
            want = (comp.key_of(self.method, self.reduction), self.target)
            rp = self._range_partial if self._ranges_for == want else None
            partial = rp[0] if rp is not None else None
            done, total = (rp[1], rp[2]) if rp is not None else (0, int(comp.finite.sum()))
            note = f"per-layer colour range filling in: {done} / {total} samples"
            maps = comp.maps_provisional(samples, self.method, self.reduction, self.target, partial)
            self._start_ranges()  # after this answer: the range's work does not delay it
            return maps, note
        maps = comp.maps(samples, self.method, self.reduction, self.target, self.norm, only=only)
        return maps, ""

    def _send_maps(self) -> None:
        samples = self._visible_samples()
        self._sample_error = ""
        # while background work runs, the asked-for method alone: the answer comes sooner
        only = self.background_running or self._only_first
        maps, range_note = self._maps_now(samples, only)
        self._counts["map_updates"] += 1
        u, scale = quantise(maps, self.precision)
        with self.hold_sync():
            self.maps = buffers.pack(u, self.precision)
            self.maps_scale = buffers.pack(scale, "float32")
            self.maps_meta = {
                "request_id": self.request_id,
                "samples": samples,
                "method": self.method,
                "reduction": self.reduction,
                "target": self.target,
                "norm": self.norm,
            }
            self.targets = buffers.pack(self._comp.targets(self.target), "int32")
            self.value_range = self._value_range(maps)
            status = f"{self.method_labels.get(self.method, self.method)}: samples {samples}"
            self.status = " · ".join(s for s in (status, range_note, self._budget_note) if s)

    def _value_range(self, arr: np.ndarray) -> list[float]:
        if self.norm != "none":
            return [float(v) for v in self._comp.scale_range]
        finite = arr[np.isfinite(arr)]
        if finite.size == 0:
            return [0.0, 1.0]
        return [float(finite.min()), float(finite.max())]

    # ---- observers ---------------------------------------------------------------------

    @t.observe("cmap")
    def _o_cmap(self, change: Any) -> None:
        if self._ready:
            self.cmap_table = buffers.pack(cmap_table(change["new"]), "uint8")

    @t.observe("sample", "method", "reduction", "view", "view_count", "request_id")
    def _o_request(self, change: Any) -> None:
        self._mark("maps")

    @t.observe("sample_filter", "filter_true", "filter_pred", "sample_sort")
    def _o_sample_filter(self, change: Any) -> None:
        """A new filter: show its first sample unless the current one is listed."""
        if not self._ready:
            return
        shown = self.sample_list
        if len(shown) and self.sample not in set(shown.tolist()):
            self.sample = int(shown[0])

    @t.observe("target", "norm")
    def _o_target_norm(self, change: Any) -> None:
        # precomputed: every norm comes from the same maps, a new target may need more rows;
        # in background mode those rows are computed behind, with maps on demand meanwhile
        if self._ready and self._worker is not None and self.precomputed and self._rows_missing():
            self.precomputed = False
            self._start_cube()
        self._mark("rows" if self.precomputed else "maps")

    @t.observe("layers", "methods", "reductions")
    def _o_structure(self, change: Any) -> None:
        if not self._ready:
            return
        self._check_budget()
        with self.hold_sync():
            self.layer_layouts = self._comp.layer_layouts()
            if self.layer >= len(self.layers):
                self.layer = len(self.layers) - 1
            if self.method not in self.methods:
                self.method = self.methods[0]
            if self.reduction not in self.reductions:
                self.reduction = self.reductions[0]
            self.precomputed = self._want_precompute() and self._worker is None
            self._store, self._sent_rows = None, -1
            if not self.precomputed:
                self.cube = buffers.empty()
                self.cube_scale = buffers.empty()
                self.cube_rows = buffers.empty("int32")
                self.cube_keys = []
        if self._worker is not None:
            if self._want_precompute() and self._bg is not None and self._bg.done.is_set():
                self._start_cube()
        self._mark("cube" if self.precomputed else "maps")
