"""Pending control changes -> the traits the frontend draws from. :class:`Flusher` collects what
changed (``mark``), coalesces it into one computation per turn of the event loop (or computes on
``flush()`` without one), and sends the precomputed store (``cube``...) or the visible samples'
maps (``maps``...), and, for a large data set, the visible samples' series."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import numpy as np

from tscam_widget.explain.explanation import map_key

from . import buffers
from .background import running_loop
from .colormaps import cmap_names, cmap_table
from .compact import scale_extent
from .jobs import JobRunner
from .maps import MapService, progress_reporter
from .samples import is_filtered, sample_list, visible_samples


class Flusher:
    """Computes what the widget ``w``'s controls need, through ``maps``; ``jobs``: paused while a
    user's request is served, and the ``norm="layer"`` range computed behind; ``src``: the
    widget's data (series); ``progress``: report precomputation progress on stderr in a script.
    """

    def __init__(self, w: Any, src: Any, maps: MapService, jobs: JobRunner, progress: bool) -> None:
        self.w, self.src, self.maps, self.jobs, self.progress = w, src, maps, jobs, progress
        self.ready = False
        self.dirty: set[str] = set()
        self.user_dirty = self.flushing = self.only_first = False
        self.scheduled: asyncio.AbstractEventLoop | None = None
        self.sample_error = ""
        self.note = ""  # a note kept at the head of the status line (the model changed)
        self.series_sent: list[int] | None = None

    # ---- scheduling ----------------------------------------------------------------------
    def mark(self, what: str, user: bool = True) -> None:
        """Note pending work and schedule one flush on the running event loop (if any);
        ``user``: asked for by the user (served before the background work)."""
        if not self.ready:
            return
        self.dirty.add(what)
        self.user_dirty = self.user_dirty or user
        self.schedule()

    def schedule(self) -> None:
        loop = running_loop()
        if loop is None or self.scheduled is loop:
            return  # no loop: flush() / current_map computes
        self.scheduled = loop
        loop.call_soon(self.w.flush)

    def first(self) -> None:
        """The current sample's maps alone (the shown method only): the first picture."""
        self.only_first = True
        try:
            self.flush(raise_errors=True)
        finally:
            self.only_first = False

    def initial_traits(
        self, names: list[str], target: Any, cmap: Any, norm: str, view: str, precomputed: bool
    ) -> dict[str, Any]:
        """The traits the widget starts with (the user's initial controls go over them)."""
        src, comp = self.src, self.maps.comp
        first = int(np.flatnonzero(comp.finite)[0])
        return dict(
            layers=comp.layers,
            layer_layouts=comp.layer_layouts(),
            methods=comp.methods,
            method_labels=comp.method_labels(),
            method_costs=comp.method_costs(),
            reductions=comp.reductions,
            reduction_methods=comp.reduction_methods,
            target_methods=comp.target_methods,
            precision=self.maps.precision,
            classes=names,
            cmaps=cmap_names(),
            cmap_table=buffers.pack(cmap_table(cmap), "uint8"),
            n_samples=int(src.X.shape[0]),
            sample_ids=buffers.pack(src.sample_ids, "int32"),
            **self.series_traits([first] if self.maps.windowed else None),
            layer=len(comp.layers) - 1,
            sample=first,
            method="gradcam" if "gradcam" in comp.methods else comp.methods[0],
            reduction=comp.reductions[0],
            target=target,
            cmap=cmap,
            norm=norm,
            view=view,
            precomputed=precomputed,
        )

    def current_map(self, trust: Any) -> np.ndarray:
        """float32 ``[T]``: the map drawn now (``trust``: the randomised model's when the
        toggle is on); NaN when there is none."""
        w, comp = self.w, self.maps.comp
        if w.randomised:
            return trust.current_map(comp, w.method, w.reduction, w.norm, w.sample, w.layer)
        if w.precomputed:
            return self.maps.store_map(w.target, w.norm, w.sample, w.layer, self.key())
        try:
            maps, _ = self.maps_now([w.sample])
        except Exception:  # noqa: BLE001 - reported in `error` by the flush
            return np.full(comp.X.shape[-1], np.nan, np.float32)
        return self.maps.drawn(maps[0, w.layer])

    # ---- computing -----------------------------------------------------------------------
    def flush(self, raise_errors: bool = False) -> None:
        """Compute what the pending changes need, now; errors go to ``w.error`` (or raise)."""
        self.scheduled = None
        if not self.dirty or self.flushing:
            return
        dirty, self.dirty = self.dirty, set()
        self.flushing = True
        self.maps.counts["flushes"] += 1
        user, self.user_dirty = self.user_dirty, False
        w = self.w
        try:
            # a user's request: every worker waits while it is served (not a redraw they asked)
            with self.jobs.user_first() if user else contextlib.nullcontext():
                if self.maps.windowed:
                    self.send_series()
                if w.precomputed:
                    if "cube" in dirty or self.maps.store is None:
                        self.maps.drop_store()
                    self.maps.fill(self.maps.wanted_classes(w.target), self.reporter())
                    self.publish_store()
                    self.check_sample()
                else:
                    self.send_maps()
            w.error = self.sample_error or self.jobs.error_text()
        except Exception as e:
            if raise_errors:
                raise
            w.error = f"{type(e).__name__}: {e}"
        finally:
            self.flushing = False

    def reporter(self) -> Any:
        """``report(done, total)`` of a precomputation (status line; stderr in a script)."""
        return progress_reporter(self.set_status, self.progress and running_loop() is None)

    def set_status(self, text: str) -> None:
        self.w.status = text

    def status(self, text: str) -> str:
        """``text`` with the widget's notes (model changed, memory budget) around it."""
        return " · ".join(s for s in (self.note, text, self.maps.budget_note) if s)

    def publish_store(self) -> None:
        w = self.w
        with w.hold_sync():
            for k, v in self.maps.store_traits(w.target, w.norm, w.layer, self.key()).items():
                setattr(w, k, v)
            w.status = self.status(w.status)

    def key(self) -> str:
        """The current map kind as in ``cube_keys``."""
        return map_key(*self.maps.comp.key_of(self.w.method, self.w.reduction))

    def visible_samples(self) -> list[int]:
        """The samples the view shows: grid / overlay follow the sample menu's list as the
        frontend makes it (from the predictions sent to it)."""
        w = self.w
        menu = (w.sample_filter, w.filter_true, w.filter_pred, w.sample_sort)
        listed = None
        if self.filtered_views():
            y, pred, probs = (
                buffers.unpack(w.y_true_buffer),
                buffers.unpack(w.y_pred_buffer),
                buffers.unpack(w.probs_buffer),
            )
            listed = sample_list(y, pred, probs.reshape(len(pred), -1), *menu)
        return visible_samples(w.view, w.sample, w.view_count, w.n_samples, listed)

    def filtered_views(self) -> bool:
        """Grid / overlay showing the sample menu's filtered or sorted list."""
        w = self.w
        menu = (w.sample_filter, w.filter_true, w.filter_pred, w.sample_sort)
        return w.view != "single" and is_filtered(*menu)

    def layer_range(self) -> list[float]:
        """norm "none": ``[lo, hi]`` of the current layer's maps of the current method
        (precomputed: every sample's for the current target; kernel mode: the samples sent)."""
        w, maps = self.w, self.maps
        if w.precomputed and maps.store is not None:
            return maps.store_range(w.target, w.layer, w.method, w.reduction)
        scale = buffers.unpack(w.maps_scale)
        return scale_extent(scale[:, w.layer]) if scale.ndim == 3 else [0.0, 1.0]

    def series_traits(self, samples: list[int] | None) -> dict[str, Any]:
        """``series``/``input_series``/``series_samples``: every sample's series, or (a large
        data set) only those of ``samples``."""
        src = self.src
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

    def send_series(self) -> None:
        """A large data set: send the series of the visible samples (when they changed)."""
        samples = self.visible_samples()
        if samples != self.series_sent:
            self.series_sent = samples
            with self.w.hold_sync():
                for k, v in self.series_traits(samples).items():
                    setattr(self.w, k, v)

    def check_sample(self) -> None:
        s = self.w.sample
        self.sample_error = ""
        if not self.maps.comp.finite[s]:
            self.sample_error = (
                f"ValueError: sample {s} (id {int(self.src.sample_ids[s])}): its series "
                "contains NaN or inf values, so it has no map"
            )

    def maps_now(self, samples: list[int], only: bool = False) -> tuple[np.ndarray, str]:
        """``(maps [S, L, T], note)`` of ``samples`` for the current controls; with
        ``norm="layer"`` in background mode, while the dataset-wide range is computed behind,
        scaled by the range seen so far (the note says so)."""
        w, comp, jobs = self.w, self.maps.comp, self.jobs
        key = comp.key_of(w.method, w.reduction)
        partial = None
        if w.norm == "layer" and jobs.active and not comp.has_range(*key, w.target):
            rp = jobs.range_partial if jobs.ranges_for == (key, w.target) else None
            partial = rp if rp is not None else (None, 0, int(comp.finite.sum()))
        maps, note = self.maps.maps_now(
            samples, w.method, w.reduction, w.target, w.norm, only, partial
        )
        if partial is not None:  # after this answer: the range's work does not delay it
            jobs.start_ranges(key, w.target)
        return maps, note

    def send_maps(self) -> None:
        w = self.w
        samples = self.visible_samples()
        self.sample_error = ""
        # while background work runs, the asked-for method alone: the answer comes sooner
        maps, range_note = self.maps_now(samples, self.jobs.running or self.only_first)
        chans = self.maps.comp.channel_maps(samples, w.method, w.reduction, w.target)
        meta = {
            "request_id": w.request_id,
            "samples": samples,
            "method": w.method,
            "reduction": w.reduction,
            "target": w.target,
            "norm": w.norm,
        }
        with w.hold_sync():
            for k, v in self.maps.maps_traits(maps, meta, w.norm, w.layer, chans).items():
                setattr(w, k, v)
            status = f"{w.method_labels.get(w.method, w.method)}: samples {samples}"
            w.status = self.status(" · ".join(s for s in (status, range_note) if s))
