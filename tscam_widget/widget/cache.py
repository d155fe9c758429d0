"""A least-recently-used cache of numpy arrays, bounded by their total size in bytes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator

import numpy as np


class LRUCache:
    """Maps hashable keys to numpy arrays; holds at most ``max_bytes`` of array data.

    ``put`` evicts the least recently used entries until the new one fits; an array larger
    than the whole bound is not stored (``put`` returns False). ``get`` marks an entry as
    recently used. ``hits``, ``misses`` and ``evictions`` count what happened.
    """

    def __init__(self, max_bytes: int) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)):
            raise TypeError(f"max_bytes must be an int, got {type(max_bytes).__name__}")
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._data: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._nbytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    @classmethod
    def from_mb(cls, mb: float) -> LRUCache:
        """A cache bounded by ``mb`` megabytes (10**6 bytes)."""
        if isinstance(mb, bool) or not isinstance(mb, (int, float)) or mb < 0:
            raise ValueError(f"cache_mb must be a number >= 0, got {mb!r}")
        return cls(int(mb * 1e6))

    @property
    def nbytes(self) -> int:
        """Total ``nbytes`` of the arrays held."""
        return self._nbytes

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[Hashable]:
        """Keys from least to most recently used."""
        return iter(list(self._data))

    def get(self, key: Hashable) -> np.ndarray | None:
        """The array under ``key`` (now most recently used), or None."""
        arr = self._data.get(key)
        if arr is None:
            self.misses += 1
            return None
        self._data.move_to_end(key)
        self.hits += 1
        return arr

    def put(self, key: Hashable, arr: np.ndarray) -> bool:
        """Store ``arr`` under ``key``; evict LRU entries to stay within ``max_bytes``."""
        old = self._data.pop(key, None)
        if old is not None:
            self._nbytes -= old.nbytes
        size = int(arr.nbytes)
        if size > self.max_bytes:
            return False
        while self._data and self._nbytes + size > self.max_bytes:
            _, dropped = self._data.popitem(last=False)
            self._nbytes -= dropped.nbytes
            self.evictions += 1
        self._data[key] = arr
        self._nbytes += size
        return True

    def clear(self) -> None:
        """Drop every entry (the counters stay)."""
        self._data.clear()
        self._nbytes = 0
