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
