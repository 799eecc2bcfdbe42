"""trim_malloc gives freed heap pages back: the RSS steps the soak saw at model swaps."""

from __future__ import annotations

import ctypes
import sys

import pytest

from livegan.oom import trim_malloc

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc only")


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024.0


def test_trim_returns_the_holes_a_swap_leaves_in_the_heap():
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    size = 100_000  # under glibc's mmap threshold: these live in the heap, as model buffers do
    blocks = [libc.malloc(size) for _ in range(2000)]
    try:
        for b in blocks:
            ctypes.memset(b, 1, size)  # resident
        for b in blocks[::2]:
            libc.free(b)  # holes between live blocks: free() alone cannot hand them back
        before = _rss_mb()
        trim_malloc()
        after = _rss_mb()
    finally:
        for b in blocks[1::2]:
            libc.free(b)
    assert before - after > 50.0, (before, after)  # ~95 MB of holes went back to the OS
