"""The parts a :class:`~.camwidget.CamWidget` is made of, made and wired once from its
constructor's arguments (:func:`assemble`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .arguments import check_arguments, class_names
from .compact import check_precision
from .compute import MapComputer
from .flush import Flusher
from .follow import ModelFollower
from .jobs import JobRunner
from .maps import MapService
from .predictions import Predictions
from .results import JobResults
from .source import Source, resolve_source
from .timeline_service import TimelineService
from .trust import TrustService, check_mask
from .validation import ControlChecks
from .version import ModelWatch

#: above this many bytes of series, only the visible samples' series travel (``series_samples``)
SERIES_LIMIT_BYTES = 32 * 10**6


@dataclass
class Parts:
    """The widget's parts (see :mod:`.camwidget`)."""

    src: Source
    maps: MapService
    watch: ModelWatch
    jobs: JobRunner
    trust: TrustService
    flusher: Flusher
    results: JobResults
    follow: ModelFollower
    checks: ControlChecks
    predictions: Predictions
    timeline: TimelineService


def assemble(w: Any, *, in_background: bool, **a: Any) -> tuple[Parts, dict[str, Any]]:
    """``(parts, initial traits)`` of the widget ``w`` from ``CamWidget(...)``'s arguments
    ``a`` (checked here: errors name the argument, what it takes and what it got)."""
    check_arguments(
        a["precompute"], a["batch_size"], a["scale_range"], a["memory_mb"], a["background"]
    )
    precision = check_precision(a["precision"])
    X, dls = a["X"], a["dls"]
    if dls is not None and X is not None:
        raise TypeError("CamWidget: pass the DataLoaders either as X or as dls=, not both")
    src = resolve_source(
        a["learn_or_model"],
        X if X is not None else dls,
        a["y"],
        classes=a["classes"],
        ds_idx=a["ds_idx"],
        idxs=a["idxs"],
        labels=a["labels"],
        lazy=a["lazy"],
        lazy_bytes=SERIES_LIMIT_BYTES,
    )
    mask = check_mask(a["mask"], *src.X.shape[::2], src.sample_ids)  # before the costly work
    trust = TrustService(a["trust"], mask, precision)
    comp = MapComputer(
        src.model,
        src.X,
        src.y,
        layers=a["layers"],
        methods=a["methods"],
        reductions=a["reductions"],
        cache_mb=min(a["cache_mb"], a["memory_mb"] / 4),  # the rest: cube, predictions
        batch_size=a["batch_size"],
        scale_range=a["scale_range"],
        method_kwargs=a["method_kwargs"],
        explainer_kwargs=dict(
            layouts=a["layouts"], input_layout=a["input_layout"], output=a["output"]
        ),
        predict=not in_background,
    )
    names = class_names(src, comp.probs.shape[1], a["labels"])
    # a large data set, or one read on demand: only the visible samples' series travel
    windowed = src.display.nbytes > SERIES_LIMIT_BYTES or bool(getattr(src.X, "lazy", False))
    maps = MapService(
        comp,
        src.y,
        precompute=a["precompute"],
        memory_bytes_max=int(a["memory_mb"] * 1e6),
        windowed=windowed,
        precision=precision,
    )
    learner = a["learn_or_model"] if hasattr(a["learn_or_model"], "dls") else None
    watch = ModelWatch(lambda: learner.model if learner is not None else src.model)
    jobs = JobRunner(comp, lambda: watch.model, w)
    flusher = Flusher(w, src, maps, jobs, a["progress"])
    flusher.note = comp.gradient_note  # at the head of the status line (a model without gradients)
    results = JobResults(w, src, maps, jobs, trust, flusher, watch)
    jobs.events(results)
    follow = ModelFollower(w, watch, maps, jobs, trust, flusher, results)
    checks = ControlChecks(w, lambda: maps.comp, src.y, lambda: flusher.ready)
    precomputed = maps.want_precompute() and not in_background
    init = flusher.initial_traits(names, a["target"], a["cmap"], a["norm"], a["view"], precomputed)
    init.update(results.prediction_traits(labels=True), **trust.initial_traits())
    predictions = Predictions(comp, src)
    timeline = TimelineService(w, maps, jobs, lambda: watch.model)
    results.timeline = timeline
    checks.extra["epoch"] = timeline.check_epoch
    if a["track"] not in (True, False):
        raise ValueError(f"track: expected True or False, got {a['track']!r}")
    if a["track"]:
        timeline.track(a["learn_or_model"])
    parts = Parts(
        src, maps, watch, jobs, trust, flusher, results, follow, checks, predictions, timeline
    )
    return parts, init
