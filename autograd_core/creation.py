"""Tensors made from nothing: zeros, ones, full, arange, linspace, eye and the random
ones, with PyTorch's dtype inference."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .errors import OpError
from .ops import _shape_arg, _t
from .random import default_generator
from .tensor import Tensor, _leaf, get_default_dtype


def _dt(dtype: Any) -> np.dtype:
    return get_default_dtype() if dtype is None else np.dtype(dtype)


def _inferred(dtype: Any, *values: Any) -> np.dtype:
    """PyTorch's dtype for a tensor made from ``values``: ``dtype`` if given, else bool for
    bools, int64 for integers, the default float dtype otherwise."""
    if dtype is not None:
        return np.dtype(dtype)
    if builtins.all(isinstance(v, (bool, np.bool_)) for v in values):
        return np.dtype(np.bool_)
    if builtins.all(isinstance(v, (int, np.integer)) for v in values):
        return np.dtype(np.int64)
    return get_default_dtype()


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.zeros(_shape_arg(shape), _dt(dtype)), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.ones(_shape_arg(shape), _dt(dtype)), requires_grad=requires_grad)


def empty(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros: numpy's uninitialised memory would make results depend on what was there."""
    return zeros(*shape, dtype=dtype, requires_grad=requires_grad)


def full(shape: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False
         ) -> Tensor:
    """``shape`` filled with ``fill_value``; an int fill gives int64, a bool bool (torch)."""
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _leaf(np.full(shape, value, _inferred(dtype, value)), requires_grad=requires_grad)


def zeros_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.zeros_like(_t(x).data, dtype=dtype), requires_grad=requires_grad)


def ones_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.ones_like(_t(x).data, dtype=dtype), requires_grad=requires_grad)


def empty_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return zeros_like(x, dtype, requires_grad)


def full_like(x: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False
              ) -> Tensor:
    """``x``'s shape filled with ``fill_value``, in ``x``'s dtype unless ``dtype`` is given."""
    return _leaf(np.full_like(_t(x).data, fill_value, dtype=dtype),
                  requires_grad=requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """``[start, end)`` in steps of ``step`` (``arange(n)`` counts from 0): int64 when all
    arguments are integers, else the default float dtype (torch.arange)."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise OpError("arange: step must be nonzero")
    dt = _inferred(dtype, start, end, step)
    return _leaf(np.arange(start, end, step).astype(dt), requires_grad=requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (torch.linspace)."""
    if steps < 0:
        raise OpError(f"linspace: steps must be >= 0, got {steps}")
    if dtype is not None and np.dtype(dtype) == np.bool_:
        raise OpError("linspace: a boolean dtype is not supported (as torch)")
    return _leaf(np.linspace(start, end, steps).astype(_dt(dtype)),
                  requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None) -> Tensor:
    return _leaf(np.eye(n, m, dtype=_dt(dtype)))


def randint(low: int, high: int | None = None, size: Any = (), dtype: Any = None,
            generator: np.random.Generator | None = None) -> Tensor:
    """Integers uniform in ``[low, high)`` (``randint(high, size)`` from 0), int64 by
    default, from ``generator`` (default: the one ``manual_seed`` sets)."""
    if high is None:  # randint(high, size=...)
        low, high = 0, low
    elif not isinstance(high, (int, np.integer)):  # randint(high, size)
        low, high, size = 0, low, high
    gen = generator or default_generator()
    data = gen.integers(low, high, _shape_arg((size,) if isinstance(size, int) else size))
    return _leaf(data.astype(np.int64 if dtype is None else dtype))


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False,
          generator: np.random.Generator | None = None) -> Tensor:
    """Standard normal samples from ``generator`` (default: the one ``manual_seed`` sets)."""
    gen = generator or default_generator()
    data = gen.standard_normal(_shape_arg(shape)).astype(_dt(dtype))
    return _leaf(data, requires_grad=requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False,
         generator: np.random.Generator | None = None) -> Tensor:
    """Uniform [0, 1) samples from ``generator`` (default: the one ``manual_seed`` sets)."""
    gen = generator or default_generator()
    data = gen.random(_shape_arg(shape)).astype(_dt(dtype))
    return _leaf(data, requires_grad=requires_grad)
