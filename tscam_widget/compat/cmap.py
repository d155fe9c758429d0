"""``CMAP``: every matplotlib colour map name as an attribute whose value is the name.

The ``timeseries`` package hand-typed 164 names; here they come from matplotlib's registry
(``matplotlib.colormaps``), ``_r`` variants included, so ``CMAP.seismic == "seismic"`` works for
every map the installed matplotlib knows, also for maps registered after import.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator


def _registry_names() -> list[str]:
    import matplotlib

    return sorted(matplotlib.colormaps, key=str.lower)


class _CMAPMeta(type):
    """Metaclass: attribute access, ``in``, ``len`` and iteration over the registry's names."""

    def __getattr__(cls, name: str) -> str:
        if name.startswith("__"):
            raise AttributeError(name)
        names = _registry_names()
        if name in names:
            return name
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise AttributeError(f"CMAP has no colour map {name!r} (matplotlib has {len(names)}){hint}")

    def __dir__(cls) -> list[str]:
        return sorted(set(super().__dir__()) | set(_registry_names()))

    def __iter__(cls) -> Iterator[str]:
        return iter(_registry_names())

    def __len__(cls) -> int:
        return len(_registry_names())

    def __contains__(cls, name: object) -> bool:
        return isinstance(name, str) and name in _registry_names()


class CMAP(metaclass=_CMAPMeta):
    """Every matplotlib colour map name as an attribute: ``CMAP.Spectral_r == "Spectral_r"``.

    ``list(CMAP)`` gives all names (as many as ``matplotlib.colormaps``), ``len(CMAP)`` their
    count, ``"viridis" in CMAP`` tests one. The values are plain strings, usable wherever a colour
    map name is accepted (``show_cam(cmap=...)``, ``CamWidget(cmap=...)``, matplotlib).
    """


for _name in _registry_names():
    setattr(CMAP, _name, _name)
del _name
