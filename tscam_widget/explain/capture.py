"""One batch's capture: a forward with hooks on every chosen layer (:class:`.hooks.LayerCapture`),
then one ``torch.autograd.grad`` of the target logits for every layer at once (never
``.backward()``: the parameters' ``.grad`` stay untouched). :class:`Captured` holds the result,
each layer as ``[N, C, T']``, and makes each layer's :class:`~.methods.MethodContext`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from .hooks import Head, LayerCapture, Replacer
from .layers import INPUT, LayerSpec
from .methods import MethodContext
from .model_io import ModelIO


@dataclass(frozen=True)
class Pass:
    """One captured forward: ``batch`` the batch ``[N, C, T]`` as given, ``x`` the copy fed (a
    leaf that requires a gradient when the input needs one) and ``output``, what the model
    returned."""

    batch: torch.Tensor
    x: torch.Tensor
    output: Any


def forward(cap: LayerCapture, io: ModelIO, x: torch.Tensor, input_grad: bool) -> Pass:
    """Run the model on a copy of ``x`` ``[N, C, T]`` with ``cap`` capturing; the copy requires a
    gradient when ``input_grad``."""
    xin = x.detach().clone().requires_grad_(input_grad)
    return Pass(x, xin, cap.run(lambda: cap.model(io.feed(xin))))


def in_graph(cap: LayerCapture, io: ModelIO, p: Pass) -> bool:
    """Whether the logits and every captured output of ``p`` are in the autograd graph."""
    return cap.in_graph() and io.logits(p.output, p.x.shape[0]).requires_grad


def layer_outputs(cap: LayerCapture, p: Pass, specs: list[LayerSpec]) -> list[torch.Tensor]:
    """Per spec, the captured tensor its layout reads (the fed input for ``"input"``)."""
    missing = [s.name for s in specs if not s.is_input and s.name not in cap.outputs]
    if missing:
        raise ValueError(f"layers: {missing} did not run in the model's forward")
    return [p.x if s.is_input else cap.outputs[s.name] for s in specs]


def gradients(
    logits: torch.Tensor, target: torch.Tensor, raws: list[torch.Tensor], specs: list[LayerSpec]
) -> list[torch.Tensor]:
    """d(sum_n logits[n, target[n]]) / d(raw) for every layer's ``raws`` entry, from one
    ``torch.autograd.grad`` (detached; zeros where a layer has no gradient)."""
    if not logits.requires_grad:
        raise ValueError(
            "model: its output does not depend differentiably on the input, so "
            "gradient methods cannot be computed"
        )
    selected = logits[torch.arange(logits.shape[0], device=logits.device), target].sum()
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
    return [
        torch.zeros_like(a) if found.get(i) is None else found[i].detach()
        for i, a in enumerate(raws)
    ]


@dataclass(frozen=True)
class Forwards:
    """The extra forwards some methods run (no gradient, nothing captured)."""

    cap: LayerCapture
    io: ModelIO

    def plain(self, b: torch.Tensor) -> torch.Tensor:
        """The logits ``[N, K]`` of the batch ``b`` ``[N, C, T]``."""
        with torch.no_grad():
            return self.io(self.cap.model, b)

    def replacing(self, layer: str) -> Callable[[torch.Tensor, Replacer], torch.Tensor]:
        """``run(b, fn)``: the logits of ``b`` with layer ``layer``'s output ``A`` replaced by
        ``fn(A)`` (for ``"input"``: of ``fn(b)``)."""
        cap, io = self.cap, self.io

        def run(b: torch.Tensor, fn: Replacer) -> torch.Tensor:
            if layer == INPUT:
                with torch.no_grad():
                    return io(cap.model, fn(b))
            with cap.replacing(layer, fn), torch.no_grad():
                return io(cap.model, b)

        return run

    def input_gradient(self, b: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``d logits[r, target[r]] / d b`` ``[R, C, T]`` for the rows ``b`` ``[R, C, T]``: a
        forward and one ``torch.autograd.grad`` with respect to a copy of ``b`` only (the
        parameters' ``.grad`` stay untouched). ValueError for a model without that gradient."""
        with torch.enable_grad():
            xin = b.detach().clone().requires_grad_(True)
            out = self.io(self.cap.model, xin)
            if not out.requires_grad:
                raise ValueError(
                    "model: its output does not depend differentiably on the input, so "
                    "gradient methods cannot be computed (occlusion and shapley_segments "
                    "need no gradient)"
                )
            sel = out[torch.arange(out.shape[0], device=out.device), target.to(out.device)]
            (g,) = torch.autograd.grad(sel.sum(), xin, allow_unused=True)
        if g is None:
            raise ValueError(
                f"layers: {INPUT!r}: the model's prediction has no gradient with respect to its "
                "input, so gradient methods have no map there (occlusion and shapley_segments "
                "need no gradient)"
            )
        return g.detach()


@dataclass(frozen=True)
class Captured:
    """One batch after capture, all detached: ``x`` the batch ``[N, C, T]``, ``target`` ``[N]``
    int64, ``logits`` ``[N, K]``, per layer ``acts`` and ``grads`` ``[N, C, T']`` (grads None
    when no method uses gradients) and the model's ``head``."""

    x: torch.Tensor
    target: torch.Tensor
    logits: torch.Tensor
    acts: list[torch.Tensor]
    grads: list[torch.Tensor | None]
    head: Head

    def contexts(
        self, specs: list[LayerSpec], forwards: Forwards, batch_size: int, start: int = 0
    ) -> Iterator[MethodContext]:
        """Per layer, the :class:`~.methods.MethodContext` its methods read (``start``: index
        of the batch's first sample in the explain call)."""
        for spec, A, G in zip(specs, self.acts, self.grads):
            yield MethodContext(
                A=A,
                G=G,
                layer=spec.name,
                model=forwards.cap.model,
                x=self.x,
                target=self.target,
                logits=self.logits,
                # the head's weights if this layer's time-mean is its input (looked for only when
                # a method asks)
                find_head=functools.cache(
                    functools.partial(self.head.weight_if_fed_by, A, self.logits.shape[1])
                ),
                head_name=self.head.name,
                forward=forwards.plain,
                forward_replacing=forwards.replacing(spec.name),
                input_gradient=forwards.input_gradient,
                batch_size=batch_size,
                start=start,
            )
