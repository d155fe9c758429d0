"""The :class:`Explainer`: per batch, one forward with hooks on every chosen layer and one
``torch.autograd.grad`` serving every gradient method on every layer; the model is left exactly
as found (see :mod:`.state`)."""

from __future__ import annotations

import dataclasses
import functools
from contextlib import ExitStack
from typing import Any

import numpy as np
import torch
from torch import nn

from .channels import channel_error
from .explanation import Explanation, check_norm
from .hooks import LayerCapture
from .inputs import prepare_labels, prepare_x
from .layers import (
    INPUT,
    INPUT_SPEC,
    LayerSpec,
    normalize_selection,
    parse_name,
    provisional_names,
    resolve_specs,
)
from .layouts import parse_layout
from .methods import METHODS, Method, MethodContext, WeightedMethod, default_methods
from .model_io import ModelIO
from .state import preserved_state
from .targets import check_target, target_tensor
from .terms import check_reductions, layer_terms
from .trace import Trace, trace_model

_SHORT_HINTS = ("size", "kernel", "smaller", "padding", "output", "shape", "length", "dimension")


def _diagnose(model: nn.Module, x: torch.Tensor, io: ModelIO) -> str | None:
    """Rerun the failing forward with tracking hooks; return the innermost module that started
    but did not finish (the one that raised)."""
    stack: list[str] = []
    failed: list[str] = []

    def pre(name: str):
        def hook(m: nn.Module, inp: Any) -> None:
            stack.append(name)

        return hook

    def post(name: str):
        def hook(m: nn.Module, inp: Any, out: Any) -> None:
            if stack and stack[-1] == name:
                stack.pop()

        return hook

    handles = []
    with preserved_state(model):
        try:
            for name, m in model.named_modules():
                if name:
                    handles.append(m.register_forward_pre_hook(pre(name)))
                    handles.append(m.register_forward_hook(post(name)))
            with torch.no_grad():
                model(io.feed(x))
        except Exception:  # noqa: BLE001 - we only locate it
            failed = list(stack)
        finally:
            for h in handles:
                h.remove()
    return failed[-1] if failed else None


