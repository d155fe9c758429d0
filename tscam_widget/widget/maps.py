"""The widget's maps: the precomputed store (every finite sample for its predicted, true and
target class, :class:`~.compact.MapStore`) with its memory budget, and the maps of the visible
samples computed on demand (kernel mode). :class:`MapService` owns both and says, as trait
values, what the frontend gets (``cube``/``cube_scale``/``cube_rows``, or ``maps``/``maps_scale``).

All maps come from the :class:`~.compute.MapComputer` it holds; one service belongs to one
version of the user's weights (the widget makes a new one when they change).
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tscam_widget.explain.explanation import map_key

from . import buffers
from .compact import MapStore, dequantise, quantise, quantise_channels
from .compute import MapComputer

AUTO_LIMIT_BYTES = 64 * 10**6


class MapService:
    """Maps of one :class:`~.compute.MapComputer` for the widget.

    ``precompute``: True / False / ``"auto"`` (the widget's argument); ``memory_bytes_max``: the
    widget's kernel-memory budget; ``windowed``: only the visible samples' series travel (then
    maps are computed on demand too); ``precision``: how maps are stored and sent.
    """

    def __init__(
        self,
        comp: MapComputer,
        y: np.ndarray,
        *,
        precompute: bool | str,
        memory_bytes_max: int,
        windowed: bool,
        precision: str,
    ) -> None:
        self.comp = comp
        self.y = y
        self.precompute = precompute
        self.memory_bytes_max = memory_bytes_max
        self.windowed = windowed
        self.precision = precision
        self.store: MapStore | None = None
        self.sent_rows = -1  # rows of the store last sent in `cube`
        self.budget_note = ""
        self.counts = {"flushes": 0, "cube_builds": 0, "map_updates": 0}
        self.check_budget()

    # ---- budget ------------------------------------------------------------------------------
    def cube_estimate(self) -> int:
        """Bytes the precomputed maps would take in the kernel: a row per sample for its
        predicted class and one for its true class where that differs (at most 2 x N rows)."""
        comp = self.comp
        rows = int(comp.finite.sum()) * (2 if (self.y >= 0).any() else 1)
        _, c, t = comp.X.shape
        per_map = t * np.dtype(self.precision).itemsize + 8
        per_channels = c * t * np.dtype(self.precision).itemsize + 8
        return rows * (
            len(comp.layers) * len(comp.keys()) * per_map + len(comp.channel_keys) * per_channels
        )

    @property
    def memory_bytes(self) -> int:
        """Bytes held in the kernel: maps cache, precomputed maps, predictions."""
        comp = self.comp
        n = comp.probs.nbytes + comp.pred.nbytes + comp.predicted.nbytes + comp.finite.nbytes
        n += comp.cache.nbytes + comp.channel_cache.nbytes
        n += self.store.nbytes if self.store is not None else 0
        return int(n)

    def check_budget(self) -> None:
        """Precompute wanted but the maps would pass the memory budget: maps on demand instead,
        said in ``budget_note`` and as a warning."""
        self.budget_note = ""
        if self.windowed or self.precompute is False:
            return
        if self.precompute == "auto" and (
            self.comp.expensive or self.comp.cube_nbytes() > AUTO_LIMIT_BYTES
        ):
            return
        need = self.cube_estimate()
        room = self.memory_bytes_max - self.comp.cache.max_bytes - self.comp.probs.nbytes * 2
        if need > room:
            self.budget_note = (
                f"maps computed on demand: precomputed they would take {need / 1e6:.1f} MB, over "
                f"the memory budget (memory_mb={self.memory_bytes_max / 1e6:g})"
            )
            warnings.warn(f"tscam-widget: {self.budget_note}", ResourceWarning, stacklevel=4)

    def want_precompute(self) -> bool:
        """Whether the maps should be precomputed (argument, size and budget)."""
        if self.windowed or self.budget_note:
            return False
        if self.precompute == "auto":
            if self.comp.expensive:  # a method with extra forwards (Method.extra_forwards)
                return False
            return self.comp.cube_nbytes() <= AUTO_LIMIT_BYTES
        return bool(self.precompute)

    def stats(self) -> dict[str, int]:
        """The widget's counters (see ``CamWidget.stats``)."""
        comp, c = self.comp, self.comp.cache
        return dict(
            computations=comp.n_computations,
            **self.counts,
            cache_hits=c.hits,
            cache_misses=c.misses,
            cache_evictions=c.evictions,
            cache_entries=len(c),
            cache_bytes=c.nbytes,
        )

    # ---- the store -------------------------------------------------------------------------
    def wanted_classes(self, target: Any) -> list[np.ndarray]:
        """The classes the precomputed maps must cover: predicted, true (where known) and the
        ``target``'s."""
        comp = self.comp
        return [comp.pred, self.y.astype(np.int32), comp.targets(target)]

    def missing_rows(self, wanted: Sequence[np.ndarray]) -> np.ndarray:
        """int64 ``[P, 2]``: the (sample, class) pairs the store (created if need be) lacks for
        every finite sample and each class in ``wanted`` (arrays ``[N]``, -1 skipped)."""
        comp = self.comp
        if self.store is None:
            n, c, length = comp.X.shape
            k = comp.probs.shape[1]
            self.store = MapStore(
                n,
                k,
                len(comp.layers),
                len(comp.keys()),
                length,
                self.precision,
                channels=(len(comp.channel_keys), c),
            )
        finite = np.flatnonzero(comp.finite)
        pairs: dict[tuple[int, int], None] = {}
        for classes in wanted:
            for s in self.store.missing(classes, finite):
                pairs[(int(s), int(classes[s]))] = None
        return np.array(list(pairs), np.int64).reshape(-1, 2)

    def rows_missing(self, target: Any) -> bool:
        return self.store is None or len(self.missing_rows(self.wanted_classes(target))) > 0

    def add_rows(
        self,
        samples: np.ndarray,
        classes: np.ndarray,
        maps: np.ndarray,
        channels: np.ndarray | None = None,
    ) -> None:
        """Raw maps ``[P, L, M, T]`` of (sample, class) pairs computed elsewhere (a job), with
        their ``input`` maps per channel ``[P, Kc, C, T]`` (``MapComputer.raw_maps``)."""
        if self.store is not None:
            self.store.add(samples, classes, maps, channels)

    def drop_store(self) -> None:
        self.store, self.sent_rows = None, -1

    def fill(self, wanted: Sequence[np.ndarray], report: Callable[[int, int], None]) -> None:
        """Explain, in batches, every finite sample for each class in ``wanted`` that the store
        does not hold yet; ``report(batches done, total)`` tells the progress."""
        comp = self.comp
        keys = comp.keys()
        todo = self.missing_rows(wanted)
        assert self.store is not None
        if not len(todo):
            return
        bs = comp.batch_size
        total = -(-len(todo) // bs)
        report(0, total)
        for b, start in enumerate(range(0, len(todo), bs)):
            part = todo[start : start + bs]
            maps, chans = comp.raw_maps(
                part[:, 0], keys, [int(c) for c in part[:, 1]], "none", channels=True
            )
            comp.n_computations += 1
            self.store.add(part[:, 0], part[:, 1], maps, chans)
            report(b + 1, total)
        self.counts["cube_builds"] += 1

    def cube_of(self, target: Any, norm: str, report: Callable[[int, int], None]) -> np.ndarray:
        """float32 ``[N, L, M, T]``: the store's maps under ``target`` and ``norm`` as drawn
        (the rows of a target not held yet computed now); NaN where a sample has no map."""
        comp = self.comp
        classes = comp.targets(target)
        self.fill([classes], report)
        assert self.store is not None
        return self.store.maps(classes, norm, comp.scale_range)

    def store_range(self, target: Any, layer: int, method: str, reduction: str) -> list[float]:
        """norm "none": ``[lo, hi]`` of the stored maps of ``layer`` and the method for every
        sample's class under ``target``."""
        assert self.store is not None
        comp = self.comp
        key = comp.keys().index(comp.key_of(method, reduction))
        return self.store.value_range(comp.targets(target), layer, key)

    def store_traits(self, target: Any, norm: str, layer: int, key: str) -> dict[str, Any]:
        """What the frontend gets of the store: the store itself when it grew since it was last
        sent, the classes of ``target``, the colour range (``norm="none"``: of ``layer``'s maps
        of map kind ``key``) and a status line."""
        store = self.store
        assert store is not None
        comp = self.comp
        classes = comp.targets(target)
        out: dict[str, Any] = {}
        if store.u.shape[0] != self.sent_rows:
            self.sent_rows = store.u.shape[0]
            out.update(
                cube=buffers.pack(store.u, self.precision, deflate=True),
                cube_scale=buffers.pack(store.scale, "float32", deflate=True),
                cube_rows=buffers.pack(store.rows, "int32"),
                cube_keys=[map_key(*k) for k in comp.keys()],
                cube_meta={"scale_range": [float(v) for v in comp.scale_range]},
                channel_cube=buffers.pack(store.cu, self.precision, deflate=True),
                channel_scale=buffers.pack(store.cscale, "float32", deflate=True),
                channel_keys=[map_key(*k) for k in comp.channel_keys],
            )
        out["targets"] = buffers.pack(classes, "int32")
        if norm == "none":
            m = [map_key(*k) for k in comp.keys()].index(key)
            out["value_range"] = store.value_range(classes, layer, m)
        else:
            out["value_range"] = [float(v) for v in comp.scale_range]
        n, L, M, _ = store.u.shape
        out["status"] = (
            f"precomputed {int(comp.finite.sum())} samples x {L} layers x {M} maps "
            f"({n} sample/class rows, {store.nbytes / 1e6:.1f} MB as {self.precision})"
        )
        return out

    def empty_store_traits(self) -> dict[str, Any]:
        """The traits of no precomputed maps."""
        return dict(
            cube=buffers.empty(),
            cube_scale=buffers.empty(),
            cube_rows=buffers.empty("int32"),
            cube_keys=[],
            channel_cube=buffers.empty(),
            channel_scale=buffers.empty(),
            channel_keys=[],
        )

    def store_map(self, target: Any, norm: str, sample: int, layer: int, key: str) -> np.ndarray:
        """float32 ``[T]``: one precomputed map as drawn (NaN when the store is not there)."""
        if self.store is None:
            return np.full(self.comp.X.shape[-1], np.nan, np.float32)
        m = [map_key(*k) for k in self.comp.keys()].index(key)
        comp = self.comp
        maps = self.store.maps(comp.targets(target), norm, comp.scale_range, samples=[sample])
        return maps[0, layer, m].copy()

    # ---- on demand -------------------------------------------------------------------------
    def maps_now(
        self,
        samples: list[int],
        method: str,
        reduction: str,
        target: Any,
        norm: str,
        only: bool = False,
        partial: tuple[np.ndarray | None, int, int] | None = None,
    ) -> tuple[np.ndarray, str]:
        """``(maps [S, L, T], note)`` of ``samples``; with ``partial`` (``norm="layer"`` while
        the dataset-wide range is computed behind: the range so far, samples done, total) the
        maps are scaled by the range seen so far and the note says so."""
        comp = self.comp
        if partial is not None:
            rng, done, total = partial
            note = f"per-layer colour range filling in: {done} / {total} samples"
            return comp.maps_provisional(samples, method, reduction, target, rng), note
        return comp.maps(samples, method, reduction, target, norm, only=only), ""

    def drawn(self, maps: np.ndarray) -> np.ndarray:
        """``maps`` as the frontend draws them (quantised to ``precision`` and back)."""
        u, scale = quantise(maps, self.precision)
        return dequantise(u, scale)

    def maps_traits(
        self,
        maps: np.ndarray,
        meta: dict[str, Any],
        norm: str,
        layer: int,
        channels: np.ndarray | None = None,
    ) -> dict[str, Any]:
        """``maps``/``maps_scale``/``maps_meta`` and the colour range (``norm="none"``: of
        ``layer``'s maps) for kernel-mode maps ``[S, L, T]``; ``channel_maps`` /
        ``channel_maps_scale``: the raw ``input`` maps per channel ``[S, C, T]`` of the same
        samples (one range per sample over its ``[C, T]``), empty when there are none
        (``maps_meta["channels"]`` says which)."""
        self.counts["map_updates"] += 1
        u, scale = quantise(maps, self.precision)
        if channels is not None:
            cu, cscale = quantise_channels(channels, self.precision)
            chan = dict(
                channel_maps=buffers.pack(cu, self.precision),
                channel_maps_scale=buffers.pack(cscale, "float32"),
            )
        else:
            chan = dict(channel_maps=buffers.empty(), channel_maps_scale=buffers.empty())
        return dict(
            **chan,
            maps=buffers.pack(u, self.precision),
            maps_scale=buffers.pack(scale, "float32"),
            maps_meta={**meta, "channels": channels is not None},
            targets=buffers.pack(self.comp.targets(meta["target"]), "int32"),
            value_range=self.value_range(maps[:, layer], norm),
        )

    def value_range(self, arr: np.ndarray, norm: str) -> list[float]:
        if norm != "none":
            return [float(v) for v in self.comp.scale_range]
        finite = arr[np.isfinite(arr)]
        if finite.size == 0:
            return [0.0, 1.0]
        return [float(finite.min()), float(finite.max())]


def progress_reporter(
    set_status: Callable[[str], None], to_stderr: bool
) -> Callable[[int, int], None]:
    """``report(done, total)``: progress of a precomputation in the widget's status line (and,
    ``to_stderr``, e.g. in a script, as one line of plain text on stderr)."""
    t0 = time.perf_counter()

    def report(done: int, total: int) -> None:
        msg = f"precomputing maps: batch {done}/{total}"
        set_status(msg)
        if to_stderr and done:
            end = "\n" if done == total else ""
            elapsed = time.perf_counter() - t0
            print(f"\rtscam-widget: {msg} ({elapsed:.1f} s)", end=end, file=sys.stderr)

    return report


__all__ = ["AUTO_LIMIT_BYTES", "MapService", "progress_reporter"]
