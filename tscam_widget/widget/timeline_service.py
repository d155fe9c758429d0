"""The widget's training timeline (:mod:`.timeline`): :class:`TimelineService` captures a moment
when asked (``w.snapshot()``, the fastai callback after each epoch), has the captured moments
computed when nothing competes with training (a background job once the weights rest, or the
next read in a script), and publishes the snapshots to the timeline traits."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from tscam_widget.explain.explanation import map_key

from .compact import layer_ranges, normalise
from .jobs import JobRunner
from .maps import MapService
from .timeline import Snapshot, Timeline


class TimelineService:
    """The timeline of the widget ``w`` (its controls and traits), its maps' computer in
    ``maps`` and its background ``jobs``. ``model()``: the user's model now."""

    def __init__(self, w: Any, maps: MapService, jobs: JobRunner, model: Any) -> None:
        self.w, self.maps, self.jobs, self.model = w, maps, jobs, model
        self.timeline = Timeline()
        self.callback_: Any = None

    def track(self, learn: Any) -> None:
        """Record after each epoch of every later fit of the Learner ``learn``."""
        if not callable(getattr(learn, "add_cb", None)):
            raise ValueError(
                f"track=True: expected a fastai Learner (it records after each epoch of its "
                f"fits), got {type(learn).__name__}; for a plain model call w.snapshot() "
                f"after each epoch"
            )
        learn.add_cb(self.callback())

    def callback(self) -> Any:
        if self.callback_ is None:
            self.callback_ = self.timeline.callback(self.w.snapshot)
        return self.callback_

    def capture(self, label: str | None, metrics: dict[str, float] | None) -> None:
        """Keep the model's weights now, for the shown samples (the sample menu's list, the
        current sample first; the same samples as the earlier snapshots)."""
        w, tl, comp = self.w, self.timeline, self.maps.comp
        listed = None if w.sample_filter == "all" else w.sample_list
        samples = tl.default_samples(comp, listed, w.sample)
        p = tl.capture(self.model(), samples, label or f"snapshot {len(tl) + 1}", metrics)
        self.publish()
        w.status = f"recorded {p.label!r}: {len(p.samples)} samples (maps when training rests)"

    def materialize_now(self) -> None:
        """Compute the captured moments now (a read in a script, ``save_html``)."""
        if self.timeline.pending:
            self.jobs.cancel("timeline")
            self.timeline.materialize(self.maps.comp)
            self.publish()

    def start_background(self) -> None:
        """Compute the captured moments behind (one job, a snapshot per batch); stopped, like
        every job, when the weights change again, and started again when they rest."""
        tl = self.timeline
        if not tl.pending or self.jobs.job_running("timeline") or not self.jobs.active:
            return
        comp = self.maps.comp

        def job(aim: Any) -> Any:
            for p in list(tl.pending):
                snap = tl.compute(comp, p)
                yield lambda ev, p=p, snap=snap: ev.on_snapshot(p, snap)

        self.jobs.start("timeline", job)

    def add(self, p: Any, snap: Snapshot) -> None:
        self.timeline.add(p, snap)
        self.publish()

    def publish(self) -> None:
        w = self.w
        with w.hold_sync():
            for k, v in self.timeline.traits().items():
                setattr(w, k, v)
            if w.epoch >= len(self.timeline.snapshots):
                w.epoch = -1

    def check_epoch(self, e: int) -> int:
        """``e`` if a snapshot index (a captured moment asked for is computed now) or -1."""
        if len(self.timeline.snapshots) <= e < len(self.timeline):
            self.materialize_now()
        n = len(self.timeline.snapshots)
        if not -1 <= e < n:
            have = f"a snapshot index in 0..{n - 1}" if n else "no snapshot recorded yet"
            raise t.TraitError(f"epoch: expected -1 (the current weights) or {have}, got {e}")
        return int(e)

    def set(self, timeline: Timeline) -> None:
        if not isinstance(timeline, Timeline):
            raise ValueError(f"timeline: expected a Timeline, got {type(timeline).__name__}")
        self.timeline = timeline
        self.publish()

    def current_map(self) -> np.ndarray | None:
        """float32 ``[T]``: the snapshot's map drawn at ``epoch`` under ``norm`` (the layer range
        over the snapshot's samples); NaN for a sample it does not hold; None at ``epoch`` -1."""
        w = self.w
        if w.epoch < 0:
            return None
        snap = self.timeline.snapshots[w.epoch]
        comp = self.maps.comp
        key = map_key(*comp.key_of(w.method, w.reduction))
        rows = np.flatnonzero(snap.samples == w.sample)
        if not rows.size or key not in snap.keys:
            return np.full(comp.X.shape[-1], np.nan, np.float32)
        u, scale = snap.u, snap.scale
        lr = layer_ranges(scale)[None] if w.norm == "layer" else None
        maps = normalise(u, scale, w.norm, comp.scale_range, lr)
        return maps[rows[0], w.layer, snap.keys.index(key)].copy()