class Explainer:
    """Explain a time-series classifier ``model`` (input ``[N, C, T]``, output logits ``[N, K]``).

    ``layers``: None (the default selection, see :func:`default_layers`), ``"all"`` (every
    layer with a time axis), an int (index into a top-level ``nn.Sequential``'s children, or into
    the default selection for other models), a qualified name (``"name@k"`` for the k-th call of
    a module run repeatedly; ``"input"`` for the input itself), a module object, or a list of
    those. Resolution needs an input's shapes, so it happens on the first :meth:`explain` (or
    :meth:`resolve`).

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
        self._given = self._check_layouts(model, layouts)
        self._selection = normalize_selection(model, layers)
        self._specs: list[LayerSpec] | None = None
        self._trace: Trace | None = None
        # the graph needs the input's gradient (parameters before a captured layer are frozen)
        self._input_grad = False
        self._provisional = provisional_names(model, self._selection)
        self._with_input = bool(with_input) and self._selection is None

    @staticmethod
    def _check_layouts(model: nn.Module, layouts: Any) -> dict[str, str]:
        if layouts is None:
            return {}
        if not isinstance(layouts, dict):
            raise TypeError(
                f"layouts: expected a dict {{'module name': 'NTC'}}, got {type(layouts).__name__}"
            )
        modules = dict(model.named_modules())
        out = {}
        for name, text in layouts.items():
            base, _ = parse_name(str(name), modules, arg="layouts")
            out[base] = parse_layout(text, arg=f"layouts[{name!r}]")
        return out

    @property
    def layouts(self) -> dict[str, str]:
        """Per chosen layer, the layout its output is read with (``"NCT"``, ``"[0] NTC"``,
        ``"NTC, token 0 dropped (class token)"`` ...); resolved on the first explain."""
        if self._specs is None:
            raise RuntimeError("Explainer.layouts: call explain(x) or resolve(x) first")
        return {s.name: s.layout.describe() for s in self._specs}

    @property
    def input_differentiable(self) -> bool:
        """Whether the logits have a gradient path to the input (after resolution)."""
        if self._trace is None:
            raise RuntimeError("Explainer.input_differentiable: call resolve(x) first")
        return self._trace.differentiable

    @property
    def layers(self) -> list[str]:
        """Names of the chosen layers (after resolution; for plain names also before)."""
        if self._specs is not None:
            return [s.name for s in self._specs]
        if self._provisional is not None:
            return list(self._provisional)
        raise RuntimeError(
            "Explainer.layers: the layers are resolved on the first explain(x); call "
            "explain(x) or resolve(x) first"
        )

    def resolve(self, x: Any, *, arg: str = "x") -> list[str]:
        """Resolve the layer selection with one forward of (the first sample of) ``x``; errors
        name it ``arg``. Returns the layer names."""
        xt = prepare_x(x, self.model, arg=arg)
        self._resolve(xt, arg)
        return self.layers

    def _resolve(self, xt: torch.Tensor, arg: str = "x") -> list[LayerSpec]:
        if self._specs is None:
            try:
                self._trace = trace_model(self.model, xt[:1], self.io, given=self._given)
            except RuntimeError as e:
                raise self._forward_error(xt[:1], e, arg) from e
            except ValueError as e:  # the model's own check of its input, or ours of its output
                wrong = channel_error(self.model, xt[:1], self.io, arg)
                if wrong is None:
                    raise
                raise wrong from e
            specs = resolve_specs(self.model, self._selection, self._trace)
            if self._with_input and self._trace.differentiable and not specs[0].is_input:
                specs = [INPUT_SPEC, *specs]
            self._specs = specs
        return self._specs

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
                raise self._forward_error(xt[:1], e) from e
            return torch.softmax(logits.double(), 1).float().cpu().numpy()

    def _forward_error(self, xt: torch.Tensor, e: Exception, arg: str = "x") -> ValueError:
        wrong = channel_error(self.model, xt, self.io, arg)
        if wrong is not None:
            return wrong
        where = _diagnose(self.model, xt, self.io)
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if where is not None and any(h in msg.lower() for h in _SHORT_HINTS):
            return ValueError(
                f"{arg}: the model failed on series of length {xt.shape[-1]} in layer {where!r} "
                f"({msg}); the length was probably too short for layer {where!r}"
            )
        return ValueError(f"{arg}: the model's forward failed in layer {where!r}: {msg}")

    def _methods(self, methods: Any) -> tuple[list[Method], bool]:
        if methods is None:
            return [METHODS[n] for n in default_methods()], False
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
        every method whose class says ``default = True``; those with extra forwards are opt-in).
        ``reductions`` for methods that take one (``Method.reductions``).
        ``norm``/``scale_range``: see :meth:`Explanation.get`. ``method_kwargs`` go to the
        methods that accept them (``chunk_size``, ``ablation_value``).

        Returns an :class:`Explanation`; its arrays are CPU numpy.
        """
        if torch.is_inference_mode_enabled():
            ctx_inf: Any = torch.inference_mode(False)
        else:
            ctx_inf = ExitStack()
        with ctx_inf:
            return self._explain(
                x, target, y, methods, reductions, norm, scale_range, batch_size, method_kwargs
            )

    def _explain(
        self,
        x: Any,
        target: Any,
        y: Any,
        methods: Any,
        reductions: Any,
        norm: str,
        scale_range: Any,
        batch_size: int,
        method_kwargs: dict[str, Any],
    ) -> Explanation:
        xt = prepare_x(x, self.model).clone()
        n = xt.shape[0]
        norm, scale_range = check_norm(norm, scale_range)
        reductions = check_reductions(reductions)
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        ms, explicit = self._methods(methods)
        accepted = {k for m in ms for k in m.kwargs}
        unknown = sorted(set(method_kwargs) - accepted)
        if unknown:
            raise TypeError(
                f"explain() got unexpected keyword argument(s) {unknown}; the chosen methods "
                f"accept {sorted(accepted)}"
            )
        y_arr = None if y is None else prepare_labels(y, n, arg="y")
        target_arg = check_target(target, n, y_arr)

        specs = self._resolve(xt)
        names = [s.name for s in specs]
        for m in ms:
            if not m.keys(reductions) and explicit:
                raise ValueError(
                    f"reductions: method {m.name!r} takes {list(m.reductions)}, none of "
                    f"{reductions}"
                )
        ms = [m for m in ms if m.keys(reductions)]
        keys = [(m.name, r) for m in ms for r in m.keys(reductions)]
        chunks: dict[tuple[str, str | None, str], list[np.ndarray]] = {
            (k[0], k[1], ln): [] for k in keys for ln in names
        }
        undefined: set[tuple[str, str | None, str]] = set()
        logits_all, target_all = [], []
        head: str | None = None
        with preserved_state(self.model):
            self.model.eval()
            for start in range(0, n, int(batch_size)):
                xb = xt[start : start + int(batch_size)]
                logits, tgt, head_b = self._batch(
                    xb,
                    specs,
                    ms,
                    reductions,
                    target_arg,
                    y_arr,
                    start,
                    int(batch_size),
                    method_kwargs,
                    chunks,
                    undefined,
                )
                head = head or head_b
                logits_all.append(logits)
                target_all.append(tgt)

        raw = {}
        for k, parts in chunks.items():
            arr = np.concatenate(parts, 0)
            if k in undefined:
                arr[:] = np.nan
            raw[k] = arr
        # a method defined on some layers only (``only_on``) and on none of the chosen ones: an
        # error when asked for by name, else left out
        nowhere = {
            m.name
            for m in ms
            if all((m.name, r, ln) in undefined for r in m.keys(reductions) for ln in names)
        }
        if nowhere and explicit:
            m = next(m for m in ms if m.name in nowhere)
            head_text = (
                f"the last nn.Linear is {head!r}, fed by none of the layers {names}"
                if head
                else "the model has no nn.Linear head"
            )
            raise ValueError(
                f"methods: {m.name!r} needs {m.only_on or 'a layer where it is defined'}; "
                + (head_text if m.only_on else f"none of the layers {names} is one")
            )
        ms = [m for m in ms if m.name not in nowhere]
        keys = [k for k in keys if k[0] not in nowhere]
        return Explanation(
            raw=raw,
            layers=names,
            methods=[m.name for m in ms],
            reductions=reductions,
            keys=keys,
            relu={m.name: m.relu for m in ms},
            layouts=self.layouts,
            logits=np.concatenate(logits_all, 0),
            target=np.concatenate(target_all, 0),
            x=xt.detach().float().cpu().numpy(),
            norm=norm,
            scale_range=scale_range,
        )

    def _batch(
        self,
        xb: torch.Tensor,
        specs: list[LayerSpec],
        ms: list[Method],
        reductions: list[str],
        target_arg: Any,
        y_arr: np.ndarray | None,
        start: int,
        batch_size: int,
        method_kwargs: dict[str, Any],
        chunks: dict[tuple[str, str | None, str], list[np.ndarray]],
        undefined: set[tuple[str, str | None, str]],
    ) -> tuple[np.ndarray, np.ndarray, str | None]:
        model = self.model
        need_grad = any(m.uses_gradients for m in ms)
        with LayerCapture(model, specs) as cap:

            def run(input_grad: bool) -> tuple[torch.Tensor, Any]:
                xin = xb.detach().clone().requires_grad_(input_grad)
                cap.reset()
                raw_out = model(self.io.feed(xin))
                if cap.modified():
                    # an in-place op after a captured layer changed what was kept: again, with a
                    # clone of each captured output passed downstream
                    cap.clone = True
                    cap.reset()
                    raw_out = model(self.io.feed(xin))
                return xin, raw_out

            with torch.enable_grad() if need_grad else torch.no_grad():
                # the input needs a gradient only for an input map, or when parameters before a
                # captured layer are frozen (its output would then be outside the graph)
                input_grad = need_grad and (self._input_grad or any(s.is_input for s in specs))
                try:
                    xin, raw_out = run(input_grad)
                    if need_grad and not input_grad:
                        kept = [*cap.outputs.values(), self.io.logits(raw_out, xb.shape[0])]
                        if not all(t.requires_grad for t in kept):
                            self._input_grad = True
                            xin, raw_out = run(True)
                except RuntimeError as e:
                    raise self._forward_error(xb, e) from e
                out = self.io.logits(raw_out, xb.shape[0])
                tgt = target_tensor(target_arg, out.detach(), y_arr, start)
                missing = [s.name for s in specs if not s.is_input and s.name not in cap.outputs]
                if missing:
                    raise ValueError(f"layers: {missing} did not run in the model's forward")
                raws = [xin if s.is_input else cap.outputs[s.name] for s in specs]
                grads: list[torch.Tensor | None] = [None] * len(specs)
                if need_grad:
                    if not out.requires_grad:
                        raise ValueError(
                            "model: its output does not depend differentiably on the input, so "
                            "gradient methods cannot be computed"
                        )
                    selected = out[torch.arange(out.shape[0], device=out.device), tgt].sum()
                    # one autograd.grad for every layer; .grad of parameters is never touched
                    live = [i for i, a in enumerate(raws) if a.requires_grad]
                    g = torch.autograd.grad(selected, [raws[i] for i in live], allow_unused=True)
                    found = dict(zip(live, g))
                    i_in = next((i for i, s in enumerate(specs) if s.is_input), None)
                    if i_in is not None and found.get(i_in) is None:
                        raise ValueError(
                            f"layers: {INPUT!r}: the model's prediction has no gradient with "
                            "respect to its input (its features are not differentiable, as "
                            "ROCKET's counts of positive values), so gradient methods have no "
                            "map there"
                        )
                    grads = [
                        torch.zeros_like(a) if found.get(i) is None else found[i].detach()
                        for i, a in enumerate(raws)
                    ]
                acts = [s.layout.to_nct(a) for s, a in zip(specs, raws)]
                grads = [None if g is None else s.layout.to_nct(g) for s, g in zip(specs, grads)]
            logits = out.detach()
            head_name, head_in = cap.linear_name, cap.linear_input
            head_w = cap.linear.weight.detach() if cap.linear is not None else None
            if head_in is not None:
                head_in = head_in.detach()
            acts = [a.detach() for a in acts]
            cap.capture = False
            cap.outputs = {}

            io = self.io

            def forward(b: torch.Tensor) -> torch.Tensor:
                with torch.no_grad():
                    return io(model, b)

            for spec, A, G in zip(specs, acts, grads):

                def forward_replacing(
                    b: torch.Tensor, fn: Any, name: str = spec.name
                ) -> torch.Tensor:
                    if name == INPUT:
                        with torch.no_grad():
                            return io(model, fn(b))
                    cap.replace = (name, fn)
                    try:
                        cap._calls = {}
                        with torch.no_grad():
                            return io(model, b)
                    finally:
                        cap.replace = None

                @functools.cache
                def head_weight(A: torch.Tensor = A) -> torch.Tensor | None:
                    """The head's weights if this layer's time-mean is the head's input (looked
                    for only when a method asks)."""
                    if (
                        head_w is None
                        or head_in is None
                        or head_w.shape[0] != logits.shape[1]
                        or head_in.shape != A.shape[:2]
                    ):
                        return None
                    gap = A.mean(-1)
                    tol = 1e-6 + 1e-4 * float(head_in.abs().max())
                    ok = torch.allclose(gap.to(head_in.dtype), head_in, rtol=1e-4, atol=tol)
                    return head_w if ok else None

                self._layer_maps(
                    spec.name,
                    ms,
                    reductions,
                    MethodContext(
                        A=A,
                        G=G,
                        layer=spec.name,
                        model=model,
                        x=xb,
                        target=tgt,
                        logits=logits,
                        find_head=head_weight,
                        head_name=head_name,
                        forward=forward,
                        forward_replacing=forward_replacing,
                        batch_size=batch_size,
                    ),
                    method_kwargs,
                    chunks,
                    undefined,
                )
        return logits.float().cpu().numpy(), tgt.cpu().numpy(), head_name

    @staticmethod
    def _layer_maps(
        layer: str,
        ms: list[Method],
        reductions: list[str],
        base: MethodContext,
        method_kwargs: dict[str, Any],
        chunks: dict[tuple[str, str | None, str], list[np.ndarray]],
        undefined: set[tuple[str, str | None, str]],
    ) -> None:
        """Every map of one layer and batch: the shared terms the methods declare, computed once
        (:func:`.terms.layer_terms`), then each method; the ``sum_k w_k A_k`` maps of all
        :class:`WeightedMethod` s in one batched product."""
        A = base.A
        wanted = [k for m in ms for r in m.keys(reductions) for k in m.needs(r)]
        terms = layer_terms(A, base.G, wanted)
        results: dict[tuple[str, str | None], torch.Tensor | None] = {}
        pending: list[tuple[tuple[str, str | None], torch.Tensor]] = []
        for m in ms:
            for r in m.keys(reductions):
                ctx = dataclasses.replace(
                    base,
                    G=base.G if m.uses_gradients else None,
                    reduction=r,
                    terms=terms,
                    kwargs={k: v for k, v in method_kwargs.items() if k in m.kwargs},
                )
                if isinstance(m, WeightedMethod):
                    w = m.weights(ctx)
                    if w is None:
                        results[(m.name, r)] = None
                    else:
                        pending.append(((m.name, r), w))
                else:
                    results[(m.name, r)] = m.compute(ctx)
        if pending:
            W = torch.stack([w.to(A.dtype) for _, w in pending], 1)  # [N, M, C]
            maps = torch.bmm(W, A)  # [N, M, T']: A read once for all of them
            for j, (key, _) in enumerate(pending):
                results[key] = maps[:, j]
        for (name, r), res in results.items():
            key = (name, r, layer)
            if res is None:
                undefined.add(key)
                res = torch.full((A.shape[0], A.shape[2]), float("nan"), device=A.device)
            chunks[key].append(res.detach().float().cpu().numpy())
