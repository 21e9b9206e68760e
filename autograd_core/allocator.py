"""`keep_freed_memory`: stop glibc handing a training step's freed arrays back to the OS."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

__all__ = ["keep_freed_memory"]

# mallopt's parameter numbers, from glibc's <malloc.h>
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 << 20  # the largest value glibc's own adaptive threshold reaches


def keep_freed_memory(megabytes: int = 64) -> bool:
    """Ask glibc's malloc to keep up to ``megabytes`` of freed memory for reuse.

    A training step frees most of its arrays at its end.  By default glibc serves large
    arrays with fresh ``mmap``s or returns the top of its heap to the OS, and the next step
    touches every page again: on the 2-core VM our benchmarks run on, those page faults were
    half of a small CNN step (see benchmarks/README.md).  This sets ``M_MMAP_THRESHOLD`` to
    32 MiB (the largest value glibc's own adaptive threshold reaches), so arrays below it
    come from the heap, and ``M_TRIM_THRESHOLD`` to ``megabytes``, so the heap keeps that
    much free memory instead of trimming it.  The cost is up to ``megabytes`` of resident
    memory the process would otherwise give back.

    It changes the whole process's allocator, so the library never calls it by itself: a
    training script opts in with one call at its start.  Returns True when applied, False
    where the C library is not glibc (macOS, Windows, musl), which is then left untouched.
    Same effect as starting Python with ``MALLOC_MMAP_THRESHOLD_=33554432
    MALLOC_TRIM_THRESHOLD_=<bytes>`` in the environment.

    >>> keep_freed_memory(64) in (True, False)
    True
    """
    if megabytes < 0:
        raise ValueError(f"keep_freed_memory: megabytes must be >= 0, got {megabytes}")
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
                and libc.mallopt(_M_TRIM_THRESHOLD, int(megabytes) << 20))
