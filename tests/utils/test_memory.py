"""Freed heap memory goes back to the operating system when asked."""

from __future__ import annotations

import sys

import numpy as np
import psutil
import pytest

from omni_r1_verl.utils.memory import release_free_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim")
def test_freed_heap_pages_are_returned():
    process = psutil.Process()
    blocks = [np.ones(8000) for _ in range(2000)]  # 128 MB in 64 KB arrays: heap, below glibc's mmap threshold
    pinned = np.ones(8000)  # allocated last: the heap top stays in use, so free() alone cannot shrink the heap
    del blocks
    before = process.memory_info().rss
    assert release_free_memory()
    after = process.memory_info().rss
    assert before - after > 64 * 2**20
    assert pinned.sum() == 8000


def test_gc_paused_restores_the_collector_and_refcounting_still_frees():
    import gc
    import weakref

    from omni_r1_verl.utils.memory import gc_paused

    class Node:
        pass

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        plain = Node()
        gone = weakref.ref(plain)
        del plain
        assert gone() is None  # no cycle: freed at once
        cycle = Node()
        cycle.self = cycle
        held = weakref.ref(cycle)
        del cycle
        assert held() is not None  # a cycle waits for the collector
    assert gc.isenabled()
    gc.collect()
    assert held() is None
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a collector the caller had disabled stays disabled
    finally:
        gc.enable()
