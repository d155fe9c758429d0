"""The widget follows the user's model: :class:`ModelFollower` looks at the model's fingerprint
(:class:`~.version.ModelWatch`) at each request and, on a running event loop, every
:data:`WATCH_S`; when the weights changed it drops every map, prediction and trust score of the
old ones and has them made again from the current sample outward."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from .flush import Flusher
from .jobs import JobRunner
from .maps import MapService
from .results import JobResults
from .trust import TrustService
from .version import ModelWatch

#: how often a running event loop looks at the user's model (seconds)
WATCH_S = 1.0
MODEL_CHANGED = "model changed: maps from the new weights"


class ModelFollower:
    """Resets the widget ``w``'s parts when its model's weights change."""

    def __init__(
        self,
        w: Any,
        watch: ModelWatch,
        maps: MapService,
        jobs: JobRunner,
        trust: TrustService,
        flusher: Flusher,
        results: JobResults,
    ) -> None:
        self.w, self.watch, self.maps, self.jobs = w, watch, maps, jobs
        self.trust, self.flusher, self.results = trust, flusher, results

    def check(self) -> bool:
        """Whether the model changed since the maps were made; then every map, prediction and
        trust score of the old weights is dropped and the maps are made again."""
        if not self.flusher.ready or not self.watch.check():
            return False
        w, comp = self.w, self.maps.comp
        background = self.jobs.active or self.jobs.worker_made
        self.jobs.cancel_all()
        comp.new_weights(self.watch.model, predict=not background)
        self.watch.accept()  # forwards of our own (restored state) are not a change
        self.jobs.reset(comp)
        self.maps.drop_store()
        self.flusher.note = " · ".join(s for s in (MODEL_CHANGED, comp.gradient_note) if s)
        with w.hold_sync():
            for k, v in {**self.trust.reset(), **self.results.prediction_traits()}.items():
                setattr(w, k, v)
            w.layer_layouts = comp.layer_layouts()
            if background:
                w.precomputed = False
                for k, v in self.maps.empty_store_traits().items():
                    setattr(w, k, v)
            w.status = self.flusher.note
        if background:
            self.flusher.dirty.add("maps")
            self.results.first_picture_then_background()
        else:
            self.flusher.dirty.add("cube" if w.precomputed else "maps")
        return True

    def tick(self) -> None:
        """The periodic look at the model (and a restart held back while it was training)."""
        if self.check():
            return
        if self.watch.training:
            return
        if self.results.restart_pending:
            self.results.first_picture_then_background()
        elif not self.jobs.job_running("predict"):
            self.results.timeline.start_background()  # moments captured since

    def watch_on(self, loop: asyncio.AbstractEventLoop) -> None:
        """:meth:`tick` every :data:`WATCH_S` on ``loop`` while the widget lives and is open."""
        ref = weakref.ref(self)  # the loop never keeps the widget alive

        def tick() -> None:
            me = ref()
            if me is None or me.w.comm is None:  # collected or closed: stop watching
                return
            try:
                me.tick()
            finally:
                if not loop.is_closed():
                    loop.call_later(WATCH_S, tick)

        loop.call_later(WATCH_S, tick)
