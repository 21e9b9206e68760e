"""The plain namespaces backward rules see without create_graph: numpy (Tensor) and math (Scalar).

Their graph-recording twins are built from the engine's own ops in ``ops.py`` and
``scalar.py``; the four expose the same names.  ``unbroadcast`` is the one place where a
gradient is summed back to its input's shape (and cast back to its dtype).
"""

from __future__ import annotations

import math
import operator
from types import SimpleNamespace
from typing import Any

import numpy as np

from . import buffers
from .primitives import (
    COSH,
    SINH,
    _sexp,
    _slog,
    _spow,
    add_at_np,
    fold_np,
    window_max_grad_np,
    windows_np,
)


def broadcast_axes(big: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of ``big`` that broadcasting ``shape`` up to it added or stretched."""
    lead = len(big) - len(shape)
    if lead < 0:  # same elements, fewer axes (a 0-d gradient for a (1,) input)
        return ()
    return tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and big[lead + i] != 1)


def sum_to_shape(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` over the axes that broadcasting added or stretched, giving ``shape``."""
    axes = broadcast_axes(g.shape, shape)
    if axes:
        g = np.sum(g, axis=axes)
    return np.reshape(g, shape)


def _unbroadcast(g: Any, parent: Any) -> np.ndarray:
    shape, dtype = parent.shape, parent.dtype  # a Tensor or a Tensor's node
    if type(g) is not np.ndarray:
        g = np.asarray(g)
    if g.shape != shape:
        g = sum_to_shape(g, shape)
    if g.dtype is not dtype and g.dtype != dtype:  # `is`: builtin dtypes are shared
        g = g.astype(dtype)
    return g


def _within(a: Any, lo: Any, hi: Any) -> Any:
    if lo is None:
        return a <= hi
    if hi is None:
        return a >= lo
    return (a >= lo) & (a <= hi)


def _np_sum(x: Any, axis: Any, keepdims: bool) -> Any:
    return np.sum(x, axis=axis, keepdims=keepdims)


def _np_prod(x: Any, axis: Any, keepdims: bool) -> Any:
    return np.prod(x, axis=axis, keepdims=keepdims)


NUMPY_NS = SimpleNamespace(
    exp=np.exp, log=np.log, sin=np.sin, cos=np.cos, sign=np.sign, pow=np.power,
    sinh=np.sinh, cosh=np.cosh, zeros_like=np.zeros_like, flip=np.flip, roll=np.roll,
    cumsum=np.cumsum,
    where=np.where, eq=np.equal, within=_within, sum=_np_sum, prod=_np_prod,
    expand=np.broadcast_to, reshape=np.reshape, transpose=np.transpose,
    expand_dims=np.expand_dims, matmul=buffers.matmul, mT=lambda x: np.swapaxes(x, -1, -2),
    getitem=lambda x, index: x[index], add_at=add_at_np,
    windows=windows_np, fold=fold_np, window_max_grad=window_max_grad_np,
    cast=lambda x, dtype: np.asarray(x).astype(dtype, copy=False),
    unbroadcast=_unbroadcast,
    # g where a boolean mask holds, else 0: a product (numpy's where is ~10x slower)
    mask=buffers.mask,
)


def _sign(x: float) -> float:
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


FLOAT_NS = SimpleNamespace(
    exp=_sexp, log=_slog, sin=math.sin, cos=math.cos, sign=_sign, pow=_spow,
    sinh=SINH.sfwd, cosh=COSH.sfwd, zeros_like=lambda g: 0.0,
    where=lambda c, x, y: x if c else y, eq=operator.eq, within=_within,
    unbroadcast=lambda g, parent: g, mask=operator.mul,
)
