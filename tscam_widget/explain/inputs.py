"""Validate and convert user inputs (series, labels) into tensors, with clear errors (targets:
:mod:`.targets`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .model_io import model_device, model_dtype


def to_plain_tensor(a: Any) -> torch.Tensor:
    """A plain ``torch.Tensor`` from numpy, a list, or a tensor subclass (fastai ``TensorBase``,
    tsai ``TSTensor``)."""
    if isinstance(a, torch.Tensor):
        return a.as_subclass(torch.Tensor) if type(a) is not torch.Tensor else a
    data = getattr(a, "data", None)
    if isinstance(data, torch.Tensor):
        return to_plain_tensor(data)
    arr = np.asarray(a)
    if not arr.flags.writeable:  # a read-only memmap (slice): torch wants memory it may write
        arr = np.array(arr)
    return torch.as_tensor(arr)


def prepare_x(
    x: Any, model: nn.Module | None = None, arg: str = "x", finite: bool = False
) -> torch.Tensor:
    """Return ``x`` as a float tensor ``[N, C, T]`` (a ``[N, T]`` input gets one channel) on the
    model's device and dtype. Raises on a wrong rank or non-finite values (naming the samples);
    ``finite``: the caller has checked the values already."""
    try:
        t = to_plain_tensor(x)
    except Exception as e:  # noqa: BLE001 - re-raised with context
        raise TypeError(
            f"{arg}: expected a numpy array or tensor [N, T] or [N, C, T], got {type(x).__name__}"
        ) from e
    if t.ndim == 2:
        t = t[:, None, :]
    elif t.ndim != 3:
        raise ValueError(
            f"{arg}: expected a series batch [N, T] or [N, C, T], got {t.ndim} dimension(s) "
            f"with shape {list(t.shape)}"
        )
    if t.shape[0] == 0:
        raise ValueError(f"{arg}: expected at least one sample, got shape {list(t.shape)}")
    if not (
        t.is_floating_point()
        or t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)
    ):
        raise TypeError(f"{arg}: expected real numbers, got dtype {t.dtype}")
    # NaN and inf survive a sum, so a finite sum proves every value finite in one cheap pass;
    # only a non-finite sum (or an overflow) pays for the per-sample check
    if t.is_floating_point() and not finite and not bool(torch.isfinite(t.detach().sum())):
        ok = torch.isfinite(t.detach()).reshape(t.shape[0], -1).all(dim=1)
        if not bool(ok.all()):
            bad = torch.nonzero(~ok).flatten().tolist()
            shown = bad[:10]
            more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
            raise ValueError(
                f"{arg}: expected finite values, got NaN or inf in sample(s) {shown}{more}"
            )
    if model is not None:
        t = t.to(device=model_device(model), dtype=model_dtype(model))
    else:
        t = t.float()
    return t.detach()


def prepare_labels(y: Any, n: int, arg: str = "y", classes: list[str] | None = None) -> np.ndarray:
    """Return ``y`` as an int64 numpy array ``[n]``; string labels are mapped through
    ``classes``."""
    arr = np.asarray(y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"{arg}: expected {n} labels (one per sample), got shape {list(arr.shape)}"
        )
    if arr.dtype.kind in "USO":
        if classes is None:
            raise ValueError(f"{arg}: got string labels but no `classes` to map them to indices")
        index = {str(c): i for i, c in enumerate(classes)}
        unknown = sorted({str(v) for v in arr} - set(index))
        if unknown:
            raise ValueError(f"{arg}: label(s) {unknown[:5]} not in classes {list(classes)}")
        return np.array([index[str(v)] for v in arr], dtype=np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{arg}: expected integer class indices, got non-integer values")
    elif arr.dtype.kind not in "iub":
        raise TypeError(f"{arg}: expected integer class indices, got dtype {arr.dtype}")
    return arr.astype(np.int64)
