"""Layouts: how a layer's output is read as activations ``[N, C, T']``.

A layout names each axis of one tensor in the output: ``N`` (batch), ``T`` (time) and ``C``
(channels; several ``C`` axes are flattened into one), plus which element of a tuple/list output
holds it (an RNN's output sequence), and how many leading time steps are extra tokens (a class
token) that map to no time step and are dropped.

The axes are found from the model itself (see :func:`detect`): the axis whose size follows the
batch size between two traced forwards is ``N``, the one that follows the series length is ``T``.
Where the model only accepts one length, ``T`` is the axis whose size matches the input length or
a patch count; anything still ambiguous is refused with the ``layouts=`` override to pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

Path = tuple[int, ...]


@dataclass(frozen=True)
class Layout:
    """How to read one layer output as ``[N, C, T']``.

    ``axes``: one letter per axis of the tensor (``"NCT"``, ``"NTC"``, ``"TNC"``, ``"NCCT"`` ...);
    ``element``: index path into a tuple/list output (``()`` for a tensor); ``drop``: leading
    time steps that are extra tokens; ``stride``: input steps per time step when known;
    ``source``: how it was found (``"traced"``, ``"matched"``, ``"inherited"``, ``"given"``,
    ``"input"``)."""

    axes: str
    element: Path = ()
    drop: int = 0
    stride: float | None = None
    source: str = "traced"

    @property
    def batch_axis(self) -> int:
        return self.axes.index("N")

    @property
    def time_axis(self) -> int:
        return self.axes.index("T")

    def _perm(self) -> list[int]:
        chans = [i for i, a in enumerate(self.axes) if a == "C"]
        return [self.batch_axis, *chans, self.time_axis]

    def pick(self, output: Any) -> Any:
        """The element of ``output`` this layout reads (the output itself for a tensor)."""
        for i in self.element:
            output = output[i]
        return output

    def put(self, output: Any, value: torch.Tensor) -> Any:
        """``output`` with the element at :attr:`element` replaced by ``value``."""
        return replace_at(output, self.element, value)

    def to_nct(self, t: torch.Tensor) -> torch.Tensor:
        """The tensor as ``[N, C, T']`` (channel axes flattened, extra tokens dropped)."""
        y = t.permute(self._perm())
        y = y.reshape(y.shape[0], -1, y.shape[-1])
        return y[..., self.drop :] if self.drop else y

    def from_nct(self, m: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`to_nct`: ``like`` with its (non-dropped) values replaced by ``m``."""
        perm = self._perm()
        full = like.permute(perm).clone()
        full[..., self.drop :] = m.reshape(*full.shape[:-1], full.shape[-1] - self.drop)
        inv = [perm.index(i) for i in range(len(perm))]
        return full.permute(inv)

    def describe(self) -> str:
        """A short human description, e.g. ``"NTC"``, ``"[0] NTC"``, ``"NTC, token 0 dropped
        (class token)"``, ``"NCT, patch stride 8"``."""
        s = ("".join(f"[{i}]" for i in self.element) + " " if self.element else "") + self.axes
        notes = []
        if self.axes.count("C") > 1:
            notes.append("channel axes flattened")
        if self.stride is not None and abs(self.stride - 1) > 1e-6:
            st = int(round(self.stride)) if abs(self.stride - round(self.stride)) < 1e-6 else None
            notes.append(f"stride {st}" if st else f"stride {self.stride:.3g}")
        if self.drop:
            which = "token 0" if self.drop == 1 else f"tokens 0..{self.drop - 1}"
            notes.append(f"{which} dropped (class token)")
        if self.source == "given":
            notes.append("given")
        return s + (", " + ", ".join(notes) if notes else "")


NCT = Layout("NCT", source="input")


def replace_at(obj: Any, path: Path, value: Any) -> Any:
    """A copy of nested tuple/list ``obj`` with the item at ``path`` replaced by ``value``."""
    if not path:
        return value
    items = list(obj)
    items[path[0]] = replace_at(items[path[0]], path[1:], value)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*items)
    return type(obj)(items)


def tensor_elements(output: Any, path: Path = (), depth: int = 3) -> list[tuple[Path, Any]]:
    """``(path, tensor)`` for every tensor in ``output`` (tuples/lists searched ``depth`` deep),
    in order."""
    if isinstance(output, torch.Tensor):
        return [(path, output)]
    if isinstance(output, (tuple, list)) and depth > 0:
        out: list[tuple[Path, Any]] = []
        for i, o in enumerate(output):
            out.extend(tensor_elements(o, (*path, i), depth - 1))
        return out
    return []


def parse_layout(text: str, arg: str = "layouts") -> str:
    """Validate a layout string: one ``N``, one ``T``, the rest ``C`` (3 or 4 letters)."""
    s = str(text).strip().upper()
    if not (3 <= len(s) <= 4 and s.count("N") == 1 and s.count("T") == 1 and set(s) <= set("NCT")):
        raise ValueError(
            f"{arg}: expected a layout like 'NCT', 'NTC', 'TNC' or 'NCCT' (one N for the batch, "
            f"one T for time, C for channel axes), got {text!r}"
        )
    return s


def _axes(rank: int, batch: int, time: int) -> str:
    return "".join("N" if i == batch else "T" if i == time else "C" for i in range(rank))


def _is_int(v: float, tol: float = 1e-6) -> bool:
    return abs(v - round(v)) < tol


@dataclass(frozen=True)
class Shapes:
    """One tensor element's shapes in the traced forwards: ``base`` (``n`` samples of length
    ``length``), ``more`` (``more_n`` samples, ``n + 1`` when None, at the same length; or None),
    ``longer`` (length ``longer_length``, None when the model refused that length; its batch
    axis is not read); ``probes``: per (batch axis, axis) where the ``more`` copies bumped at
    1/8 and 7/8 of the length changed most."""

    base: tuple[int, ...]
    more: tuple[int, ...] | None
    longer: tuple[int, ...] | None
    n: int
    length: int
    longer_length: int | None
    probes: dict[tuple[int, int], tuple[int, int]] | None = None
    more_n: int | None = None


def _follows_probe(s: Shapes, batch: int, axis: int, tol: float = 0.1) -> bool:
    """Whether the changes from input bumps at 1/8 and 7/8 of the length peak at about the same
    relative places along ``axis`` (so ``axis`` is time)."""
    if not s.probes or (batch, axis) not in s.probes:
        return False
    size = s.base[axis]
    return all(
        abs((pos + 0.5) / size - at) <= tol
        for pos, at in zip(s.probes[(batch, axis)], (1 / 8, 7 / 8))
    )


def _batch_axis(s: Shapes) -> int | str:
    """The batch axis (the one that follows the batch size), or why none was found."""
    r = len(s.base)
    if s.more is not None and len(s.more) == r:
        changed = [i for i in range(r) if s.base[i] != s.more[i]]
        more_n = s.n + 1 if s.more_n is None else s.more_n
        if len(changed) != 1 or s.base[changed[0]] != s.n or s.more[changed[0]] != more_n:
            return f"no single batch axis (axes {changed} change with the batch size)"
        return changed[0]
    batch_axes = [i for i in range(r) if s.base[i] == s.n]
    if len(batch_axes) != 1:
        return "no single batch axis"
    return batch_axes[0]


def _takes_longer(s: Shapes) -> bool:
    """Whether the layout is traced from the longer forward (else matched by size)."""
    return s.longer is not None and s.longer_length is not None and len(s.longer) == len(s.base)


def _matches(
    s: Shapes, rest: list[int], strides: Sequence[int]
) -> tuple[list[tuple[int, int, float]], list[int], list[int], bool]:
    """For a model that accepts one length: ``(found, axes_found, exact, pooled)``: the
    (axis, dropped tokens, stride) that match the input length or a patch count, the axes
    among them (those of the input length itself when any), those of the input length, and
    whether an axis has one step."""
    T = s.length
    found: list[tuple[int, int, float]] = []  # (axis, dropped tokens, stride)
    for i in rest:
        token_axis = i < max(rest)
        if s.base[i] == T:
            found.append((i, 0, 1.0))
            continue
        for p in sorted(set(strides)):
            for drop in (0, 1) if token_axis else (0,):
                n_t = s.base[i] - drop
                if n_t >= 2 and n_t in (T // p, math.ceil(T / p)):
                    found.append((i, drop, float(p)))
        if token_axis and s.base[i] == T + 1:
            found.append((i, 1, 1.0))
    axes_found = sorted({f[0] for f in found})
    exact = [i for i in axes_found if s.base[i] == T]
    if exact:  # the input length itself beats a patch count
        axes_found = exact
    pooled = any(s.base[i] == 1 for i in rest)  # [N, C, 1]: the channels may match T by chance
    return found, axes_found, exact, pooled


def reads_probes(s: Shapes, strides: Sequence[int] = ()) -> bool:
    """Whether :func:`detect` may read ``s.probes`` (whatever ``inherited``): only where the
    layout is matched by size and several axes match, or the match sits beside an axis of one
    step. ``s.probes`` itself is not looked at, so the trace can ask before computing them."""
    if len(s.base) not in (3, 4):
        return False
    batch = _batch_axis(s)
    if isinstance(batch, str) or _takes_longer(s):
        return False
    rest = [i for i in range(len(s.base)) if i != batch]
    _, axes_found, _, pooled = _matches(s, rest, strides)
    return len(axes_found) > 1 or (pooled and bool(axes_found))


def detect(
    s: Shapes,
    element: Path = (),
    strides: Sequence[int] = (),
    inherited: int | None = None,
) -> Layout | str:
    """The layout of one output tensor from its traced shapes, or a string saying why none was
    found (used in errors). ``strides``: the model's patch/stride sizes (for matching a patch
    count when the model accepts one length only); ``inherited``: the time axis of the tensor
    this module consumed, used when the output keeps that rank but no axis follows the
    length (an adaptive pooling to a fixed number of bins)."""
    r = len(s.base)
    if r not in (3, 4):
        return f"a {r}-D output (a layer needs 3 or 4 axes: batch, time and channels)"
    batch = _batch_axis(s)
    if isinstance(batch, str):
        return batch
    rest = [i for i in range(r) if i != batch]

    if _takes_longer(s):
        assert s.longer is not None and s.longer_length is not None
        changed = [i for i in rest if s.longer[i] != s.base[i]]
        if len(changed) > 1:
            return f"axes {changed} all change with the series length"
        if not changed:
            ax = inherited
            if ax is not None and ax < r and ax != batch and s.base[ax] >= 2:
                st = s.length / s.base[ax]
                return Layout(_axes(r, batch, ax), element, 0, st, "inherited")
            return "no time axis (no axis follows the series length)"
        time = changed[0]
        a = (s.longer[time] - s.base[time]) / (s.longer_length - s.length)
        b = s.base[time] - a * s.length
        stride = 1 / a if a > 0 else None
        token_axis = time < max(rest)  # channels after time: a token layout
        drop = int(round(b)) if token_axis and b > 0.5 and _is_int(b, 0.05) else 0
        if s.base[time] - drop < 2:
            return f"only {s.base[time] - drop} time step(s)"
        return Layout(_axes(r, batch, time), element, drop, stride, "traced")

    # the model accepts one length only: match the length, then a patch count
    T = s.length
    if inherited is not None and inherited < r and inherited != batch and s.base[inherited] < 2:
        return "no time axis (the time axis of its input was pooled to one step)"
    found, axes_found, exact, pooled = _matches(s, rest, strides)
    if len(axes_found) > 1 or (pooled and axes_found):
        probed = [i for i in axes_found if _follows_probe(s, batch, i)]
        if not probed and len(axes_found) > 1 and inherited in axes_found:
            probed = [inherited]  # the probe is silent: the axis its input had time on
        if pooled and not probed:
            return "no time axis (an axis of one step: the time axis was pooled)"
        axes_found = probed
    if len(axes_found) == 1:
        i, drop, p = min((f for f in found if f[0] == axes_found[0]), key=lambda f: f[1:])
        return Layout(_axes(r, batch, i), element, drop, p, "matched")
    if len(axes_found) > 1:
        what = "have the input length" if exact else "match the input length or a patch count"
        return f"axes {axes_found} all {what} {T}"
    return f"no axis matches the input length {T} (the model accepts no other length)"
