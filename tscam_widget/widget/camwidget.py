"""``CamWidget``: the synced traits (declared from :mod:`.protocol`) and the wiring of the parts
that do the work: the maps (:class:`~.maps.MapService`), the pending changes turned into traits
(:class:`~.flush.Flusher`), the background jobs (:class:`~.jobs.JobRunner`, their results in
:class:`~.results.JobResults`), the trust scores (:class:`~.trust.TrustService`), the controls'
checks (:class:`~.validation.ControlChecks`) and the weights the maps belong to
(:class:`~.follow.ModelFollower` over :class:`~.version.ModelWatch`). The maths lives in the
explainer, reached through :mod:`.compute`. The contract with the frontend: ``docs/protocol.md``.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
from collections.abc import Sequence
from typing import Any

import anywidget
import numpy as np
import traitlets as t

from . import buffers, protocol
from .arguments import background_mode, check_arguments, check_controls, class_names, in_kernel
from .background import running_loop
from .colormaps import cmap_names, cmap_table
from .compact import check_precision
from .compute import ALL_REDUCTIONS, MapComputer
from .export import export_html
from .flush import Flusher
from .follow import ModelFollower
from .jobs import JobRunner
from .maps import MapService
from .options import NORMS
from .results import JobResults
from .samples import sample_list
from .source import LabelDecoder, resolve_source
from .trust import TrustService, check_mask
from .validation import CHECKED, ControlChecks
from .version import ModelWatch

_STATIC = pathlib.Path(__file__).resolve().parent.parent / "static"
#: above this many bytes of series, only the visible samples' series travel (``series_samples``)
SERIES_LIMIT_BYTES = 32 * 10**6
#: the synced traits (declared from widget/protocol.py)
WidgetTraits = protocol.traits_base(anywidget.AnyWidget)


class CamWidget(WidgetTraits):
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

    # the traits (controls, information, trust view) are declared from widget/protocol.py;
    # `mark` is not called `style`: ipywidgets views read a `style` trait as a Style widget
    # reference (`style` stays available as a Python alias, property below)

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
        controls = check_controls(controls)
        check_arguments(precompute, batch_size, scale_range, memory_mb, background)
        precision = check_precision(precision)
        loop = running_loop()
        in_background = background_mode(background, loop)
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
        self._trust = TrustService(trust, mask, precision)
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
        names = class_names(src, comp.probs.shape[1], labels)
        # a large data set, or one read on demand: only the visible samples' series travel
        windowed = src.display.nbytes > SERIES_LIMIT_BYTES or bool(getattr(src.X, "lazy", False))
        self._src, self._maps = (
            src,
            MapService(
                comp,
                src.y,
                precompute=precompute,
                memory_bytes_max=int(memory_mb * 1e6),
                windowed=windowed,
                precision=precision,
            ),
        )
        learner = learn_or_model if hasattr(learn_or_model, "dls") else None
        self._watch = ModelWatch(lambda: learner.model if learner is not None else src.model)
        self._jobs = JobRunner(comp, lambda: self._watch.model, self)
        self._flusher = Flusher(self, src, self._maps, self._jobs, progress)
        self._results = JobResults(
            self, src, self._maps, self._jobs, self._trust, self._flusher, self._watch
        )
        self._jobs.events(self._results)
        self._follow = ModelFollower(
            self, self._watch, self._maps, self._jobs, self._trust, self._flusher, self._results
        )
        self._checks = ControlChecks(self, lambda: self._maps.comp, src.y, self._is_ready)
        init = self._initial_traits(names, precision, target, cmap, norm, view, in_background)
        super().__init__(**{**init, **self._trust.initial_traits(), **controls})
        self.targets = buffers.pack(comp.targets(self.target), "int32")
        self._flusher.ready = True
        self._start(loop, in_background)

    def _is_ready(self) -> bool:
        return self._flusher.ready

    def _initial_traits(
        self,
        names: list[str],
        precision: str,
        target: Any,
        cmap: Any,
        norm: str,
        view: str,
        in_background: bool,
    ) -> dict[str, Any]:
        """The traits the widget starts with (the user's initial controls go over them)."""
        src, comp = self._src, self._maps.comp
        first = int(np.flatnonzero(comp.finite)[0])
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
            **self._flusher.series_traits([first] if self._maps.windowed else None),
            **self._results.prediction_traits(labels=True),
            layer=len(comp.layers) - 1,
            sample=first,
            method="gradcam" if "gradcam" in comp.methods else comp.methods[0],
            reduction=comp.reductions[0],
            target=target,
            cmap=cmap,
            norm=norm,
            view=view,
            precomputed=self._maps.want_precompute() and not in_background,
        )

    def _start(self, loop: asyncio.AbstractEventLoop | None, in_background: bool) -> None:
        """The first computation: now (no loop), on the loop's next turn (a kernel not in
        background mode), or the first sample now and the rest in the background."""
        self._flusher.dirty = {"cube"} if self.precomputed else {"maps"}
        if in_background and loop is not None:
            if self.norm == "layer":  # the worker's model copy first: the range is then
                self._jobs.make_worker()  # computed behind too, not over every sample before
            self._results.first_picture_then_background()
        elif loop is None or not in_kernel():
            self._flusher.flush(raise_errors=True)
            self._trust_sync()  # view="trust" given
        else:
            self.status = "starting..."  # a kernel: show the widget now, compute next turn
            self._flusher.schedule()
        if loop is not None:
            self._follow.watch_on(loop)

    # ---- public views ----------------------------------------------------------------------
    @property
    def current_map(self) -> np.ndarray:
        """float32 ``[T]``: the map drawn now for (``sample``, ``layer``, ``method``,
        ``reduction``, ``target``, ``norm``); flushes pending work first. All NaN when the
        method is undefined for the layer or the sample has no map (see ``error``)."""
        self.flush()
        comp = self._maps.comp
        if self.randomised:
            self.compute_trust()
            args = (self.method, self.reduction, self.norm, self.sample, self.layer)
            return self._trust.current_map(comp, *args)
        if self.precomputed:
            key = self._flusher.key()
            return self._maps.store_map(self.target, self.norm, self.sample, self.layer, key)
        try:
            maps, _ = self._flusher.maps_now([self.sample])
        except Exception:  # noqa: BLE001 - reported in `error` by the flush
            return np.full(comp.X.shape[-1], np.nan, np.float32)
        return self._maps.drawn(maps[0, self.layer])

    def cube_array(self, target: str | int | None = None, norm: str | None = None) -> np.ndarray:
        """float32 ``[N, L, M, T]`` (M indexes ``cube_keys``): the precomputed maps under
        ``target`` and ``norm`` (default: the current ones) as the frontend draws them; NaN
        where a sample has no map. Computes the maps of a target not in the cube yet."""
        if not self.precomputed and not self._maps.want_precompute():
            raise RuntimeError("cube_array: the widget runs in kernel mode (precompute=False)")
        target = self.target if target is None else self._checks.check("target", target)
        norm = self.norm if norm is None else self._checks.one_of("norm", norm, NORMS)
        self._precompute_now()
        classes = self._maps.comp.targets(target)
        self._maps.fill([classes], self._flusher.reporter())
        assert self._maps.store is not None
        return self._maps.store.maps(classes, norm, self._maps.comp.scale_range)

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
        c, w = self._maps.comp, self
        args = (w.sample_filter, w.filter_true, w.filter_pred, w.sample_sort)
        return sample_list(self._src.y, c.pred, c.probs, *args)

    @property
    def predictions_complete(self) -> bool:
        """Whether every sample's prediction is in (filters and sorts are final)."""
        return self._maps.comp.all_predicted

    @property
    def layouts(self) -> dict[str, str]:
        """Per layer, the layout its output is read with (``"NCT"``, ``"[0] NTC"`` ...)."""
        return dict(zip(self.layers, self.layer_layouts))

    @property
    def explainer(self) -> Any:
        """The :class:`~tscam_widget.explain.Explainer` the widget asks for maps."""
        return self._maps.comp.explainer

    @property
    def data(self) -> tuple[Any, np.ndarray, np.ndarray, list[str]]:
        """``(model, X float32 [N, C, T], y int32 [N] (-1 unknown), classes)`` as the widget
        sees them (after ``idxs`` selection)."""
        return self._watch.model, self._src.X, self._src.y, list(self.classes)

    @property
    def model_version(self) -> int:
        """How many changes of the user's weights the widget has seen (0: as when it was made);
        what it shows is always the current weights' (:meth:`check_model`)."""
        return self._watch.version

    @property
    def memory_bytes(self) -> int:
        """Bytes the widget holds in the kernel (maps cache, precomputed maps, predictions)."""
        return self._maps.memory_bytes

    @property
    def stats(self) -> dict[str, int]:
        """Counters: ``computations`` (explainer calls for maps), ``flushes``, ``map_updates``
        (kernel-mode ``maps`` sent), ``cube_builds``, ``cache_hits``, ``cache_misses``,
        ``cache_evictions``, ``cache_entries``, ``cache_bytes``."""
        comp, c = self._maps.comp, self._maps.comp.cache
        return dict(
            computations=comp.n_computations,
            **self._maps.counts,
            cache_hits=c.hits,
            cache_misses=c.misses,
            cache_evictions=c.evictions,
            cache_entries=len(c),
            cache_bytes=c.nbytes,
        )

    @property
    def style(self) -> str:
        """Alias of :attr:`mark`: ``"line"`` or ``"scatter"`` (the ``timeseries`` name)."""
        return self.mark

    @style.setter
    def style(self, value: str) -> None:
        self.mark = value

    # ---- the model and the background work ------------------------------------------------
    def check_model(self) -> bool:
        """Whether the user's model changed (trained, loaded, moved) since the maps were made;
        then everything of the old weights is dropped and made again from the current sample
        outward. Runs at each request and, on a running event loop, every second."""
        return self._follow.check()

    @property
    def background_running(self) -> bool:
        """True while predictions, precomputed maps, ranges or trust scores are computed."""
        return self._jobs.running

    @property
    def background_error(self) -> BaseException | None:
        return self._jobs.error

    def error_background(self) -> str:
        return self._jobs.error_text()

    async def ready(self, timeout: float = 600.0) -> None:
        """Wait (``await w.ready()`` in a notebook) until the background work is done and its
        results are in the widget (those of the current weights: a change since is taken up
        first); raises its error if it failed."""
        self.check_model()
        await self._jobs.wait(self._results.pending, timeout)

    def close(self) -> None:
        """Close the widget and stop its background work."""
        jobs = self.__dict__.get("_jobs")  # a failed __init__ has none
        if jobs is not None:
            jobs.cancel_all()
        super().close()

    # ---- trust -----------------------------------------------------------------------------
    @property
    def ground_truth(self) -> np.ndarray | None:
        """bool ``[N, T]``: the mask given as ``mask=`` (the widget's samples), or None."""
        return None if self._trust.mask is None else self._trust.mask.copy()

    @property
    def trust_report(self) -> Any:
        """The :class:`~tscam_widget.metrics.TrustReport` of the widget's samples (computed now
        when it is not there yet)."""
        self.compute_trust()
        assert self._trust.result is not None
        return self._trust.result.report

    def compute_trust(self, force: bool = False) -> None:
        """Compute the trust scores now (normally the first use of the trust view or the
        randomised toggle does, in the background in a kernel)."""
        self._trust.check_on()
        self.check_model()
        if self._trust.result is not None and not force:
            return
        self._jobs.cancel("trust")
        self.trust_meta = {**self.trust_meta, "state": "computing"}
        self._results.on_trust(self._trust.compute(self._maps.comp, self._results.on_status))

    def cell_of(self, layer: int, method: str) -> tuple[int, int]:
        """(row, column) of the trust table for a layer index and a method name."""
        return self._trust.cell_of(self.trust_meta, layer, method)

    def select_cell(self, row: int, col: int) -> None:
        """What a click on a cell of the trust table does: select that layer and method."""
        method, _, red = (self.trust_meta.get("keys") or [])[col].partition("/")
        with self.hold_sync():
            self.layer, self.method = int(row), method
            if red:
                self.reduction = red

    def _trust_sync(self) -> None:
        """On flush: compute the trust scores when the view needs them and no worker does."""
        if not self._trust.wanted(self.view, self.randomised) or self._jobs.job_running("trust"):
            return
        if self._jobs.active:  # background mode (a kernel)
            return self._results.start_trust()
        try:
            self.compute_trust()
        except Exception as e:  # noqa: BLE001 - shown in the widget, which keeps working
            self.error = f"trust scores: {type(e).__name__}: {e}"
            self.trust_meta = {**self.trust_meta, "state": "failed", "error": str(e)}

    # ---- export and flushing ---------------------------------------------------------------
    def save_html(
        self, path: str | os.PathLike, title: str = "tscam-widget", targets: str = "auto"
    ) -> pathlib.Path:
        """Write this widget as one self-contained HTML page that works offline from
        ``file://``; the precomputed maps are embedded (computed now if the widget runs in
        kernel mode), so every control works without a kernel: sliders, menus, every norm,
        views, play, and the target menu's "predicted" and "true" entries. ``targets="all"``
        also embeds the maps explained for every class (each class entry works offline; about
        K - 1 times more map data for K classes). The trust scores are embedded when
        ``trust=True`` or when they were computed already. Returns the path."""
        if targets not in ("auto", "all"):
            raise ValueError(f"targets: expected 'auto' or 'all', got {targets!r}")
        if self._maps.windowed:
            raise ValueError(
                f"save_html: the series alone are {self._src.display.nbytes / 1e6:.0f} MB, too "
                f"much for one page; make a widget of a subset (idxs=...) and save that"
            )
        self._precompute_now()
        if self._trust.mode is True:
            self.compute_trust()
        if targets == "all":
            comp = self._maps.comp
            k = comp.probs.shape[1]
            self._maps.fill([comp.targets(c) for c in range(k)], self._flusher.reporter())
            self._flusher.publish_store()
        return export_html(self, path, title=title)

    def _precompute_now(self) -> None:
        """Every prediction and the precomputed maps, now (what the background would do)."""
        self.check_model()
        if not self._maps.comp.all_predicted:  # the classes the maps explain need them all
            self._jobs.cancel("predict")
            self._results.predict_now()
        if not self.precomputed:
            self._jobs.cancel("rows")
            self.precomputed = True
            self._flusher.mark("rows")
        self.flush()

    def flush(self) -> None:
        """Compute what pending control changes need, now (normally the event loop does);
        first looks whether the user's model changed (:meth:`check_model`)."""
        self.check_model()
        self._flusher.flush()
        self._trust_sync()

    # ---- observers -------------------------------------------------------------------------
    @t.validate(*CHECKED)
    def _validate(self, proposal: Any) -> Any:
        return self._checks.check(proposal["trait"].name, proposal["value"])

    @t.observe("cmap")
    def _o_cmap(self, change: Any) -> None:
        if self._flusher.ready:
            self.cmap_table = buffers.pack(cmap_table(change["new"]), "uint8")

    @t.observe("sample", "method", "reduction", "view", "view_count", "request_id")
    def _o_request(self, change: Any) -> None:
        self._flusher.mark("maps")

    @t.observe("sample_filter", "filter_true", "filter_pred", "sample_sort")
    def _o_sample_filter(self, change: Any) -> None:
        """A new filter: show its first sample unless the current one is listed."""
        shown = self.sample_list if self._flusher.ready else []
        if len(shown) and self.sample not in set(shown.tolist()):
            self.sample = int(shown[0])

    @t.observe("target", "norm")
    def _o_target_norm(self, change: Any) -> None:
        # precomputed: every norm comes from the same maps, a new target may need more rows;
        # in background mode those rows are computed behind, with maps on demand meanwhile
        if self._flusher.ready and self._jobs.active and self.precomputed:
            if self._maps.rows_missing(self.target):
                self.precomputed = False
                self._results.start_cube()
        self._flusher.mark("rows" if self.precomputed else "maps")

    @t.observe("layers", "methods", "reductions")
    def _o_structure(self, change: Any) -> None:
        if not self._flusher.ready:
            return
        maps, jobs = self._maps, self._jobs
        maps.check_budget()
        with self.hold_sync():
            self.layer_layouts = maps.comp.layer_layouts()
            self.layer = min(self.layer, len(self.layers) - 1)
            if self.method not in self.methods:
                self.method = self.methods[0]
            if self.reduction not in self.reductions:
                self.reduction = self.reductions[0]
            self.precomputed = maps.want_precompute() and not jobs.active
            maps.drop_store()
            empty = {} if self.precomputed else maps.empty_store_traits()
            jobs.cancel("trust")
            for k, v in {**empty, **self._trust.reset()}.items():  # scores: another table
                setattr(self, k, v)
        if jobs.active and maps.want_precompute() and jobs.job_done("predict"):
            self._results.start_cube()
        self._flusher.mark("cube" if self.precomputed else "maps")
        if self._trust.wanted(self.view, self.randomised):
            self._flusher.mark("trust")

    @t.observe("view", "randomised")
    def _o_trust_view(self, change: Any) -> None:
        if self._flusher.ready and self._trust.wanted(self.view, self.randomised):
            self._flusher.mark("trust")
