"""Index-driven ops in torch's names: gather and scatter, sort and topk, the cumulative
extremes, masks.  Compositions of the engine's indexing ops (getitem, setitem, add_at),
so their gradients are those ops' rules."""

from __future__ import annotations

import builtins
import functools
from typing import Any

import numpy as np

from . import backends
from . import primitives as P
from .creation import full
from .errors import OpError, OpTypeError
from .ops import (
    ValuesIndices,
    _add_at,
    _dims,
    _t,
    astype,
    broadcast_to,
    getitem,
    prod,
    reshape,
    setitem,
    where,
)
from .tensor import Tensor, _make
from .tracing import outside


def _open_grid(index: np.ndarray, dim: int) -> tuple[np.ndarray, ...]:
    """The advanced index that picks ``x[i_0, ..., index[i], ..., i_n]`` for every position
    i of ``index``: ``index`` itself on axis ``dim``, broadcast ranges elsewhere."""
    grid = list(np.ogrid[tuple(slice(s) for s in index.shape)])
    grid[dim] = index
    return tuple(grid)


def _index_arg(index: Any, x: Tensor, dim: int, who: str) -> tuple[np.ndarray, int]:
    """``index`` as an int64 array of ``x``'s rank, and ``dim`` made non-negative; errors
    name the op and the shapes (IndexError for an out-of-range dim, a RuntimeError for a
    bad index, as torch)."""
    idx = index.data if isinstance(index, Tensor) else index
    idx = backends.to_numpy(idx) if backends.is_foreign(idx) else np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise OpTypeError(f"{who}: index must be an integer tensor, got {idx.dtype}")
    d = _dims(x, dim, who)[0]
    if idx.ndim != builtins.max(x.ndim, 1) and idx.size:
        raise OpError(f"{who}: index of shape {idx.shape} must have as many dimensions as "
                      f"the input of shape {x.shape}")
    if builtins.any(s > t for k, (s, t) in enumerate(zip(idx.shape, x.shape, strict=False))
                    if k != d):
        raise OpError(f"{who}: index of shape {idx.shape} is larger than the input of "
                      f"shape {x.shape} outside dim {d}")
    n = x.shape[d] if x.ndim else 1
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise OpError(f"{who}: index out of range [0, {n}) for dim {d} (input of shape "
                      f"{x.shape})")
    return idx.astype(np.int64, copy=False), d


def gather(x: Tensor, dim: int, index: Any) -> Tensor:
    """``out[i][j][k] = x[i][index[i][j][k]][k]`` for dim=1 (torch.gather); repeated
    indices accumulate their gradients."""
    x = _t(x)
    idx, d = _index_arg(index, x, dim, "gather")
    return getitem(x, _open_grid(idx, d)) if x.ndim else getitem(reshape(x, (1,)), idx)


def take_along_dim(x: Tensor, indices: Any, dim: int | None = None) -> Tensor:
    """``gather`` with the index broadcast against the input (torch.take_along_dim); with
    ``dim=None`` both are flattened."""
    x = _t(x)
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if dim is None:
        return gather(reshape(x, (-1,)), 0, idx.reshape(-1))
    d = _dims(x, dim, "take_along_dim")[0]
    shape = list(np.broadcast_shapes(tuple(np.delete(x.shape, d)),
                                     tuple(np.delete(idx.shape, d))))
    xs, ids = list(shape), list(shape)
    xs.insert(d, x.shape[d])
    ids.insert(d, idx.shape[d])
    return gather(broadcast_to(x, tuple(xs)), d, np.broadcast_to(idx, tuple(ids)))


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
         ) -> ValuesIndices:
    """Sorted values and their indices along ``dim`` (torch.sort).  Always stable: ties keep
    their order, also when descending."""
    x = _t(x)
    d = _dims(x, dim, "sort")[0]
    if x.ndim == 0:
        return ValuesIndices(x, _make(np.zeros((), np.int64)))
    order = outside(functools.partial(_sort_order, d, descending), x)
    return ValuesIndices(gather(x, d, order.data), order)


