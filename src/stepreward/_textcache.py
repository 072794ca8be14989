"""A least-recently-used cache keyed by text, bounded in entries and in bytes."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["TextCache"]

V = TypeVar("V")


class TextCache(Generic[V]):
    """Values derived from a text (a label parsed, a script read), keyed by the whole text.

    Each entry costs twice the key's size in memory (the key, and what it was turned into,
    which is about as large); past ``max_entries`` or ``max_bytes`` the least recently used
    entries go. A text that alone costs more than ``max_bytes`` is not kept: the caller
    derives its value every time. Safe to share between threads.

    Example:
        >>> c: TextCache[int] = TextCache(max_entries=2, max_bytes=1 << 20)
        >>> for key in ("a", "bb", "ccc"):
        ...     c.put(key, len(key))
        >>> c.get("a"), c.get("ccc"), len(c)
        (None, 3, 2)
    """

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("a TextCache holds at least one entry and one byte")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """What the entries held now count for, in bytes.

        Example:
            >>> TextCache(1, 1).nbytes
            0
        """
        return self._bytes

    def get(self, key: str) -> V | None:
        """The value kept for ``key`` (now the most recently used), or None.

        Example:
            >>> TextCache(1, 1 << 10).get("x") is None
            True
        """
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: str, value: V) -> None:
        """Keep ``value`` for ``key`` unless the key alone is over the byte bound.

        Example:
            >>> c: TextCache[str] = TextCache(4, 100)
            >>> c.put("x" * 1000, "too big"); len(c)
            0
        """
        cost = 2 * sys.getsizeof(key)
        if cost > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = (value, cost)
            self._bytes += cost
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                self._bytes -= self._items.popitem(last=False)[1][1]

    def clear(self) -> None:
        """Drop every entry.

        Example:
            >>> c: TextCache[int] = TextCache(1, 1 << 10); c.put("a", 1); c.clear(); len(c)
            0
        """
        with self._lock:
            self._items.clear()
            self._bytes = 0
