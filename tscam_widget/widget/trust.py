"""The widget's trust view: ``tscam_widget.metrics.evaluate`` on the widget's model and samples,
the cascading-randomised model's maps (sanity check), the ground-truth mask; all as binary
traits so the exported page shows them without a kernel (``docs/protocol.md``, "Trust").

:class:`TrustService` holds the scores of one version of the weights and says, as trait values,
what the frontend gets; the widget asks it when the trust view, the randomised toggle or
``save_html`` needs the scores (``trust=True``: also right after the predictions), and computes
them in a background job in a kernel. Above :data:`MAX_SAMPLES` finite samples the scores are
computed on an evenly spaced subset (its size is in ``trust_meta["samples"]`` and the status).

The table is computed for the class each map of the ``"pred"`` target explains (the model's
prediction), on the widget's layers and for every method's default variant (``methods`` as
:func:`~tscam_widget.metrics.evaluate` takes them: one key per method, reduction methods with
their first reduction). The randomised model is the last stage of the cascade of
:mod:`tscam_widget.metrics.sanity` (every parameterised module re-initialised) on a deep copy of
the model; its maps explain the same classes as the original's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import buffers, protocol
from .compact import MapStore

#: the trust view's array traits (binary buffers)
TRUST_ARRAYS = protocol.arrays(protocol.TRUST)
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
    """One (method, reduction or None) per method of the widget: its default variant; a method
    defined on some layers only (the input attributions) only where one of them is explained."""
    out = []
    for method, red in comp.keys():
        if comp.spec(method).only_on and not comp.defined(method):
            continue
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
    n_finite: int = 0  # finite samples of the widget (``samples`` is a subset when fewer)


#: the trust scores of more finite samples than this are computed on an evenly spaced subset
MAX_SAMPLES = 256


def trust_samples(finite: np.ndarray, most: int = MAX_SAMPLES) -> np.ndarray:
    """int64: the samples the trust scores are computed on: every finite one, or ``most`` of
    them evenly spaced."""
    idx = np.flatnonzero(finite)
    if idx.size <= most:
        return idx
    return idx[np.unique(np.linspace(0, idx.size - 1, most).round().astype(np.int64))]


def compute_trust(
    comp: Any,
    mask: np.ndarray | None,
    precision: str,
    progress: Any = None,
    steps: int = 10,
    random_draws: int = 3,
    seed: int = 0,
    most: int = MAX_SAMPLES,
) -> TrustResult:
    """Evaluate the widget's model (``comp``: its :class:`~.compute.MapComputer`, or the
    worker's copy) on its finite samples (at most ``most``, :func:`trust_samples`);
    ``progress(text)`` reports."""
    from ..metrics import evaluate
    from ..metrics.sanity import cascade_stages, randomised_models, spearman

    say = progress or (lambda s: None)
    t0 = time.perf_counter()
    idx = trust_samples(comp.finite, most)
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
        **comp.kwargs_for(methods),
    )
    rep = evaluate(
        comp.model,
        comp.X[idx],
        mask=None if mask is None else mask[idx],
        layers=list(comp.layers),
        methods=methods,
        steps=steps,
        random_draws=random_draws,
        method_kwargs=comp.kwargs_for(methods),
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
        rmaps = rand_comp.raw_cube(part, keys, cls[s : s + bs], "none")
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
    n_finite = int(np.count_nonzero(comp.finite))
    return TrustResult(rep, idx, keys, curves, random, rand_store, rand_corr, seconds, n_finite)


def trust_job(worker: Any, mask: Any, precision: str, progress: Any) -> Iterator[Any]:
    """The background job: the scores of ``worker`` (a model copy); yields one
    ``apply(events)`` that hands them to the widget."""
    res = compute_trust(worker, mask, precision, progress)
    yield lambda ev: ev.on_trust(res)


#: levels of the randomised model's uint8 maps as they travel (64: 1/4 of the colour table's
#: steps; the noisy maps of a randomised model then deflate to about 3/4 of their size)
RAND_LEVELS = 64


def _coarse(u: np.ndarray) -> np.ndarray:
    """uint8 unit values rounded to :data:`RAND_LEVELS` levels (other precisions unchanged)."""
    if u.dtype != np.uint8:
        return u
    k = RAND_LEVELS - 1
    return np.round(np.round(u.astype(np.float32) * (k / 255)) * (255 / k)).astype(np.uint8)


class TrustService:
    """The trust scores of one version of the weights (see the module docstring).

    ``mode``: the widget's ``trust`` argument; ``mask``: bool ``[N, T]`` or None.
    """

    def __init__(self, mode: Any, mask: np.ndarray | None, precision: str) -> None:
        if mode not in TRUST_MODES:
            raise ValueError(f"trust: expected True, False or 'auto', got {mode!r}")
        self.mode = mode
        self.mask = mask
        self.precision = precision
        self.result: TrustResult | None = None

    @property
    def off(self) -> bool:
        return self.mode is False

    def wanted(self, view: str, randomised: bool) -> bool:
        """The trust view or the randomised toggle needs scores not computed yet."""
        if self.off or self.result is not None:
            return False
        return bool(view == "trust" or randomised)

    def check_on(self) -> None:
        if self.off:
            raise RuntimeError("the trust scores are off: CamWidget(..., trust=False)")

    def compute(self, comp: Any, progress: Any) -> TrustResult:
        """The scores of ``comp``'s model, now; kept as :attr:`result`."""
        self.check_on()
        self.result = compute_trust(comp, self.mask, self.precision, progress)
        return self.result

    def initial_traits(self) -> dict[str, Any]:
        out: dict[str, Any] = {"trust_meta": {"state": "off" if self.off else "pending"}}
        if self.mask is not None:
            out["mask"] = buffers.pack(self.mask.astype(np.uint8), "uint8")
        return out

    def reset(self) -> dict[str, Any]:
        """Forget the scores (other weights, layers or methods); the traits of none."""
        self.result = None
        out: dict[str, Any] = {
            name: protocol.empty_of(protocol.trait(name)) for name in TRUST_ARRAYS[1:]
        }
        out["trust_meta"] = {"state": "off" if self.off else "pending"}
        return out

    def traits(self, res: TrustResult) -> dict[str, Any]:
        """The traits that show ``res`` (the scores, curves, randomised maps, meta, status)."""
        self.result = res
        rep = res.report
        loc = None
        if rep.localisation is not None and LOC_METRIC in rep.localisation:
            loc = rep.localisation[LOC_METRIC]
        store = res.rand_store
        labels = [key_label(k) for k in res.keys]
        n = len(res.samples)
        of = f" of {res.n_finite}" if n < res.n_finite else ""  # a subset (MAX_SAMPLES)
        return dict(
            trust_fractions=buffers.pack(rep.fractions, "float32"),
            trust_gain=buffers.pack(rep.gain, "float32"),
            trust_loc=buffers.pack(loc, "float32") if loc is not None else buffers.empty(),
            trust_rand_corr=buffers.pack(res.rand_corr, "float32"),
            trust_curves=buffers.pack(curve_bytes(res.curves), "uint8", deflate=True),
            trust_random=buffers.pack(curve_bytes(res.random), "uint8", deflate=True),
            trust_rand_cube=buffers.pack(_coarse(store.u), self.precision, deflate=True),
            trust_rand_scale=buffers.pack(store.scale, "float32", deflate=True),
            trust_rand_rows=buffers.pack(store.rows, "int32"),
            trust_meta={
                "state": "done",
                "layers": list(rep.layers),
                "keys": labels,
                "perturbation": rep.perturbation_description,
                "steps": int(rep.steps),
                "random_draws": int(rep.random_draws),
                "samples": int(n),
                "of_samples": int(res.n_finite),
                "loc_metric": LOC_METRIC if loc is not None else "",
                "forwards": int(rep.forwards),
                "forwards_unshared": int(rep.forwards_unshared),
                "seconds": {k: round(float(v), 2) for k, v in res.seconds.items()},
                "target": "pred",
            },
            status=(
                f"trust scores: {n}{of} samples x {len(rep.layers)} layers x {len(labels)} methods "
                f"in {res.seconds['total']:.1f} s ({rep.forwards} forwards)"
            ),
        )

    def current_map(
        self, comp: Any, method: str, reduction: str, norm: str, sample: int, layer: int
    ) -> np.ndarray:
        """The randomised model's map of ``sample`` for ``layer`` and the method (``norm``
        applied as in the cube), float32 ``[T]``; NaN where absent."""
        res = self.result
        assert res is not None
        length = comp.X.shape[-1]
        key = comp.key_of(method, reduction)
        if key not in res.keys:
            return np.full(length, np.nan, np.float32)
        maps = res.rand_store.maps(comp.targets("pred"), norm, comp.scale_range, samples=[sample])
        return maps[0, layer, res.keys.index(key)].copy()

    @staticmethod
    def cell_of(meta: dict[str, Any], layer: int, method: str) -> tuple[int, int]:
        """(row, column) of the trust table for a layer index and a method name."""
        keys = meta.get("keys") or []
        col = next((i for i, k in enumerate(keys) if k.split("/")[0] == method), -1)
        if col < 0:
            raise KeyError(f"method {method!r} not in the trust table {keys}")
        return int(layer), col
