"""The target rule, once: which class each map explains.

A target is ``"pred"`` (each sample's predicted class), ``"true"`` (its label; every sample
needs one), a class index (the same class for every sample), an array of one index per sample
(the explainer), or, in the widget, a class name. :func:`check_target` validates one against
what is known (samples, labels, classes) with errors that name the argument, what it takes and
what it got; :func:`classes_for` turns a checked target into per-sample class indices, with two
thin adapters: :func:`target_tensor` (the explainer: torch, on the logits' device) and
:func:`target_array` (the widget: numpy int32, -1 where unknown).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .inputs import prepare_labels

TARGET_WORDS = ("pred", "true")
#: a checked target: a word of :data:`TARGET_WORDS`, a class index or int64 indices ``[N]``
Target = str | int | np.ndarray


def _expected(n_classes: int | None, names: Sequence[str] | None, arrays: bool) -> str:
    """What a target may be, in words (for the errors)."""
    kinds = ["'pred'", "'true'", f"a class index 0..{n_classes - 1}" if n_classes else "an int"]
    if arrays:
        kinds.append("an array of ints")
    if names is not None:
        kinds.append(f"a class name {list(names)}")
    return ", ".join(kinds[:-1]) + " or " + kinds[-1]


def check_classes(values: Any, n_classes: int, arg: str = "target") -> None:
    """Raise a ValueError unless every class index in ``values`` is in ``0..n_classes - 1``."""
    arr = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values)
    bad = (arr < 0) | (arr >= n_classes)
    if bool(bad.any()):
        got = int(arr) if arr.ndim == 0 else sorted({int(v) for v in arr[bad]})[:5]
        raise ValueError(
            f"{arg}: expected an int in 0..{n_classes - 1} (the model has {n_classes} classes), "
            f"got {got}"
        )


def check_target(
    target: Any,
    n: int,
    y: np.ndarray | None = None,
    *,
    n_classes: int | None = None,
    names: Sequence[str] | None = None,
    arrays: bool = True,
    ids: np.ndarray | None = None,
) -> Target:
    """``target`` checked for ``n`` samples with labels ``y`` (``[n]``, -1 unknown; None: no
    labels) and, when known, ``n_classes`` outputs and their ``names``; ``arrays``: whether one
    index per sample is allowed; ``ids``: the sample numbers the errors name (default
    ``0..n-1``). Returns the word, the class index (a name turned into its index) or an int64
    array ``[n]``. Raises ValueError / TypeError."""
    expected = _expected(n_classes, names, arrays)
    if isinstance(target, str):
        if target == "true":
            _check_labels(y, ids)
            return target
        if target == "pred":
            return target
        if names is not None and target in names:
            return list(names).index(target)
        raise ValueError(f"target: expected {expected}, got {target!r}")
    if isinstance(target, bool):
        raise TypeError(f"target: expected {expected}, got a bool")
    if isinstance(target, (int, np.integer)):
        out: Target = int(target)
    elif arrays:
        out = prepare_labels(target, n, arg="target")
    else:
        raise TypeError(f"target: expected {expected}, got {type(target).__name__}")
    if n_classes is not None:
        check_classes(out, n_classes)
    return out


def _check_labels(y: np.ndarray | None, ids: np.ndarray | None) -> None:
    """``target="true"`` needs a label (>= 0) for every sample."""
    if y is None:
        got = "no y"
    else:
        unknown = np.flatnonzero(np.asarray(y) < 0)
        if not unknown.size:
            return
        shown = (unknown if ids is None else np.asarray(ids)[unknown])[:10].tolist()
        got = f"no label for sample(s) {shown}"
    raise ValueError(
        f"target: 'true' needs the true label of every sample, got {got}; pass y= (or a "
        "Learner), or use 'pred' or a class index instead"
    )


def classes_for(target: Target, pred: Any, y: Any, n: int, start: int = 0) -> Any:
    """The rule: the class each of the ``n`` samples from ``start`` explains under a checked
    ``target``: ``pred`` (those samples' predictions) for ``"pred"``, ``y[start:start + n]``
    for ``"true"``, ``n`` copies of a class index, or ``target[start:start + n]``."""
    if isinstance(target, str):
        return pred if target == "pred" else y[start : start + n]
    if isinstance(target, (int, np.integer)):
        return np.full(n, int(target), np.int64)
    return target[start : start + n]


def target_tensor(
    target: Target, logits: torch.Tensor, y: np.ndarray | None, start: int = 0
) -> torch.Tensor:
    """int64 ``[N]`` on the logits' device: the classes of the batch ``logits [N, K]`` of an
    input whose first sample is ``start``; raises if one is not a class of the model."""
    n, k = logits.shape
    pred = logits.argmax(dim=1) if isinstance(target, str) and target == "pred" else None
    t = torch.as_tensor(classes_for(target, pred, y, n, start), device=logits.device)
    check_classes(target if isinstance(target, int) else t, k)  # an int: named as given
    return t.to(torch.int64)


def target_array(target: Target, pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """int32 ``[N]``: the class each sample's map explains (-1 where unknown: no prediction or
    no label yet), from the predictions ``pred`` and labels ``y`` of every sample."""
    return np.array(classes_for(target, pred, y, len(pred)), np.int32)
