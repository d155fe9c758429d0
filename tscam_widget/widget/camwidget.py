"""``CamWidget``: the synced traits (declared from :mod:`.protocol`) and the wiring of the parts
that do the work: the maps (:class:`~.maps.MapService`), the pending changes turned into traits
(:class:`~.flush.Flusher`), the background jobs (:class:`~.jobs.JobRunner`, their results in
:class:`~.results.JobResults`), the trust scores (:class:`~.trust.TrustService`), the controls'
checks (:class:`~.validation.ControlChecks`) and the weights the maps belong to
(:class:`~.follow.ModelFollower` over :class:`~.version.ModelWatch`). The maths lives in the
explainer, reached through :mod:`.compute`. The contract with the frontend: ``docs/protocol.md``.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from typing import Any

import anywidget
import numpy as np
import traitlets as t

from . import buffers, protocol
from .arguments import background_mode, check_controls
from .background import running_loop
from .compute import ALL_REDUCTIONS
from .export import export_html
from .options import NORMS
from .parts import assemble
from .results import OBSERVED
from .samples import sample_list
from .source import LabelDecoder
from .timeline import Timeline
from .validation import CHECKED

_STATIC = pathlib.Path(__file__).resolve().parent.parent / "static"
#: the synced traits (declared from widget/protocol.py)
WidgetTraits = protocol.traits_base(anywidget.AnyWidget)


class CamWidget(WidgetTraits):
    """Time series coloured by class-activation maps, for every layer of a classifier.

    ``CamWidget(learn, dls=None, *, ds_idx=1, idxs=None, ...)`` for a fastai/tsai ``Learner``,
    or ``CamWidget(model, X, y=None, *, classes=None, ...)`` with ``X`` ``[N, T]`` or
    ``[N, C, T]`` (also a memmap, read, never loaded whole, or a torch ``Dataset``, read item by
    item; ``lazy``: read a Learner's DataLoader item by item: True, False, ``"auto"`` above
    32 MB). Every control is a synced trait: setting it from Python does what the control does.

    ``precompute``: True ships the maps of every sample once (for its predicted and true
    class), False computes them on demand (LRU cache of ``cache_mb``), ``"auto"`` precomputes
    up to 64 MB when no method runs forwards of its own. ``precision``: ``"uint8"`` (default),
    ``"float16"`` or ``"float32"`` maps (:mod:`.compact`). ``mask``: a ground truth ``[N, T]``
    (band under the series, localisation scores). ``trust``: the trust view's scores
    (:mod:`.trust`): ``"auto"`` when the view, the randomised toggle asks, True also right after
    the predictions and before ``save_html``, False never. ``memory_mb``: the budget of the
    widget's kernel memory (above it maps are computed on demand, and it says so).
    ``background``: in a running event loop (a kernel, marimo) the first picture comes at once
    and the rest behind (``await w.ready()`` waits for it); elsewhere control changes are
    computed on :meth:`flush` or when :attr:`current_map` is read.

    The maps, predictions and trust scores always belong to the model's current weights: train
    it, load a checkpoint or move it, and the widget drops what it had and computes again
    (:meth:`check_model`). See ``docs/protocol.md`` for the traits.
    """

    _esm = _STATIC / "widget.js"
    if (_STATIC / "widget.css").exists():
        _css = _STATIC / "widget.css"

    # the traits are declared from widget/protocol.py (`mark`, not `style`: see there)

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
        track: bool = False,
        **controls: Any,
    ) -> None:
        controls = check_controls(controls)
        opts = {k: v for k, v in locals().items() if k not in ("self", "controls", "__class__")}
        loop = running_loop()
        in_background = background_mode(background, loop)
        p, init = assemble(self, in_background=in_background, **opts)
        self._src, self._maps, self._watch, self._jobs = p.src, p.maps, p.watch, p.jobs
        self._trust, self._flusher, self._results = p.trust, p.flusher, p.results
        self._follow, self._checks, self._predictions = p.follow, p.checks, p.predictions
        self._timeline = p.timeline
        super().__init__(**{**init, **controls})
        self.targets = buffers.pack(p.maps.comp.targets(self.target), "int32")
        self._flusher.ready = True
        self._results.start(loop, in_background, self._trust_sync)
        if loop is not None:
            self._follow.watch_on(loop)

    @property
    def current_map(self) -> np.ndarray:
        """float32 ``[T]``: the map drawn now for (``sample``, ``layer``, ``method``,
        ``reduction``, ``target``, ``norm``); flushes pending work first. All NaN when the
        method is undefined for the layer or the sample has no map (see ``error``)."""
        self.flush()
        if self.randomised:
            self.compute_trust()
        at_epoch = self._timeline.current_map()
        return self._flusher.current_map(self._trust) if at_epoch is None else at_epoch

    def cube_array(self, target: str | int | None = None, norm: str | None = None) -> np.ndarray:
        """float32 ``[N, L, M, T]`` (M indexes ``cube_keys``): the precomputed maps under
        ``target`` and ``norm`` (default: the current ones) as the frontend draws them; NaN
        where a sample has no map. Computes the maps of a target not in the cube yet."""
        if not self.precomputed and not self._maps.want_precompute():
            raise RuntimeError("cube_array: the widget runs in kernel mode (precompute=False)")
        target = self.target if target is None else self._checks.check("target", target)
        norm = self.norm if norm is None else self._checks.one_of("norm", norm, NORMS)
        self._results.precompute_now()
        return self._maps.cube_of(target, norm, self._flusher.reporter())

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
    def y_pred(self) -> np.ndarray:
        """int32 ``[N]``: predicted classes (-1: not yet, -2: never, NaN/inf in the series). In a
        kernel they fill in behind the first picture: ``await w.ready()`` first (or a warning)."""
        return self._predictions.y_pred()

    @property
    def probs(self) -> np.ndarray:
        """float32 ``[N, K]``: softmax per sample (NaN rows: not yet; see :attr:`y_pred`)."""
        return self._predictions.probs()

    @property
    def y_true(self) -> np.ndarray:
        """int32 ``[N]``: each sample's label (-1: unknown)."""
        return self._predictions.y_true()

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
        """``(model, X float32 [N, C, T], y int32 [N] (-1 unknown), classes)`` after ``idxs``."""
        return self._watch.model, self._src.X, self._src.y, list(self.classes)

    @property
    def model_version(self) -> int:
        """Changes of the user's weights seen so far (0: as made; :meth:`check_model`)."""
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
        return self._maps.stats()

    @property
    def style(self) -> str:
        """Alias of :attr:`mark`: ``"line"`` or ``"scatter"`` (the ``timeseries`` name)."""
        return self.mark

    @style.setter
    def style(self, value: str) -> None:
        self.mark = value

    @property
    def timeline(self) -> Timeline:
        """The :class:`~.timeline.Timeline` the epoch slider scrubs (settable)."""
        if not self._jobs.active:
            self._timeline.materialize_now()
        return self._timeline.timeline

    @timeline.setter
    def timeline(self, value: Timeline) -> None:
        self._timeline.set(value)

    @property
    def callback(self) -> Any:
        """A fastai ``Callback`` recording a snapshot after each epoch (``"epoch k"``, with the
        epoch's ``learn.recorder`` values): ``learn.fit(5, cbs=w.callback)``."""
        return self._timeline.callback()

    def snapshot(self, label: str | None = None, metrics: dict[str, float] | None = None) -> None:
        """Record the weights now for the epoch slider: the shown samples' maps and predictions,
        computed when training rests (behind in a kernel, at the next read in a script)."""
        self._timeline.capture(label, metrics)

    def check_model(self) -> bool:
        """Whether the model changed (trained, loaded, moved): then all of the old weights' is
        dropped and made again. Runs at each request and every second on a running loop."""
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
        """``await w.ready()``: until the background work (of the current weights) is in the
        widget; raises its error if it failed."""
        self.check_model()
        await self._jobs.wait(self._results.pending, timeout)

    def close(self) -> None:
        """Close the widget and stop its background work."""
        jobs = self.__dict__.get("_jobs")  # a failed __init__ has none
        if jobs is not None:
            jobs.cancel_all()
        super().close()

    @property
    def ground_truth(self) -> np.ndarray | None:
        """bool ``[N, T]``: the mask given as ``mask=`` (the widget's samples), or None."""
        return None if self._trust.mask is None else self._trust.mask.copy()

    @property
    def trust_report(self) -> Any:
        """The :class:`~tscam_widget.metrics.TrustReport` of the samples (computed if need be)."""
        self.compute_trust()
        assert self._trust.result is not None
        return self._trust.result.report

    def compute_trust(self, force: bool = False) -> None:
        """Compute the trust scores now (else the trust view or randomised toggle asks)."""
        self.check_model()
        self._results.compute_trust(force)

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
        """On flush: the trust scores when the view needs them (behind in a kernel)."""
        if self._trust.wanted(self.view, self.randomised):
            self._results.trust_asked()

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
        self._results.prepare_page(targets)
        return export_html(self, path, title=title)

    def flush(self) -> None:
        """Compute what pending control changes need, now (normally the event loop does);
        first looks whether the user's model changed (:meth:`check_model`)."""
        self.check_model()
        self._flusher.flush()
        self._trust_sync()
        if not self._jobs.active:
            self._timeline.materialize_now()

    @t.validate(*CHECKED)
    def _validate(self, proposal: Any) -> Any:
        return self._checks.check(proposal["trait"].name, proposal["value"])

    @t.observe(*OBSERVED)
    def _observe(self, change: Any) -> None:
        self._results.on_change(change["name"], change["new"])
