"""The training timeline: the maps and predictions of a fixed set of samples, recorded at moments
the user chooses (after each epoch of a fastai fit, or on ``CamWidget.snapshot()``), so that an
epoch slider scrubs through training without a kernel.

A snapshot keeps, for the weights of that moment:

- the maps of its samples (at most ``max_samples``, and fewer when ``memory_mb`` would be passed)
  for every layer of the widget and one variant of each of its cheap methods (reduction
  methods with the widget's first reduction), explained for the class predicted at that moment,
  from one ``Explainer.explain`` call;
- each map as ``levels`` levels of its range (uint8 on a 0..255 grid, so the frontend decodes it
  as a uint8 map; the range as float32), deflated with the delta along time
  (``buffers.pack(..., deflate=True)``);
- the softmax probabilities of every finite sample of the widget (float32 ``[N, K]``): the sample
  menu at a snapshot lists that moment's predictions;
- a label (``"epoch 3"``) and the metrics given (a fastai fit: the validation metrics of
  ``learn.recorder``).

Recording is two steps so that it never slows the training down: :meth:`Timeline.capture`
keeps a copy of the weights (on the CPU), the label, the metrics and the samples (milliseconds),
and :meth:`Timeline.materialize` explains the captured moments later, on a copy of the model
loaded with each moment's weights: in a kernel in the background once the weights rest, in a
script at the widget's next read. The maps are those of that moment's weights either way.
Everything is encoded once, when it is computed; the traits only gather the encoded dicts.
"""

from __future__ import annotations

import time
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from tscam_widget.explain.explanation import map_key

from . import buffers
from .compact import dequantise, quantise

#: default size of a snapshot's sample set (the widget's shown samples)
MAX_SAMPLES = 60
#: default levels of a recorded map's range: 32 (a value within 1/62 of its map's range; the
#: colour table shows 32 of its 256 colours). Measured on the demo (InceptionTime, 60 samples x
#: 7 layers x 9 methods x 128 steps): a snapshot's maps deflate to ~220 KB of base64 in the page
#: at 32 levels, ~280 KB at 64, ~360 KB at 256; coding against the previous snapshot was larger
LEVELS = 32


def check_levels(levels: Any) -> int:
    """``levels`` if it is an int in 2..256, else a ValueError saying so."""
    if (
        isinstance(levels, bool)
        or not isinstance(levels, (int, np.integer))
        or not (2 <= levels <= 256)
    ):
        raise ValueError(f"levels: expected an int in 2..256, got {levels!r}")
    return int(levels)


def coarsen(u: np.ndarray, levels: int) -> np.ndarray:
    """uint8 unit values ``q`` (``q / 255``) rounded to ``levels`` levels, kept on the 0..255 grid
    (``round(round(q (levels - 1) / 255) 255 / (levels - 1))``), so they decode as uint8."""
    if levels >= 256:
        return u
    k = np.rint(u.astype(np.float64) * ((levels - 1) / 255.0))
    return np.rint(k * (255.0 / (levels - 1))).astype(np.uint8)


def level_error(scale: np.ndarray, levels: int) -> np.ndarray:
    """Largest error of a recorded value, per map ``[...]`` from ``scale [..., 2]``: half a level
    of the 256 steps of its range plus, with fewer levels, half a coarse level."""
    span = (scale[..., 1] - scale[..., 0]).astype(np.float64)
    return span * (0.5 / 255 + (0.5 / (levels - 1) if levels < 256 else 0.0))


class _Unpacked:
    """A read-only attribute of a :class:`Snapshot`: its deflated dict ``packed[key]``, decoded
    on each read (the snapshot keeps only the deflated bytes)."""

    def __init__(self, key: str, doc: str) -> None:
        self.key = key
        self.__doc__ = doc

    @overload
    def __get__(self, snap: None, owner: type | None = None) -> _Unpacked: ...
    @overload
    def __get__(self, snap: Snapshot, owner: type | None = None) -> np.ndarray: ...
    def __get__(self, snap: Snapshot | None, owner: type | None = None) -> Any:
        return self if snap is None else buffers.unpack(snap.packed[self.key])

    def __set__(self, snap: Any, value: Any) -> None:
        raise AttributeError(f"{self.key}: read-only (decoded from the snapshot's packed dicts)")


