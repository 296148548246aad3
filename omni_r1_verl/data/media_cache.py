"""A small thread-safe, single-flight LRU cache for decoded media.

GRPO rolls every prompt out G times, and verl runs the G trajectories as concurrent coroutines of one agent-loop
worker, each decoding its own copy of the prompt's video in a thread. :class:`MediaCache` makes the first caller
decode and the others wait for that result, then keeps the last ``capacity`` entries. Failed loads are not cached:
every waiter sees the error and the next call retries. Values are shared between callers: treat them as read-only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any


class MediaCache:
    """LRU of ``key -> value`` where concurrent requests for one key run the loader once.

    Args:
        capacity: Entries kept after their load finished; 0 disables caching (every call loads).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, Future] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """The cached value of ``key``, loading it with ``load()`` on a miss.

        Args:
            key: Cache key.
            load: Zero-argument loader.

        Returns:
            The value.

        Raises:
            Exception: Whatever ``load`` raised (for this call and for calls waiting on it).
        """
        if self.capacity <= 0:
            self.misses += 1
            return load()
        with self._lock:
            future = self._entries.get(key)
            owner = future is None
            if owner:
                self.misses += 1
                future = Future()
                self._entries[key] = future
                self._evict()
            else:
                self.hits += 1
                self._entries.move_to_end(key)
        if owner:
            try:
                future.set_result(load())
            except BaseException as err:
                with self._lock:
                    if self._entries.get(key) is future:
                        del self._entries[key]
                future.set_exception(err)
        return future.result()

    def _evict(self) -> None:
        """Drop the oldest finished entries beyond capacity (entries still loading are kept)."""
        excess = len(self._entries) - self.capacity
        for old in [k for k, f in self._entries.items() if f.done()][: max(0, excess)]:
            del self._entries[old]

    def __len__(self) -> int:
        return len(self._entries)
