"""matplotlib colour maps as 256-entry RGBA tables for the frontend."""

from __future__ import annotations

import difflib
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def cmap_names() -> list[str]:
    """Every colour map name in matplotlib's registry (``matplotlib.colormaps``), sorted
    case-insensitively."""
    import matplotlib

    return sorted(matplotlib.colormaps, key=str.lower)


def resolve_cmap(name: object) -> str:
    """Return the registered name for ``name``.

    Accepts a registry name (``"Spectral_r"``), the same with a ``CMAP.`` prefix (the
    ``timeseries`` package's ``CMAP.Spectral_r`` style), a unique case-insensitive match, or a
    ``matplotlib.colors.Colormap`` that is registered under its ``.name``. Raises ``ValueError``
    naming close matches otherwise.
    """
    if not isinstance(name, str) and hasattr(name, "name") and hasattr(name, "N"):
        name = name.name  # a matplotlib Colormap
    if not isinstance(name, str):
        raise ValueError(f"cmap must be a matplotlib colour map name (str), got {name!r}")
    names = cmap_names()
    key = name.strip()
    if key.startswith("CMAP."):
        key = key[len("CMAP.") :]
    if key in names:
        return key
    folded = [n for n in names if n.lower() == key.lower()]
    if len(folded) == 1:
        return folded[0]
    close = difflib.get_close_matches(key, names, n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(
        f"cmap must be one of the {len(names)} matplotlib colour maps, got {name!r}{hint}"
    )


@lru_cache(maxsize=32)
def _table(name: str, n: int) -> bytes:
    import matplotlib

    rgba = matplotlib.colormaps[name](np.linspace(0.0, 1.0, n))  # float [n, 4] in 0..1
    return (np.round(rgba * 255.0)).clip(0, 255).astype(np.uint8).tobytes()


def cmap_table(name: object, n: int = 256) -> np.ndarray:
    """Return the RGBA table of colour map ``name``: uint8 ``[n, 4]``; row i is the colour of
    value ``i / (n - 1)``."""
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n!r}")
    key = resolve_cmap(name)
    return np.frombuffer(_table(key, n), dtype=np.uint8).reshape(n, 4).copy()
