"""Out of memory: tell it apart from other failures, and give the memory back.

CUDA raises ``torch.OutOfMemoryError``; the CPU allocator raises a plain RuntimeError
("can't allocate memory"). Live model swaps and offline renders both recover from it
(fp16, a smaller batch, or keeping what runs) instead of stopping.
"""

from __future__ import annotations

import torch


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def free_device_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _glibc():
    """The C library when it is glibc (its malloc tuning calls), else None."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def limit_malloc_arenas(n: int = 1) -> None:
    """Cap glibc's malloc arenas (what MALLOC_ARENA_MAX does), before the worker threads start.

    One arena, the main heap, because ``malloc_trim`` only shrinks the main heap's top: a side
    arena's top keeps what a model swap freed (measured: RSS stuck 2-49 MB apart from swap to
    swap). Torch allocates a few large blocks per layer, so the shared arena's lock costs nothing
    measurable (docs/faults.md).
    """
    if (libc := _glibc()) is not None:
        libc.mallopt(-8, int(n))  # M_ARENA_MAX


def trim_malloc() -> None:
    """Give the heap pages freed so far back to the OS (glibc ``malloc_trim``).

    Where a swapped-in model and its work buffers land in the heap is luck: without a trim,
    the soak's resident memory stepped up or down by up to 42 MB at each model swap and stayed
    there until the next one. Trimming once the old model is gone brings it back to the floor.
    """
    if (libc := _glibc()) is not None:
        libc.malloc_trim(0)


def resident_mb() -> float:
    """This process's resident memory (Linux ``VmRSS``) in MB; 0.0 where /proc has no such line."""
    try:
        with open("/proc/self/status") as f:
            return next((int(line.split()[1]) / 1024.0 for line in f if line.startswith("VmRSS:")), 0.0)
    except OSError:
        return 0.0
