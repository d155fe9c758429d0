"""The fastai ``Callback`` of the training timeline (imported by ``Timeline.callback`` only: the
package itself never imports fastai)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastai.callback.core import Callback
from fastai.learner import Recorder

from .timeline import Timeline, recorder_metrics, weak_callable


class TimelineCallback(Callback):
    """After each epoch (after the ``Recorder`` has its values), records a snapshot labelled
    ``"epoch k"`` with the epoch's losses and validation metrics. Added twice to one fit (e.g.
    ``track=True`` and ``cbs=w.callback``), it still records once per epoch. Pickled with a
    Learner (``learn.export``), it keeps nothing of the widget and records nothing."""

    order = Recorder.order + 1

    def __init__(self, timeline: Timeline, record: Callable[[str, dict[str, float]], Any]):
        self.tscam_timeline = timeline
        self.tscam_record = weak_callable(record)
        self.tscam_done = False

    def before_epoch(self) -> None:
        self.tscam_done = False

    def after_epoch(self) -> None:
        if self.tscam_done:
            return
        self.tscam_done = True
        record = self.tscam_record() if self.tscam_record is not None else None
        if record is None:
            return
        label = self.tscam_timeline.next_epoch_label()
        try:
            record(label, recorder_metrics(self.learn))
        except ValueError as e:  # timeline full, no finite sample: training goes on
            self.tscam_timeline.warn_once(f"training timeline: {label} not recorded: {e}")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(tscam_timeline=Timeline(), tscam_record=None)
        state.pop("learn", None)
        return state