@dataclass
class Snapshot:
    """One recorded moment, kept as it travels (deflated protocol dicts in ``packed``: ``samples``,
    ``maps``, ``scale``, ``probs``). ``label``, ``metrics``, ``keys`` (``"method"`` or
    ``"method/reduction"``), ``target`` int32 ``[S]`` (the class each map explains: the
    prediction then), ``seconds`` (the cost of recording it)."""

    label: str
    metrics: dict[str, float]
    keys: list[str]
    target: np.ndarray
    seconds: float
    packed: dict[str, dict[str, Any]] = field(repr=False)

    samples = _Unpacked("samples", "int32 ``[S]``: the widget samples it holds.")
    u = _Unpacked(
        "maps", "uint8 ``[S, L, M, T]``: unit values (``levels`` levels on the 0..255 grid)."
    )
    scale = _Unpacked(
        "scale", "float32 ``[S, L, M, 2]``: each map's (lo, hi); NaN where a map is undefined."
    )
    probs = _Unpacked(
        "probs", "float32 ``[N, K]``: softmax of every widget sample (NaN rows: not finite)."
    )

    def maps(self) -> np.ndarray:
        """float32 ``[S, L, M, T]``: the recorded maps (``norm="none"``); NaN where absent."""
        return dequantise(self.u, self.scale)

    @property
    def nbytes(self) -> int:
        """Bytes the snapshot is kept and travels in (its deflated dicts)."""
        return sum(len(p["data"]) for p in self.packed.values())


@dataclass
class Pending:
    """A captured moment whose maps are not computed yet: its weights (a CPU copy of the
    model's ``state_dict``), label, metrics and samples."""

    label: str
    metrics: dict[str, float]
    samples: np.ndarray
    state: dict[str, Any] = field(repr=False)

    @property
    def nbytes(self) -> int:
        return int(sum(v.numel() * v.element_size() for v in self.state.values()))