@backends.native
def _sort_order(d: int, descending: bool, key: np.ndarray) -> np.ndarray:
    if not isinstance(key, np.ndarray):  # the standard sorts stably in both directions
        xp = backends.namespace(key)
        order = xp.argsort(key, axis=d, descending=descending, stable=True)
        return xp.astype(order, xp.int64)
    if descending:  # a stable ascending sort of the negated keys keeps ties in order
        key = -(key.astype(np.int64) if key.dtype.kind in "bu" else key)
    return np.argsort(key, axis=d, kind="stable").astype(np.int64, copy=False)


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
            ) -> Tensor:
    """The indices that sort ``x`` along ``dim`` (torch.argsort)."""
    return sort(x, dim, descending, stable).indices


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True  # noqa: A002
         ) -> ValuesIndices:
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices, in sorted
    order (torch.topk; ``sorted=False`` gives the same order)."""
    x = _t(x)
    d = _dims(x, dim, "topk")[0] if x.ndim else 0
    n = x.shape[d] if x.ndim else 1
    if not 0 <= k <= n:
        raise OpError(f"topk: k={k} is out of range for dim {d} of size {n} (input of "
                      f"shape {x.shape})")
    values, indices = sort(x, d, descending=largest)
    pick = (slice(None),) * d + (slice(0, k),)
    return ValuesIndices(getitem(values, pick), indices[pick])


def _cumulative_extreme(x: Tensor, dim: int, who: str, accumulate: Any) -> ValuesIndices:
    x = _t(x)
    d = _dims(x, dim, who)[0]
    if x.ndim == 0:
        return ValuesIndices(x, _make(np.zeros((), np.int64)))
    order = outside(functools.partial(_cumulative_order, d, accumulate), x)
    return ValuesIndices(gather(x, d, order.data), order)


def _cumulative_order(d: int, accumulate: Any, a: np.ndarray) -> np.ndarray:
    """Where each running extreme was reached: a "record" is an element equal to the
    running extreme so far; each output takes the latest record at or before it (ties go
    to the later index, as torch)."""
    running = accumulate(a, axis=d)
    positions = np.arange(a.shape[d]).reshape((-1,) + (1,) * (a.ndim - 1 - d))
    record = np.where(a == running, positions, 0)
    return np.maximum.accumulate(record, axis=d).astype(np.int64, copy=False)


def cummax(x: Tensor, dim: int) -> ValuesIndices:
    """Running maximum along ``dim`` and where it was found (torch.cummax)."""
    return _cumulative_extreme(x, dim, "cummax", np.maximum.accumulate)


def cummin(x: Tensor, dim: int) -> ValuesIndices:
    """Running minimum along ``dim`` and where it was found (torch.cummin)."""
    return _cumulative_extreme(x, dim, "cummin", np.minimum.accumulate)


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    """``value`` where ``mask`` holds, else ``x`` (torch.masked_fill; ``mask`` broadcasts
    to ``x``'s shape, ``value`` a number or a 0-d tensor)."""
    x = _t(x)
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be boolean, got {m.dtype}")
    if not _broadcasts_to(m.shape, x.shape):
        raise OpError(f"masked_fill: mask of shape {m.shape} does not broadcast to the "
                      f"input's shape {x.shape}")
    if isinstance(value, Tensor) and value.ndim:
        raise OpError(f"masked_fill: value must be a number or a 0-d tensor, got shape "
                      f"{value.shape}")
    return where(m, astype(value, x.dtype) if isinstance(value, Tensor) else value, x)


def masked_select(x: Tensor, mask: Any) -> Tensor:
    """The elements of ``x`` where ``mask`` holds, as a 1-D tensor (both broadcast)."""
    x = _t(x)
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)
    shape = np.broadcast_shapes(m.shape, x.shape) or (1,)  # a 0-d pair picks from (1,)
    return getitem(broadcast_to(x, shape), np.broadcast_to(m, shape))


def nonzero(x: Tensor, *, as_tuple: bool = False) -> Any:
    """Indices of the nonzero elements: an (n, ndim) int64 tensor, or one 1-D tensor per
    dimension with ``as_tuple`` (torch.nonzero; no gradient)."""
    data = _t(x).data
    if as_tuple:
        return tuple(_make(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(data)))
    return _make(np.argwhere(data).astype(np.int64))


def _scatter_args(x: Tensor, dim: int, index: Any, src: Any, who: str
                  ) -> tuple[tuple[np.ndarray, ...], Any]:
    """The advanced index ``scatter`` writes through, and ``src`` cut to the index's shape
    (a number stays a number)."""
    idx, d = _index_arg(index, x, dim, who)
    if isinstance(src, (Tensor, np.ndarray, list)):
        src = _t(src, x)
        if src.dtype != x.dtype:
            raise OpError(f"{who}: src of dtype {src.dtype} does not match the input's "
                          f"dtype {x.dtype}")
        if builtins.any(s > t for s, t in zip(idx.shape, src.shape, strict=False)):
            raise OpError(f"{who}: index of shape {idx.shape} is larger than src of "
                          f"shape {src.shape}")
        src = getitem(src, tuple(slice(s) for s in idx.shape))
    return _open_grid(idx, d), src


