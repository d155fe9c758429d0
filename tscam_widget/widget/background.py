"""The widget's all-sample work (predictions, the precomputed cube) in a worker thread, in small
batches, while the kernel stays free for the user.

The worker runs on its own copy of the model (so hooks the kernel registers for a user's request
never fire inside a background forward, and the user's model is never touched from another
thread; torch releases the GIL, so both run). Results are handed to the kernel's event loop
(``call_soon_threadsafe``), which applies them to the widget's traits. Between batches the worker
waits while the kernel computes what the user asked for, so a jump to a sample is served first.
It stops when cancelled (the widget closed or garbage-collected); an error ends it and is
reported through ``on_error`` on the event loop.

Threads: the worker computes with the kernel's torch thread count (``torch.get_num_threads()``
when it was made), and with half of it for ``ACTIVE_THREADS_S`` after a user request (a user
stepping through samples). Their next request then finds a core free of the worker's batch in
flight, instead of the kernel's and the worker's thread teams (each as large as the machine)
sharing the cores and waiting on each other at every parallel region; the short batches of
that time run where they are cheapest (on CPU a small batch on one thread costs less per sample
than a large one on several). The window is shorter than ``ACTIVE_S``: the worker is back to
full speed soon after the user stops. torch keeps the thread count per thread; the worker sets
its own before each batch and leaves the process-wide default as it found it.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Apply = Callable[[], None]
BATCH_S = 0.1  # aim of one background batch
ACTIVE_BATCH_S = 0.02  # ... while a user is active: a request meets a shorter batch in flight
ACTIVE_S = 3.0  # a user counts as active this long after their last request
ACTIVE_THREADS_S = 1.0  # ... and the worker keeps to half the threads this long after it
#: a job yields, per batch, the function that applies that batch's results on the event loop
Job = Callable[[], Iterator[Apply]]


class Background:
    """Runs ``jobs`` one after the other in a daemon thread; see the module docstring."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_error: Callable[[BaseException], None],
        name: str = "tscam-widget",
    ) -> None:
        self._loop = loop
        self._on_error = on_error
        self._cancel = threading.Event()
        self._user = 0  # user requests being computed on the event loop right now
        self._user_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._name = name
        self._last_user = -1e9  # time.monotonic() of the last user request
        self._threads = _torch_threads()  # the kernel's torch threads: the worker's when idle
        self._threads_now = 0
        self.done = threading.Event()
        self.error: BaseException | None = None

    def start(self, jobs: list[Job]) -> None:
        """Start the worker on ``jobs`` (in order)."""
        _ALL.add(self)
        self._thread = threading.Thread(target=self._run, args=(jobs,), name=self._name)
        self._thread.daemon = True
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def cancel(self) -> None:
        """Ask the worker to stop after its current batch."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @contextmanager
    def user_first(self) -> Iterator[None]:
        """While the body runs (a user's request), the worker starts no new batch."""
        with self._user_lock:
            self._user += 1
        try:
            yield
        finally:
            with self._user_lock:
                self._user -= 1
            self._last_user = time.monotonic()

    @property
    def user_active(self) -> bool:
        """A user request is being served, or was less than ``ACTIVE_S`` ago."""
        return self._user > 0 or time.monotonic() - self._last_user < ACTIVE_S

    def aim(self) -> float:
        """Seconds one batch should take: ``BATCH_S``, or ``ACTIVE_BATCH_S`` for
        ``ACTIVE_S`` after a user request (a user jumping around meets a short batch in flight:
        each of their requests waits less)."""
        return ACTIVE_BATCH_S if self.user_active else BATCH_S

    def threads(self) -> int:
        """torch threads for the worker's next batch (see the module docstring)."""
        busy = self._user > 0 or time.monotonic() - self._last_user < ACTIVE_THREADS_S
        return max(1, self._threads // 2) if busy else self._threads

    def _set_threads(self, n: int) -> None:
        if n != self._threads_now:
            _set_torch_threads(n)
            self._threads_now = n

    def wait_for_user(self) -> None:
        """Block (the worker) while a user request is being served."""
        while self._user > 0 and not self._cancel.is_set():
            time.sleep(0.002)

    def post(self, fn: Apply) -> None:
        """Hand ``fn`` to the event loop (dropped once cancelled)."""
        if self._cancel.is_set():
            return
        try:
            self._loop.call_soon_threadsafe(fn)
        except RuntimeError:  # the loop is closed: nobody is left to show results to
            self._cancel.set()

    def _run(self, jobs: list[Job]) -> None:
        try:
            self._set_threads(self.threads())
            for job in jobs:
                for apply in job():
                    if self._cancel.is_set():
                        return
                    self.post(apply)
                    self.wait_for_user()
                    if self._cancel.is_set():
                        return
                    self._set_threads(self.threads())  # for the next batch
        except BaseException as e:  # noqa: BLE001 - reported on the loop, never swallowed
            self.error = e
            err = e
            self.post(lambda: self._on_error(err))
        finally:
            if self._threads_now not in (0, self._threads):
                # torch.set_num_threads also sets the count new threads start with: as found
                _set_torch_threads(self._threads)
            self.done.set()


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def _set_torch_threads(n: int) -> None:
    """This thread's torch (intra-op) thread count; torch also makes it the count that threads
    started later begin with."""
    import torch

    torch.set_num_threads(n)


_ALL: weakref.WeakSet[Background] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """At interpreter exit, stop every worker before torch's thread pools go away."""
    for bg in list(_ALL):
        bg.cancel()
    for bg in list(_ALL):
        bg.join(10)


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread (a Jupyter kernel's), or None (a script)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


__all__ = ["Apply", "Background", "Job", "running_loop"]
