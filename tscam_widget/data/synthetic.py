"""A small synthetic classification problem with a known answer to "where is the evidence?".

Every series is a noisy random walk (identical in distribution for all classes) with one
class-specific motif added at a random position. The boolean mask marks where the motif is,
so a class-activation map can be scored against ground truth (e.g. "is the argmax of the
Grad-CAM map inside the mask?").

Train/test convention: ``synthetic(seed=0)`` is the training set and ``synthetic(seed=1)``
the test set (independent draws, same distribution); :func:`synthetic_split` returns both.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["BASE_SHAPES", "synthetic", "synthetic_classes", "synthetic_split"]


def _bump(u: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * ((u - 0.5) / 0.15) ** 2)


def _square(u: np.ndarray) -> np.ndarray:
    return ((u >= 0.2) & (u < 0.8)).astype(np.float64)


def _chirp(u: np.ndarray) -> np.ndarray:
    # frequency rises from 1 to 5 cycles per window, under a Hann envelope
    phase = 2 * np.pi * (1.0 * u + 2.0 * u**2)
    return np.sin(phase) * np.sin(np.pi * u) ** 2


def _sine(u: np.ndarray) -> np.ndarray:
    return np.sin(2 * np.pi * u)


def _sawtooth(u: np.ndarray) -> np.ndarray:
    return np.where((u > 0.05) & (u < 0.95), (u - 0.05) / 0.9 * 2 - 1, 0.0)


#: Base motif shapes on the unit window ``u`` in [0, 1), in the order classes use them (each is
#: scaled to peak magnitude 1 when used). Class ``k`` uses base shape ``k % 7`` repeated
#: ``k // 7 + 1`` times inside the motif window.
BASE_SHAPES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "bump": _bump,
    "dip": lambda u: -_bump(u),
    "square": _square,
    "chirp": _chirp,
    "sine": _sine,
    "notch": lambda u: -_square(u),
    "sawtooth": _sawtooth,
}
_MAX_REPEATS = 3
#: a motif sample counts as "motif" (inside the mask) when |shape| exceeds this fraction of peak
_SUPPORT_FRACTION = 0.05


def synthetic_classes(n_classes: int = 4) -> list[str]:
    """Readable class names of :func:`synthetic`, in class order.

    Returns a list of ``n_classes`` str: ``"bump", "dip", "square", "chirp", "sine", "notch",
    "sawtooth"``, then the same shapes repeated twice/three times inside the motif window
    (``"bump x2"``, ...).
    """
    n_base = len(BASE_SHAPES)
    if not isinstance(n_classes, (int, np.integer)) or not 2 <= n_classes <= n_base * _MAX_REPEATS:
        raise ValueError(
            f"n_classes: expected an int in [2, {n_base * _MAX_REPEATS}], got {n_classes!r}"
        )
    names = list(BASE_SHAPES)
    out = []
    for k in range(n_classes):
        reps = k // n_base + 1
        out.append(names[k % n_base] + ("" if reps == 1 else f" x{reps}"))
    return out


def _motif_table(n_classes: int, motif_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns (shapes ``[K, L]`` float64, support ``[K, L]`` bool) for every class."""
    u = (np.arange(motif_length) + 0.5) / motif_length
    n_base = len(BASE_SHAPES)
    funcs = list(BASE_SHAPES.values())
    shapes = np.empty((n_classes, motif_length))
    for k in range(n_classes):
        reps = k // n_base + 1
        shapes[k] = funcs[k % n_base]((u * reps) % 1.0)
    shapes /= np.abs(shapes).max(axis=1, keepdims=True)
    mag = np.abs(shapes)
    above = mag > _SUPPORT_FRACTION
    # contiguous support: from the first to the last sample above threshold
    idx = np.arange(motif_length)
    first = np.where(above, idx, motif_length).min(axis=1, keepdims=True)
    last = np.where(above, idx, -1).max(axis=1, keepdims=True)
    support = (idx >= first) & (idx <= last)
    return shapes, support


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
    return int(value)


def _check_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name}: expected a non-negative number, got {value!r}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a non-negative number, got {value!r}")
    return float(value)


