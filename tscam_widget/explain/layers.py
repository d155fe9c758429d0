"""Find the layers of a model that a class-activation map can be drawn for, and resolve a user's
layer selection (ints, names, module objects, ``"all"``) into :class:`LayerSpec` s.

A layer is a submodule together with a call index: a module that runs more than once in one
forward (tsai's shared ``InceptionBlock.act``) is named ``"name@k"`` for its k-th call (0-based).
A bare name of such a module means its *last* call. ``"input"`` names the model's input itself
(``[N, C, T]``; gradient methods there are gradient-times-input maps).

Each layer's output is read through a :class:`~.layouts.Layout` found by tracing the model
(:mod:`.trace`), so conv (``[N, C, T']``), sequence (``[N, T', D]``, ``[T', N, D]``), recurrent
(tuple) and 4-D outputs are all explained along their time axis.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from .inputs import prepare_x
from .layouts import NCT, Layout
from .model_io import ModelIO
from .trace import CallRecord, Trace, trace_model

INPUT = "input"


@dataclass(frozen=True)
class LayerSpec:
    """One layer: ``module_name`` (qualified, as in ``named_modules``; ``"input"`` for the model's
    input), its ``call`` index, and the :class:`~.layouts.Layout` its output is read with."""

    module_name: str
    call: int = 0
    multi: bool = False  # True when the module runs more than once per forward
    layout: Layout = NCT

    @property
    def name(self) -> str:
        """The display name: the qualified name, plus ``@call`` for modules called repeatedly."""
        return f"{self.module_name}@{self.call}" if self.multi else self.module_name

    @property
    def is_input(self) -> bool:
        return self.module_name == INPUT


INPUT_SPEC = LayerSpec(INPUT, 0, False, NCT)


def _spec(tr: Trace, r: CallRecord) -> LayerSpec | None:
    found = r.temporal()
    if found is None:
        return None
    return LayerSpec(r.module_name, r.call, tr.counts[r.module_name] > 1, found[1])


def _candidates(tr: Trace) -> list[tuple[CallRecord, LayerSpec]]:
    out = []
    for r in tr.calls:
        spec = _spec(tr, r)
        if spec is not None:
            out.append((r, spec))
    return out


def _node(r: CallRecord, spec: LayerSpec) -> int:
    return r.nodes.get(spec.layout.element, -1)


def _maximal(
    pool: list[tuple[CallRecord, LayerSpec]], under: CallRecord | None
) -> list[tuple[CallRecord, LayerSpec]]:
    inside = [c for c in pool if under is None or under.contains(c[0])]
    return [c for c in inside if not any(o[0].contains(c[0]) for o in inside if o is not c)]


MIN_DEFAULT_LAYERS = 3


def default_from_trace(tr: Trace) -> list[LayerSpec]:
    """The default layers from a :class:`~.trace.Trace`: block outputs along the main path.

    Of the module calls whose output has a time axis and lies on the main path (see
    :mod:`.trace`), other than calls that are the identity at inference (dropout,
    ``nn.Identity``: their map is their input's), take the outermost ones (no other such call
    around them). Then split a call into the outermost such calls inside it (keeping it after
    them when its own output differs from its last part's): the deepest-spanning call while the
    list has fewer than three layers, then any call that spans more than half of the main path's
    depth and holds two or more blocks (non-leaf modules); parts without parameters of their own
    (an add, an activation) are kept only where every path passes through them and the next part
    is not one too (of an add and its activation, the activation). Duplicates of one output (a
    container and its last child, an identity) count once. The list always ends with the deepest
    temporal output on the main path (the one feeding the pooling or the head), through an
    identity call where no other call returns it.
    Empty when no temporal layer is on a differentiable path."""
    on_main = [c for c in _candidates(tr) if _node(*c) in tr.main]
    if not on_main:
        return []
    deepest = max(on_main, key=lambda c: (tr.depth.get(_node(*c), -1), c[0].end))
    # an identity stays only where it alone carries the deepest output
    carried = {_node(*c) for c in on_main if not c[0].identity}
    last = _node(*deepest)
    alone = last not in carried
    pool = [c for c in on_main if not c[0].identity or (alone and _node(*c) == last)]
    total = max(tr.depth.get(_node(*deepest), 0), 1)

    def parts(c: tuple[CallRecord, LayerSpec]) -> list[tuple[CallRecord, LayerSpec]]:
        kids = sorted(_maximal(pool, c[0]), key=lambda k: k[0].end)

        def bare(k: tuple[CallRecord, LayerSpec]) -> bool:  # an add, an activation
            return k[0].leaf and not k[0].params

        kept = [
            k
            for i, k in enumerate(kids)
            if not bare(k) or i == len(kids) - 1 or (_node(*k) in tr.cuts and not bare(kids[i + 1]))
        ]
        if kept and _node(*kept[-1]) != _node(*c):
            kept.append(c)
        return kept

    level = sorted(_maximal(pool, None), key=lambda c: c[0].end)
    while True:
        spans, prev = [], 0
        for c in level:
            d = tr.depth.get(_node(*c), 0)
            spans.append(d - prev)
            prev = max(prev, d)
        split = [(parts(c), i) for i, c in enumerate(level)]
        split = [(p, i) for p, i in split if p and [k[0] for k in p] != [level[i][0]]]
        if len(level) < MIN_DEFAULT_LAYERS:
            pick = max(split, key=lambda pi: spans[pi[1]], default=None)
        else:
            pick = next(
                (
                    (p, i)
                    for p, i in split
                    if spans[i] > total / 2 and sum(not k[0].leaf for k in p) >= 2
                ),
                None,
            )
        if pick is None:
            break
        p, i = pick
        level = level[:i] + p + level[i + 1 :]
    if _node(*level[-1]) != _node(*deepest):
        outer = _maximal([c for c in pool if _node(*c) == _node(*deepest)], None)
        level.append(min(outer, key=lambda c: c[0].start))
    seen: set[int] = set()
    chosen = []
    for c in level:
        k = _node(*c)
        if k not in seen:
            seen.add(k)
            chosen.append(c[1])
    return chosen


def candidate_specs(tr: Trace) -> list[LayerSpec]:
    """Every module call with a time axis in its output, in execution (completion) order."""
    return [s for _, s in _candidates(tr)]


def candidate_layers(model: nn.Module, x: Any, **io: Any) -> list[str]:
    """Qualified names, in execution (completion) order, of every submodule call whose output has
    a time axis (``[N, C, T']``, ``[N, T', D]``, ``[T', N, D]``, an RNN's output sequence, 4-D
    with one time axis ...; see :mod:`.layouts`).

    ``x`` is an input batch (numpy or tensor, ``[N, T]`` or ``[N, C, T]``); ``io``:
    ``input_layout``/``output`` as for :class:`Explainer`. Returns names (``"name@k"`` for
    modules called repeatedly)."""
    return [s.name for s in candidate_specs(trace_model(model, prepare_x(x, model), ModelIO(**io)))]


def default_layers(model: nn.Module, x: Any, **io: Any) -> list[str]:
    """Names of the default layer selection: the block outputs along the model's main path,
    ending with the deepest temporal layer (see :func:`default_from_trace`). A model without
    temporal layers on a differentiable path gets ``["input"]`` (without a gradient to its input
    too: the methods that need none, occlusion and shapley_segments, explain it there).

    ``x``: an input batch ``[N, T]`` or ``[N, C, T]``; ``io``: ``input_layout``/``output``.
    Returns a list of names in execution order."""
    tr = trace_model(model, prepare_x(x, model), ModelIO(**io))
    return [s.name for s in _default_or_input(tr)]


def _default_or_input(tr: Trace) -> list[LayerSpec]:
    return default_from_trace(tr) or [INPUT_SPEC]


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
    if base == INPUT and INPUT not in modules:
        if call not in (None, 0):
            raise ValueError(f"{arg}: 'input' has no calls, got {name!r}")
        return INPUT, None
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


def _no_layout_error(name: str, r: CallRecord) -> ValueError:
    if not r.shapes:
        return ValueError(f"layers: the output of {name!r} holds no tensor")
    why = "; ".join(
        f"{'element ' + str(list(p)) + ' ' if p else ''}shape {list(r.shapes[p])}: {lay}"
        for p, lay in r.layouts.items()
        if isinstance(lay, str)
    )
    rank = len(next(iter(r.shapes.values())))
    if all(len(sh) not in (3, 4) for sh in r.shapes.values()):
        shapes = ", ".join(str(list(sh)) for sh in r.shapes.values())
        return ValueError(
            f"layers: the output of {name!r} (shape {shapes}) has no time axis: a layer needs 3 "
            "or 4 axes (batch, time and channels)"
        )
    example = {3: "NTC", 4: "NCCT"}.get(rank, "NCT")
    return ValueError(
        f"layers: cannot read the output of {name!r} as activations [N, C, T'] ({why}); if one "
        f"axis is time, pass layouts={{{name!r}: {example!r}}} (one letter per axis: N batch, "
        f"T time, C channels)"
    )


def resolve_specs(model: nn.Module, selection: Any, tr: Trace) -> list[LayerSpec]:
    """Resolve a normalised selection (see :func:`normalize_selection`) against a
    :class:`~.trace.Trace` of the model.

    Returns the layers as :class:`LayerSpec` s, each with the layout its output is read with.
    """
    if selection == "all":
        cands = candidate_specs(tr)
        if not cands:
            raise ValueError(
                "layers='all': no submodule output has a time axis; layers='input' explains the "
                "input itself"
            )
        return cands
    if selection is None:
        return _default_or_input(tr)
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
                    defaults = default_from_trace(tr)
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
        if base == INPUT and tr.counts.get(INPUT, 0) == 0:
            specs.append(INPUT_SPEC)
            continue
        n = tr.counts.get(base, 0)
        if n == 0:
            raise ValueError(f"layers: submodule {base!r} did not run in the model's forward")
        if call is None:
            call = n - 1
        if call >= n:
            raise ValueError(
                f"layers: {base}@{call} asked for call {call} but {base!r} runs {n} time(s) "
                f"per forward (valid calls: 0..{n - 1})"
            )
        r = tr.record(base, call)
        assert r is not None
        spec = _spec(tr, r)
        if spec is None:
            raise _no_layout_error(base if n == 1 else f"{base}@{call}", r)
        specs.append(spec)
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
