"""Forward hooks that capture the outputs of chosen layers during one forward (kept in the autograd
graph so one ``torch.autograd.grad`` reaches all of them), the input of the last ``nn.Linear``
(for CAM), and optionally replace one layer's output (for ablation).

Hooks are registered on ``__enter__`` and removed on ``__exit__``; the caller wraps everything in
:func:`~tscam_widget.explain.state.preserved_state` as well, so hook dicts end exactly as found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .layers import LayerSpec

Replacer = Callable[[torch.Tensor], torch.Tensor]


class LayerCapture:
    """Context manager capturing the outputs of ``specs`` of ``model``.

    After a forward, ``outputs[spec.name]`` is the layer output ``[N, C, T']`` (a graph tensor),
    ``linear`` the last ``nn.Linear`` run and ``linear_input`` its input. Set ``replace =
    (spec_name, fn)`` to substitute ``fn(output)`` for that layer's output in later forwards.
    """

    def __init__(self, model: nn.Module, specs: list[LayerSpec]):
        self.model = model
        self.specs = specs
        self.outputs: dict[str, torch.Tensor] = {}
        self.linear: nn.Linear | None = None
        self.linear_name: str | None = None
        self.linear_input: torch.Tensor | None = None
        self.replace: tuple[str, Replacer] | None = None
        self.capture = True
        self._calls: dict[str, int] = {}
        self._handles: list[Any] = []

    def reset(self) -> None:
        """Forget captured tensors and call counts (before each forward)."""
        self.outputs = {}
        self.linear = self.linear_name = self.linear_input = None
        self._calls = {}

    def _layer_hook(self, module_name: str, wanted: dict[int, LayerSpec]):
        def hook(module: nn.Module, inputs: Any, output: Any) -> Any:
            k = self._calls.get(module_name, 0)
            self._calls[module_name] = k + 1
            spec = wanted.get(k)
            if spec is None:
                return None
            if not isinstance(output, torch.Tensor) or output.ndim != 3 or output.shape[-1] < 2:
                got = (
                    f"shape {list(output.shape)}"
                    if isinstance(output, torch.Tensor)
                    else type(output).__name__
                )
                raise ValueError(
                    f"layers: the output of {spec.name!r} must be a tensor [N, C, T'] with "
                    f"T' >= 2, got {got}"
                )
            if self.replace is not None and self.replace[0] == spec.name:
                return self.replace[1](output)
            if self.capture:
                self.outputs[spec.name] = output
                # a clone downstream, so in-place ops after this layer cannot alter what we keep
                return output.clone()
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
