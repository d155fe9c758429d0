"""The bridge between the widget and the explainer: asks ``Explainer.explain`` for maps (one
sample set, all layers) or for the whole cube, normalises method keys, applies dataset-wide
per-layer ranges for ``norm="layer"`` and keeps the kernel-mode LRU cache.

All arrays are numpy float32; T is the input length, L the number of layers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from tscam_widget.explain import METHODS, REDUCTIONS, Explainer, Method
from tscam_widget.explain.explanation import map_key, scale_to
from tscam_widget.explain.layers import INPUT
from tscam_widget.explain.methods import check_method_kwargs
from tscam_widget.explain.nograd import check_gradient_free, no_gradient_note, perturbation_methods
from tscam_widget.explain.targets import Target, check_target, target_array
from tscam_widget.explain.terms import check_reductions

from .cache import LRUCache

ALL_REDUCTIONS = REDUCTIONS

#: the predicted class of a sample whose series holds NaN or inf (it has none)
NON_FINITE = -2


class MapComputer:
    """Computes maps for the widget through one :class:`~tscam_widget.explain.Explainer`.

    model: the classifier; X: float32 ``[N, C, T]``; y: int ``[N]`` (-1 unknown);
    layers: names for ``Explainer(model, layers=...)`` (None: its default);
    methods / reductions: what the widget offers; cache_mb: bound of the kernel-mode cache.
    ``n_computations`` counts ``explain`` calls made for maps (not for ranges or predictions).
    """

    def __init__(
        self,
        model: Any,
        X: np.ndarray,
        y: np.ndarray,
        *,
        layers: Sequence[Any] | None = None,
        methods: Sequence[str] | None = None,
        reductions: Sequence[str] = ALL_REDUCTIONS,
        cache_mb: float = 64,
        batch_size: int = 256,
        scale_range: tuple[float, float] = (0.0, 1.0),
        method_kwargs: dict[str, Any] | None = None,
        explainer_kwargs: dict[str, Any] | None = None,
        predict: bool = True,
    ) -> None:
        self.model = model
        self.X = X
        self.y = y
        self.batch_size = int(batch_size)
        self.scale_range = scale_range
        self.method_kwargs = check_method_kwargs(method_kwargs)
        self.explainer_kwargs = dict(explainer_kwargs or {})
        self.explainer = Explainer(
            model,
            layers=list(layers) if layers is not None else None,
            with_input=layers is None,
            **self.explainer_kwargs,
        )
        self._specs: dict[str, Method] = dict(METHODS)  # the registry when the widget was made
        # data on disk or read on demand: each sample's finiteness is checked as it is read
        # (reading all of it first would make the first picture wait on N)
        self._private = False  # the model is the user's (see for_worker)
        self._check_on_read = bool(getattr(X, "lazy", False) or _on_disk(X))
        self.finite = np.ones(X.shape[0], bool) if self._check_on_read else _finite_rows(X)
        if self._check_on_read:
            self._first_finite()
        if not self.finite.any():
            raise ValueError("X: every sample contains NaN or inf values; nothing to explain")
        self.layers: list[str] = [str(n) for n in self._explainer_layers()]
        self._first_predictions(predict)
        self.reductions = self._check_reductions(reductions)
        self.methods = self._check_methods(methods)
        self._check_method_kwargs()
        self.cache = LRUCache.from_mb(cache_mb)
        # kernel mode: raw input-layer maps per channel [C, T] (of channel_keys), by sample
        self.channel_cache = LRUCache.from_mb(cache_mb / 2)
        self._ranges: dict[tuple[str, Target], np.ndarray] = {}
        self.n_computations = 0

    # ---- set-up --------------------------------------------------------------------------
    def _explainer_layers(self) -> list[str]:
        first = np.flatnonzero(self.finite)[:1]
        return list(self.explainer.resolve(self.X[first], arg="X"))

    def _first_predictions(self, predict: bool) -> None:
        """Fresh prediction arrays: the first finite sample's (all samples' with ``predict``)."""
        first = np.flatnonzero(self.finite)[:1]
        p = self.explainer.probs(self.X[first])
        n = self.X.shape[0]
        self.probs = np.full((n, p.shape[1]), np.nan, np.float32)
        self.pred = np.full(n, -1, np.int32)
        self.predicted = np.zeros(n, bool)  # rows of probs/pred known so far
        self.set_probs(first, p)
        if predict:
            for idx, probs in self.predict_batches(self.batch_size):
                self.set_probs(idx, probs)

    def new_weights(self, model: Any, predict: bool) -> None:
        """The user's model changed (trained, loaded, moved, or ``model`` replaces it): a new
        explainer on it, and every cached map, layer range and prediction of the old weights
        forgotten; the new predictions: the first finite sample's (all with ``predict``)."""
        self.model = model
        self.explainer = Explainer(model, layers=list(self.layers), **self.explainer_kwargs)
        first = np.flatnonzero(self.finite)[:1]
        self.layers = [str(n) for n in self.explainer.resolve(self.X[first])]
        self.reset()
        self._first_predictions(predict)

    def predict_batches(self, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(idx, softmax float32 [len(idx), K])`` for every finite sample not predicted yet,
        from plain batched forwards (no hooks, no gradients), ``batch`` samples at a time."""
        todo = np.flatnonzero(self.finite & ~self.predicted)
        for start in range(0, todo.size, batch):
            yield self.probs_of(todo[start : start + batch])

    def read(self, idx: np.ndarray) -> np.ndarray:
        """float32 ``[len(idx), C, T]``: samples ``idx``; data read on demand has its samples'
        finiteness recorded here (the non-finite ones get no map, no prediction)."""
        x = self.X[idx]
        if self._check_on_read:
            ok = np.isfinite(x).reshape(len(idx), -1).all(axis=1)
            self.finite[idx] = ok
            if len(idx) > 1:  # a batch: its pages leave this process (the page cache keeps them)
                _release_pages(self.X)
        return x

    def _first_finite(self) -> None:
        """Data checked on read: read from the start until a finite sample is found (normally
        the first), marking the non-finite ones before it."""
        for start in range(0, self.X.shape[0], 64):
            idx = np.arange(start, min(start + 64, self.X.shape[0]))
            for i in idx:
                self.read(np.array([i]))
                if self.finite[i]:
                    return
        raise ValueError("X: every sample contains NaN or inf values; nothing to explain")

    def probs_of(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(idx', softmax [len(idx'), K])``: the finite ones of samples ``idx``, predicted."""
        x = self.read(idx)
        ok = self.finite[idx]
        if not ok.all():
            idx, x = idx[ok], x[ok]
        if not len(idx):
            return idx, np.zeros((0, self.probs.shape[1]), np.float32)
        return idx, self.explainer.probs(x, private=self._private)

    def set_probs(self, idx: np.ndarray, probs: np.ndarray) -> None:
        """Record the softmax ``probs`` ``[len(idx), K]`` of samples ``idx``."""
        self.probs[idx] = probs
        self.pred[idx] = np.argmax(probs, axis=1)
        self.predicted[idx] = True

    @property
    def all_predicted(self) -> bool:
        """Every finite sample has its prediction (a non-finite one never gets one)."""
        return bool(self.predicted[self.finite].all())

    def pred_shown(self) -> np.ndarray:
        """int32 ``[N]``: the predictions as the sample menu gets them: -1 not in yet,
        ``NON_FINITE`` never (the series holds NaN or inf; data read on demand: known once
        read)."""
        return np.where(self.finite, self.pred, NON_FINITE).astype(np.int32)

    def for_worker(self) -> MapComputer:
        """A copy for a background thread: the same data and choices, an explainer of its own on
        a deep copy of the model (hooks registered for the kernel's requests never fire in the
        worker's forwards), an empty cache. The prediction arrays are shared."""
        import copy

        w = copy.copy(self)
        w.model = copy.deepcopy(self.model).eval()  # its own: left in eval mode
        w.explainer = self.explainer.for_copy(w.model)
        w._private = True  # plain forwards on it need no state saved and restored
        w.cache = LRUCache.from_mb(0)
        w._ranges = {}
        return w

    def _check_reductions(self, reductions: Sequence[str]) -> list[str]:
        return check_reductions(reductions)

    @property
    def gradient_free(self) -> bool:
        """The model's prediction has no gradient with respect to its input (tsai's ROCKET
        family): only the methods that need none are offered on the input."""
        return not self.explainer.input_differentiable

    @property
    def gradient_note(self) -> str:
        """The status note for a model without gradients ("" for one with)."""
        return no_gradient_note() if self.gradient_free else ""

    def _check_methods(self, methods: Sequence[str] | None) -> list[str]:
        known = list(self._specs)
        if methods is None:
            # the input attributions that need no gradient are chosen for the input only
            free = set(perturbation_methods()) if self.gradient_free else set()
            return [
                m
                for m in self.explainer.default_method_names()
                if m in self._specs and (not self._specs[m].only_on or m in free or self.defined(m))
            ]
        ms = [methods] if isinstance(methods, str) else list(methods)
        bad = [m for m in ms if m not in known]
        if bad or not ms:
            raise ValueError(f"methods: expected a non-empty list of {known}, got {ms!r}")
        if self.gradient_free and INPUT in self.layers:
            check_gradient_free([self._specs[m] for m in ms])
        return list(dict.fromkeys(ms))

    def _check_method_kwargs(self) -> None:
        accepted = {k for m in self.methods for k in self._specs[m].kwargs}
        unknown = sorted(set(self.method_kwargs) - accepted)
        if unknown:
            raise TypeError(
                f"method_kwargs: {unknown} not taken by any of the methods {self.methods}; they "
                f"take {sorted(accepted)}"
            )

    def kwargs_for(self, methods: Sequence[str]) -> dict[str, Any]:
        """The part of ``method_kwargs`` that ``methods`` take: an explain call of some of the
        widget's methods gets only theirs (the others' would be refused as unexpected)."""
        accepted = {k for m in methods for k in self._specs[m].kwargs}
        return {k: v for k, v in self.method_kwargs.items() if k in accepted}

    def spec(self, method: str) -> Method:
        """The method class instance of ``method`` (as registered when the widget was made)."""
        return self._specs[method]

    def defined(self, method: str) -> bool:
        """Whether ``method`` (one defined on some layers only) gives a finite map for at least
        one chosen layer."""
        first = np.flatnonzero(self.finite)[:1]
        try:
            ex, _ = self._explain(first, [method], "pred", "none")
            cube, _ = ex.to_array()
        except Exception:  # noqa: BLE001 - undefined for this model
            return False
        return bool(np.isfinite(np.asarray(cube)).any())

    def layer_layouts(self) -> list[str]:
        """Per layer, the layout its output is read with (see ``Explainer.layouts``)."""
        lay = self.explainer.layouts
        return [lay[n] for n in self.layers]

    def set_layers(self, layers: Sequence[Any]) -> list[str]:
        """Explain ``layers`` from now on (a new explainer); clears cache and ranges."""
        explainer = Explainer(self.model, layers=list(layers), **self.explainer_kwargs)
        first = np.flatnonzero(self.finite)[:1]
        names = [str(n) for n in explainer.resolve(self.X[first])]
        self.explainer, self.layers = explainer, names
        self.reset()
        return names

    def set_methods(self, methods: Sequence[str] | None) -> list[str]:
        """Offer ``methods`` (None: the defaults) from now on; clears cache and ranges."""
        self.methods = self._check_methods(methods)
        self.reset()
        return self.methods

    def set_reductions(self, reductions: Sequence[str]) -> list[str]:
        """Offer ``reductions`` from now on; clears cache and ranges."""
        self.reductions = self._check_reductions(reductions)
        self.reset()
        return self.reductions

    def reset(self) -> None:
        """Forget cached maps and layer ranges."""
        self.cache.clear()
        self.channel_cache.clear()
        self._ranges.clear()

    # ---- keys ----------------------------------------------------------------------------
    @property
    def reduction_methods(self) -> list[str]:
        """Methods (of the registry) that take a reduction."""
        return [m for m, s in self._specs.items() if s.reductions]

    @property
    def target_methods(self) -> list[str]:
        """Methods (of the registry) whose maps depend on the target class."""
        return [m for m, s in self._specs.items() if s.uses_target]

    @property
    def expensive(self) -> list[str]:
        """The offered methods that run forwards of their own (``Method.extra_forwards``): never
        prefetched, and ``precompute="auto"`` stays in kernel mode when one is offered."""
        return [m for m in self.methods if self._specs[m].extra_forwards]

    def method_labels(self) -> dict[str, str]:
        return {m: s.display_label for m, s in self._specs.items()}

    def method_costs(self) -> dict[str, str]:
        """The cost on this data of the offered methods that run passes of their own, as the
        method menu shows it after the label: ``{"integrated_gradients": "32 fwd+bwd"}`` (see
        :meth:`Method.menu_label`)."""
        _, c, t = self.X.shape
        out = {}
        for m in self.methods:
            s = self._specs[m]
            try:
                label = s.menu_label(c, t, **self.kwargs_for([m]))
            except (TypeError, ValueError):  # kwargs it rejects: the explain call says why
                continue
            if label != s.display_label:
                out[m] = label.removeprefix(s.display_label).strip().removeprefix("(")[:-1]
        return out

    @property
    def channel_keys(self) -> list[tuple[str, str | None]]:
        """The map kinds (of :meth:`keys`) with maps per channel ``[C, T]`` on the ``input``
        layer (:attr:`Method.per_channel`); none for one channel or without the input layer
        (later layers mix the channels: their maps are ``[T]``)."""
        if self.X.shape[1] < 2 or INPUT not in self.layers:
            return []
        return [k for k in self.keys() if self._specs[k[0]].per_channel]

    def keys(self, methods: Sequence[str] | None = None) -> list[tuple[str, str | None]]:
        """(method, reduction or None) for every map kind of ``methods`` (default: all)."""
        out: list[tuple[str, str | None]] = []
        for m in self.methods if methods is None else methods:
            out.extend((m, r) for r in self._specs[m].keys(self.reductions))
        return out

    def key_of(self, method: str, reduction: str | None) -> tuple[str, str | None]:
        """The normalised key: the reduction only for methods that take one."""
        spec = self._specs.get(method)
        return (method, reduction if spec is not None and spec.reductions else None)

    def targets(self, target: Target) -> np.ndarray:
        """The class each map explains under ``target``: int32 ``[N]`` (-1 where unknown)."""
        return target_array(target, self.pred, self.y)

    # ---- explainer calls -----------------------------------------------------------------
    def _explain(
        self,
        idx: np.ndarray,
        methods: Sequence[str],
        target: Target | list[int],
        norm: str,
        reductions: Sequence[str] | None = None,
        skip_bad: bool = False,
    ) -> tuple[Any, np.ndarray]:
        """``(explanation or None, kept bool [len(idx)])``. A non-finite sample is an error, or
        with ``skip_bad`` left out (data read on demand: found non-finite only as it is read by
        a pass over all samples); None when none is left."""
        idx = np.asarray(idx, dtype=np.int64)
        x = self.read(idx)
        kept = self.finite[idx].copy()
        if not kept.all():
            if not skip_bad:
                bad = idx[~kept]
                raise ValueError(
                    f"sample {int(bad[0])}: its series contains NaN or inf values, so it has no map"
                )
            idx, x = idx[kept], x[kept]
            if isinstance(target, list):
                target = [c for c, k in zip(target, kept.tolist()) if k]
            if not len(idx):
                return None, kept
        y = self.y[idx]
        target = check_target(target, idx.size, y, n_classes=self.probs.shape[1], ids=idx)
        y = y if (y >= 0).all() else None
        ex = self.explainer.explain(
            x,
            target=target,
            y=y,
            methods=list(methods),
            reductions=tuple(reductions if reductions is not None else self.reductions),
            norm=norm,
            scale_range=self.scale_range,
            batch_size=self.batch_size,
            **self.kwargs_for(methods),
        )
        return ex, kept

    def raw_cube(
        self,
        idx: np.ndarray,
        keys: Sequence[tuple[str, str | None]],
        target: Target | list[int],
        norm: str,
        skip_bad: bool = False,
    ) -> np.ndarray:
        """float32 ``[S, L, len(keys), T]`` for samples ``idx`` (explainer norm ``norm``); with
        ``skip_bad``, rows of samples found non-finite as they are read are NaN."""
        return self.raw_maps(idx, keys, target, norm, skip_bad)[0]

    def raw_maps(
        self,
        idx: np.ndarray,
        keys: Sequence[tuple[str, str | None]],
        target: Target | list[int],
        norm: str,
        skip_bad: bool = False,
        channels: bool = False,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(maps, per_channel)``: the maps as :meth:`raw_cube`, and with ``channels`` the
        ``input`` layer's raw maps per channel (after the method's ReLU, before any norm)
        float32 ``[S, Kc, C, T]`` of the :attr:`channel_keys` among ``keys`` (Kc of them, in
        that order; NaN where undefined), or None when there are none."""
        methods = list(dict.fromkeys(m for m, _ in keys))
        reds = sorted({r for _, r in keys if r is not None}, key=ALL_REDUCTIONS.index)
        ex, kept = self._explain(idx, methods, target, norm, reds or ("mean",), skip_bad)
        _, c, t = self.X.shape
        shape = (len(kept), len(self.layers), len(keys), t)
        ckeys = [k for k in self.channel_keys if k in keys] if channels else []
        cshape = (len(kept), len(ckeys), c, t)
        chans = np.full(cshape, np.nan, np.float32) if ckeys else None
        if ex is None:
            return np.full(shape, np.nan, np.float32), chans
        arr, names = ex.to_array()
        arr = np.asarray(arr, dtype=np.float32)  # [L, M', S, T]
        pos = {str(k): i for i, k in enumerate(names)}
        try:
            order = [pos[map_key(m, r)] for m, r in keys]
        except KeyError as e:
            raise RuntimeError(f"explainer returned keys {list(names)}, missing {e}") from None
        out = np.ascontiguousarray(arr[:, order].transpose(2, 0, 1, 3))
        if chans is not None:
            for j, (m, r) in enumerate(ckeys):
                if ex.has_channel_maps(m, r):
                    chans[kept, j] = ex.channel_maps(m, r, norm="none")
        if kept.all():
            return out, chans
        full = np.full(shape, np.nan, np.float32)
        full[kept] = out
        return full, chans

    def channel_maps(
        self, samples: Sequence[int], method: str, reduction: str | None, target: Target
    ) -> np.ndarray | None:
        """Kernel mode: float32 ``[S, C, T]``, the ``input`` layer's raw maps per channel of
        ``samples`` for one map kind (as :meth:`raw_maps`), from the channel cache (filled by
        :meth:`maps`) or computed now; None when the kind has none."""
        key = self.key_of(method, reduction)
        if key not in self.channel_keys:
            return None
        cache = self.channel_cache
        found = {int(s): cache.get((int(s), *key, target)) for s in samples}
        missing = [s for s, v in found.items() if v is None]
        if missing:
            _, chans = self.raw_maps(np.array(missing), [key], target, "none", channels=True)
            assert chans is not None
            self._keep_channel_maps(missing, [key], chans, target)
            found.update((s, chans[i, 0]) for i, s in enumerate(missing))
        return np.stack([found[int(s)] for s in samples])

    def _keep_channel_maps(
        self,
        samples: Sequence[int],
        keys: Sequence[tuple[str, str | None]],
        chans: np.ndarray | None,
        target: Target,
    ) -> None:
        """Put :meth:`raw_maps`' maps per channel ``[S, Kc, C, T]`` (of the channel keys among
        ``keys``, in that order) into the channel cache by (sample, kind, target)."""
        if chans is None:
            return
        ckeys = [k for k in self.channel_keys if k in keys]
        for i, s in enumerate(samples):
            for j, k in enumerate(ckeys):
                self.channel_cache.put((int(s), *k, target), np.ascontiguousarray(chans[i, j]))

    def layer_ranges(self, key: tuple[str, str | None], target: Target) -> np.ndarray:
        """Dataset-wide ``[L, 2]`` (min, max) of the raw maps of ``key``; computed once per
        (key, target) over all finite samples in batches, then cached."""
        rkey = (map_key(*key), target)
        if rkey not in self._ranges:
            keys = self.keys() if key in self.keys() else [key]
            self._ranges.update(self._compute_ranges(keys, target))
        return self._ranges[rkey]

    def _compute_ranges(
        self, keys: Sequence[tuple[str, str | None]], target: Target
    ) -> dict[tuple[str, Target], np.ndarray]:
        ok = np.flatnonzero(self.finite)
        lo = hi = None
        for start in range(0, ok.size, self.batch_size):
            idx = ok[start : start + self.batch_size]
            raw = self.raw_cube(idx, keys, target, "none", skip_bad=True)
            blo, bhi = nanminmax(raw, axis=(0, 3))  # [L, M]
            lo = blo if lo is None else np.fmin(lo, blo)
            hi = bhi if hi is None else np.fmax(hi, bhi)
        assert lo is not None and hi is not None
        return {
            (map_key(*k), target): np.stack([lo[:, j], hi[:, j]], 1) for j, k in enumerate(keys)
        }

    # ---- kernel mode ---------------------------------------------------------------------
    def maps(
        self,
        samples: Sequence[int],
        method: str,
        reduction: str | None,
        target: Target,
        norm: str,
        only: bool = False,
    ) -> np.ndarray:
        """float32 ``[S, L, T]``: the maps of ``samples`` for one method (+ reduction), all layers.

        Served from the LRU cache keyed by (sample, method, reduction, target, norm); on a miss
        the missing samples are explained in one call, for every cheap method at once (so
        switching methods afterwards is a hit too), or for this one only (``only``: the fastest
        answer, while background work shares the processor).
        """
        key = self.key_of(method, reduction)
        if key[0] not in self.methods:
            raise ValueError(f"method: expected one of {self.methods}, got {method!r}")
        found: dict[int, np.ndarray] = {}
        missing: list[int] = []
        for s in dict.fromkeys(int(s) for s in samples):
            hit = self.cache.get((s, *key, target, norm))
            if hit is None:
                missing.append(s)
            else:
                found[s] = hit
        if missing:
            cheap = [m for m in self.methods if m not in self.expensive]
            keys = [key] if only else self.keys(cheap)
            if norm == "layer" and (map_key(*key), target) in self._ranges:
                # the ranges known (computed behind): no other kind's range computed here
                keys = [k for k in keys if (map_key(*k), target) in self._ranges]
            if key not in keys:
                keys = [key]
            explainer_norm = "sample" if norm == "sample" else "none"
            cube, chans = self.raw_maps(
                np.array(missing), keys, target, explainer_norm, channels=True
            )
            self.n_computations += 1
            self._keep_channel_maps(missing, keys, chans, target)
            if norm == "layer":
                for j, k in enumerate(keys):
                    r = self.layer_ranges(k, target)
                    cube[:, :, j] = scale_to(
                        cube[:, :, j], r[None, :, 0, None], r[None, :, 1, None], self.scale_range
                    )
            for i, s in enumerate(missing):
                for j, k in enumerate(keys):
                    m = np.ascontiguousarray(cube[i, :, j])
                    self.cache.put((s, *k, target, norm), m)
                    if k == key:
                        found[s] = m  # served even when larger than the whole cache
        out = [found[int(s)] for s in samples]
        return np.stack(out)

    def has_range(self, method: str, reduction: str | None, target: Target) -> bool:
        """Whether the dataset-wide ``norm="layer"`` range of this map kind is known."""
        return (map_key(*self.key_of(method, reduction)), target) in self._ranges

    def set_range(self, method: str, reduction: str | None, target: Target, r: np.ndarray) -> None:
        """Record the complete ``[L, 2]`` range (computed in the background)."""
        self._ranges[(map_key(*self.key_of(method, reduction)), target)] = r

    def maps_provisional(
        self,
        samples: Sequence[int],
        method: str,
        reduction: str | None,
        target: Target,
        partial: np.ndarray | None,
    ) -> np.ndarray:
        """float32 ``[S, L, T]`` for ``norm="layer"`` while the dataset-wide range is still being
        computed: scaled by the range seen so far (``partial`` ``[L, 2]``, or None) widened to
        these samples' own maps. Not cached (the range will change)."""
        key = self.key_of(method, reduction)
        raw = self.raw_cube(np.array([int(s) for s in samples]), [key], target, "none")[:, :, 0]
        lo, hi = nanminmax(raw, axis=(0, 2))  # [L]
        if partial is not None:
            lo, hi = np.fmin(lo, partial[:, 0]), np.fmax(hi, partial[:, 1])
        return scale_to(raw, lo[None, :, None], hi[None, :, None], self.scale_range)

    # ---- precompute mode -----------------------------------------------------------------
    def cube_nbytes(self, methods: Sequence[str] | None = None) -> int:
        """Bytes of the float32 cube ``[N, L, M, T]`` for ``methods`` (default: the widget's), with
        the ``input`` layer's maps per channel ``[N, Kc, C, T]`` of the widget's methods."""
        n, c, t = self.X.shape
        return 4 * n * t * (len(self.layers) * len(self.keys(methods)) + len(self.channel_keys) * c)

    def cube(
        self, target: Target, norm: str, progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        """float32 ``[N, L, M, T]`` (M indexes :meth:`keys`), computed in batches; rows of
        non-finite samples are NaN. ``progress(done, total)`` is called after every batch."""
        keys = self.keys()
        n, _, t = self.X.shape
        out = np.full((n, len(self.layers), len(keys), t), np.nan, np.float32)
        ok = np.flatnonzero(self.finite)
        total = -(-ok.size // self.batch_size)
        explainer_norm = "sample" if norm == "sample" else "none"
        for b, start in enumerate(range(0, ok.size, self.batch_size)):
            idx = ok[start : start + self.batch_size]
            out[idx] = self.raw_cube(idx, keys, target, explainer_norm, skip_bad=True)
            self.n_computations += 1
            if progress is not None:
                progress(b + 1, total)
        if norm == "layer":
            lo, hi = nanminmax(out, axis=(0, 3))  # [L, M]
            for j, k in enumerate(keys):
                self._ranges[(map_key(*k), target)] = np.stack([lo[:, j], hi[:, j]], 1)
            out = scale_to(out, lo[None, :, :, None], hi[None, :, :, None], self.scale_range)
        return out


def _on_disk(X: Any) -> bool:
    """Whether ``X`` is (a view of) a memory-mapped file."""
    import mmap

    a, seen = X, 0
    while a is not None and seen < 16:
        if isinstance(a, (np.memmap, mmap.mmap)):
            return True
        a, seen = getattr(a, "base", None), seen + 1
    return False


def _release_pages(X: Any) -> None:
    """Unmap the pages of a read-only or shared memmap behind ``X`` from this process (they stay
    in the system's page cache): reading a large file batch by batch would otherwise count
    every page read in the process's resident memory. Copy-on-write maps (mode "c") are left
    alone (that would drop their private changes)."""
    import mmap

    a, seen = X, 0
    while a is not None and seen < 16:
        if isinstance(a, np.memmap):
            m = getattr(a, "_mmap", None)
            if m is not None and a.mode in ("r", "r+", "w+") and hasattr(mmap, "MADV_DONTNEED"):
                try:
                    m.madvise(mmap.MADV_DONTNEED)
                except (OSError, ValueError):
                    pass
            return
        a, seen = getattr(a, "base", None), seen + 1


def _finite_rows(X: Any, chunk: int = 1024) -> np.ndarray:
    """bool ``[N]``: rows of ``X`` ``[N, ...]`` without NaN or inf, read ``chunk`` rows at a time
    (a memmap is never loaded whole)."""
    n = X.shape[0]
    if getattr(X, "lazy", False):  # read on demand: checked as samples are read
        return np.ones(n, bool)
    out = np.empty(n, bool)
    for start in range(0, n, chunk):
        part = np.asarray(X[start : start + chunk])
        out[start : start + chunk] = np.isfinite(part).reshape(part.shape[0], -1).all(axis=1)
    return out


def nanminmax(a: np.ndarray, axis: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``nanmin``/``nanmax`` over ``axis`` without all-NaN warnings (NaN where all NaN)."""
    finite = np.isfinite(a)
    lo = np.where(finite, a, np.inf).min(axis=axis)
    hi = np.where(finite, a, -np.inf).max(axis=axis)
    none = ~finite.any(axis=axis)
    return np.where(none, np.nan, lo).astype(np.float32), np.where(none, np.nan, hi).astype(
        np.float32
    )
