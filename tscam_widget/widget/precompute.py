"""The precomputed maps: which (sample, class) rows the widget's :class:`~.compact.MapStore`
must hold (every finite sample for its predicted, true and target class), computing them in
batches with progress, sending the store to the frontend (``cube``, ``cube_scale``,
``cube_rows``), and the memory budget that decides whether maps are precomputed at all
(``precompute``, ``memory_mb``).

:class:`PrecomputeMixin` holds that work for :class:`~.camwidget.CamWidget`.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Sequence

import numpy as np
import traitlets as t

from tscam_widget.explain.explanation import map_key

from . import buffers
from .compact import MapStore

AUTO_LIMIT_BYTES = 64 * 10**6


class PrecomputeMixin(t.HasTraits):
    """The precomputed maps of :class:`~.camwidget.CamWidget` (see the module docstring)."""

    def _cube_estimate(self) -> int:
        """Bytes the precomputed maps would take in the kernel: a row per sample for its
        predicted class and one for its true class where that differs (at most 2 x N rows)."""
        comp = self._comp
        n = int(comp.finite.sum())
        rows = n * (2 if (self._src.y >= 0).any() else 1)
        per_map = self._src.X.shape[-1] * self._itemsize + 8
        return rows * len(comp.layers) * len(comp.keys()) * per_map

    @property
    def memory_bytes(self) -> int:
        """Bytes the widget holds in the kernel (maps cache, precomputed maps, predictions); kept
        below ``memory_mb`` (the data itself stays the user's: a memmap or a Dataset is read)."""
        comp = self._comp
        n = comp.probs.nbytes + comp.pred.nbytes + comp.predicted.nbytes + comp.finite.nbytes
        n += comp.cache.nbytes + (self._store.nbytes if self._store is not None else 0)
        return int(n)

    def _check_budget(self) -> None:
        """Precompute wanted but the maps would pass the memory budget: maps on demand instead,
        said in the status line and as a warning."""
        self._budget_note = ""
        if self._windowed or self._precompute_arg is False:
            return
        if self._precompute_arg == "auto" and (
            self._comp.expensive or self._comp.cube_nbytes() > AUTO_LIMIT_BYTES
        ):
            return
        need = self._cube_estimate()
        room = self._memory_bytes - self._comp.cache.max_bytes - self._comp.probs.nbytes * 2
        if need > room:
            self._budget_note = (
                f"maps computed on demand: precomputed they would take {need / 1e6:.1f} MB, over "
                f"the memory budget (memory_mb={self._memory_bytes / 1e6:g})"
            )
            warnings.warn(f"tscam-widget: {self._budget_note}", ResourceWarning, stacklevel=3)

    def _want_precompute(self) -> bool:
        if self._windowed:  # the series themselves travel on demand: so do the maps
            return False
        if self._budget_note:
            return False
        if self._precompute_arg == "auto":
            if self._comp.expensive:  # a method with extra forwards (Method.extra_forwards)
                return False
            return self._comp.cube_nbytes() <= AUTO_LIMIT_BYTES
        return bool(self._precompute_arg)

    def _wanted_classes(self) -> list[np.ndarray]:
        """The classes the precomputed maps must cover: predicted, true (where known) and the
        current target's."""
        comp = self._comp
        return [comp.pred, self._src.y.astype(np.int32), comp.targets(self.target)]

    def _fill_store(self, wanted: Sequence[np.ndarray]) -> None:
        """Explain, in batches, every finite sample for each class in ``wanted`` (arrays
        ``[N]`` of class indices, -1 skipped) that the store does not hold yet."""
        comp = self._comp
        keys = comp.keys()
        todo = self._missing_rows(wanted)
        store = self._store
        assert store is not None
        if not len(todo):
            return
        bs = comp.batch_size
        total = -(-len(todo) // bs)
        report = self._progress_reporter(total)
        for b, start in enumerate(range(0, len(todo), bs)):
            part = todo[start : start + bs]
            maps = comp._raw_cube(part[:, 0], keys, [int(c) for c in part[:, 1]], "none")
            comp.n_computations += 1
            store.add(part[:, 0], part[:, 1], maps)
            report(b + 1)
        self._counts["cube_builds"] += 1

    def _progress_reporter(self, total: int):
        """``report(done)``: progress of a precomputation, in the widget's status line (and, when
        no event loop runs, e.g. in a script, as one line of plain text on stderr)."""
        t0 = time.perf_counter()
        text = sys.stderr if (self._progress and self._loop() is None) else None

        def report(done: int) -> None:
            msg = f"precomputing maps: batch {done}/{total}"
            self.status = msg
            if text is not None:
                end = "\n" if done == total else ""
                print(
                    f"\rtscam-widget: {msg} ({time.perf_counter() - t0:.1f} s)", end=end, file=text
                )

        self.status = f"precomputing maps: batch 0/{total}"
        return report

    def _publish_store(self) -> None:
        """Send the store when it grew; the current target's classes and colour range always."""
        store = self._store
        assert store is not None
        classes = self._comp.targets(self.target)
        with self.hold_sync():
            if store.u.shape[0] != self._sent_rows:
                self._sent_rows = store.u.shape[0]
                self.cube = buffers.pack(store.u, self.precision, deflate=True)
                self.cube_scale = buffers.pack(store.scale, "float32", deflate=True)
                self.cube_rows = buffers.pack(store.rows, "int32")
                self.cube_keys = [map_key(*k) for k in self._comp.keys()]
                self.cube_meta = {"scale_range": [float(v) for v in self._comp.scale_range]}
            self.targets = buffers.pack(classes, "int32")
            if self.norm == "none":
                self.value_range = self._layer_range()
            else:
                self.value_range = [float(v) for v in self._comp.scale_range]
            n, L, M, T = store.u.shape
            self.status = (
                f"precomputed {int(self._comp.finite.sum())} samples x {L} layers x {M} maps "
                f"({n} sample/class rows, {store.nbytes / 1e6:.1f} MB as {self.precision})"
            )

    def _missing_rows(self, wanted: Sequence[np.ndarray] | None = None) -> np.ndarray:
        """int64 ``[P, 2]``: the (sample, class) pairs the store (created if need be) lacks for
        every finite sample and each class in ``wanted`` (arrays ``[N]`` of class indices, -1
        skipped; default: :meth:`_wanted_classes`)."""
        comp = self._comp
        if self._store is None:
            n, _, length = self._src.X.shape
            k = comp.probs.shape[1]
            keys = comp.keys()
            self._store = MapStore(n, k, len(comp.layers), len(keys), length, self.precision)
        finite = np.flatnonzero(comp.finite)
        pairs: dict[tuple[int, int], None] = {}
        for classes in self._wanted_classes() if wanted is None else wanted:
            for s in self._store.missing(classes, finite):
                pairs[(int(s), int(classes[s]))] = None
        return np.array(list(pairs), np.int64).reshape(-1, 2)

    def _rows_missing(self) -> bool:
        return self._store is None or len(self._missing_rows()) > 0
