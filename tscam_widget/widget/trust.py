"""The widget's trust view: ``tscam_widget.metrics.evaluate`` on the widget's model and samples,
the cascading-randomised model's maps (sanity check), the ground-truth mask; all as binary
traits so the exported page shows them without a kernel (``docs/protocol.md``, "Trust").

:class:`TrustMixin` holds the traits and the work; :class:`~.camwidget.CamWidget` calls
:meth:`TrustMixin._trust_init` in its constructor, :meth:`TrustMixin._trust_sync` when it flushes
and :meth:`TrustMixin._trust_start_background` when its predictions are in.

The table is computed on the widget's samples for the class each map of the ``"pred"`` target
explains (the model's prediction), on the widget's layers and for every method's default
variant (``methods`` as :func:`~tscam_widget.metrics.evaluate` takes them: one key per method,
reduction methods with their first reduction). The randomised model is the last stage of the
cascade of :mod:`tscam_widget.metrics.sanity` (every parameterised module re-initialised) on a
deep copy of the model; its maps explain the same classes as the original's.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import traitlets as t

from . import buffers
from .background import Apply, Background, running_loop
from .compact import MapStore

#: the trust view's array traits (binary buffers)
TRUST_ARRAYS = (
    "mask",
    "trust_fractions",
    "trust_gain",
    "trust_loc",
    "trust_rand_corr",
    "trust_curves",
    "trust_random",
    "trust_rand_cube",
    "trust_rand_scale",
    "trust_rand_rows",
)
_DTYPES = {"mask": "uint8", "trust_rand_cube": "uint8", "trust_rand_rows": "int32"}
#: the localisation score that colours the second table (see ``metrics.localisation``)
LOC_METRIC = "relevance_mass"
TRUST_MODES = (True, False, "auto")


#: curves travel as uint8: a probability p as round(254 p) (within 1/508 of it: under half a
#: pixel of the curve plot), 255 for NaN; smooth along the steps, so they deflate well
CURVE_NAN = 255


def curve_bytes(curves: np.ndarray) -> np.ndarray:
    """Probabilities ``[..., K+1]`` in 0..1 -> uint8 as they travel (:data:`CURVE_NAN`)."""
    c = np.asarray(curves, np.float64)
    q = np.rint(np.clip(np.nan_to_num(c, nan=0.0), 0.0, 1.0) * 254).astype(np.uint8)
    return np.where(np.isnan(c), np.uint8(CURVE_NAN), q)


def curves_of(u: np.ndarray) -> np.ndarray:
    """The inverse of :func:`curve_bytes`: float32 probabilities, NaN where 255."""
    return np.where(u == CURVE_NAN, np.nan, u.astype(np.float32) / 254).astype(np.float32)


def check_mask(mask: Any, n: int, length: int, ids: np.ndarray | None = None) -> np.ndarray:
    """A ground-truth mask as bool ``[n, length]`` (the widget's samples). ``mask`` is bool or
    0/1, ``[n, length]``, or, when the widget shows a selection (``ids``: each sample's index
    in the user's data), ``[N, length]`` over the whole data. Raises a ValueError / TypeError
    naming the argument, the shape expected and the shape given."""
    if mask is None:
        return None  # type: ignore[return-value]
    try:
        import torch

        if isinstance(mask, torch.Tensor):
            mask = mask.detach().cpu().numpy()
        m = np.asarray(mask)
    except Exception as e:  # noqa: BLE001
        raise TypeError(f"mask: expected a bool array [N, T], got {type(mask).__name__}") from e
    if m.dtype == object or not (m.dtype == bool or np.issubdtype(m.dtype, np.number)):
        raise TypeError(f"mask: expected a bool (or 0/1) array [N, T], got dtype {m.dtype}")
    if m.ndim == 3 and m.shape[1] == 1:
        m = m[:, 0]
    whole = ids is not None and m.ndim == 2 and m.shape[0] != n and m.shape[-1] == length
    if whole and m.shape[0] > int(np.max(ids)):
        m = m[np.asarray(ids, np.int64)]
    if m.ndim != 2 or m.shape != (n, length):
        raise ValueError(
            f"mask: expected shape [N, T] = [{n}, {length}] (one value per sample and time step "
            f"of the widget's series), got {list(m.shape)}"
        )
    if m.dtype != bool:
        if not np.isin(m, (0, 1)).all():
            bad = m[~np.isin(m, (0, 1))].ravel()[0]
            raise ValueError(f"mask: expected bool or 0/1 values, got {bad!r}")
        m = m.astype(bool)
    return m


def default_keys(comp: Any) -> list[tuple[str, str | None]]:
    """One (method, reduction or None) per method of the widget: its default variant."""
    out = []
    for method, red in comp.keys():
        if all(m != method for m, _ in out):
            out.append((method, red))
    return out


def key_label(key: tuple[str, str | None]) -> str:
    return key[0] if key[1] is None else f"{key[0]}/{key[1]}"


@dataclass
class TrustResult:
    """What the trust view shows, over the widget's ``n`` samples (NaN for the samples left out:
    non-finite series)."""

    report: Any  # metrics.TrustReport (the evaluated samples only)
    samples: np.ndarray  # int64 [S] the widget samples evaluated
    keys: list[tuple[str, str | None]]
    curves: np.ndarray  # float32 [N, L, M, 2, K+1]
    random: np.ndarray  # float32 [N, K+1] (mean over draws)
    rand_store: MapStore  # the randomised model's maps, rows like the widget's store
    rand_corr: np.ndarray  # float32 [L, M] Spearman(original, randomised), mean over samples
    seconds: dict[str, float]


def compute_trust(
    comp: Any,
    mask: np.ndarray | None,
    precision: str,
    progress: Any = None,
    steps: int = 10,
    random_draws: int = 3,
    seed: int = 0,
) -> TrustResult:
    """Evaluate the widget's model (``comp``: its :class:`~.compute.MapComputer`, or the
    worker's copy) on its finite samples; ``progress(text)`` reports."""
    from ..metrics import evaluate
    from ..metrics.sanity import cascade_stages, randomised_models, spearman

    say = progress or (lambda s: None)
    t0 = time.perf_counter()
    idx = np.flatnonzero(comp.finite)
    n, _, length = comp.X.shape
    keys = default_keys(comp)
    target = comp.pred[idx].astype(np.int64)
    methods = [m for m, _ in keys]

    def prog(stage: str, frac: float) -> None:
        say(f"trust scores: {stage} ({frac:.0%})")

    ex_kw = dict(comp.explainer_kwargs)
    # one explanation of the samples, scored by evaluate and compared with the randomised model's
    red = comp.reductions[0]
    say("trust scores: explain")
    expl = comp.explainer.explain(
        comp.X[idx],
        target=target,
        methods=methods,
        reductions=(red,),
        norm="none",
        batch_size=comp.batch_size,
        **comp.method_kwargs,
    )
    rep = evaluate(
        comp.model,
        comp.X[idx],
        mask=None if mask is None else mask[idx],
        layers=list(comp.layers),
        methods=methods,
        steps=steps,
        random_draws=random_draws,
        target=target,
        sanity=False,
        seed=seed,
        batch_size=max(comp.batch_size, 256),
        layouts=ex_kw.get("layouts"),
        input_layout=ex_kw.get("input_layout", "NCT"),
        output=ex_kw.get("output"),
        progress=prog,
        explanation=expl,
    )
    keys = [(m, red if r is not None else None) for m, r in keys]
    labels = [key_label(k) for k in keys]
    order = [rep.methods.index(lab) for lab in labels]
    k1 = rep.fractions.shape[0]
    n_l = len(rep.layers)
    curves = np.full((n, n_l, len(keys), 2, k1), np.nan, np.float32)
    curves[idx] = rep.curves[:, :, order]
    random = np.full((n, k1), np.nan, np.float32)
    random[idx] = rep.random_curves.mean(1)
    seconds = dict(rep.seconds)
    seconds["explain"] = time.perf_counter() - t0 - seconds["total"]
    cube, names = expl.to_array(norm="none")  # [L, M, S, T]
    o = np.asarray(cube, np.float32)[:, [list(map(str, names)).index(lab) for lab in labels]]
    o = o.transpose(2, 0, 1, 3)  # [S, L, M, T]

    # the cascading-randomised model (every stage: the last of the cascade) and its maps
    say("trust scores: randomised model")
    t1 = time.perf_counter()
    xt = comp.X[idx[:1]]
    import torch

    specs = [(s.module_name, s.call) for s in comp.explainer.layer_specs(torch.as_tensor(xt))]
    stages = cascade_stages(comp.model, torch.as_tensor(xt), specs, comp.explainer.io)
    rand_comp = comp.for_worker()
    if stages:
        rand_model = randomised_models(comp.model, stages, seed)[-1]
        rand_comp.model = rand_model
        rand_comp.explainer = comp.explainer.for_copy(rand_model)
    k = comp.probs.shape[1]
    rand_store = MapStore(n, k, n_l, len(keys), length, precision)
    r = np.empty_like(o)
    cls = [int(c) for c in target]
    bs = max(1, comp.batch_size)
    for s in range(0, len(idx), bs):
        part = idx[s : s + bs]
        rmaps = rand_comp._raw_cube(part, keys, cls[s : s + bs], "none")
        rand_store.add(part, target[s : s + bs], rmaps)
        r[s : s + bs] = rmaps
        say(f"trust scores: randomised model {min(s + bs, len(idx))} / {len(idx)} samples")
    with np.errstate(invalid="ignore"):
        corr = spearman(o, r)  # [S, L, M]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rand_corr = np.nanmean(corr, 0).astype(np.float32)
    seconds["randomised"] = time.perf_counter() - t1
    seconds["total"] = time.perf_counter() - t0
    return TrustResult(rep, idx, keys, curves, random, rand_store, rand_corr, seconds)


def _trust_job(ref: Any, worker: Any, mask: Any, precision: str, loop: Any) -> Iterator[Apply]:
    last = [0.0]

    def progress(text: str) -> None:
        now = time.monotonic()
        if now - last[0] > 0.3:  # at most ~3 status updates a second
            last[0] = now
            loop.call_soon_threadsafe(lambda: _call(ref, "_trust_status", text))

    res = compute_trust(worker, mask, precision, progress)
    yield lambda: _call(ref, "_trust_apply", res)


#: levels of the randomised model's uint8 maps as they travel (64: 1/4 of the colour table's
#: steps; the noisy maps of a randomised model then deflate to about 3/4 of their size)
RAND_LEVELS = 64


def _coarse(u: np.ndarray) -> np.ndarray:
    """uint8 unit values rounded to :data:`RAND_LEVELS` levels (other precisions unchanged)."""
    if u.dtype != np.uint8:
        return u
    k = RAND_LEVELS - 1
    return np.round(np.round(u.astype(np.float32) * (k / 255)) * (255 / k)).astype(np.uint8)


def _call(ref: Any, name: str, *args: Any) -> None:
    w = ref()
    if w is not None:
        getattr(w, name)(*args)


def _empty(dtype: str = "float32") -> t.Dict:
    return t.Dict(buffers.empty(dtype)).tag(sync=True)


class TrustMixin(t.HasTraits):
    """Traits and work of the trust view (see the module docstring)."""

    randomised = t.Bool(False).tag(sync=True)
    mask = _empty(_DTYPES["mask"])
    trust_meta = t.Dict().tag(sync=True)
    trust_fractions = _empty()
    trust_gain = _empty()
    trust_loc = _empty()
    trust_rand_corr = _empty()
    trust_curves = _empty()
    trust_random = _empty()
    trust_rand_cube = _empty(_DTYPES["trust_rand_cube"])
    trust_rand_scale = _empty()
    trust_rand_rows = _empty(_DTYPES["trust_rand_rows"])

    # ---- set-up (called by CamWidget.__init__) ---------------------------------------------
    def _trust_init(self, mask: Any, trust: Any) -> None:
        if trust not in TRUST_MODES:
            raise ValueError(f"trust: expected True, False or 'auto', got {trust!r}")
        self._trust_mode = trust
        self._trust: TrustResult | None = None
        self._bg_trust: Background | None = None
        src = self._src  # type: ignore[attr-defined]
        n, _, length = src.X.shape
        self._mask = check_mask(mask, n, length, getattr(src, "sample_ids", None))
        if self._mask is not None:
            self.mask = buffers.pack(self._mask.astype(np.uint8), "uint8")
        self.trust_meta = {"state": "off" if trust is False else "pending"}

    # ---- public ------------------------------------------------------------------------------
    @property
    def ground_truth(self) -> np.ndarray | None:
        """bool ``[N, T]``: the mask given as ``mask=`` (the widget's samples), or None."""
        return None if self._mask is None else self._mask.copy()

    @property
    def trust_report(self) -> Any:
        """The :class:`~tscam_widget.metrics.TrustReport` of the widget's samples (computed now
        when it is not there yet)."""
        self.compute_trust()
        assert self._trust is not None
        return self._trust.report

    def compute_trust(self, force: bool = False) -> None:
        """Compute the trust scores now (normally the background worker or the first use of the
        trust view / the randomised toggle does)."""
        if self._trust_mode is False:
            raise RuntimeError("the trust scores are off: CamWidget(..., trust=False)")
        if self._trust is not None and not force:
            return
        if self._bg_trust is not None:
            self._bg_trust.cancel()
            self._bg_trust = None
        self.trust_meta = {**self.trust_meta, "state": "computing"}
        res = compute_trust(self._comp, self._mask, self.precision, self._trust_status)  # type: ignore[attr-defined]
        self._trust_apply(res)

    def cell_of(self, layer: int, method: str) -> tuple[int, int]:
        """(row, column) of the trust table for a layer index and a method name."""
        keys = self.trust_meta.get("keys") or []
        col = next((i for i, k in enumerate(keys) if k.split("/")[0] == method), -1)
        if col < 0:
            raise KeyError(f"method {method!r} not in the trust table {keys}")
        return int(layer), col

    def select_cell(self, row: int, col: int) -> None:
        """What a click on a cell of the trust table does: select that layer and method."""
        keys = self.trust_meta.get("keys") or []
        key = keys[col]
        method, _, red = key.partition("/")
        with self.hold_sync():  # type: ignore[attr-defined]
            self.layer = int(row)  # type: ignore[attr-defined]
            self.method = method  # type: ignore[attr-defined]
            if red:
                self.reduction = red  # type: ignore[attr-defined]

    # ---- internals ---------------------------------------------------------------------------
    def _trust_wanted(self) -> bool:
        if self._trust_mode is False or self._trust is not None:
            return False
        return bool(self.view == "trust" or self.randomised)  # type: ignore[attr-defined]

    def _trust_sync(self) -> None:
        """On flush: compute the trust scores when the view needs them and no worker does."""
        if not self._trust_wanted():
            return
        if self._bg_trust is not None and self._bg_trust.running:
            return
        if getattr(self, "_worker", None) is not None:  # background mode (a kernel)
            self._trust_start_background(asked=True)
            return
        try:
            self.compute_trust()
        except Exception as e:  # noqa: BLE001 - shown in the widget, which keeps working
            self.error = f"trust scores: {type(e).__name__}: {e}"  # type: ignore[attr-defined]
            self.trust_meta = {**self.trust_meta, "state": "failed", "error": str(e)}

    def _trust_status(self, text: str) -> None:
        self.status = text  # type: ignore[attr-defined]

    def _trust_start_background(self, asked: bool = False) -> None:
        """Compute the trust scores in a worker thread: after the predictions (``asked`` False)
        with ``trust=True``, or ``"auto"`` when the maps are precomputed (a data set small
        enough); when the trust view or the randomised toggle asks for them."""
        if self._trust_mode is False or self._trust is not None:
            return
        if self._bg_trust is not None and self._bg_trust.running:
            return
        if not asked and not (self._trust_mode is True or self._want_precompute()):  # type: ignore[attr-defined]
            return
        loop = running_loop()
        if loop is None:
            return
        try:
            worker = self._comp.for_worker()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - computed on demand instead
            return
        ref = weakref.ref(self)
        self._bg_trust = Background(
            loop, lambda e: _call(ref, "_trust_failed", e), name="tscam-widget-trust"
        )
        mask, precision = self._mask, self.precision  # type: ignore[attr-defined]
        self._bg_trust.start([lambda: _trust_job(ref, worker, mask, precision, loop)])
        weakref.finalize(self, self._bg_trust.cancel)
        self.trust_meta = {**self.trust_meta, "state": "computing"}

    def _trust_failed(self, e: BaseException) -> None:
        self.trust_meta = {**self.trust_meta, "state": "failed", "error": str(e)}
        self.error = f"trust scores: {type(e).__name__}: {e}"  # type: ignore[attr-defined]

    def _trust_apply(self, res: TrustResult) -> None:
        self._trust = res
        rep = res.report
        loc = None
        if rep.localisation is not None and LOC_METRIC in rep.localisation:
            loc = rep.localisation[LOC_METRIC]
        store = res.rand_store
        labels = [key_label(k) for k in res.keys]
        with self.hold_sync():  # type: ignore[attr-defined]
            self.trust_fractions = buffers.pack(rep.fractions, "float32")
            self.trust_gain = buffers.pack(rep.gain, "float32")
            self.trust_loc = buffers.pack(loc, "float32") if loc is not None else buffers.empty()
            self.trust_rand_corr = buffers.pack(res.rand_corr, "float32")
            self.trust_curves = buffers.pack(curve_bytes(res.curves), "uint8", deflate=True)
            self.trust_random = buffers.pack(curve_bytes(res.random), "uint8", deflate=True)
            self.trust_rand_cube = buffers.pack(_coarse(store.u), self.precision, deflate=True)  # type: ignore[attr-defined]
            self.trust_rand_scale = buffers.pack(store.scale, "float32", deflate=True)
            self.trust_rand_rows = buffers.pack(store.rows, "int32")
            self.trust_meta = {
                "state": "done",
                "layers": list(rep.layers),
                "keys": labels,
                "perturbation": rep.perturbation_description,
                "steps": int(rep.steps),
                "random_draws": int(rep.random_draws),
                "samples": int(len(res.samples)),
                "loc_metric": LOC_METRIC if loc is not None else "",
                "forwards": int(rep.forwards),
                "forwards_unshared": int(rep.forwards_unshared),
                "seconds": {k: round(float(v), 2) for k, v in res.seconds.items()},
                "target": "pred",
            }
            self.status = (
                f"trust scores: {len(res.samples)} samples x {len(rep.layers)} layers x "
                f"{len(labels)} methods in {res.seconds['total']:.1f} s "
                f"({rep.forwards} forwards)"
            )

    def _trust_current_map(self) -> np.ndarray:
        """The randomised model's map for the current sample, layer and method (``norm``
        applied as in the cube), float32 ``[T]``; NaN where absent."""
        self.compute_trust()
        assert self._trust is not None
        res = self._trust
        length = self._src.X.shape[-1]  # type: ignore[attr-defined]
        key = self._comp.key_of(self.method, self.reduction)  # type: ignore[attr-defined]
        if key not in res.keys:
            return np.full(length, np.nan, np.float32)
        classes = self._comp.targets("pred")  # type: ignore[attr-defined]
        maps = res.rand_store.maps(
            classes,
            self.norm,  # type: ignore[attr-defined]
            self._comp.scale_range,  # type: ignore[attr-defined]
            samples=[self.sample],  # type: ignore[attr-defined]
        )
        return maps[0, self.layer, res.keys.index(key)].copy()  # type: ignore[attr-defined]

    @t.observe("layers", "methods", "reductions")
    def _o_trust_structure(self, change: Any) -> None:
        """Other layers or methods: the scores no longer match the table; computed again."""
        if not getattr(self, "_ready", False) or self._trust_mode is False:
            return
        if self._bg_trust is not None:
            self._bg_trust.cancel()
            self._bg_trust = None
        self._trust = None
        with self.hold_sync():  # type: ignore[attr-defined]
            for name in TRUST_ARRAYS[1:]:
                setattr(self, name, buffers.empty(_DTYPES.get(name, "float32")))
            self.trust_meta = {"state": "pending"}
        if self._trust_wanted():
            self._mark("trust")  # type: ignore[attr-defined]

    @t.observe("view", "randomised")
    def _o_trust_view(self, change: Any) -> None:
        if getattr(self, "_ready", False) and self._trust_wanted():
            self._mark("trust")  # type: ignore[attr-defined]
