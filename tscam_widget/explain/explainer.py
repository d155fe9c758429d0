"""The :class:`Explainer`: per batch, one forward with hooks on every chosen layer and one
``torch.autograd.grad`` serving every gradient method on every layer; the model is left exactly
as found (see :mod:`.state`).

Per batch (:meth:`Explainer._batch`): capture (:mod:`.capture`: the forward with hooks, again with
the input's gradient when a captured output is outside the graph, then one ``autograd.grad``),
then the methods' arithmetic (:mod:`.maps`). Layers are resolved once (:mod:`.resolution`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .capture import Captured, Forwards, Pass, forward, gradients, in_graph, layer_outputs
from .diagnose import forward_error
from .explanation import Explanation, check_norm
from .hooks import LayerCapture
from .inputs import prepare_labels, prepare_x
from .layers import LayerSpec
from .maps import LayerMaps, MapStore, MethodPlan, layer_maps
from .methods import METHODS, Method, default_methods
from .model_io import ModelIO
from .nograd import check_gradient_free, gradient_free_defaults
from .resolution import LayerRequest, ResolvedLayers, resolve_layers
from .state import preserved_state
from .targets import check_target, target_tensor
from .terms import check_reductions


@dataclass(frozen=True)
class _Job:
    """What every batch of one explain call shares: the layers, the methods, the checked target
    (``target``, with the labels ``y`` it may read) and the batch size."""

    specs: list[LayerSpec]
    plan: MethodPlan
    target: Any
    y: np.ndarray | None
    batch_size: int


@dataclass(frozen=True)
class _BatchResult:
    """One batch's logits ``[n, K]`` float32 and targets ``[n]`` (numpy), the name of the model's
    last ``nn.Linear`` (or None) and the maps of each layer."""

    logits: np.ndarray
    target: np.ndarray
    head: str | None
    layers: list[LayerMaps]


@contextmanager
def _grad_mode_allowed() -> Iterator[None]:
    """Leave ``torch.inference_mode`` for the block if it is on (autograd needs it off)."""
    with torch.inference_mode(False) if torch.is_inference_mode_enabled() else ExitStack():
        yield


class Explainer:
    """Explain a time-series classifier ``model`` (input ``[N, C, T]``, output logits ``[N, K]``).

    ``layers``: None (the default selection, see :func:`default_layers`), ``"all"`` (every
    layer with a time axis), an int (index into a top-level ``nn.Sequential``'s children, or into
    the default selection for other models), a qualified name (``"name@k"`` for the k-th call of
    a module run repeatedly; ``"input"`` for the input itself), a module object, or a list of
    those. Resolution needs an input's shapes, so it happens on the first :meth:`explain` (or
    :meth:`resolve` or :meth:`layer_specs`). A model whose prediction has no gradient with
    respect to its input (tsai's ROCKET family) gets ``["input"]`` by default, explained by the
    methods that need no gradient (``occlusion``, ``shapley_segments``).

    ``layouts``: ``{"module name": "NTC"}`` overrides the traced layout of a layer's output (one
    letter per axis: N batch, T time, C channels). ``input_layout``: ``"NCT"`` or ``"NTC"`` (the
    model takes channels last; series are still given as ``[N, C, T]``). ``output``: where the
    logits are in what the model returns: an index, a key or attribute name, or a callable.
    ``with_input``: put the input (``"input"``) first in the default selection when the
    prediction has a gradient with respect to it (the widget does).
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Any = None,
        *,
        layouts: dict[str, str] | None = None,
        input_layout: str = "NCT",
        output: Any = None,
        with_input: bool = False,
    ):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.io = ModelIO(input_layout, output)
        self._request = LayerRequest.parse(model, layers, layouts, with_input)
        self._resolved: ResolvedLayers | None = None
        # the graph needs the input's gradient (parameters before a captured layer are frozen)
        self._input_grad = False

    @property
    def layouts(self) -> dict[str, str]:
        """Per chosen layer, the layout its output is read with (``"NCT"``, ``"[0] NTC"``,
        ``"NTC, token 0 dropped (class token)"`` ...); resolved on the first explain."""
        if self._resolved is None:
            raise RuntimeError("Explainer.layouts: call explain(x) or resolve(x) first")
        return self._resolved.layouts

    @property
    def input_differentiable(self) -> bool:
        """Whether the logits have a gradient path to the input (after resolution)."""
        if self._resolved is None:
            raise RuntimeError("Explainer.input_differentiable: call resolve(x) first")
        return self._resolved.trace.differentiable

    @property
    def layers(self) -> list[str]:
        """Names of the chosen layers (after resolution; for plain names also before)."""
        if self._resolved is not None:
            return self._resolved.names
        if self._request.provisional is not None:
            return list(self._request.provisional)
        raise RuntimeError(
            "Explainer.layers: the layers are resolved on the first explain(x); call "
            "explain(x) or resolve(x) first"
        )

    @property
    def resolution(self) -> ResolvedLayers | None:
        """The resolved layers (specs and the model's trace), or None before resolution."""
        return self._resolved

    @property
    def _specs(self) -> tuple[LayerSpec, ...] | None:
        return None if self._resolved is None else self._resolved.specs

    def resolve(self, x: Any, *, arg: str = "x") -> list[str]:
        """Resolve the layer selection with one forward of (the first sample of) ``x``; errors
        name it ``arg``. Returns the layer names."""
        self.layer_specs(prepare_x(x, self.model, arg=arg), arg=arg)
        return self.layers

    def layer_specs(self, x: Any, *, arg: str = "x") -> list[LayerSpec]:
        """The chosen layers as :class:`~.layers.LayerSpec` s (module name, call index, the layout
        its output is read with), in order. The first call resolves the selection with one traced
        forward of the first sample of ``x`` (``[N, T]`` or ``[N, C, T]``; errors name it
        ``arg``); later calls return the same layers."""
        if self._resolved is None:
            x1 = prepare_x(x, self.model, arg=arg)[:1]
            self._resolved = resolve_layers(self.model, self._request, x1, self.io, arg)
        return list(self._resolved.specs)

    def for_copy(self, model: nn.Module) -> Explainer:
        """An explainer of ``model``, a deep copy of this one's model, with the same layers and
        layouts, resolved without tracing again (a copy has the same modules and shapes)."""
        other = Explainer.__new__(Explainer)
        other.__dict__.update(self.__dict__)
        other.model = model
        return other

    def probs(self, x: Any, private: bool = False) -> np.ndarray:
        """Softmax probabilities float32 ``[N, K]`` of ``x`` (``[N, T]`` or ``[N, C, T]``) from one
        plain forward (eval mode, ``torch.inference_mode``, no hooks; model state restored).

        ``private``: the model is a copy in eval mode that nothing else uses (the widget's
        background worker) and ``x`` is known to be finite: no state is saved and restored and
        the values are not checked again (per batch, that bookkeeping costs a few percent of a
        small batch's forward)."""
        xt = prepare_x(x, self.model, finite=private)
        with ExitStack() as stack:
            stack.enter_context(torch.inference_mode())
            if not private:
                stack.enter_context(preserved_state(self.model))
                self.model.eval()
            try:
                logits = self.io(self.model, xt)
            except RuntimeError as e:
                raise forward_error(self.model, xt[:1], self.io, e) from e
            return torch.softmax(logits.double(), 1).float().cpu().numpy()

    def default_method_names(self) -> list[str]:
        """The ``methods=None`` selection (after resolution): every method with ``default =
        True``; for a model whose prediction has no gradient with respect to its input, the
        input attributions that need none (``occlusion``, ``shapley_segments``) and, on layers
        named by the user, the default methods that need none."""
        if self._resolved is None:
            raise RuntimeError("Explainer.default_method_names: call resolve(x) first")
        if self._resolved.trace.differentiable:
            return default_methods()
        return gradient_free_defaults(self._resolved.specs)

    def _methods(self, methods: Any) -> tuple[list[Method], bool]:
        if methods is None:
            return [METHODS[n] for n in self.default_method_names()], False
        if isinstance(methods, str):
            methods = [methods]
        out = []
        for name in methods:
            if name not in METHODS:
                import difflib

                close = difflib.get_close_matches(str(name), list(METHODS), n=3)
                raise ValueError(
                    f"methods: unknown method {name!r}; known: {sorted(METHODS)}"
                    + (f"; did you mean {close}?" if close else "")
                )
            if METHODS[name] not in out:
                out.append(METHODS[name])
        if not out:
            raise ValueError("methods: expected at least one method name, got an empty list")
        return out, True

    def _plan(
        self, methods: Any, reductions: Any, batch_size: Any, method_kwargs: dict[str, Any]
    ) -> MethodPlan:
        reductions = check_reductions(reductions)
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        ms, explicit = self._methods(methods)
        res = self._resolved  # resolved before the plan
        if res is not None and not res.trace.differentiable and any(s.is_input for s in res.specs):
            check_gradient_free(ms)  # no gradient to the input: a clear error, not zeros
        accepted = {k for m in ms for k in m.kwargs}
        unknown = sorted(set(method_kwargs) - accepted)
        if unknown:
            raise TypeError(
                f"explain() got unexpected keyword argument(s) {unknown}; the chosen methods "
                f"accept {sorted(accepted)}"
            )
        return MethodPlan(ms, reductions, method_kwargs, explicit)

    def explain(
        self,
        x: Any,
        target: Any = "pred",
        y: Any = None,
        methods: list[str] | None = None,
        reductions: tuple[str, ...] | list[str] = ("mean",),
        norm: str = "sample",
        scale_range: tuple[float, float] = (0, 1),
        batch_size: int = 256,
        **method_kwargs: Any,
    ) -> Explanation:
        """Compute maps for every chosen layer and method.

        ``x``: numpy/tensor ``[N, T]`` (one channel) or ``[N, C, T]``. ``target``: ``"pred"``,
        ``"true"`` (needs ``y``), a class index or ``N`` indices. ``methods``: names (default:
        :meth:`default_method_names`: every method whose class says ``default = True``, those
        with extra forwards are opt-in; for a model without gradients, the input attributions
        that need none). A method that needs a gradient, on the input of a model whose
        prediction has none, is a ``ValueError`` naming it.
        ``reductions`` for methods that take one (``Method.reductions``).
        ``norm``/``scale_range``: see :meth:`Explanation.get`. ``method_kwargs`` go to the
        methods that accept them (``chunk_size``, ``ablation_value``).

        Returns an :class:`Explanation`; its arrays are CPU numpy.
        """
        with _grad_mode_allowed():
            xt = prepare_x(x, self.model).clone()
            n = xt.shape[0]
            norm, scale_range = check_norm(norm, scale_range)
            specs = self.layer_specs(xt[:1])  # the methods=None selection depends on the model
            plan = self._plan(methods, reductions, batch_size, method_kwargs)
            y_arr = None if y is None else prepare_labels(y, n, arg="y")
            target_arg = check_target(target, n, y_arr)
            job = _Job(specs, plan.with_reductions(), target_arg, y_arr, int(batch_size))
            store = MapStore(job.plan.keys, [s.name for s in specs])
            batches = []
            with preserved_state(self.model):
                self.model.eval()
                for start in range(0, n, job.batch_size):
                    b = self._batch(xt[start : start + job.batch_size], start, job)
                    for lm in b.layers:
                        store.add(lm)
                    batches.append(b)
            plan = self._defined_somewhere(job, store, batches)
            return Explanation(
                raw=store.arrays(),
                channels=store.channel_arrays(),
                layers=[s.name for s in specs],
                methods=[m.name for m in plan.methods],
                reductions=plan.reductions,
                keys=plan.keys,
                relu={m.name: m.relu for m in plan.methods},
                layouts=self.layouts,
                logits=np.concatenate([b.logits for b in batches], 0),
                target=np.concatenate([b.target for b in batches], 0),
                x=xt.detach().float().cpu().numpy(),
                norm=norm,
                scale_range=scale_range,
            )

    @staticmethod
    def _defined_somewhere(job: _Job, store: MapStore, batches: list[_BatchResult]) -> MethodPlan:
        """The plan less the methods defined on none of the layers (``only_on``): an error when
        such a method was asked for by name, else left out."""
        names = [s.name for s in job.specs]
        nowhere = store.undefined_everywhere(job.plan, names)
        if nowhere and job.plan.explicit:
            m = next(m for m in job.plan.methods if m.name in nowhere)
            head = next((b.head for b in batches if b.head), None)
            head_text = (
                f"the last nn.Linear is {head!r}, fed by none of the layers {names}"
                if head
                else "the model has no nn.Linear head"
            )
            raise ValueError(
                f"methods: {m.name!r} needs {m.only_on or 'a layer where it is defined'}; "
                + (head_text if "nn.Linear" in m.only_on else f"none of the layers {names} is one")
            )
        return job.plan.without(nowhere)

    def _batch(self, xb: torch.Tensor, start: int, job: _Job) -> _BatchResult:
        """Every map of every layer for the batch ``xb`` ``[n, C, T]`` (samples ``start`` ...)."""
        need_grad = job.plan.need_grad
        # the input needs a gradient only for an input map, or when parameters before a
        # captured layer are frozen (its output would then be outside the graph)
        input_grad = need_grad and (self._input_grad or any(s.is_input for s in job.specs))
        with LayerCapture(self.model, job.specs) as cap:
            with torch.enable_grad() if need_grad else torch.no_grad():
                try:
                    p = forward(cap, self.io, xb, input_grad)
                    if need_grad and not input_grad and not in_graph(cap, self.io, p):
                        # frozen parameters: again with the input's gradient (later batches too)
                        self._input_grad = True
                        p = forward(cap, self.io, xb, True)
                except RuntimeError as e:
                    raise forward_error(self.model, xb, self.io, e) from e
                captured = self._capture(cap, p, start, job)  # one autograd.grad
            cap.stop()
            forwards = Forwards(cap, self.io)
            layers = [  # the methods' arithmetic
                layer_maps(job.plan, ctx)
                for ctx in captured.contexts(job.specs, forwards, job.batch_size, start)
            ]
        return _BatchResult(
            captured.logits.float().cpu().numpy(),
            captured.target.cpu().numpy(),
            captured.head.name,
            layers,
        )

    def _capture(self, cap: LayerCapture, p: Pass, start: int, job: _Job) -> Captured:
        """The batch's target, and per layer its activations and (with gradient methods, from
        one ``autograd.grad``) gradients, as ``[n, C, T']``, detached."""
        xb = p.batch
        out = self.io.logits(p.output, xb.shape[0])
        tgt = target_tensor(job.target, out.detach(), job.y, start)
        raws = layer_outputs(cap, p, job.specs)
        grads: list[torch.Tensor | None] = [None] * len(raws)
        if job.plan.need_grad:
            grads = list(gradients(out, tgt, raws, job.specs))
        acts = [s.layout.to_nct(a) for s, a in zip(job.specs, raws)]
        grads = [None if g is None else s.layout.to_nct(g) for s, g in zip(job.specs, grads)]
        return Captured(
            x=xb,
            target=tgt,
            logits=out.detach(),
            acts=[a.detach() for a in acts],
            grads=grads,
            head=cap.head(),
        )