def _generate(
    rng: np.random.Generator,
    n: int,
    length: int,
    n_classes: int,
    n_channels: int,
    motif_length: int | None,
    amplitude: float,
    noise: float,
    drift: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = _check_int("n", n, 1)
    length = _check_int("length", length, 8)
    n_channels = _check_int("n_channels", n_channels, 1)
    names = synthetic_classes(n_classes)
    if motif_length is None:
        motif_length = max(4, length // 4)
    motif_length = _check_int("motif_length", motif_length, 4)
    if motif_length > length:
        raise ValueError(f"motif_length: expected at most length={length}, got {motif_length}")
    amplitude = _check_float("amplitude", amplitude)
    noise = _check_float("noise", noise)
    drift = _check_float("drift", drift)

    # balanced labels (counts differ by at most one), in random order
    labels = rng.permutation(np.arange(n) % n_classes)
    # background: random walk + white noise, the same distribution for every class
    walk = np.cumsum(rng.normal(0.0, drift, size=(n, n_channels, length)), axis=-1)
    walk -= walk.mean(axis=-1, keepdims=True)
    X = walk + rng.normal(0.0, noise, size=(n, n_channels, length))
    # motif: class shape, random start, random channel, amplitude jittered +-20 %
    shapes, support = _motif_table(n_classes, motif_length)
    start = rng.integers(0, length - motif_length + 1, size=n)
    channel = rng.integers(0, n_channels, size=n)
    gain = amplitude * rng.uniform(0.8, 1.2, size=n)
    rows = np.arange(n)[:, None]
    cols = start[:, None] + np.arange(motif_length)[None, :]
    X[rows, channel[:, None], cols] += gain[:, None] * shapes[labels]
    mask = np.zeros((n, length), dtype=bool)
    mask[rows, cols] = support[labels]
    return X.astype(np.float32), np.asarray(names)[labels], mask


def synthetic(
    n: int = 300,
    length: int = 128,
    n_classes: int = 4,
    n_channels: int = 1,
    seed: int = 0,
    *,
    motif_length: int | None = None,
    amplitude: float = 1.0,
    noise: float = 0.15,
    drift: float = 0.05,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic synthetic data whose only class evidence is one localised motif.

    Each series is a zero-mean Gaussian random walk (step std ``drift``) plus white noise
    (std ``noise``), drawn identically for all classes. One motif of ``motif_length`` samples
    (default ``length // 4``) is added at a uniformly random position; its shape names the class
    (see :func:`synthetic_classes`: bump, dip, square, chirp, sine, notch, sawtooth, then the
    same shapes repeated 2 or 3 times inside the window) and its peak is ``amplitude`` times a
    random gain in [0.8, 1.2]. With ``n_channels > 1`` the motif sits in ONE channel, chosen
    uniformly at random per sample; the other channels hold background only.
    Classes are balanced (counts differ by at most one) and shuffled.

    The same ``seed`` always gives identical arrays. Use ``seed=0`` for training data and
    ``seed=1`` for test data (or :func:`synthetic_split`).

    Returns ``(X, y, mask)``: X float32 ``[N, C, T]``; y str ``[N]`` (class names); mask bool
    ``[N, T]``, True on the contiguous stretch where the motif's magnitude exceeds 5 % of its
    peak (the near-zero tails of e.g. the bump are left out).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    rng = np.random.default_rng(int(seed))
    return _generate(rng, n, length, n_classes, n_channels, motif_length, amplitude, noise, drift)


def synthetic_split(
    n_train: int = 300,
    n_test: int = 200,
    length: int = 128,
    n_classes: int = 4,
    n_channels: int = 1,
    seed: int = 0,
    **kwargs: float | int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training and test sets of :func:`synthetic`: ``synthetic(n_train, seed=seed)`` and
    ``synthetic(n_test, seed=seed + 1)`` with the other arguments shared.

    Returns ``(X_train, y_train, mask_train, X_test, y_test, mask_test)`` with the shapes of
    :func:`synthetic`.
    """
    train = synthetic(n_train, length, n_classes, n_channels, seed, **kwargs)  # type: ignore[arg-type]
    test = synthetic(n_test, length, n_classes, n_channels, seed + 1, **kwargs)  # type: ignore[arg-type]
    return (*train, *test)
