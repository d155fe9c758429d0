"""Which weights the widget's maps belong to: a cheap fingerprint of a model's parameters and
buffers, and :class:`ModelWatch`, which tells when the user's model changed under the widget
(training, ``load_state_dict``, ``learn.load``, fine-tuning, ``model.to(device)``).

torch bumps a tensor's version counter on every in-place update (an optimiser step, the copy of
``load_state_dict``, a BatchNorm statistic in a training forward); ``model.to()`` or
``learn.load`` may put new storage under a parameter or replace it. So the identity, storage,
device and version of every tensor together tell a change; reading them costs microseconds per
tensor, never a hash of the weights.
"""

from __future__ import annotations

import time
from typing import Any

#: a model counts as "training" while its weights changed less than this long ago (seconds):
#: the background work waits meanwhile instead of competing with the training for the cores
TRAINING_QUIET_S = 2.0


def fingerprint(model: Any) -> tuple[Any, ...]:
    """A tuple that changes whenever a parameter or buffer of ``model`` is updated in place,
    replaced, given new storage or moved: ``(id, data_ptr, device, shape, version)`` per
    tensor. Equal fingerprints: the same weights (up to a write through ``.data``, which torch
    does not count)."""
    out: list[Any] = []
    for tensors in (model.parameters(), model.buffers()):
        for p in tensors:
            out.append((id(p), p.data_ptr(), str(p.device), tuple(p.shape), p._version))
    return tuple(out)


class ModelWatch:
    """The version of the user's weights the widget shows.

    ``version`` counts the changes seen (0: the weights the widget was made with);
    :meth:`check` compares the model's fingerprint with the last one seen and returns whether it
    changed; :meth:`accept` takes the current fingerprint as the widget's own (after work of the
    widget's that touched the model, e.g. restoring a statistic). ``getter`` returns the model
    (a Learner's ``learn.model`` may be replaced by another module: that is a change too).
    """

    def __init__(self, getter: Any) -> None:
        self._get = getter
        self.model = getter()
        self._print = fingerprint(self.model)
        self.version = 0
        self.last_change = -1e9  # time.monotonic() of the last change seen

    def check(self) -> bool:
        """Whether the model changed since the last check (then ``version`` goes up)."""
        model = self._get()
        now = fingerprint(model)
        if model is self.model and now == self._print:
            return False
        self.model, self._print = model, now
        self.version += 1
        self.last_change = time.monotonic()
        return True

    def accept(self) -> None:
        """Take the model's current state as seen (no change reported for it)."""
        self.model = self._get()
        self._print = fingerprint(self.model)

    @property
    def training(self) -> bool:
        """The weights changed less than :data:`TRAINING_QUIET_S` ago (a training loop is
        probably running): background work waits."""
        return time.monotonic() - self.last_change < TRAINING_QUIET_S
