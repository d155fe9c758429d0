"""The widget's work behind the first picture, on a worker thread (:mod:`.background`): all
samples' predictions, the precomputed maps' missing rows and the dataset-wide ``norm="layer"``
ranges. The jobs run on a copy of the model (:meth:`MapComputer.for_worker`) in batches sized to
about :data:`.background.BATCH_S`; each batch hands the event loop a function that applies its
results to the widget (held by a weak reference, so a job never keeps a widget alive).

:class:`BackgroundMixin` starts the jobs, takes their results and reports their errors;
:class:`~.camwidget.CamWidget` calls :meth:`BackgroundMixin._start_background` when it starts in
a kernel, ``_start_cube`` and ``_start_ranges`` when the controls need more maps.
"""

from __future__ import annotations

import asyncio
import time
import warnings
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np
import traitlets as t

from . import buffers
from .background import BATCH_S, Apply, Background, running_loop
from .compute import MapComputer, _nanminmax


def _call(ref: Any, name: str, *args: Any) -> None:
    w = ref()
    if w is not None:
        getattr(w, name)(*args)


def _adaptive(
    todo: np.ndarray, step: Any, start: int = 4, most: int = 256, aim: Any = None
) -> Iterator[Any]:
    """Run ``step(idx)`` over ``todo`` in batches sized so each takes about ``aim()`` seconds
    (default :data:`.background.BATCH_S`); yields what each step returns."""
    i, b, rate = 0, start, 0.0
    while i < todo.size:
        target = BATCH_S if aim is None else aim()
        if rate > 0:
            b = int(np.clip(rate * target, 1, most))
        idx = todo[i : i + b]
        t0 = time.perf_counter()
        out = step(idx)
        dt = max(time.perf_counter() - t0, 1e-4)
        i += idx.size
        rate = idx.size / dt if rate == 0 else 0.5 * rate + 0.5 * idx.size / dt
        yield out


def _predict_job(ref: Any, worker: MapComputer, aim: Any = None) -> Iterator[Apply]:
    todo = np.flatnonzero(worker.finite & ~worker.predicted)

    def step(idx: np.ndarray) -> Apply:
        idx, probs = worker.probs_of(idx)

        def apply() -> None:
            w = ref()
            if w is not None:
                w._comp.set_probs(idx, probs)
                w._push_predictions()

        return apply

    yield from _adaptive(todo, step, most=worker.batch_size, aim=aim)
    yield lambda: _call(ref, "_predictions_done")


def _rows_job(ref: Any, worker: MapComputer, todo: np.ndarray, aim: Any = None) -> Iterator[Apply]:
    """Raw maps of the (sample, class) pairs ``todo`` ``[P, 2]`` for the widget's map store."""
    keys = worker.keys()
    done = [0]

    def step(rows: np.ndarray) -> Apply:
        part = todo[rows]
        maps = worker._raw_cube(part[:, 0], keys, [int(c) for c in part[:, 1]], "none")
        done[0] += len(part)
        n = done[0]

        def apply() -> None:
            w = ref()
            if w is not None and w._store is not None:
                w._store.add(part[:, 0], part[:, 1], maps)
                w.status = f"precomputing maps: {n} / {len(todo)} samples"

        return apply

    yield from _adaptive(np.arange(len(todo)), step, most=worker.batch_size, aim=aim)
    yield lambda: _call(ref, "_rows_done")


def _ranges_job(
    ref: Any, worker: MapComputer, key: tuple[str, str | None], target: Any, aim: Any = None
) -> Iterator[Apply]:
    """The dataset-wide ``norm="layer"`` range ``[L, 2]`` of one map kind, over every finite
    sample in batches; each batch hands the range so far to the widget."""
    todo = np.flatnonzero(worker.finite)
    acc: list[Any] = [None, None, 0]

    def step(idx: np.ndarray) -> Apply:
        raw = worker._raw_cube(idx, [key], target, "none", skip_bad=True)[:, :, 0]  # [S, L, T]
        lo, hi = _nanminmax(raw, axis=(0, 2))
        acc[0] = lo if acc[0] is None else np.fmin(acc[0], lo)
        acc[1] = hi if acc[1] is None else np.fmax(acc[1], hi)
        acc[2] += len(idx)
        partial, done = np.stack([acc[0], acc[1]], 1), acc[2]
        return lambda: _call(ref, "_range_progress", key, target, partial, done, todo.size)

    yield from _adaptive(todo, step, most=worker.batch_size, aim=aim)


