"""The widget's work behind the first picture, on worker threads (:mod:`.background`): all
samples' predictions, the precomputed maps' missing rows, the dataset-wide ``norm="layer"``
ranges and the trust scores. The jobs run on copies of the model
(:meth:`MapComputer.for_worker`) in batches sized to about :data:`.background.BATCH_S`; each batch
hands the event loop a function that applies its results.

:class:`JobRunner` starts, stops and tags the jobs. Every job belongs to one version of the
user's weights (:class:`~.version.ModelWatch`): before each batch the worker compares the user's
model with the fingerprint it started from and stops when it changed (the weights being trained
meanwhile: its results would belong to older weights), and a result posted before that is
dropped on the event loop when the runner has been reset since. Results reach the widget through
:class:`JobEvents` (a weak reference: a job never keeps a widget alive).
"""

from __future__ import annotations

import asyncio
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, Protocol

import numpy as np

from .background import BATCH_S, Apply, Background, running_loop
from .compute import MapComputer, nanminmax
from .version import fingerprint


class JobStopped(Exception):
    """Raised inside a job (e.g. from its progress callback) to end it quietly."""


class JobEvents(Protocol):
    """What a job's results are handed to (the widget)."""

    def on_predictions(self, idx: np.ndarray, probs: np.ndarray, final: bool) -> None: ...
    def on_rows(
        self,
        samples: np.ndarray,
        classes: np.ndarray,
        maps: np.ndarray,
        channels: np.ndarray | None = None,
    ) -> None: ...
    def on_rows_done(self) -> None: ...
    def on_range(
        self, key: Any, target: Any, partial: np.ndarray, done: int, total: int
    ) -> None: ...
    def on_status(self, text: str) -> None: ...
    def on_error(self, e: BaseException) -> None: ...
    def on_trust(self, res: Any) -> None: ...
    def on_snapshot(self, p: Any, snap: Any) -> None: ...
    def check_model(self) -> bool: ...


def adaptive(
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


def predict_job(worker: MapComputer, aim: Any) -> Iterator[Callable[[JobEvents], None]]:
    """Predictions of every finite sample not predicted yet."""
    todo = np.flatnonzero(worker.finite & ~worker.predicted)
    for idx, probs in adaptive(todo, worker.probs_of, most=worker.batch_size, aim=aim):
        yield lambda ev, i=idx, p=probs: ev.on_predictions(i, p, False)
    yield lambda ev: ev.on_predictions(np.zeros(0, np.int64), np.zeros((0, 0)), True)


def rows_job(
    worker: MapComputer, todo: np.ndarray, aim: Any
) -> Iterator[Callable[[JobEvents], None]]:
    """Raw maps of the (sample, class) pairs ``todo`` ``[P, 2]`` for the widget's map store."""
    keys = worker.keys()
    done = 0

    def step(rows: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray | None]]:
        part = todo[rows]
        classes = [int(c) for c in part[:, 1]]
        return part, worker.raw_maps(part[:, 0], keys, classes, "none", channels=True)

    # the first batch one sample: a training started meanwhile meets a short batch in flight
    rows = np.arange(len(todo))
    for part, maps in adaptive(rows, step, start=1, most=worker.batch_size, aim=aim):
        done += len(part)
        text = f"precomputing maps: {done} / {len(todo)} samples"

        def apply(ev: JobEvents, part: np.ndarray = part, maps: Any = maps, s=text) -> None:
            ev.on_rows(part[:, 0], part[:, 1], *maps)
            ev.on_status(s)

        yield apply
    yield lambda ev: ev.on_rows_done()