def scatter(x: Tensor, dim: int, index: Any, src: Any = None, *, value: Any = None,
            reduce: str | None = None) -> Tensor:
    """Out-of-place ``x[i][index[i][j]] = src[i][j]`` for dim=1 (torch.scatter); ``src`` a
    tensor or (``value``) a number.  Where indices repeat, one write lands and only it gets
    a gradient.  ``reduce="add"``/``"multiply"`` as ``scatter_reduce`` with sum/prod."""
    x = _t(x)
    source = value if src is None else src
    if reduce is not None:
        modes = {"add": "sum", "multiply": "prod"}
        if reduce not in modes:
            raise OpError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        if not isinstance(source, Tensor):
            source = full(np.shape(index.data if isinstance(index, Tensor) else index),
                          source, dtype=x.dtype)
        return scatter_reduce(x, dim, index, source, modes[reduce])
    grid, source = _scatter_args(x, dim, index, source, "scatter")
    return setitem(x, grid, source)


def scatter_add(x: Tensor, dim: int, index: Any, src: Any) -> Tensor:
    """``x`` plus ``src`` added at ``index`` along ``dim``; repeated indices accumulate."""
    return scatter_reduce(x, dim, index, src, "sum")


def scatter_reduce(x: Tensor, dim: int, index: Any, src: Any, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """Combine ``src`` into ``x`` at ``index`` along ``dim`` with ``reduce`` = "sum",
    "prod", "mean", "amax" or "amin" (torch.scatter_reduce); positions no index reaches
    keep ``x``.  amax/amin share the gradient equally among ties, as torch."""
    x = _t(x)
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise OpError(f"scatter_reduce: reduce must be sum, prod, mean, amax or amin, "
                      f"got {reduce!r}")
    grid, src = _scatter_args(x, dim, index, src, "scatter_reduce")
    if src.size == 0:  # nothing to combine
        return x.clone()
    hits = P.add_at_np(np.ones(src.shape, np.int64), grid, False, x.shape)
    touched = hits > 0
    base = x if include_self else where(touched, 0.0, x)
    count = hits + include_self
    if reduce in ("sum", "mean"):
        total = base + _add_at(src, grid, False, x.shape)
        return total if reduce == "sum" else where(touched, total / np.maximum(count, 1), x)
    if reduce == "prod":
        return (x if include_self else where(touched, 1.0, x)) * _scatter_prod(x, src, grid)
    src_ties, self_ties, ties = outside(
        functools.partial(_extreme_ties, reduce, include_self, grid, touched), x, src)
    total = where(self_ties, x, 0.0) + _add_at(where(src_ties, src, 0.0), grid, False,
                                                x.shape)
    return total / ties


def _extreme_ties(reduce: str, include_self: bool, grid: tuple, touched: np.ndarray,
                  x: np.ndarray, src: np.ndarray) -> tuple[np.ndarray, ...]:
    """scatter_reduce's amax/amin: which sources and which of ``x``'s own values tie for
    each position's extreme, and how many do (the extreme is their mean: same value, the
    gradient shared by ties)."""
    pick = np.maximum if reduce == "amax" else np.minimum
    top = np.full(x.shape, -np.inf if reduce == "amax" else np.inf, x.dtype)
    pick.at(top, grid, src)
    if include_self:
        top = pick(top, x)
    top = np.where(touched, top, x)
    src_ties = src == top[grid]
    self_ties = (x == top) & (include_self | ~touched)
    ties = P.add_at_np(src_ties.astype(np.int64), grid, False, x.shape) + self_ties
    return src_ties, self_ties, ties


def _scatter_prod(x: Tensor, src: Tensor, grid: tuple) -> Tensor:
    """Per position of ``x``, the product of the sources scattered there (1 where none).
    The sources are laid out by target position along a new last axis, padded with 1s; the
    product over that axis has prod's own gradient (exact at zeros)."""
    flat_target = np.ravel_multi_index(tuple(np.broadcast_arrays(*grid)), x.shape).ravel()
    order = np.argsort(flat_target, kind="stable")
    counts = np.bincount(flat_target, minlength=x.size)
    width = builtins.max(int(counts.max(initial=0)), 1)
    starts = np.cumsum(counts) - counts
    slot = np.arange(order.size) - starts[flat_target[order]]
    layout = np.full((x.size, width), -1, np.int64)
    layout[flat_target[order], slot] = order
    values = getitem(reshape(src, (-1,)), np.maximum(layout, 0))
    return reshape(prod(where(layout >= 0, values, 1.0), -1), x.shape)
