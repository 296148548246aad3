"""Process memory helpers."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional


@functools.lru_cache(maxsize=1)
def _libc() -> Optional[ctypes.CDLL]:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def release_free_memory() -> bool:
    """Give the heap's free pages back to the operating system (glibc ``malloc_trim``).

    Tensors below glibc's mmap threshold live on the heap; after a large generation batch their freed pages stay
    resident until trimmed, which inflates the process's memory for the rest of the run.

    Returns:
        Whether memory was returned (``False`` where glibc is not the allocator).
    """
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (reference counting still frees memory) for a bounded burst of allocation.

    Parsing large metadata allocates millions of containers; each allocation threshold crossed starts a collection
    that walks every tracked object of the process, only to find nothing to free. Restores the previous state.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
