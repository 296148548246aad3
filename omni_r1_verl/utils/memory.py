"""Process memory helpers."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
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
