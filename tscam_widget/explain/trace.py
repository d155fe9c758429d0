"""Trace a model: which submodules run, in what nesting, what they return, how their outputs are
laid out (:mod:`.layouts`), and which of them lie on the model's main path.

Three forwards of a few copies of one sample, in eval mode with temporary hooks (removed through
their handles; the model's state is restored by :func:`~.state.preserved_state`):

- ``base``: ``n`` samples at the input length, with autograd on, so the graph from the input to
  the logits can be read;
- ``longer``: one sample at twice the length (the axis that follows is time; ``n`` samples where
  one gives outputs of other ranks or fails, see :func:`_longer`); models that take one length
  only refuse it, and layouts then fall back to matching sizes;
- ``more``: ``n + 1`` samples (the axis that follows is the batch axis): one plain copy and two
  copies bumped at 1/8 and 7/8 of the length (where a layer's output changes most tells its
  time axis apart from a channel axis of the same size, for models that take one length only).
  :func:`~.layouts.detect` reads these profiles only where sizes leave the time axis open (no
  ``longer`` shape, and several axes match the length or one sits beside an axis of one step:
  :func:`~.layouts.reads_probes`), so they are computed only there. Where no tensor needs them
  (most models that take any length) a single plain sample serves instead (the batch axis
  follows 2 -> 1 as it follows 2 -> 3), unless it gives other ranks than ``base``: :func:`_one`.

**Main path.** In the autograd graph of ``base`` every node gets a weight of 1 if it is the output
of a *leaf* module (a conv, a norm, an activation, an RNN ...), else 0. The main path is made of
the nodes on a heaviest path from the input to the logits: the branch with the most layers, not
a shortcut around them (a residual's skip, an identity, a parallel RNN of one module).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .layouts import Layout, Path, Shapes, detect, reads_probes, tensor_elements
from .model_io import ModelIO
from .state import preserved_state

BASE_N = 2


@dataclass
class CallRecord:
    """One submodule call in the ``base`` forward (``start``/``end``: hook sequence numbers, so a
    call nests inside another when its interval lies inside). ``shapes``: per tensor element
    (path into a tuple output, ``()`` for a tensor) its shape; ``nodes``: its autograd node
    (during the trace; afterwards the node's id, -1 for none);
    ``layouts``: per element a :class:`Layout`, or why none was found."""

    module_name: str
    call: int
    start: int
    end: int = -1
    leaf: bool = False
    params: bool = False  # holds parameters of its own (a conv, a norm), unlike an add or a ReLU
    identity: bool = False  # the identity at inference (see :func:`is_identity`)
    shapes: dict[Path, tuple[int, ...]] = field(default_factory=dict)
    nodes: dict[Path, Any] = field(default_factory=dict)
    layouts: dict[Path, Layout | str] = field(default_factory=dict)
    probes: dict[Path, dict[tuple[int, int], tuple[int, int]]] = field(default_factory=dict)
    producer: tuple[int, Path] | None = None  # (record index or -1 for the input, path)

    def contains(self, other: CallRecord) -> bool:
        return self.start < other.start and other.end < self.end

    def temporal(self) -> tuple[Path, Layout] | None:
        """The first element with a layout (an RNN's output sequence before its states)."""
        for p, lay in self.layouts.items():
            if isinstance(lay, Layout):
                return p, lay
        return None


@dataclass
class Trace:
    """What :func:`trace_model` found. ``calls`` in completion order; ``main``: ids of autograd
    nodes on the main path; ``depth``: node id -> weight of the heaviest path from the input up
    to and including that node; ``cuts``: ids of nodes every input-to-logits path passes through;
    ``differentiable``: the logits have a gradient path to the
    input; ``longer_error``: why the model refused a second length (None if it took it)."""

    calls: list[CallRecord]
    counts: dict[str, int]
    main: set[int]
    depth: dict[int, int]
    cuts: set[int]
    differentiable: bool
    longer_error: str | None
    length: int

    def record(self, name: str, call: int) -> CallRecord | None:
        for r in self.calls:
            if r.module_name == name and r.call == call:
                return r
        return None


def model_strides(model: nn.Module) -> list[int]:
    """Patch and stride sizes > 1 the model declares (conv strides, ``patch_len``, ``patch_size``,
    ``stride`` attributes), for matching patch counts."""
    out: set[int] = set()
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            s = m.stride[-1]
            if s > 1:
                out.add(int(s))
        for attr in ("patch_len", "patch_size", "stride"):
            v = getattr(m, attr, None)
            if isinstance(v, int) and not isinstance(v, bool) and v > 1:
                out.add(v)
    return sorted(out)


PROBE_AT = (1 / 8, 7 / 8)  # where the probe copies of the ``more`` forward are bumped


def probe_input(x1: torch.Tensor) -> torch.Tensor:
    """Three copies of the sample ``x1`` ``[1, C, T]``: as is, and with a bump (all channels, a
    few steps wide) at 1/8 and at 7/8 of the length."""
    T = x1.shape[-1]
    x3 = x1.repeat(3, 1, 1)
    w = max(1, T // 32)
    bump = 3 * float(x1.std()) + 1.0
    for k, at in enumerate(PROBE_AT, start=1):
        c = int(at * T)
        x3[k, :, max(0, c - w // 2) : c - w // 2 + w] += bump
    return x3


def _profiles(t: torch.Tensor) -> dict[tuple[int, int], tuple[int, int]]:
    """For a probe output (3 copies on some batch axis b of size 3): per (b, axis a), where along
    ``a`` the copies bumped at 1/8 and 7/8 differ most from the plain copy."""
    out: dict[tuple[int, int], tuple[int, int]] = {}
    if not t.is_floating_point() or t.ndim not in (3, 4):
        return out
    for b in range(t.ndim):
        if t.shape[b] != 3:
            continue
        base = t.select(b, 0)
        diffs = [(t.select(b, k) - base).abs() for k in (1, 2)]
        for a in range(t.ndim):
            if a == b or t.shape[a] < 2:
                continue
            a2 = a - (a > b)
            dims = [d for d in range(t.ndim - 1) if d != a2]
            out[(b, a)] = tuple(int(d.sum(dims).argmax()) for d in diffs)  # type: ignore[assignment]
    return out


Modules = list[tuple[str, nn.Module, bool, bool]]

#: module types that are the identity at inference (dropout in eval mode returns its input)
IDENTITY_TYPES = (
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)


def is_identity(module: nn.Module, first: Any, version: int | None, output: Any) -> bool:
    """Whether an eval-mode call was the identity: ``module`` is one of :data:`IDENTITY_TYPES`,
    or it returned its first input ``first`` itself, unmodified (``version``: the input's
    ``_version`` before the call, so an in-place op such as ``ReLU(inplace=True)`` is not)."""
    if isinstance(module, IDENTITY_TYPES):
        return True
    return (
        isinstance(first, torch.Tensor)
        and output is first
        and version is not None
        and first._version == version
    )


def _modules(model: nn.Module) -> Modules:
    """``(name, module, leaf, holds parameters of its own)`` per named submodule, listed once for
    the trace's forwards."""
    out = []
    for name, m in model.named_modules():
        if name:
            leaf = next(m.children(), None) is None
            params = next(m.parameters(recurse=False), None) is not None
            out.append((name, m, leaf, params))
    return out


def _run(
    model: nn.Module,
    io: ModelIO,
    x: torch.Tensor,
    with_graph: bool,
    probe: Callable[[tuple[str, int, Path], tuple[int, ...]], bool] | None = None,
    modules: Modules | None = None,
) -> tuple[list[CallRecord], Any, Any]:
    """One hooked forward. Returns (records in completion order, each with the call that
    produced its input where a module did, the fed input, the logits). With ``probe`` (``x`` from
    :func:`probe_input`) each record's ``probes`` holds :func:`_profiles` for the elements
    whose key ``(module name, call, path)`` and shape it accepts. ``modules``: :func:`_modules` of
    ``model`` (listed here if not given)."""
    records: list[CallRecord] = []
    open_calls: dict[int, list[CallRecord]] = {}
    inputs: dict[int, list[tuple[Any, int | None]]] = {}  # per open call: (first input, version)
    # id(tensor) -> (record index, path, weak reference): a weak reference tells a live tensor
    # from a later one that reuses a freed tensor's id, without keeping activations alive
    producers: dict[int, tuple[int, Path, Any]] = {}
    counts: dict[str, int] = {}
    seq = [0]
    handles = []

    def pre(name: str, leaf: bool, params: bool) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any) -> None:
            k = counts.get(name, 0)
            counts[name] = k + 1
            seq[0] += 1
            rec = CallRecord(name, k, seq[0], leaf=leaf, params=params)
            first = next((a for a in args if isinstance(a, torch.Tensor)), None)
            if first is not None:
                known = producers.get(id(first))
                if known is not None and known[2]() is first:
                    rec.producer = known[:2]
            open_calls.setdefault(id(module), []).append(rec)
            inputs.setdefault(id(module), []).append(
                (first, None if first is None else first._version)
            )

        return hook

    def post(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            stack = open_calls.get(id(module))
            if not stack:
                return
            rec = stack.pop()
            first, version = inputs[id(module)].pop()
            rec.identity = is_identity(module, first, version, output)
            seq[0] += 1
            rec.end = seq[0]
            for path, t in tensor_elements(output):
                rec.shapes[path] = tuple(t.shape)
                rec.nodes[path] = t.grad_fn
                if probe is not None and probe((name, rec.call, path), rec.shapes[path]):
                    rec.probes[path] = _profiles(t.detach())
                known = producers.get(id(t))
                if known is None or known[2]() is not t:  # the innermost producer stays
                    producers[id(t)] = (len(records), path, weakref.ref(t))
            records.append(rec)

        return hook

    try:
        for name, m, leaf, params in _modules(model) if modules is None else modules:
            handles.append(m.register_forward_pre_hook(pre(name, leaf, params)))
            handles.append(m.register_forward_hook(post(name)))
        with torch.enable_grad() if with_graph else torch.no_grad():
            leaf_x = x.detach().clone().requires_grad_(with_graph)
            fed = io.feed(leaf_x)
            producers[id(fed)] = (-1, (), weakref.ref(fed))
            out = model(fed)
            logits = io.logits(out, x.shape[0])
    finally:
        for h in handles:
            h.remove()
    return records, fed, logits


_PRIME = (1 << 61) - 1


def _graph(
    logits: torch.Tensor, target: Any, weight: dict[int, int]
) -> tuple[set[int], dict[int, int], set[int], bool]:
    """Main-path node ids, per-node depth, cut node ids (on every path, found by counting paths
    modulo a large prime) and whether ``target`` is reachable (see the module doc)."""
    root = logits.grad_fn
    if root is None or target is None:
        return set(), {}, set(), False
    children: dict[int, list[int]] = {}
    nodes: dict[int, Any] = {}
    order: list[int] = []  # post-order: children before parents
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        k = id(node)
        if done:
            order.append(k)
            continue
        if k in nodes:
            continue
        nodes[k] = node
        kids = [c for c, _ in node.next_functions if c is not None]
        children[k] = [id(c) for c in kids]
        stack.append((node, True))
        stack.extend((c, False) for c in kids if id(c) not in nodes)
    neg = float("-inf")
    tid = id(target)
    down: dict[int, float] = {}
    paths_down: dict[int, int] = {}
    for k in order:
        if k == tid:
            down[k], paths_down[k] = 0.0, 1
            continue
        best = max((down.get(c, neg) for c in children[k]), default=neg)
        down[k] = best + weight.get(k, 0) if best > neg else neg
        paths_down[k] = sum(paths_down.get(c, 0) for c in children[k]) % _PRIME
    rid = id(root)
    total = down.get(rid, neg)
    if total == neg:
        return set(), {}, set(), False
    up: dict[int, float] = {rid: 0.0}
    paths_up: dict[int, int] = {rid: 1}
    for k in reversed(order):
        u = up.get(k, neg)
        if u == neg:
            continue
        for c in children[k]:
            up[c] = max(up.get(c, neg), u + weight.get(k, 0))
            paths_up[c] = (paths_up.get(c, 0) + paths_up[k]) % _PRIME
    main = {k for k in order if down[k] > neg and up.get(k, neg) + down[k] == total}
    depth = {k: int(total - up[k]) for k in main}
    every = paths_down[rid]
    cuts = {k for k in main if paths_up.get(k, 0) * paths_down[k] % _PRIME == every}
    return main, depth, cuts, True


def _longer(
    model: nn.Module,
    io: ModelIO,
    x1: torch.Tensor,
    base_ranks: dict[tuple[str, int, Path], int],
    modules: Modules,
) -> tuple[list[CallRecord] | None, str | None]:
    """The ``longer`` forward: (records, None), or (None, why) when the model refuses twice the
    length. :func:`~.layouts.detect` reads its shapes on the axes other than the batch axis only
    (the batch axis comes from ``base`` and ``more``), so it runs one sample first, half the
    work; where that forward fails or any output differs from ``base`` in rank (or in the calls
    made: a ``squeeze()`` that drops a batch axis of one), it runs again on ``n`` samples,
    whose outcome is what the trace keeps."""
    xl = torch.cat([x1, x1], -1)
    try:
        longer, _, _ = _run(model, io, xl, False, modules=modules)
        ranks = {(r.module_name, r.call, p): len(s) for r in longer for p, s in r.shapes.items()}
        if ranks == base_ranks:
            return longer, None
    except Exception:  # noqa: BLE001, S110 - decided on n samples below
        pass
    try:
        longer, _, _ = _run(model, io, xl.expand(BASE_N, -1, -1), False, modules=modules)
    except Exception as e:  # noqa: BLE001 - a fixed-length model
        return None, (str(e).splitlines() or [type(e).__name__])[0]
    return longer, None


def _one(
    model: nn.Module,
    io: ModelIO,
    x1: torch.Tensor,
    base_shapes: dict[tuple[str, int, Path], tuple[int, ...]],
    long_shapes: dict[tuple[str, int, Path], tuple[int, ...]],
    T: int,
    strides: list[int],
    modules: Modules,
) -> list[CallRecord] | None:
    """Where the model took the longer length, the ``more`` forward's batch size can be one
    (an axis whose size follows the batch size changes from 2 to 1 as from 2 to 3) and its
    probe copies are not needed when :func:`~.layouts.reads_probes` says so for every tensor:
    the records of one sample at the input length, or None (run the probe forward) when the
    model refused the longer length, a profile is needed, or the forward failed or gave any
    output another rank (or made other calls) than ``base`` (a ``squeeze()`` dropping a batch
    axis of one)."""
    if not long_shapes:
        return None
    try:
        one, _, _ = _run(model, io, x1, False, modules=modules)
    except Exception:  # noqa: BLE001 - the probe forward decides
        return None
    shapes = {(r.module_name, r.call, p): s for r in one for p, s in r.shapes.items()}
    if {k: len(s) for k, s in shapes.items()} != {k: len(s) for k, s in base_shapes.items()}:
        return None
    for k, s in base_shapes.items():
        sh = Shapes(s, shapes[k], long_shapes.get(k), BASE_N, T, 2 * T, more_n=1)
        if reads_probes(sh, strides):
            return None
    return one


def trace_model(
    model: nn.Module,
    x: torch.Tensor,
    io: ModelIO | None = None,
    graph: bool = True,
    given: dict[str, str] | None = None,
) -> Trace:
    """Trace ``model`` on copies of the first sample of ``x`` (``[N, C, T]`` on the model's
    device); see the module docstring. ``given``: layouts the user gave, by module name (``"NTC"``),
    used instead of the detected ones. Returns a :class:`Trace`."""
    io = io or ModelIO()
    x1 = x[:1]
    T = int(x.shape[-1])
    strides = model_strides(model)
    with preserved_state(model):
        model.eval()
        modules = _modules(model)
        base, fed, logits = _run(
            model, io, x1.expand(BASE_N, *x1.shape[1:]), graph, modules=modules
        )
        with torch.no_grad():
            base_ranks = {
                (r.module_name, r.call, p): len(s) for r in base for p, s in r.shapes.items()
            }
            longer, longer_error = _longer(model, io, x1, base_ranks, modules)
            long_shapes = {
                (r.module_name, r.call, p): s for r in (longer or []) for p, s in r.shapes.items()
            }
            base_shapes = {(r.module_name, r.call, p): s for r in base for p, s in r.shapes.items()}

            def read(key: tuple[str, int, Path], more_shape: tuple[int, ...]) -> bool:
                """Whether :func:`detect` may read this element's probe profiles."""
                shape = base_shapes.get(key)
                if shape is None:
                    return False
                s = Shapes(shape, more_shape, long_shapes.get(key), BASE_N, T, 2 * T)
                return reads_probes(s, strides)

            more, more_n = _one(model, io, x1, base_shapes, long_shapes, T, strides, modules), 1
            if more is None:
                more, more_n = _run(model, io, probe_input(x1), False, read, modules)[0], None
    more_shapes = {(r.module_name, r.call, p): s for r in more for p, s in r.shapes.items()}
    probes = {(r.module_name, r.call, p): v for r in more for p, v in r.probes.items()}
    given = given or {}
    fed_time = 1 if io.input_layout == "NTC" else 2
    for r in base:
        for p, shape in r.shapes.items():
            if r.module_name in given:
                axes = given[r.module_name]
                if len(axes) == len(shape):
                    r.layouts[p] = Layout(axes, p, source="given")
                    break
                continue
            inherited = None
            if r.producer is not None:
                i, q = r.producer
                src = Layout("NTC" if fed_time == 1 else "NCT") if i < 0 else base[i].layouts.get(q)
                if isinstance(src, Layout) and len(src.axes) == len(shape):
                    inherited = src.time_axis
            key = (r.module_name, r.call, p)
            s = Shapes(
                shape,
                more_shapes.get(key),
                long_shapes.get(key) if longer is not None else None,
                BASE_N,
                T,
                2 * T if longer is not None else None,
                probes.get(key),
                more_n,
            )
            r.layouts[p] = detect(s, p, strides, inherited)
    weight: dict[int, int] = {}
    for r in base:
        if r.leaf:
            for node in r.nodes.values():
                if node is not None:
                    weight[id(node)] = 1
    target = fed.grad_fn if graph else None
    main, depth, cuts, diff = _graph(logits, target, weight) if graph else (set(), {}, set(), False)
    counts: dict[str, int] = {}
    for r in base:
        counts[r.module_name] = max(counts.get(r.module_name, 0), r.call + 1)
        # node ids from here on: the graph (and the activations it holds) can go
        r.nodes = {p: -1 if n is None else id(n) for p, n in r.nodes.items()}
    return Trace(base, counts, main, depth, cuts, diff, longer_error, T)