def ranges_job(
    worker: MapComputer, key: tuple[str, str | None], target: Any, aim: Any
) -> Iterator[Callable[[JobEvents], None]]:
    """The dataset-wide ``norm="layer"`` range ``[L, 2]`` of one map kind, over every finite
    sample in batches; each batch hands the range so far to the widget."""
    todo = np.flatnonzero(worker.finite)
    lo = hi = None
    done = 0

    def step(idx: np.ndarray) -> np.ndarray:
        return worker.raw_cube(idx, [key], target, "none", skip_bad=True)[:, :, 0]  # [S, L, T]

    for raw in adaptive(todo, step, most=worker.batch_size, aim=aim):
        blo, bhi = nanminmax(raw, axis=(0, 2))
        lo = blo if lo is None else np.fmin(lo, blo)
        hi = bhi if hi is None else np.fmax(hi, bhi)
        done += raw.shape[0]
        partial, n = np.stack([lo, hi], 1), done
        yield lambda ev, p=partial, n=n: ev.on_range(key, target, p, n, todo.size)


class JobRunner:
    """Starts the widget's background jobs on a worker model copy and stops them (see the module
    docstring). ``model``: a function returning the user's model (watched by each job);
    ``events``: the widget, held weakly."""

    NAMES = ("predict", "rows", "ranges", "trust")

    def __init__(self, comp: MapComputer, model: Callable[[], Any], owner: Any) -> None:
        self.comp = comp
        self._model = model
        self._events: Any = lambda: None
        self._owner = weakref.ref(owner)
        self.worker: MapComputer | None = None
        self.worker_made = False  # make_worker tried (it leaves None for a model not copied)
        self.jobs: dict[str, Background] = {}
        self.epoch = 0  # bumped by reset: results of older jobs are dropped
        self.error: BaseException | None = None
        self.ranges_for: tuple[Any, ...] | None = None  # ((method, reduction), target) behind
        self.range_partial: tuple[np.ndarray, int, int] | None = None  # range, done, total

    def events(self, events: JobEvents) -> None:
        """Where the jobs' results go (held weakly)."""
        self._events = weakref.ref(events)

    # ---- state -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while any job runs."""
        return any(b.running for b in self.jobs.values())

    def job_running(self, name: str) -> bool:
        b = self.jobs.get(name)
        return b is not None and b.running

    def job_done(self, name: str) -> bool:
        """The job ``name`` ran to its end (not cancelled)."""
        b = self.jobs.get(name)
        return b is not None and b.done.is_set() and not b.cancelled

    @property
    def active(self) -> bool:
        """Background mode: a worker copy of the model exists."""
        return self.worker is not None

    @contextmanager
    def user_first(self) -> Iterator[None]:
        """While the body runs (a user's request), no worker starts a new batch."""
        with ExitStack() as stack:
            for b in list(self.jobs.values()):
                if b.running:
                    stack.enter_context(b.user_first())
            yield

    def error_text(self) -> str:
        e = self.error
        return "" if e is None else f"background work failed: {type(e).__name__}: {e}"

    # ---- starting ------------------------------------------------------------------------------
    def make_worker(self) -> bool:
        """The background worker's copy; False (with a warning) for a model that cannot be
        copied: then the work is done now."""
        self.worker_made = True
        try:
            self.worker = self.comp.for_worker()
        except Exception as e:  # noqa: BLE001 - a model that cannot be copied: work now
            self.worker = None
            warnings.warn(
                f"tscam-widget: the model could not be copied for background work ({e}); "
                "computing predictions now",
                stacklevel=5,
            )
        return self.worker is not None

    def start(self, name: str, job: Callable[[Any], Iterator[Any]]) -> None:
        """Start ``job(aim)`` (a generator of ``apply(events)`` functions) as the job ``name``,
        cancelling the one of that name still running. The trust job gets, instead of ``aim``,
        ``progress(text)``, which raises :class:`JobStopped` when it should stop (call it
        often)."""
        loop = running_loop()
        if loop is None:
            return
        self.cancel(name)
        epoch, start_print, events = self.epoch, fingerprint(self._model()), self._events
        model = self._model

        def on_error(e: BaseException) -> None:
            ev = events()
            if ev is not None and epoch == self.epoch:
                self.error = e
                ev.on_error(e)

        bg = Background(
            loop, on_error, name="tscam-widget" if name != "trust" else "tscam-widget-trust"
        )

        def stop_if_changed() -> None:
            """Raises JobStopped when the job was cancelled or the user's weights changed."""
            if bg.cancelled or fingerprint(model()) != start_print:
                raise JobStopped

        last = [0.0]

        def progress(text: str) -> None:
            """A long job's progress: stops it when it should, waits while a user request is
            served, and shows ``text`` in the status line (at most ~3 times a second)."""
            stop_if_changed()
            bg.wait_for_user()
            now = time.monotonic()
            if now - last[0] > 0.3:
                last[0] = now
                bg.post(lambda: self._apply(epoch, lambda ev: ev.on_status(text)))

        def run() -> Iterator[Apply]:
            try:
                for apply in job(bg.aim if name != "trust" else progress):
                    stop_if_changed()
                    yield lambda a=apply: self._apply(epoch, a)
            except JobStopped:
                bg.cancel()

        bg.start([run])
        self.jobs[name] = bg
        owner = self._owner()
        if owner is not None:  # a widget collected (never closed) stops its work too
            weakref.finalize(owner, bg.cancel)

    def _apply(self, epoch: int, apply: Callable[[Any], None]) -> None:
        """On the event loop: hand a job's result to the widget, unless the job belongs to
        older weights (a reset since, or the model changed now: then the widget resets)."""
        ev = self._events()
        if ev is None or epoch != self.epoch or ev.check_model():
            return
        apply(ev)

    def start_predictions(self) -> bool:
        """Predict every sample behind; False when there is no worker (predict now instead)."""
        if not self.worker_made:
            self.make_worker()
        if self.worker is None:
            return False
        worker = self.worker
        self.start("predict", lambda aim: predict_job(worker, aim))
        return True

    def start_rows(self, todo: np.ndarray) -> None:
        """Compute, behind, the raw maps of the (sample, class) pairs ``todo`` ``[P, 2]``."""
        if self.worker is None:
            return
        worker = self.comp.for_worker()  # its own copy: a cancelled job may still finish a batch
        self.start("rows", lambda aim: rows_job(worker, todo, aim))

    def start_ranges(self, key: tuple[str, str | None], target: Any) -> None:
        """Compute, behind, the ``norm="layer"`` range of map kind ``key`` under ``target`` (once
        per map kind; a job for another one is cancelled)."""
        if self.ranges_for == (key, target) and "ranges" in self.jobs:
            return
        if self.worker is None or running_loop() is None:
            return
        self.ranges_for, self.range_partial = (key, target), None
        worker = self.comp.for_worker()
        self.start("ranges", lambda aim: ranges_job(worker, key, target, aim))

    # ---- stopping ------------------------------------------------------------------------------
    def cancel(self, name: str) -> None:
        b = self.jobs.pop(name, None)
        if b is not None:
            b.cancel()

    def cancel_all(self) -> None:
        for name in list(self.jobs):
            self.cancel(name)

    def reset(self, comp: MapComputer) -> None:
        """The user's model changed: stop every job, drop their late results, and make the
        worker's copy anew from ``comp`` (the computer of the new weights) when one was used."""
        had_worker = self.worker is not None
        self.cancel_all()
        self.epoch += 1
        self.comp = comp
        self.error = None
        self.ranges_for, self.range_partial = None, None
        self.worker, self.worker_made = None, False
        if had_worker:
            self.make_worker()

    async def wait(self, pending: Callable[[], bool], timeout: float) -> None:
        """Until no job runs and ``pending()`` is False; raises the jobs' error if one failed."""
        t0 = time.monotonic()
        while self.running or pending():
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"background work not done after {timeout} s")
            await asyncio.sleep(0.02)
        await asyncio.sleep(0)  # results posted last are applied before this returns
        if self.error is not None:
            raise RuntimeError(self.error_text()) from self.error


__all__ = [
    "JobEvents",
    "JobStopped",
    "JobRunner",
    "adaptive",
    "predict_job",
    "ranges_job",
    "rows_job",
]
