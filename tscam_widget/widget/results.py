"""What the widget does with its background jobs: :class:`JobResults` starts them in order
(predictions, then the precomputed maps, the trust scores when asked) and takes their results
into the widget's parts and traits (it is the jobs' :class:`~.jobs.JobEvents`)."""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from . import buffers
from .arguments import in_kernel
from .colormaps import cmap_table
from .flush import Flusher
from .jobs import JobRunner
from .maps import MapService
from .trust import TrustService, trust_job
from .version import ModelWatch

#: the traits whose changes :meth:`JobResults.on_change` acts on
OBSERVED = (
    "cmap",
    "sample",
    "method",
    "reduction",
    "view",
    "view_count",
    "request_id",
    "sample_filter",
    "filter_true",
    "filter_pred",
    "sample_sort",
    "layer",
    "y_pred_buffer",
    "target",
    "norm",
    "layers",
    "methods",
    "reductions",
    "randomised",
)
_REQUESTS = ("sample", "method", "reduction", "view", "view_count", "request_id")
_SAMPLE_MENU = ("sample_filter", "filter_true", "filter_pred", "sample_sort")


class JobResults:
    """The background work of the widget ``w`` (see the module docstring)."""

    def __init__(
        self,
        w: Any,
        src: Any,
        maps: MapService,
        jobs: JobRunner,
        trust: TrustService,
        flusher: Flusher,
        watch: ModelWatch,
    ) -> None:
        self.w, self.src, self.maps, self.jobs = w, src, maps, jobs
        self.trust, self.flusher, self.watch = trust, flusher, watch
        self.restart_pending = False  # the work waits until the weights rest (training)
        self.timeline: Any = None  # the TimelineService (set when the parts are assembled)
        self.last_push = 0.0

    # ---- starting ------------------------------------------------------------------------
    def start(self, loop: Any, in_background: bool, trust_sync: Any) -> None:
        """The first computation: now (no loop), on the loop's next turn (a kernel not in
        background mode), or the first sample now and the rest in the background."""
        w, flusher = self.w, self.flusher
        flusher.dirty = {"cube"} if w.precomputed else {"maps"}
        if in_background and loop is not None:
            if w.norm == "layer":  # the worker's model copy first: the range is then
                self.jobs.make_worker()  # computed behind too, not over every sample before
            self.first_picture_then_background()
        elif loop is None or not in_kernel():
            flusher.flush(raise_errors=True)
            trust_sync()  # view="trust" given
        else:
            w.status = "starting..."  # a kernel: show the widget now, compute next turn
            flusher.schedule()

    def first_picture_then_background(self) -> None:
        """The current sample's maps now (the shown method alone: the first picture sooner),
        the predictions and the rest behind, once the weights are not changing."""
        self.flusher.first()
        if self.watch.training:
            self.restart_pending = True
            return
        self.restart_pending = False
        if not self.jobs.start_predictions():  # a model that cannot be copied: now
            self.predict_now()
            self.w.precomputed = self.maps.want_precompute()
            self.flusher.mark("cube" if self.w.precomputed else "maps")
            return
        done = int(self.maps.comp.predicted.sum())
        self.w.status = self.flusher.status(f"predicting: {done} / {self.w.n_samples} samples")

    def start_cube(self) -> None:
        """Compute, behind, the maps the store lacks for the current choices."""
        maps = self.maps
        self.jobs.start_rows(maps.missing_rows(maps.wanted_classes(self.w.target)))

    def start_trust(self) -> None:
        """Compute the trust scores behind (unless off, done or running)."""
        if self.jobs.job_running("trust") or self.trust.off or self.trust.result is not None:
            return
        try:
            worker = self.maps.comp.for_worker()
        except Exception:  # noqa: BLE001 - computed on demand instead
            return
        mask, precision = self.trust.mask, self.w.precision
        self.jobs.start("trust", lambda progress: trust_job(worker, mask, precision, progress))
        self.w.trust_meta = {**self.w.trust_meta, "state": "computing"}

    def predict_now(self) -> None:
        comp = self.maps.comp
        for idx, probs in comp.predict_batches(comp.batch_size):
            comp.set_probs(idx, probs)
        self.push_predictions(final=True)

    def precompute_now(self) -> None:
        """Every prediction and the precomputed maps, now (what the background would do)."""
        w = self.w
        w.check_model()
        if not self.maps.comp.all_predicted:  # the classes the maps explain need them all
            self.jobs.cancel("predict")
            self.predict_now()
        if not w.precomputed:
            self.jobs.cancel("rows")
            w.precomputed = True
            self.flusher.mark("rows")
        w.flush()

    def prepare_page(self, targets: str) -> None:
        """Everything an offline page of the widget embeds, now: predictions, the precomputed
        maps (of every class with ``targets="all"``), the trust scores with ``trust=True``."""
        if targets not in ("auto", "all"):
            raise ValueError(f"targets: expected 'auto' or 'all', got {targets!r}")
        if self.maps.windowed:
            raise ValueError(
                f"save_html: the series alone are {self.src.display.nbytes / 1e6:.0f} MB, too "
                f"much for one page; make a widget of a subset (idxs=...) and save that"
            )
        self.precompute_now()
        self.timeline.materialize_now()
        if self.trust.mode is True:
            self.w.compute_trust()
        if targets == "all":
            comp = self.maps.comp
            k = comp.probs.shape[1]
            self.maps.fill([comp.targets(c) for c in range(k)], self.flusher.reporter())
            self.flusher.publish_store()

    def target_changed(self) -> None:
        """A new target or norm: precomputed, every norm comes from the same maps and a new
        target may need more rows (in background mode computed behind, with maps on demand
        meanwhile)."""
        w = self.w
        if self.flusher.ready and self.jobs.active and w.precomputed:
            if self.maps.rows_missing(w.target):
                w.precomputed = False
                self.start_cube()
        self.flusher.mark("rows" if w.precomputed else "maps")

    def structure_changed(self) -> None:
        """Other layers, methods or reductions offered: the controls kept within them, the
        maps and the trust scores made again."""
        w, maps, jobs = self.w, self.maps, self.jobs
        maps.check_budget()
        with w.hold_sync():
            w.layer_layouts = maps.comp.layer_layouts()
            w.layer = min(w.layer, len(w.layers) - 1)
            if w.method not in w.methods:
                w.method = w.methods[0]
            if w.reduction not in w.reductions:
                w.reduction = w.reductions[0]
            w.precomputed = maps.want_precompute() and not jobs.active
            maps.drop_store()
            empty = {} if w.precomputed else maps.empty_store_traits()
            jobs.cancel("trust")
            for k, v in {**empty, **self.trust.reset()}.items():  # scores: another table
                setattr(w, k, v)
        if jobs.active and maps.want_precompute() and jobs.job_done("predict"):
            self.start_cube()
        self.flusher.mark("cube" if w.precomputed else "maps")

    def compute_trust(self, force: bool = False) -> None:
        """The trust scores, now (unless there and not ``force``)."""
        self.trust.check_on()
        if self.trust.result is not None and not force:
            return
        self.jobs.cancel("trust")
        self.w.trust_meta = {**self.w.trust_meta, "state": "computing"}
        self.on_trust(self.trust.compute(self.maps.comp, self.on_status))

    def trust_asked(self) -> None:
        """The view needs the trust scores: behind in background mode, else now (an error is
        shown in the widget, which keeps working)."""
        if self.jobs.job_running("trust"):
            return
        if self.jobs.active:
            self.start_trust()
            return
        try:
            self.compute_trust()
        except Exception as e:  # noqa: BLE001
            w = self.w
            w.error = f"trust scores: {type(e).__name__}: {e}"
            w.trust_meta = {**w.trust_meta, "state": "failed", "error": str(e)}

    def pending(self) -> bool:
        """Work still owed: a held-back restart, precomputed maps that should follow the
        predictions, or captured timeline moments whose maps a background job will compute."""
        if self.restart_pending:
            return True
        return (
            self.jobs.job_done("predict")
            and self.maps.want_precompute()
            and not self.w.precomputed
            and self.jobs.error is None
        ) or bool(self.jobs.active and self.timeline.timeline.pending)

    # ---- control changes ---------------------------------------------------------------------
    def on_change(self, name: str, new: Any) -> None:
        """What a change of the widget's trait ``name`` (one of :data:`OBSERVED`) needs."""
        w, flusher = self.w, self.flusher
        if not flusher.ready:
            return
        if name == "cmap":
            w.cmap_table = buffers.pack(cmap_table(new), "uint8")
        if name in _REQUESTS:
            flusher.mark("maps")
        if name in _SAMPLE_MENU:  # show the list's first sample unless the current is listed
            shown = w.sample_list
            if len(shown) and w.sample not in set(shown.tolist()):
                w.sample = int(shown[0])
            flusher.mark("maps")  # grid / overlay show the listed samples
        if name == "layer" and w.norm == "none":  # the colour range is the layer's
            w.value_range = flusher.layer_range()
        if name == "y_pred_buffer" and flusher.filtered_views():  # other samples listed
            flusher.mark("maps", user=False)
        if name in ("target", "norm"):
            self.target_changed()
        if name in ("layers", "methods", "reductions"):
            self.structure_changed()
        if name in ("view", "randomised", "layers", "methods", "reductions"):
            if self.trust.wanted(w.view, w.randomised):
                flusher.mark("trust")

    # ---- JobEvents ---------------------------------------------------------------------------
    def check_model(self) -> bool:
        return self.w.check_model()

    def on_predictions(self, idx: np.ndarray, probs: np.ndarray, final: bool) -> None:
        if len(idx):
            self.maps.comp.set_probs(idx, probs)
        self.push_predictions(final)
        if final:
            if self.maps.want_precompute():
                self.start_cube()
            if self.trust.mode is True:
                self.start_trust()
            self.timeline.start_background()

    def on_rows(
        self,
        samples: np.ndarray,
        classes: np.ndarray,
        maps: np.ndarray,
        channels: np.ndarray | None = None,
    ) -> None:
        self.maps.add_rows(samples, classes, maps, channels)

    def on_rows_done(self) -> None:
        if self.maps.rows_missing(self.w.target):  # the target, layers or methods changed
            if self.maps.want_precompute():
                self.start_cube()
            return
        self.flusher.publish_store()
        self.w.precomputed = True

    def on_range(self, key: Any, target: Any, partial: np.ndarray, done: int, total: int) -> None:
        jobs = self.jobs
        if jobs.ranges_for != (key, target):
            return
        if done >= total:
            self.maps.comp.set_range(key[0], key[1], target, partial)
            jobs.range_partial = None
            self.flusher.mark("maps", user=False)  # the final range
            return
        jobs.range_partial = (partial, done, total)
        if self.w.norm == "layer":
            self.flusher.mark("maps", user=False)  # redraw with the wider range, the progress

    def on_snapshot(self, p: Any, snap: Any) -> None:
        self.timeline.add(p, snap)

    def on_status(self, text: str) -> None:
        self.w.status = text

    def on_trust(self, res: Any) -> None:
        w = self.w
        with w.hold_sync():
            for k, v in self.trust.traits(res).items():
                setattr(w, k, v)

    def on_error(self, e: BaseException) -> None:
        w = self.w
        w.error = w.status = self.jobs.error_text()
        if w.trust_meta.get("state") == "computing":
            w.trust_meta = {**w.trust_meta, "state": "failed", "error": str(e)}
        warnings.warn(f"tscam-widget: {w.error}", RuntimeWarning, stacklevel=1)

    # ---- predictions -------------------------------------------------------------------------
    def push_predictions(self, final: bool = False) -> None:
        """Send predictions to the frontend (at most every 0.3 s while they arrive)."""
        now = time.monotonic()
        if not final and now - self.last_push < 0.3:
            return
        self.last_push = now
        w, comp = self.w, self.maps.comp
        done = int(comp.predicted.sum())
        with w.hold_sync():
            for k, v in self.prediction_traits().items():
                setattr(w, k, v)
            w.targets = buffers.pack(comp.targets(w.target), "int32")
            if final:
                status = f"predicted {done} samples"
                bad = int((~comp.finite).sum())
                if bad:
                    status += f" ({bad} with NaN or inf values: no prediction)"
            else:
                status = f"predicting: {done} / {w.n_samples} samples"
            w.status = self.flusher.status(status)

    def prediction_traits(self, labels: bool = False) -> dict[str, Any]:
        """``y_pred_buffer``/``probs_buffer`` as known now (``y_true_buffer`` with ``labels``, or
        for data read on demand, whose labels fill in as it is read)."""
        comp = self.maps.comp
        out = dict(
            y_pred_buffer=buffers.pack(comp.pred_shown(), "int32"),
            probs_buffer=buffers.pack(comp.probs, "float32"),
        )
        if labels or getattr(self.src.X, "lazy", False):
            out["y_true_buffer"] = buffers.pack(self.src.y, "int32")
        return out
