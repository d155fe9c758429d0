"""The one entry point: :func:`evaluate` computes the trust table of a model on data."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ..explain.adapters import as_inputs, from_learner, learner_data
from ..explain.explainer import Explainer
from ..explain.inputs import prepare_x, to_plain_tensor
from ..explain.layers import INPUT
from ..explain.methods import check_method_kwargs
from ..explain.state import preserved_state
from .deletion import ORDERS, auc, deletion_curves
from .localisation import localisation
from .perturb import DEFAULT_INTERP_NOISE, make_perturbation
from .report import TrustReport
from .sanity import cascade_stages, other_classes, randomised_models, spearman

Progress = Callable[[str, float], None]


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if value < low or (high is not None and value > high):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name}: expected an int {rng}, got {value}")
    return int(value)


def _check_float(name: str, value: Any, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    if not np.isfinite(value) or value < low:
        raise ValueError(f"{name}: expected a finite number >= {low}, got {value!r}")
    return float(value)


def _inputs(obj: Any, X: Any, y: Any) -> tuple[nn.Module, np.ndarray, np.ndarray | None]:
    """``(model, X float32 [N, C, T] as the model receives it, y int64 [N] or None)``."""
    if isinstance(obj, nn.Module):
        if X is None:
            raise ValueError("X: expected series [N, T] or [N, C, T] for a plain model, got None")
        model, Xn, yi, _ = as_inputs(obj, X, y)
        return model, Xn, yi
    if isinstance(getattr(obj, "model", None), nn.Module):
        if X is None:
            d = learner_data(obj)
            return d.model, d.x, d.y if y is None else as_inputs(d.model, d.x, y)[2]
        if isinstance(X, (np.ndarray, torch.Tensor, list, tuple)):
            model, Xn, yi, _ = as_inputs(obj.model, X, y)
            return model, Xn, yi
        model, Xn, yl, _ = from_learner(obj, X)
        return model, Xn, yl if y is None else as_inputs(model, Xn, y)[2]
    raise TypeError(
        f"model_or_learner: expected a torch.nn.Module or a fastai Learner, got "
        f"{type(obj).__name__}"
    )


def _mask(mask: Any, n: int, t: int) -> np.ndarray | None:
    if mask is None:
        return None
    try:
        m = to_plain_tensor(mask).detach().cpu().numpy()
    except Exception as e:  # noqa: BLE001
        raise TypeError(f"mask: expected a bool array [N, T], got {type(mask).__name__}") from e
    if m.ndim != 2 or m.shape != (n, t):
        raise ValueError(f"mask: expected shape [N, T] = [{n}, {t}], got {list(m.shape)}")
    if m.dtype != bool:
        if not np.isin(m, (0, 1)).all():
            raise ValueError("mask: expected bool (or 0/1) values marking the ground truth")
        m = m.astype(bool)
    return m


DELETIONS = ("time", "channel")


def channel_cube(expl: Any, n_layers: int) -> np.ndarray:
    """The maps per channel for per-channel deletion: float32 ``[N, L * M, C, T]`` (layer-major,
    as the cube's ``[L, M]``), the ``input`` layer's :meth:`~.Explanation.channel_maps` (the
    method's ReLU applied, no normalisation) where the method has them, NaN elsewhere."""
    n, c, t = expl.x.shape
    out = np.full((n, n_layers, len(expl.keys), c, t), np.nan, np.float32)
    if INPUT in expl.layers:
        li = expl.layers.index(INPUT)
        for mi, key in enumerate(expl.keys):
            if key in expl.channel_keys:
                out[:, li, mi] = expl.channel_maps(key[0], key[1], norm="none")
    return out.reshape(n, -1, c, t)


def _nanmean(a: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


def evaluate(
    model_or_learner: Any,
    X: Any = None,
    y: Any = None,
    mask: Any = None,
    layers: Any = None,
    methods: list[str] | None = None,
    perturbation: str = "interp",
    steps: int = 10,
    random_draws: int = 3,
    *,
    deletion: str = "time",
    method_kwargs: dict[str, Any] | None = None,
    target: Any = "pred",
    blocks: int | None = None,
    reference: Any = None,
    noise: float = DEFAULT_INTERP_NOISE,
    sanity: bool = True,
    self_noise: float = 0.05,
    sanity_ratio: float = 0.5,
    seed: int = 0,
    batch_size: int = 256,
    layouts: dict[str, str] | None = None,
    input_layout: str = "NCT",
    output: Any = None,
    progress: Progress | Literal[False] | None = None,
    explanation: Any = None,
) -> TrustReport:
    """Can I trust this map? Faithfulness, localisation and sanity scores for every explained
    layer and method of a classifier on ``X``.

    ``model_or_learner``: a ``torch.nn.Module`` mapping ``[N, C, T]`` to logits, or a fastai /
    tsai ``Learner`` (then ``X`` may be None: its validation set, or a ``DataLoaders``; arrays
    are taken as the model's input). ``X`` ``[N, T]`` or ``[N, C, T]``; ``y`` labels (for
    ``target="true"``); ``mask`` bool ``[N, T]``, the ground truth of where the evidence is
    (adds localisation scores); ``layers`` / ``methods`` as in :class:`~tscam_widget.Explainer`
    (default: the widget's layers, the input first, and every default method with the ``mean``
    reduction). ``method_kwargs``: keyword arguments of the methods (``steps`` of
    ``integrated_gradients``, ``window`` of ``occlusion``, ``n_segments`` of
    ``shapley_segments`` ...), passed to every explain call (also the sanity checks'). The input
    attributions are defined on the ``input`` layer only: their scores on other layers are NaN.

    *Deletion* (MoRF, LeRF and ``random_draws`` random orders): ``steps`` steps, each removing
    ``blocks / steps`` of ``blocks`` contiguous chunks (default ``blocks = steps``: 10 % each),
    replaced by ``perturbation`` (``"zero"``, ``"mean"``, ``"reference_mean"``, ``"noise"``,
    ``"interp"``; see :mod:`.perturb`; ``reference`` is the reference set ``[R, C, T]``, default
    ``X``; ``noise`` the interpolation's noise in channel stds). ``deletion="time"`` (default):
    a chunk is removed in every channel together, ranked by the ``[T]`` map.
    ``deletion="channel"``: the units are the ``C x blocks`` cells (channel, chunk), ranked by
    the method's map per channel (:meth:`~tscam_widget.explain.Explanation.channel_maps`, on
    the ``input`` layer), each step removing ``1 / steps`` of the cells (a chunk of one channel
    at a time); the random curves remove random cells. Cells without maps per channel (every
    layer but ``input``, methods without them) get NaN curves and scores in this mode. See
    :mod:`.deletion` for how forwards are shared.

    *Sanity* (``sanity=True``): cascading randomisation of a deep copy of the model, head first
    (:mod:`.sanity`), Spearman correlation of each stage's maps with the original's; the
    original's *self-agreement* (its maps for ``X`` plus Gaussian noise of ``self_noise`` x
    each series' channel std); the random-logit check (the map for a random other class).
    A (layer, method) *passes* when the fully randomised model's correlation is below
    ``sanity_ratio`` x its self-agreement.

    The model is left exactly as found (weights, ``.grad``, ``requires_grad``, train/eval
    flags, hooks, BatchNorm statistics), also on error. ``progress(stage, fraction)`` is called
    as the work proceeds (None or False: no reports).

    ``explanation``: the :class:`~tscam_widget.explain.Explanation` of ``X`` for these layers,
    methods and target, when the caller has it already (the widget does): its maps are scored
    instead of explaining ``X`` again (``seconds["explain"]`` is then 0).

    Returns a :class:`~tscam_widget.metrics.TrustReport` (numpy arrays, axes in ``.axes``).
    """
    t_start = time.perf_counter()
    model, Xn, yi = _inputs(model_or_learner, X, y)
    n, _, t = Xn.shape
    steps = _check_int("steps", steps, 1, t)
    blocks = steps if blocks is None else _check_int("blocks", blocks, steps, t)
    random_draws = _check_int("random_draws", random_draws, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    seed = _check_int("seed", seed, 0)
    self_noise = _check_float("self_noise", self_noise)
    sanity_ratio = _check_float("sanity_ratio", sanity_ratio)
    mask_arr = _mask(mask, n, t)
    kw = check_method_kwargs(method_kwargs)
    if deletion not in DELETIONS:
        raise ValueError(f"deletion: expected one of {list(DELETIONS)}, got {deletion!r}")
    if not isinstance(perturbation, str):
        raise TypeError(
            f"perturbation: expected a name such as 'interp', got {type(perturbation).__name__}"
        )
    if progress is not None and progress is not False and not callable(progress):
        raise TypeError(
            "progress: expected a function progress(stage, fraction), None or False, got "
            f"{progress!r}"
        )
    report = (lambda s, f: progress(s, f)) if progress else (lambda s, f: None)

    ex = Explainer(
        model,
        layers,
        layouts=layouts,
        input_layout=input_layout,
        output=output,
        with_input=layers is None,
    )
    seconds: dict[str, float] = {}
    with preserved_state(model):
        xt = prepare_x(Xn, model)
        ref = None if reference is None else prepare_x(reference, model, arg="reference")
        pert = make_perturbation(perturbation, xt, ref, seed, noise)
        report("explain", 0.0)
        t0 = time.perf_counter()
        if explanation is None:
            expl = ex.explain(Xn, target=target, y=yi, methods=methods, norm="none", **kw)
        else:
            expl = explanation
            if len(expl.target) != n:
                raise ValueError(f"explanation: explains {len(expl.target)} samples, X holds {n}")
        seconds["explain"] = time.perf_counter() - t0
        cube, keys = expl.to_array(norm="none")  # [L, M, N, T]
        n_l, n_m = cube.shape[:2]
        if deletion == "channel":
            maps = channel_cube(expl, n_l)  # [N, L * M, C, T]
        else:
            maps = cube.transpose(2, 0, 1, 3).reshape(n, n_l * n_m, t)
        report("deletion", 0.1)
        t0 = time.perf_counter()

        def forward(b: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                model.eval()
                return ex.io(model, b)

        res = deletion_curves(
            forward,
            pert,
            maps,
            expl.target,
            steps=steps,
            blocks=blocks,
            random_draws=random_draws,
            seed=seed,
            batch_size=batch_size,
            progress=lambda f: report("deletion", 0.1 + 0.5 * f),
        )
        seconds["deletion"] = time.perf_counter() - t0
    curves = res.prob.reshape(n, n_l, n_m, 2, steps + 1)
    logit_curves = res.logit.reshape(n, n_l, n_m, 2, steps + 1)
    areas = auc(curves, res.fractions)  # [N, L, M, 2]
    random_auc = auc(res.random_prob, res.fractions).mean(1)  # [N]
    gain_ps = random_auc[:, None, None] - areas[..., 0]
    rep = TrustReport(
        layers=list(expl.layers),
        methods=list(keys),
        orders=ORDERS,
        perturbation=perturbation,
        perturbation_description=pert.describe(),
        deletion=deletion,
        steps=steps,
        blocks=blocks,
        random_draws=random_draws,
        fractions=res.fractions,
        target=expl.target.copy(),
        curves=curves,
        logit_curves=logit_curves,
        random_curves=res.random_prob,
        random_logit_curves=res.random_logit,
        auc=areas,
        random_auc=random_auc,
        gain_per_sample=gain_ps,
        gain=_nanmean(gain_ps, 0),
        symmetric=_nanmean(areas[..., 1] - areas[..., 0], 0),
        forwards=res.forwards,
        forwards_unshared=res.forwards_unshared,
        forward_calls=res.forward_calls,
        sanity_ratio=sanity_ratio,
    )
    if mask_arr is not None:
        norm_cube, _ = expl.to_array(norm="sample")
        scores = localisation(norm_cube.transpose(2, 0, 1, 3), mask_arr[:, None, None, :])
        rep.localisation_per_sample = scores
        rep.localisation = {k: _nanmean(v, 0) for k, v in scores.items()}
    if sanity:
        report("sanity", 0.6)
        t0 = time.perf_counter()
        _sanity(rep, ex, model, Xn, xt, cube, expl, methods, kw, seed, self_noise, report, layouts)
        seconds["sanity"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - t_start
    rep.seconds = seconds
    report("done", 1.0)
    return rep


def _sanity(
    rep: TrustReport,
    ex: Explainer,
    model: nn.Module,
    Xn: np.ndarray,
    xt: torch.Tensor,
    cube: np.ndarray,
    expl: Any,
    methods: Any,
    kw: dict[str, Any],
    seed: int,
    self_noise: float,
    report: Progress,
    layouts: dict[str, str] | None,
) -> None:
    """Fill the sanity fields of ``rep`` (cascade, self-agreement, random logit, passes)."""

    def corr(other: Any) -> np.ndarray:
        oc, okeys = other.to_array(norm="none")
        if okeys != rep.methods or other.layers != rep.layers:
            raise RuntimeError("sanity: the re-explained maps do not match the original layout")
        return _nanmean(spearman(cube, oc), -1)  # [L, M]

    target = expl.target
    g = np.random.default_rng(seed + 1)
    sd = Xn.std(-1, keepdims=True)
    noisy = (Xn + self_noise * sd * g.standard_normal(Xn.shape)).astype(np.float32)
    rep.self_agreement = corr(ex.explain(noisy, target=target, methods=methods, norm="none", **kw))
    k = expl.logits.shape[1]
    others = other_classes(target, k, seed)
    rep.random_logit = corr(ex.explain(Xn, target=others, methods=methods, norm="none", **kw))
    specs = [(s.module_name, s.call) for s in ex.layer_specs(xt)]
    stages = cascade_stages(model, xt, specs, ex.io)
    rep.stages = [s for s, _ in stages]
    out = []
    for i, rand in enumerate(randomised_models(model, stages, seed)):
        report("sanity", 0.6 + 0.4 * i / max(len(stages), 1))
        rex = Explainer(
            rand,
            list(rep.layers),
            layouts=layouts,
            input_layout=ex.io.input_layout,
            output=ex.io.output,
        )
        out.append(corr(rex.explain(Xn, target=target, methods=methods, norm="none", **kw)))
    if out:
        rep.cascade = np.stack(out)
        with np.errstate(invalid="ignore"):
            rep.passes = rep.cascade[-1] < rep.sanity_ratio * rep.self_agreement
    else:
        rep.cascade = np.full((0, *rep.gain.shape), np.nan)
        rep.passes = np.zeros(rep.gain.shape, dtype=bool)
        rep.sanity_note = (
            "the model has no parameters to re-initialise: no randomisation cascade, so no "
            "pass / fail (self-agreement and random logit are computed)"
        )
