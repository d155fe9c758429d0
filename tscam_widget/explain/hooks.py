"""Forward hooks that capture the outputs of chosen layers during one forward (kept in the autograd
graph so one ``torch.autograd.grad`` reaches all of them), the input of the last ``nn.Linear``
(for CAM), and optionally replace one layer's output (for ablation).

A captured output is kept as the tensor the layer returned; if an in-place op later changes it
(its version counter moves, :meth:`LayerCapture.modified`), :meth:`LayerCapture.run` runs the
forward again passing a clone downstream instead.

A layer's output is captured as the tensor its :class:`~.layouts.Layout` reads (an element of a
tuple output, any axis order); gradients are taken with respect to that tensor and both are
turned into ``[N, C, T']`` afterwards. Hooks are registered on ``__enter__`` and removed through
their handles on ``__exit__``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .layers import LayerSpec

Replacer = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Head:
    """The last ``nn.Linear`` a forward ran: its ``name``, ``weight`` ``[K, C]`` and ``input``
    ``[N, C]`` (detached; all None when no ``nn.Linear`` ran)."""

    name: str | None = None
    weight: torch.Tensor | None = None
    input: torch.Tensor | None = None

    def weight_if_fed_by(self, A: torch.Tensor, n_classes: int) -> torch.Tensor | None:
        """The head's weights ``[K, C]`` if the time-mean of ``A`` ``[N, C, T']`` is its input
        and it has ``n_classes`` outputs, else None."""
        w, inp = self.weight, self.input
        if w is None or inp is None or w.shape[0] != n_classes or inp.shape != A.shape[:2]:
            return None
        gap = A.mean(-1)
        tol = 1e-6 + 1e-4 * float(inp.abs().max())
        ok = torch.allclose(gap.to(inp.dtype), inp, rtol=1e-4, atol=tol)
        return w if ok else None


class LayerCapture:
    """Context manager capturing the outputs of ``specs`` of ``model``.

    After a forward run through :meth:`run`, ``outputs[spec.name]`` is the tensor the layer's
    layout reads (a graph tensor, in the module's own axis order) and :meth:`head` the last
    ``nn.Linear`` run. :meth:`stop` ends capturing; :meth:`replacing` substitutes ``fn(A)`` for
    one layer's activations (``A`` as ``[N, C, T']``) in the forwards run inside it.
    """

    def __init__(self, model: nn.Module, specs: list[LayerSpec]):
        self.model = model
        self.specs = [s for s in specs if not s.is_input]
        self.outputs: dict[str, torch.Tensor] = {}
        self.linear: nn.Linear | None = None
        self.linear_name: str | None = None
        self.linear_input: torch.Tensor | None = None
        self.replace: tuple[str, Replacer] | None = None
        self.capture = True
        self.clone = False  # pass a clone of each captured output downstream
        self._versions: dict[str, int] = {}
        self._calls: dict[str, int] = {}
        self._handles: list[Any] = []

    def run(self, forward: Callable[[], Any]) -> Any:
        """Run ``forward()`` (a forward of the model) capturing afresh; if an in-place op changed
        a kept output, run it again with a clone of each captured output passed downstream (and
        keep doing so). Returns what ``forward()`` returns."""
        self.reset()
        out = forward()
        if self.modified():
            self.clone = True
            self.reset()
            out = forward()
        return out

    def in_graph(self) -> bool:
        """Whether every captured output is in the autograd graph (needs a gradient)."""
        return all(t.requires_grad for t in self.outputs.values())

    def head(self) -> Head:
        """The last ``nn.Linear`` of the latest captured forward (detached)."""
        if self.linear is None or self.linear_input is None:
            return Head()
        return Head(self.linear_name, self.linear.weight.detach(), self.linear_input.detach())

    def stop(self) -> None:
        """Stop capturing and drop the kept outputs (their graph can be freed); replacing still
        works."""
        self.capture = False
        self.outputs = {}

    @contextmanager
    def replacing(self, name: str, fn: Replacer) -> Iterator[None]:
        """Within the block, forwards see ``fn(A)`` in place of layer ``name``'s activations
        ``A`` ``[N, C, T']`` (call counts restart)."""
        self.replace = (name, fn)
        try:
            self._calls = {}
            yield
        finally:
            self.replace = None

    def reset(self) -> None:
        """Forget captured tensors and call counts (before each forward)."""
        self.outputs = {}
        self.linear = self.linear_name = self.linear_input = None
        self._calls = {}
        self._versions = {}

    def modified(self) -> list[str]:
        """Captured layers whose output an in-place op changed after capture (its version
        counter moved): their kept tensor no longer holds the layer's output."""
        return [n for n, t in self.outputs.items() if t._version != self._versions[n]]

    def _layer_hook(self, module_name: str, wanted: dict[int, LayerSpec]):
        def hook(module: nn.Module, inputs: Any, output: Any) -> Any:
            k = self._calls.get(module_name, 0)
            self._calls[module_name] = k + 1
            spec = wanted.get(k)
            if spec is None:
                return None
            lay = spec.layout
            try:
                t = lay.pick(output)
            except (IndexError, KeyError, TypeError):
                t = None
            if not isinstance(t, torch.Tensor) or t.ndim != len(lay.axes):
                got = f"shape {list(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__
                raise ValueError(
                    f"layers: the output of {spec.name!r} was traced as {lay.describe()} but is "
                    f"now {got}"
                )
            if self.replace is not None and self.replace[0] == spec.name:
                return lay.put(output, lay.from_nct(self.replace[1](lay.to_nct(t)), t))
            if self.capture:
                self.outputs[spec.name] = t
                self._versions[spec.name] = t._version
                if self.clone:  # so in-place ops after this layer cannot alter what we keep
                    return lay.put(output, t.clone())
            return None

        return hook

    def _linear_hook(self, name: str):
        def hook(module: nn.Module, inputs: Any) -> None:
            if self.capture and inputs and isinstance(inputs[0], torch.Tensor):
                self.linear, self.linear_name, self.linear_input = module, name, inputs[0]

        return hook

    def __enter__(self) -> LayerCapture:
        modules = dict(self.model.named_modules())
        by_module: dict[str, dict[int, LayerSpec]] = {}
        for s in self.specs:
            by_module.setdefault(s.module_name, {})[s.call] = s
        try:
            for name, wanted in by_module.items():
                self._handles.append(
                    modules[name].register_forward_hook(self._layer_hook(name, wanted))
                )
            for name, m in modules.items():
                if isinstance(m, nn.Linear):
                    self._handles.append(m.register_forward_pre_hook(self._linear_hook(name)))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        self.outputs = {}
        self.linear_input = None
