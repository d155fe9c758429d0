"""Find the layers of a model that a class-activation map can be drawn for, and resolve a user's
layer selection (ints, names, module objects, ``"all"``) into :class:`LayerSpec` s.

A layer is a submodule together with a call index: a module that runs more than once in one
forward (tsai's shared ``InceptionBlock.act``) is named ``"name@k"`` for its k-th call (0-based).
A bare name of such a module means its *last* call.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .state import preserved_state


@dataclass(frozen=True)
class LayerSpec:
    """One layer: ``module_name`` (qualified, as in ``named_modules``) and its ``call`` index."""

    module_name: str
    call: int = 0
    multi: bool = False  # True when the module runs more than once per forward

    @property
    def name(self) -> str:
        """The display name: the qualified name, plus ``@call`` for modules called repeatedly."""
        return f"{self.module_name}@{self.call}" if self.multi else self.module_name


@dataclass(frozen=True)
class TraceRecord:
    """One module call seen during a traced forward, in completion order."""

    module_name: str
    call: int
    shape: tuple[int, ...] | None  # None when the output is not a tensor

    def is_candidate(self) -> bool:
        """True when the output is a tensor ``[N, C, T']`` with ``T' >= 2``."""
        return self.shape is not None and len(self.shape) == 3 and self.shape[-1] >= 2


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a model with neither)."""
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def model_dtype(model: nn.Module) -> torch.dtype:
    """The floating dtype of the model's first floating parameter (float32 if none)."""
    for t in model.parameters():
        if t.is_floating_point():
            return t.dtype
    return torch.float32


def trace(model: nn.Module, x: torch.Tensor) -> list[TraceRecord]:
    """Run one forward of ``x`` (eval mode, no grad, model state restored) with temporary hooks on
    every submodule.

    Returns one :class:`TraceRecord` per submodule call (the root excluded) in the order the calls
    finished.
    """
    records: list[TraceRecord] = []
    calls: dict[str, int] = {}

    def make_hook(name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            k = calls.get(name, 0)
            calls[name] = k + 1
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
            records.append(TraceRecord(name, k, shape))

        return hook

    with preserved_state(model):
        model.eval()
        for name, module in model.named_modules():
            if name:
                module.register_forward_hook(make_hook(name))
        with torch.no_grad():
            model(x)
    return records


def _call_counts(records: list[TraceRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        counts[r.module_name] = max(counts.get(r.module_name, 0), r.call + 1)
    return counts


def _specs_from_records(records: list[TraceRecord]) -> list[LayerSpec]:
    counts = _call_counts(records)
    return [
        LayerSpec(r.module_name, r.call, counts[r.module_name] > 1)
        for r in records
        if r.is_candidate()
    ]


def candidate_specs(model: nn.Module, x: torch.Tensor) -> list[LayerSpec]:
    """Every layer whose output is ``[N, C, T']`` with ``T' >= 2``, in execution order."""
    return _specs_from_records(trace(model, x))


def candidate_layers(model: nn.Module, x: Any) -> list[str]:
    """Qualified names, in execution (completion) order, of every submodule call whose output is a
    tensor ``[N, C, T']`` with ``T' >= 2``.

    ``x`` is an input batch (numpy or tensor, ``[N, T]`` or ``[N, C, T]``); one forward is run
    with temporary hooks. Returns a list of names (``"name@k"`` for modules called repeatedly).
    """
    from .inputs import prepare_x

    xt = prepare_x(x, model)
    return [s.name for s in candidate_specs(model, xt[:1])]


def _tsai_inception_block(model: nn.Module) -> tuple[str, nn.Module] | None:
    for name, module in model.named_modules():
        if (
            isinstance(getattr(module, "inception", None), nn.ModuleList)
            and isinstance(getattr(module, "shortcut", None), nn.ModuleList)
            and hasattr(module, "depth")
            and hasattr(module, "residual")
            and isinstance(getattr(module, "act", None), nn.Module)
        ):
            return name, module
    return None


def default_specs(
    model: nn.Module, x: torch.Tensor, records: list[TraceRecord] | None = None
) -> list[LayerSpec]:
    """The default selection of layers: the model's top-level blocks (see :func:`default_layers`).
    ``records`` reuses an earlier :func:`trace` of ``x``."""
    if records is None:
        records = trace(model, x)
    cands = _specs_from_records(records)
    by_name = {s.name: s for s in cands}
    by_module: dict[str, list[LayerSpec]] = {}
    for s in cands:
        by_module.setdefault(s.module_name, []).append(s)

    # 1. our reference models: a `blocks` ModuleList/Sequential, each block's output feeds the next.
    blocks = getattr(model, "blocks", None)
    if isinstance(blocks, (nn.ModuleList, nn.Sequential)):
        names = [f"blocks.{n}" for n, _ in blocks.named_children()]
        chosen = [s for n in names for s in by_module.get(n, [])[-1:]]
        if chosen:
            return chosen

    # 2. tsai's InceptionTime: inception modules without a residual after them, and the shared
    #    `act` (ReLU of inception + shortcut) for the residual depths: exactly the block outputs.
    found = _tsai_inception_block(model)
    if found is not None:
        prefix, block = found
        pre = f"{prefix}." if prefix else ""
        chosen: list[LayerSpec] = []
        n_res = 0
        for d in range(int(block.depth)):
            if block.residual and d % 3 == 2:
                acts = by_module.get(f"{pre}act", [])
                if n_res < len(acts):
                    chosen.append(acts[n_res])
                n_res += 1
            else:
                chosen.extend(by_module.get(f"{pre}inception.{d}", [])[-1:])
        if chosen:
            return chosen

    # 3. generic: the container with the most candidate direct children; its children in order.
    counts: dict[str, int] = {}
    for s in cands:
        parent = s.module_name.rpartition(".")[0]
        counts[parent] = counts.get(parent, 0) + 1
    if not counts:
        return []
    best = max(counts.items(), key=lambda kv: kv[1])[0]
    chosen = [s for s in cands if s.module_name.rpartition(".")[0] == best]
    # keep one entry per module (its last call) unless the module itself is repeated on purpose
    return [by_name[s.name] for s in chosen]


def default_layers(model: nn.Module, x: Any) -> list[str]:
    """Names of the default layer selection, the model's top-level blocks:

    - a ``blocks`` ``ModuleList``/``Sequential`` (our reference models): ``blocks.0`` ...;
    - tsai's ``InceptionTime``: ``inceptionblock.inception.{0,1,3,4}`` and the shared residual
      ReLU ``inceptionblock.act@0`` / ``act@1`` (tsai adds the shortcut *outside* the inception
      module, so the block output at depths 2 and 5 is the output of ``act``);
    - otherwise the candidate layers that are direct children of the container with the most
      candidate children (a top-level ``nn.Sequential``, or the body of a fastai-wrapped model).

    Returns a list of names in execution order.
    """
    from .inputs import prepare_x

    xt = prepare_x(x, model)
    return [s.name for s in default_specs(model, xt[:1])]


def _module_names(model: nn.Module) -> dict[int, str]:
    return {id(m): n for n, m in model.named_modules() if n}


def parse_name(
    name: str, modules: dict[str, nn.Module], arg: str = "layers"
) -> tuple[str, int | None]:
    """Split ``"name@k"`` into ``(name, k)`` and check the module exists (close matches listed)."""
    base, call = name, None
    if "@" in name:
        base, _, k = name.rpartition("@")
        if not k.isdigit():
            raise ValueError(
                f"{arg}: expected 'name' or 'name@call' with an integer call, got {name!r}"
            )
        call = int(k)
    if base not in modules or base == "":
        close = difflib.get_close_matches(base, [n for n in modules if n], n=5)
        hint = f"; close matches: {close}" if close else ""
        raise ValueError(f"{arg}: the model has no submodule named {base!r}{hint}")
    return base, call


def normalize_selection(model: nn.Module, layers: Any) -> list[Any] | str | None:
    """Turn ``layers`` into None, ``"all"`` or a list of ints / (name, call) tuples, checking names
    and module objects eagerly. Ints stay ints (they need a forward to resolve)."""
    if layers is None or (isinstance(layers, str) and layers == "all"):
        return layers
    items = list(layers) if isinstance(layers, (list, tuple)) else [layers]
    if not items:
        raise ValueError(
            "layers: expected None, 'all', an int, a name, a module or a non-empty list; got []"
        )
    modules = dict(model.named_modules())
    ids = _module_names(model)
    out: list[Any] = []
    for item in items:
        if isinstance(item, bool):
            raise TypeError(f"layers: expected int, str or nn.Module, got bool {item!r}")
        if isinstance(item, int):
            out.append(int(item))
        elif isinstance(item, str):
            if item == "all":
                raise ValueError("layers: 'all' cannot be mixed with other layers")
            out.append(parse_name(item, modules))
        elif isinstance(item, nn.Module):
            if item is model:
                raise ValueError(
                    "layers: the model itself is not a layer; pass one of its submodules"
                )
            if id(item) not in ids:
                raise ValueError(
                    f"layers: module {type(item).__name__} is not a submodule of the model"
                )
            out.append((ids[id(item)], None))
        else:
            raise TypeError(
                f"layers: expected None, 'all', int, str, nn.Module or a list of them; "
                f"got {type(item).__name__}"
            )
    return out


def resolve_specs(model: nn.Module, selection: Any, x: torch.Tensor) -> list[LayerSpec]:
    """Resolve a normalised selection (see :func:`normalize_selection`) with one traced forward.

    Returns the layers as :class:`LayerSpec` s, checking each output is ``[N, C, T']``.
    """
    records = trace(model, x)
    counts = _call_counts(records)
    cands = _specs_from_records(records)
    if selection == "all":
        if not cands:
            raise ValueError("layers='all': the model has no submodule with an output [N, C, T']")
        return cands
    if selection is None:
        specs = default_specs(model, x, records)
        if not specs:
            raise ValueError("layers=None: found no submodule with an output [N, C, T'] to explain")
        return specs
    shapes = {(r.module_name, r.call): r.shape for r in records}
    defaults: list[LayerSpec] | None = None
    specs: list[LayerSpec] = []
    for item in selection:
        if isinstance(item, int):
            if isinstance(model, nn.Sequential):
                children = [n for n, _ in model.named_children()]
                if not -len(children) <= item < len(children):
                    raise IndexError(
                        f"layers: index {item} out of range for the model's {len(children)} "
                        f"top-level children (valid: {-len(children)}..{len(children) - 1})"
                    )
                base, call = children[item], None
            else:
                if defaults is None:
                    defaults = default_specs(model, x, records)
                if not -len(defaults) <= item < len(defaults):
                    raise IndexError(
                        f"layers: index {item} out of range for the default selection of "
                        f"{len(defaults)} layers {[s.name for s in defaults]} "
                        f"(valid: {-len(defaults)}..{len(defaults) - 1})"
                    )
                specs.append(defaults[item])
                continue
        else:
            base, call = item
        n = counts.get(base, 0)
        if n == 0:
            raise ValueError(f"layers: submodule {base!r} did not run in the model's forward")
        if call is None:
            call = n - 1
        if call >= n:
            raise ValueError(
                f"layers: {base}@{call} asked for call {call} but {base!r} runs {n} time(s) "
                f"per forward (valid calls: 0..{n - 1})"
            )
        shape = shapes[(base, call)]
        if shape is None or len(shape) != 3 or shape[-1] < 2:
            got = "not a tensor" if shape is None else f"shape {list(shape)}"
            raise ValueError(
                f"layers: the output of {base!r} must be a tensor [N, C, T'] with T' >= 2, "
                f"got {got}"
            )
        specs.append(LayerSpec(base, call, n > 1))
    seen: set[str] = set()
    unique = []
    for s in specs:
        if s.name not in seen:
            seen.add(s.name)
            unique.append(s)
    return unique


def provisional_names(model: nn.Module, selection: Sequence[Any] | str | None) -> list[str] | None:
    """Names known without a forward (names, modules, ints into a top-level ``nn.Sequential``),
    else None. A forward may still add ``@k`` to modules that run repeatedly."""
    if not isinstance(selection, list):
        return None
    children = [n for n, _ in model.named_children()] if isinstance(model, nn.Sequential) else None
    names: list[str] = []
    for item in selection:
        if isinstance(item, int):
            if children is None or not -len(children) <= item < len(children):
                return None
            name = children[item]
        else:
            name = item[0] if item[1] is None else f"{item[0]}@{item[1]}"
        if name not in names:
            names.append(name)
    return names