class BackgroundMixin(t.HasTraits):
    """Starts :class:`~.camwidget.CamWidget`'s background jobs and applies their results (see the
    module docstring)."""

    def error_background(self) -> str:
        e = self.background_error
        return "" if e is None else f"background work failed: {type(e).__name__}: {e}"

    @property
    def background_running(self) -> bool:
        """True while predictions or the precomputed cube are still being computed."""
        bgs = (self._bg, self._bg_cube, self._bg_ranges, getattr(self, "_bg_trust", None))
        return any(b is not None and b.running for b in bgs)

    async def ready(self, timeout: float = 600.0) -> None:
        """Wait (``await w.ready()`` in a notebook) until the background work is done and its
        results are in the widget; raises its error if it failed."""
        t0 = time.monotonic()
        while self.background_running or self._cube_pending():
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"background work not done after {timeout} s")
            await asyncio.sleep(0.02)
        await asyncio.sleep(0)  # results posted last are applied before this returns
        if self.background_error is not None:
            raise RuntimeError(self.error_background()) from self.background_error

    def _cube_pending(self) -> bool:
        """Predictions are done and the precomputed maps should be, but are not in yet."""
        return (
            self._bg is not None
            and self._bg.done.is_set()
            and self._want_precompute()
            and not self.precomputed
            and self.background_error is None
        )

    def close(self) -> None:
        """Close the widget and stop its background work."""
        for name in ("_bg", "_bg_cube", "_bg_ranges", "_bg_trust"):  # getattr: a failed __init__
            b = getattr(self, name, None)
            if b is not None:
                b.cancel()
        super().close()

    def _make_worker(self) -> None:
        """The background worker's copy (None, with a warning, for a model that cannot be
        copied: then the work is done now)."""
        self._worker_made = True
        try:
            self._worker = self._comp.for_worker()
        except Exception as e:  # noqa: BLE001 - a model that cannot be copied: work now
            self._worker = None
            warnings.warn(
                f"tscam-widget: the model could not be copied for background work ({e}); "
                "computing predictions now",
                stacklevel=4,
            )

    def _start_background(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._worker_made:
            self._make_worker()
        if self._worker is None:
            for idx, probs in self._comp.predict_batches(self._comp.batch_size):
                self._comp.set_probs(idx, probs)
            self._push_predictions(final=True)
            self.precomputed = self._want_precompute()
            self._mark("cube" if self.precomputed else "maps")
            return
        ref, worker = weakref.ref(self), self._worker  # the worker holds no reference to self
        self._bg = Background(loop, lambda e: _call(ref, "_background_failed", e))
        bg = self._bg
        self._bg.start([lambda: _predict_job(ref, worker, bg.aim)])
        weakref.finalize(self, self._bg.cancel)
        self.status = f"predicting: {int(self._comp.predicted.sum())} / {self.n_samples} samples"

    def _start_cube(self) -> None:
        """Compute, behind, the maps the precomputed store lacks for the current choices (every
        finite sample for its predicted, true and target class); ``_rows_done`` publishes."""
        if self._bg_cube is not None:
            self._bg_cube.cancel()
        loop = running_loop()
        if loop is None or self._worker is None:
            return
        todo = self._missing_rows()
        # a model copy of its own: a cancelled job may still finish its batch meanwhile
        worker = self._comp.for_worker()
        ref = weakref.ref(self)
        self._bg_cube = Background(loop, lambda e: _call(ref, "_background_failed", e))
        bg = self._bg_cube
        self._bg_cube.start([lambda: _rows_job(ref, worker, todo, bg.aim)])
        weakref.finalize(self, self._bg_cube.cancel)

    def _start_ranges(self) -> None:
        """Compute, behind, the ``norm="layer"`` range of the current method and target (once
        per map kind; a job for another one is cancelled)."""
        want = (self._comp.key_of(self.method, self.reduction), self.target)
        if self._ranges_for == want and self._bg_ranges is not None:
            return
        if self._bg_ranges is not None:
            self._bg_ranges.cancel()
        loop = running_loop()
        if loop is None or self._worker is None:
            return
        self._ranges_for, self._range_partial = want, None
        worker = self._comp.for_worker()
        key = self._comp.key_of(self.method, self.reduction)
        ref = weakref.ref(self)
        bg = self._bg_ranges = Background(loop, lambda e: _call(ref, "_background_failed", e))
        target = self.target
        bg.start([lambda: _ranges_job(ref, worker, key, target, bg.aim)])
        weakref.finalize(self, bg.cancel)

    def _range_progress(
        self, key: tuple[str, str | None], target: Any, partial: np.ndarray, done: int, total: int
    ) -> None:
        if self._ranges_for != (key, target):
            return
        if done >= total:
            self._comp.set_range(key[0], key[1], target, partial)
            self._range_partial = None
            self._mark("maps", user=False)  # the final range
            return
        self._range_partial = (partial, done, total)
        now = time.monotonic()
        if self.norm == "layer" and now - self._last_range_draw > 1.0:
            self._last_range_draw = now
            self._mark("maps", user=False)  # redraw with the wider range (and the progress)

    def _rows_done(self) -> None:
        if self._rows_missing():  # the target, layers or methods changed meanwhile
            if self._want_precompute():
                self._start_cube()
            return
        self._publish_store()
        self.precomputed = True

    def _push_predictions(self, final: bool = False) -> None:
        """Send predictions to the frontend (at most every 0.3 s while they arrive)."""
        now = time.monotonic()
        if not final and now - self._last_push < 0.3:
            return
        self._last_push = now
        comp = self._comp
        done = int(comp.predicted.sum())
        with self.hold_sync():
            if getattr(self._src.X, "lazy", False):  # labels read with the data fill in too
                self.y_true_buffer = buffers.pack(self._src.y, "int32")
            self.y_pred_buffer = buffers.pack(comp.pred_shown(), "int32")
            self.probs_buffer = buffers.pack(comp.probs, "float32")
            self.targets = buffers.pack(comp.targets(self.target), "int32")
            if final:
                status = f"predicted {done} samples"
                bad = int((~comp.finite).sum())
                if bad:
                    status += f" ({bad} with NaN or inf values: no prediction)"
            else:
                status = f"predicting: {done} / {self.n_samples} samples"
            self.status = " · ".join(s for s in (status, self._budget_note) if s)

    def _predictions_done(self) -> None:
        self._push_predictions(final=True)
        if self._want_precompute():
            self._start_cube()
        self._trust_start_background()

    def _background_failed(self, e: BaseException) -> None:
        self.background_error = e
        self.error = self.error_background()
        self.status = self.error
        warnings.warn(f"tscam-widget: {self.error}", RuntimeWarning, stacklevel=1)
