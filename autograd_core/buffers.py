"""Large arrays reused across steps: a per-thread cache of numpy buffers (a caching allocator).

A training step allocates the same large arrays every time (im2col columns, activations,
their gradients) and frees them at its end.  glibc hands such memory back to the OS once the
top of its heap holds more free memory than its (adaptive) trim threshold, so the next step
touches every page again: on the 2-core VM the benchmarks run on, those page faults were a
third of the W5 CNN step.  PyTorch's CUDA allocator solves the same problem by caching; this
module does it for the numpy arrays the engine's own forwards and rules allocate, without
touching the process's allocator (``keep_freed_memory`` does that, and only on request).

A buffer is handed out again only when nothing references it any more: the cache's own
reference is the only one left (``sys.getrefcount``; a view, a Tensor, a saved value or a
user's variable each hold one).  So reuse is exactly as safe as freeing.  Arrays under
``MIN_BYTES`` are plain ``np.empty`` (glibc's heap serves those without faults).  The cache
holds at most ``limit()`` bytes per thread (default 256 MiB); ``empty_cache()`` drops the
calling thread's buffers not in use, and ``set_limit(0)`` turns caching off.  Values are
unaffected: only where results are written changes (``out=``), never how they are computed.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np

__all__ = ["MIN_BYTES", "copy", "empty", "empty_cache", "like", "limit", "mask", "matmul",
           "reserved", "reshape", "set_limit", "zeros"]

MIN_BYTES = 64 << 10
_refcount = sys.getrefcount


class _Cache(threading.local):
    """One thread's buffers by (shape, dtype), least recently used key first."""

    def __init__(self) -> None:
        self.buffers: dict[tuple[tuple[int, ...], np.dtype], list[np.ndarray]] = {}
        self.held = 0  # bytes in self.buffers


_CACHE = _Cache()
_LIMIT = [256 << 20]


def _count_in_loop(bufs: list[np.ndarray]) -> int:
    for b in bufs:
        return _refcount(b)
    return 0


# What getrefcount reports, inside a loop over a cache list, for a buffer that only the list
# holds: measured rather than assumed, as interpreters differ in what the call adds.
_FREE = _count_in_loop([np.empty(0)])


def _take(bufs: list[np.ndarray]) -> np.ndarray | None:
    for b in bufs:
        if _refcount(b) == _FREE:
            return b
    return None


def empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised C-contiguous array, from the cache when one of that shape and dtype
    is no longer referenced anywhere."""
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize
    for s in shape:
        nbytes *= s
    if nbytes < MIN_BYTES or not _LIMIT[0]:
        return np.empty(shape, dtype)
    cache = _CACHE
    key = (tuple(shape), dtype)
    bufs = cache.buffers.pop(key, None)
    if bufs is not None:
        cache.buffers[key] = bufs  # re-inserted: most recently used last
        found = _take(bufs)
        if found is not None:
            return found
    out = np.empty(shape, dtype)
    if cache.held + nbytes > _LIMIT[0]:
        _evict(cache, cache.held + nbytes - _LIMIT[0])
    if cache.held + nbytes <= _LIMIT[0]:
        cache.buffers.setdefault(key, []).append(out)
        cache.held += nbytes
    return out


def _evict(cache: _Cache, need: int) -> None:
    """Drop unreferenced buffers, least recently used shapes first, until ``need`` bytes
    are freed or none is left to drop."""
    for key in list(cache.buffers):
        keep = []
        for b in cache.buffers[key]:
            if need > 0 and _refcount(b) == _FREE:
                need -= b.nbytes
                cache.held -= b.nbytes
            else:
                keep.append(b)
        if keep:
            cache.buffers[key] = keep
        else:
            del cache.buffers[key]
        if need <= 0:
            return


def zeros(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """``empty`` filled with zeros."""
    out = empty(shape, dtype)
    out.fill(0)
    return out


def like(a: np.ndarray) -> np.ndarray | None:
    """A buffer of ``a``'s shape and dtype for an ``out=``, or None (numpy allocates) when
    ``a`` is small: the common small-op path pays one attribute read."""
    return empty(a.shape, a.dtype) if a.nbytes >= MIN_BYTES else None


def copy(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``a``."""
    out = empty(a.shape, a.dtype)
    np.copyto(out, a)
    return out


def reshape(a: np.ndarray, shape: Any) -> np.ndarray:
    """``np.reshape``, with the copy it makes when no view fits (im2col) in a buffer."""
    try:
        return np.reshape(a, shape, copy=False)
    except ValueError:  # no view has that shape (or a bad shape: np.reshape raises it)
        if a.nbytes < MIN_BYTES:
            return np.reshape(a, shape)
        return np.reshape(copy(a), shape)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.matmul``, a large product written into a buffer."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.ndim < 2 or b.ndim < 2 \
            or a.dtype is not b.dtype:
        return np.matmul(a, b)
    lead = a.shape[:-2] if a.ndim == 2 == b.ndim else np.broadcast_shapes(a.shape[:-2],
                                                                             b.shape[:-2])
    return np.matmul(a, b, out=empty((*lead, a.shape[-2], b.shape[-1]), a.dtype))


def mask(g: Any, m: Any) -> Any:
    """``g * m`` for a gradient and a boolean mask of its shape (ReLU's, max's)."""
    if type(g) is np.ndarray and g.nbytes >= MIN_BYTES and g.shape == getattr(m, "shape", ()):
        return np.multiply(g, m, out=empty(g.shape, g.dtype))
    return g * m


def empty_cache() -> None:
    """Release this thread's cached buffers that nothing references (``torch.cuda``'s name)."""
    _evict(_CACHE, _CACHE.held)


def reserved() -> int:
    """Bytes this thread's cache holds, in use or not."""
    return _CACHE.held


def limit() -> int:
    """The most bytes a thread's cache holds."""
    return _LIMIT[0]


def set_limit(nbytes: int) -> None:
    """Hold at most ``nbytes`` per thread (0: no caching); drops what no longer fits."""
    if nbytes < 0:
        raise ValueError(f"buffers.set_limit: nbytes must be >= 0, got {nbytes}")
    _LIMIT[0] = int(nbytes)
    if not nbytes:  # forget every buffer: those in use are freed when their users drop them
        _CACHE.buffers.clear()
        _CACHE.held = 0
    elif _CACHE.held > nbytes:
        _evict(_CACHE, _CACHE.held - nbytes)