def _metrics(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in dict(metrics or {}).items():
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise ValueError(
                f"metrics: expected numbers, got {k!r}: {v!r} ({type(v).__name__})"
            ) from None
        if np.isfinite(x):  # NaN has no JSON (the traits and the page are JSON)
            out[str(k)] = x
    return out


class Timeline:
    """The snapshots of one widget.

    memory_mb: the budget of the kept maps; a snapshot keeps at most as many samples as let
    ``max_snapshots`` snapshots (uncompressed uint8 maps and ranges) fit in it.
    max_samples: the most samples a snapshot keeps. levels: levels of each map's range (2..256).
    """

    def __init__(
        self,
        memory_mb: float = 64,
        max_samples: int = MAX_SAMPLES,
        max_snapshots: int = 100,
        levels: int = LEVELS,
    ) -> None:
        if isinstance(memory_mb, bool) or not isinstance(memory_mb, (int, float)) or memory_mb <= 0:
            raise ValueError(f"memory_mb: expected a number of MB > 0, got {memory_mb!r}")
        for name, v in (("max_samples", max_samples), ("max_snapshots", max_snapshots)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {v!r}")
        self.memory_bytes = int(memory_mb * 1e6)
        self.max_samples = int(max_samples)
        self.max_snapshots = int(max_snapshots)
        self.levels = check_levels(levels)
        self.snapshots: list[Snapshot] = []
        self.pending: list[Pending] = []
        self.epochs = 0  # epochs recorded by callbacks (labels "epoch k" go on across fits)
        self.warned: set[str] = set()

    def __len__(self) -> int:
        """The snapshots recorded, the captured ones not computed yet included."""
        return len(self.snapshots) + len(self.pending)

    @property
    def nbytes(self) -> int:
        """Bytes of the kept snapshots as they travel (deflated)."""
        return sum(s.nbytes for s in self.snapshots)

    def clear(self) -> None:
        """Forget every snapshot."""
        self.snapshots, self.pending = [], []
        self.epochs = 0

    # ---- capturing now, computing later ------------------------------------------------------
    def capture(
        self,
        model: Any,
        samples: Sequence[int],
        label: str,
        metrics: Mapping[str, Any] | None = None,
    ) -> Pending:
        """Keep ``model``'s weights now (a CPU copy of its ``state_dict``), with ``label``,
        ``metrics`` and the widget ``samples`` to explain; :meth:`materialize` computes the
        maps. Raises when the timeline is full."""
        if len(self) >= self.max_snapshots:
            raise ValueError(
                f"timeline: it holds max_snapshots={self.max_snapshots} snapshots already; "
                "clear() it or make a Timeline with a larger max_snapshots"
            )
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        p = Pending(str(label), _metrics(metrics), np.asarray(samples, np.int64), state)
        self.pending.append(p)
        return p

    @property
    def pending_bytes(self) -> int:
        """Bytes of the weights kept for the moments not computed yet."""
        return sum(p.nbytes for p in self.pending)

    def compute(self, comp: Any, p: Pending) -> Snapshot:
        """The snapshot of captured moment ``p``: its maps and predictions under its weights, on
        a copy of ``comp``'s model (the user's model is never touched). Not kept: see
        :meth:`add`."""
        worker = comp.for_worker()
        worker.model.load_state_dict(p.state)
        return self.explain(worker, p.samples, p.label, p.metrics)

    def add(self, p: Pending, snap: Snapshot) -> None:
        """Keep ``snap``, the snapshot computed for the oldest captured moment ``p``."""
        if self.pending and self.pending[0] is p:
            self.pending.pop(0)
            self.snapshots.append(snap)

    def materialize(self, comp: Any) -> int:
        """Compute every captured moment now, in order; returns how many."""
        n = 0
        while self.pending:
            p = self.pending[0]
            self.add(p, self.compute(comp, p))
            n += 1
        return n

    # ---- what a snapshot holds ----------------------------------------------------------------
    @staticmethod
    def keys(comp: Any) -> list[tuple[str, str | None]]:
        """(method, reduction or None) recorded for ``comp`` (the widget's ``MapComputer``): one
        variant of each offered method without forwards of its own, reduction methods with the
        first offered reduction."""
        out: list[tuple[str, str | None]] = []
        for method, red in comp.keys([m for m in comp.methods if m not in comp.expensive]):
            if all(m != method for m, _ in out):
                out.append((method, red))
        return out

    def sample_cap(self, comp: Any) -> int:
        """The most samples one snapshot of ``comp`` keeps: ``max_samples``, fewer when
        ``max_snapshots`` snapshots of uint8 maps and float32 ranges would pass ``memory_mb``."""
        per = len(comp.layers) * len(self.keys(comp)) * (comp.X.shape[-1] + 8)
        return max(1, min(self.max_samples, self.memory_bytes // (self.max_snapshots * per)))

    def default_samples(self, comp: Any, listed: Sequence[int] | None, current: int) -> np.ndarray:
        """The samples a widget's snapshot holds: those of the last snapshot (scrubbing then
        follows the same samples); for the first, the finite ones of ``listed`` (the sample
        menu's list; None: every sample) in order, the ``current`` sample first when it is not
        among them, capped by :meth:`sample_cap`. int64 ``[S]``."""
        if self.pending:
            return self.pending[-1].samples.astype(np.int64)
        if self.snapshots:
            return self.snapshots[-1].samples.astype(np.int64)
        pool = np.arange(comp.X.shape[0]) if listed is None else np.asarray(listed, np.int64)
        pool = pool[comp.finite[pool]]
        cap = self.sample_cap(comp)
        out = pool[:cap]
        if comp.finite[current] and current not in set(out.tolist()):
            out = np.concatenate([[current], out[: cap - 1]])
        return out.astype(np.int64)

    # ---- recording ----------------------------------------------------------------------------
    def record(
        self,
        comp: Any,
        samples: Sequence[int],
        label: str,
        metrics: Mapping[str, Any] | None = None,
    ) -> Snapshot:
        """Record, now, the snapshot of ``comp``'s model's current weights (see
        :meth:`explain`); computes the captured moments before it first. Returns it (kept)."""
        if len(self) >= self.max_snapshots:
            raise ValueError(
                f"timeline: it holds max_snapshots={self.max_snapshots} snapshots already; "
                "clear() it or make a Timeline with a larger max_snapshots"
            )
        self.materialize(comp)
        snap = self.explain(comp, samples, label, metrics)
        self.snapshots.append(snap)
        return snap

    def explain(
        self,
        comp: Any,
        samples: Sequence[int],
        label: str,
        metrics: Mapping[str, Any] | None = None,
    ) -> Snapshot:
        """The snapshot of ``samples`` (widget sample indices; the non-finite ones are left out,
        the rest capped by :meth:`sample_cap`): their maps for every layer and :meth:`keys` of
        ``comp`` under its model's weights, for the class the model predicts, from one explain
        call, and the probabilities of every finite sample."""
        metrics = _metrics(metrics)
        t0 = time.perf_counter()
        n = comp.X.shape[0]
        idx = np.asarray([int(s) for s in samples], np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"samples: expected widget sample indices in 0..{n - 1}, got {idx}")
        idx = np.asarray(list(dict.fromkeys(idx.tolist())), np.int64)
        idx = idx[comp.finite[idx]][: self.sample_cap(comp)]
        if not idx.size:
            raise ValueError("samples: none of them is finite; a snapshot needs at least one")
        keys = self.keys(comp)
        methods = list(dict.fromkeys(m for m, _ in keys))
        ex = comp.explainer.explain(
            comp.read(idx),
            target="pred",
            methods=methods,
            reductions=(comp.reductions[0],),
            norm="none",
            batch_size=comp.batch_size,
            **comp.kwargs_for(methods),
        )
        arr, names = ex.to_array(norm="none")  # [L, M', S, T]
        pos = {str(k): i for i, k in enumerate(names)}
        names_kept = [map_key(*k) for k in keys]
        maps = np.asarray(arr, np.float32)[:, [pos[k] for k in names_kept]].transpose(2, 0, 1, 3)
        u, scale = quantise(maps, "uint8")
        u = coarsen(u, self.levels)
        probs = np.full((n, ex.probs.shape[1]), np.nan, np.float32)
        probs[idx] = ex.probs
        rest = np.flatnonzero(comp.finite)
        rest = rest[~np.isin(rest, idx)]  # the others: plain forwards, so the sample menu at a
        for start in range(0, rest.size, comp.batch_size):  # snapshot lists that moment's
            got, p = comp.probs_of(rest[start : start + comp.batch_size])
            probs[got] = p
        packed = {
            "samples": buffers.pack(idx, "int32"),
            "maps": buffers.pack(u, "uint8", deflate=True),
            "scale": buffers.pack(scale, "float32", deflate=True),
            "probs": buffers.pack(probs, "float32", deflate=True),
        }
        return Snapshot(
            label=str(label),
            metrics=metrics,
            keys=names_kept,
            target=ex.target.astype(np.int32),
            seconds=time.perf_counter() - t0,
            packed=packed,
        )

    def traits(self) -> dict[str, Any]:
        """The values of the timeline's traits (:data:`TIMELINE_TRAITS`, ``epoch`` aside)."""
        snaps = self.snapshots
        return {
            "timeline_meta": {
                "labels": [s.label for s in snaps],
                "metrics": [s.metrics for s in snaps],
                "keys": snaps[-1].keys if snaps else [],
                "levels": self.levels,
                "pending": len(self.pending),
            },
            "timeline_samples": [s.packed["samples"] for s in snaps],
            "timeline_maps": [s.packed["maps"] for s in snaps],
            "timeline_scale": [s.packed["scale"] for s in snaps],
            "timeline_probs": [s.packed["probs"] for s in snaps],
        }

    # ---- fastai -------------------------------------------------------------------------------
    def callback(self, record: Callable[[str, dict[str, float]], Any]) -> Any:
        """A fastai ``Callback`` whose ``after_epoch`` calls ``record("epoch k", metrics)`` with
        the epoch's ``learn.recorder`` values (train/valid loss, the metrics); k counts the epochs
        recorded by this timeline's callbacks, across fits. A bound method is held weakly (the
        Learner does not keep a widget alive). Imports fastai (``tscam_widget.widget`` itself
        does not)."""
        from .timeline_fastai import TimelineCallback

        return TimelineCallback(self, record)

    def warn_once(self, message: str) -> None:
        """A ``RuntimeWarning`` with ``message``, once per timeline."""
        if message not in self.warned:
            self.warned.add(message)
            warnings.warn(message, RuntimeWarning, stacklevel=3)

    def next_epoch_label(self) -> str:
        """``"epoch k"`` for the next epoch a callback records (counts on across fits)."""
        self.epochs += 1
        return f"epoch {self.epochs}"


def weak_callable(fn: Callable[..., Any]) -> Callable[[], Callable[..., Any] | None]:
    """A function returning ``fn`` (None once a bound method's object is gone)."""
    if hasattr(fn, "__self__") and hasattr(fn, "__func__"):
        ref = weakref.WeakMethod(fn)  # type: ignore[arg-type]
        return ref
    return lambda: fn


def recorder_metrics(learn: Any) -> dict[str, float]:
    """The values of the epoch just ended from ``learn.recorder`` (``train_loss``,
    ``valid_loss``, the metrics), the numeric ones only."""
    rec = getattr(learn, "recorder", None)
    names = list(getattr(rec, "metric_names", []) or [])[1:]  # without "epoch"
    values = list(getattr(learn, "final_record", []) or [])
    out: dict[str, float] = {}
    for k, v in zip(names, values):
        try:
            out[str(k)] = float(v)
        except (TypeError, ValueError):
            continue
    return out
