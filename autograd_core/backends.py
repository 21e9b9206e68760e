"""Array libraries beside numpy: a tensor's library, its forwards, and the standard's gaps.

A Tensor may wrap any array that follows the Python array-API standard (CuPy, torch,
array-api-strict, ...); its library is found with ``array_api_compat.array_namespace``.
numpy arrays never come here: the primitives' own numpy forwards and ``NUMPY_NS`` are the
fast path, and this module is their twin for every other library:

- ``FORWARDS``: each primitive's forward written against the standard, ``f(xp, *args)``.
- ``ARRAY_NS``: the namespace backward rules see for a graph that holds such arrays; each
  function picks numpy or the array's own library by its argument, so a graph that crosses
  libraries through ``Tensor.to`` runs every rule on its own side.
- The shims for what the standard lacks, one place each: numpy's advanced indexing (as
  flat ``take``s), scatter-add for its backward (CuPy's ``cupyx.scatter_add``, else a
  one-hot product), strided windows (im2col as a stack of offset grids), ``out=`` (the
  optimizers' updates, as an assignment), and host-side helpers (``on_host``).

An op that the standard cannot express raises ``BackendError`` naming the op and the
library; ``UNSUPPORTED`` lists those ops (the README prints the list).
"""

from __future__ import annotations

import functools
import importlib
import math
import operator
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

import array_api_compat as compat
import numpy as np

from .errors import DeviceError, OpError
from .namespaces import NUMPY_NS, broadcast_axes
from .primitives import defop, is_primitive, window_offsets, window_ties

__all__ = ["ARRAY_NS", "FORWARDS", "MOVE", "UNSUPPORTED", "BackendError", "describe",
           "device_of", "is_foreign", "move", "namespace", "to_numpy"]


class BackendError(OpError, NotImplementedError):
    """An op that the tensor's array library cannot run (the standard has no such function)."""


def is_foreign(x: Any) -> bool:
    """Whether ``x`` is an array of a library other than numpy."""
    return not isinstance(x, np.ndarray | np.generic) and compat.is_array_api_obj(x)


def namespace(x: Any) -> Any:
    """The array-API namespace of ``x``'s library (numpy itself for numpy arrays)."""
    if isinstance(x, np.ndarray | np.generic):
        return np
    return compat.array_namespace(x)


def device_of(x: Any) -> Any:
    """The device ``x`` lives on (``"cpu"`` for numpy)."""
    return "cpu" if isinstance(x, np.ndarray | np.generic) else compat.device(x)


def library(x: Any) -> str:
    """The short name of ``x``'s array library: numpy, cupy, torch, array_api_strict, ..."""
    return "numpy" if isinstance(x, np.ndarray | np.generic) else type(x).__module__.split(".")[0]


def describe(x: Any) -> str:
    """``x``'s library and device, for error messages."""
    name = library(x)
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name} array on {device_of(x)}"


def check_same(who: str, arrays: Any) -> Any:
    """The one namespace of ``arrays``; a clear error when they mix libraries or devices."""
    first = arrays[0]
    xp, dev = namespace(first), device_of(first)
    for other in arrays[1:]:
        if namespace(other) is not xp or device_of(other) != dev:
            raise DeviceError(f"{who}: cannot combine {describe(first)} with "
                              f"{describe(other)}; move one first with .to(...)")
    return xp


def to_numpy(x: Any) -> np.ndarray:
    """A numpy copy (or view, where the library shares host memory) of any array."""
    if isinstance(x, np.ndarray | np.generic):
        return np.asarray(x)
    if hasattr(x, "get") and library(x) == "cupy":  # device memory: copy to the host
        return x.get()
    try:
        return np.from_dlpack(x)
    except (TypeError, RuntimeError, BufferError, ValueError):
        pass
    try:
        return np.asarray(x)
    except RuntimeError:  # a device numpy cannot read: through the library's default device
        xp = namespace(x)
        home = xp.__array_namespace_info__().default_device()
        return np.asarray(compat.to_device(x, home))


def move(x: Any, target: Any) -> Any:
    """``x`` on ``target``: an array namespace (numpy, array_api_strict, cupy, torch, ...), a
    device of ``x``'s own library, or both as a pair (``where_of``).  Returns ``x`` itself
    when it is already there."""
    if isinstance(target, tuple):
        return move(move(x, target[0]), target[1])
    if isinstance(target, ModuleType):
        if target is np or getattr(target, "__name__", "") == "array_api_compat.numpy":
            return to_numpy(x)
        if not isinstance(x, np.ndarray) and namespace(x) is compat.array_namespace(
                target.asarray(0)):
            return x
        host = to_numpy(x) if not isinstance(x, np.ndarray) else x
        if any(step < 0 for step in host.strides):  # torch takes no negative strides
            host = host.copy()
        return target.asarray(host)
    if isinstance(x, np.ndarray):
        if isinstance(target, str) or target is None:
            if target in ("cpu", None):
                return x
            raise OpError(f"to: a numpy array lives on the cpu; to move it to {target!r}, "
                          f"name the library, e.g. .to(cupy), or pass its device object")
        # A device object names its library (array_api_strict.Device, cupy.cuda.Device, ...)
        lib = importlib.import_module(type(target).__module__.split(".")[0])
        return compat.array_namespace(lib.asarray(0)).asarray(x, device=target)
    if device_of(x) == target:
        return x
    return compat.to_device(x, target)


def where_of(x: Any) -> tuple[Any, Any]:
    """Where ``x`` lives, as ``move`` takes it back: (namespace module, device)."""
    if isinstance(x, np.ndarray | np.generic):
        return np, "cpu"
    return compat.array_namespace(x), device_of(x)



def is_floating(dtype: Any) -> bool:
    """Whether ``dtype`` (of any library) is a real or complex floating dtype."""
    if isinstance(dtype, np.dtype):
        return dtype.kind in "fc"
    kind = getattr(dtype, "kind", None)  # cupy uses numpy's dtypes
    if kind is not None:
        return kind in "fc"
    return str(dtype).rsplit(".", 1)[-1].startswith(("float", "complex"))


def is_dtype(x: Any) -> bool:
    """Whether ``x`` names a dtype (numpy's spellings: "float32", np.float64, ...) rather than
    an array library or device; a library's own dtype objects too."""
    if isinstance(x, np.dtype) or (isinstance(x, type) and issubclass(x, np.generic)):
        return True
    if isinstance(x, str):
        try:
            np.dtype(x)
        except TypeError:
            return False
        return True
    return type(x).__name__.lower() == "dtype"  # torch.dtype, array_api_strict DType, ...


def numpy_dtype(dtype: Any) -> np.dtype:
    """numpy's dtype of the same name as ``dtype`` (of any library): host-side helpers
    compute in it."""
    if isinstance(dtype, np.dtype):
        return dtype
    try:
        return np.dtype(dtype)
    except TypeError:
        return np.dtype(str(dtype).rsplit(".", 1)[-1])


def dtype_for(like: Any, dtype: Any) -> Any:
    """``dtype`` (numpy's spelling, or the library's own dtype) as a dtype of ``like``'s
    library: ``"float32"`` becomes ``array_api_strict.float32`` next to a strict array."""
    if isinstance(dtype, str | np.dtype | type):
        return getattr(namespace(like), np.dtype(dtype).name)
    return dtype


def _zeros(xp: Any, shape: tuple[int, ...], like: Any) -> Any:
    return xp.zeros(shape, dtype=like.dtype, device=device_of(like))


# ------------------------------------------------------------------ host-side helpers
HOST_CALLS: dict[str, int] = {}  # how often each helper ran on a host copy


def native(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``fn`` (a helper for ``ag.outside``) as written against the standard, so it
    runs on a tensor's own arrays; unmarked helpers see numpy copies (``on_host``)."""
    fn.array_api = True  # type: ignore[attr-defined]
    return fn


_NO_ERF = "the array-API standard has no erf; torch's and CuPy's are used"


def _erf(xp: Any, a: Any) -> Any:
    """erf, which the standard lacks: torch's own, CuPy's ``cupyx.scipy.special.erf``."""
    name = library(a)
    if name == "torch":
        return importlib.import_module("torch").erf(a)
    if name == "cupy":
        return importlib.import_module("cupyx.scipy.special").erf(a)
    raise BackendError(f"erf: not available for {name} arrays ({_NO_ERF})")


_erf.why = _NO_ERF  # type: ignore[attr-defined]


def _same_name(name: str) -> Callable[..., Any]:
    """``f(xp, *args, **kw)`` calling the library's function ``name``."""
    return lambda xp, *args, **kw: getattr(xp, name)(*args, **kw)


# numpy functions the library hands to ag.outside, and their twins in the standard.
TWINS: dict[Any, Callable[..., Any]] = {
    **{f: _same_name(name) for f, name in [
        (np.isnan, "isnan"), (np.isinf, "isinf"), (np.isfinite, "isfinite"),
        (np.logical_not, "logical_not"), (np.logical_and, "logical_and"),
        (np.logical_or, "logical_or"), (np.logical_xor, "logical_xor"),
        (np.signbit, "signbit"), (np.max, "max"), (np.argmax, "argmax"),
        (np.argmin, "argmin")]},
    np.isposinf: lambda xp, a: a == math.inf,
    np.isneginf: lambda xp, a: a == -math.inf,
}


def on_host(fn: Callable[..., Any], arrays: list[Any], like: Any) -> Any:
    """``fn(*arrays)`` for arrays of another library: directly when ``fn`` is ``native``,
    through the standard's twin of a numpy function (``TWINS``), else on numpy copies with
    the results moved back to ``like``'s library and device -- the few host-side helpers
    the standard has no function for (running-extreme records, the integer division's
    quotient, ...); ``HOST_CALLS`` counts them."""
    base = getattr(fn, "func", fn)  # a functools.partial's function
    if getattr(base, "array_api", False) or base is operator.eq:
        return fn(*arrays)
    twin = TWINS.get(base)
    if twin is not None:
        bound = fn if isinstance(fn, functools.partial) else functools.partial(fn)
        return twin(namespace(like), *bound.args, *arrays, **bound.keywords)
    name = getattr(base, "__qualname__", repr(base))
    HOST_CALLS[name] = HOST_CALLS.get(name, 0) + 1
    result = fn(*[to_numpy(a) if is_foreign(a) else a for a in arrays])
    back = where_of(like)

    def home(r: Any) -> Any:
        return move(np.asarray(r), back) if isinstance(r, np.ndarray | np.generic) else r
    return tuple(home(r) for r in result) if isinstance(result, tuple) else home(result)


# ------------------------------------------------------------------ shims
def add_at(g: Any, index: Any, basic: bool, shape: tuple[int, ...]) -> Any:
    """Adjoint of indexing: zeros of ``shape`` with ``g`` added at ``index``."""
    if isinstance(g, np.ndarray):
        return NUMPY_NS.add_at(g, index, basic, shape)
    xp = namespace(g)
    out = _zeros(xp, shape, g)
    index = _index(xp, g, index)
    if basic:  # basic indices never repeat an element: plain assignment is exact
        _assign(xp, out, index, g)
        return out
    if library(g) == "cupy":
        import cupyx  # type: ignore[import-not-found]

        cupyx.scatter_add(out, index, g)
        return out
    outer, inner = _split(xp, index, len(shape))
    if outer is not None:  # the slices' part first: add into the view they pick
        _assign(xp, out, outer, add_at(g, inner, False, tuple(out[_full(outer, shape)].shape)))
        return out
    flat, _ = _flat_positions(xp, index, shape, "getitem backward")
    onehot = xp.astype(xp.arange(math.prod(shape), device=device_of(g))[:, None]
                       == flat[None, :], g.dtype)
    return xp.reshape(onehot @ xp.reshape(g, (-1,)), shape)


def _split(xp: Any, index: Any, ndim: int) -> tuple[Any, Any]:
    """An advanced index with slices that are not full, as (its slices, with full ones for
    the arrays) then (its arrays, with full slices elsewhere): numpy keeps adjacent index
    arrays' axes in place, so applying the two in turn picks the same; (None, index) when
    every slice is full already."""
    items = _items(xp, index, ndim, "getitem")
    if all(hasattr(it, "shape") or (isinstance(it, slice) and it == slice(None))
           for it in items):
        return None, index
    outer = tuple(slice(None) if hasattr(it, "shape") else it for it in items)
    inner = tuple(it if hasattr(it, "shape") else slice(None) for it in items)
    return outer, inner


def _items(xp: Any, index: Any, ndim: int, who: str) -> list[Any]:
    """The index as one item per axis: Ellipsis spelled out as full slices, boolean masks
    as the integer arrays of their true positions (numpy's meaning)."""
    items: list[Any] = []
    for it in index if isinstance(index, tuple) else (index,):
        if hasattr(it, "shape") and it.dtype == xp.bool:
            items.extend(xp.nonzero(it))
        elif it is None:
            raise BackendError(f"{who}: None (a new axis) in an advanced index is not in the "
                               f"array-API standard; unsqueeze first")
        else:
            items.append(it)
    k = next((k for k, it in enumerate(items) if it is Ellipsis), None)
    if k is not None:
        items[k:k + 1] = [slice(None)] * (ndim - len(items) + 1)
    return items + [slice(None)] * (ndim - len(items))


def _flat_positions(xp: Any, index: Any, shape: tuple[int, ...], who: str
                    ) -> tuple[Any, tuple[int, ...]]:
    """For an advanced ``index`` into an array of ``shape``, the flat position of every
    element it picks (a 1-D integer array) and the picked shape.  The standard has only
    part of numpy's advanced indexing; this covers integer arrays (and masks) on adjacent
    axes among full slices, whose picked axes stay in place (numpy's rule)."""
    items = _items(xp, index, len(shape), who)
    arrays = [k for k, it in enumerate(items) if hasattr(it, "shape")]
    first, last = arrays[0], arrays[-1] + 1
    if arrays != list(range(first, last)) or any(
            not (isinstance(it, slice) and it == slice(None))
            for k, it in enumerate(items) if k not in arrays):
        raise BackendError(f"{who}: the array-API standard does not index with {index!r}; "
                           f"integer arrays on adjacent axes among full slices are supported")
    dev = device_of(items[first])
    block = xp.broadcast_arrays(*[items[k] for k in arrays])
    inner: Any = 0
    for p, k in zip(block, arrays, strict=True):
        inner = inner + xp.where(p < 0, p + shape[k], p) * math.prod(shape[k + 1:last])
    pre = xp.reshape(xp.arange(math.prod(shape[:first]), device=dev), (-1, 1, 1))
    post = xp.reshape(xp.arange(math.prod(shape[last:]), device=dev), (1, 1, -1))
    flat = (pre * math.prod(shape[first:last]) + xp.reshape(inner, (1, -1, 1))) \
        * math.prod(shape[last:]) + post
    return xp.reshape(flat, (-1,)), shape[:first] + tuple(block[0].shape) + shape[last:]


def _last_writes(xp: Any, flat: Any, size: int) -> Any:
    """Per flat position, 1 + the number of the last write ``flat`` makes there (0: none):
    an assignment through a repeated index keeps its last value, as numpy's."""
    ids = xp.arange(1, flat.shape[0] + 1, device=device_of(flat))
    hits = xp.arange(size, device=device_of(flat))[:, None] == flat[None, :]
    return xp.max(xp.where(hits, ids[None, :], 0), axis=1) if flat.shape[0] else \
        xp.zeros(size, dtype=ids.dtype, device=device_of(flat))


def setitem_masks(g: Any, index: Any, shape: tuple[int, ...]) -> tuple[Any, Any]:
    """For ``x[index] = v`` on another library: where ``x`` keeps its own value (shape), and
    which of ``v``'s broadcast values landed (the picked shape)."""
    xp = namespace(g)
    index = _index(xp, g, index)
    if _basic(index):
        keep = xp.ones(shape, dtype=xp.bool, device=device_of(g))
        _assign(xp, keep, index, False)
        return keep, True
    flat, picked = _flat_positions(xp, index, shape, "setitem backward")
    last = _last_writes(xp, flat, math.prod(shape))
    ids = xp.arange(1, flat.shape[0] + 1, device=device_of(g))
    return xp.reshape(last == 0, shape), xp.reshape(xp.take(last, flat) == ids, picked)


def _forward_steps(xp: Any, a: Any, index: Any) -> tuple[Any, Any, tuple[int, ...]]:
    """A basic index without negative slice steps (torch has none): those axes of ``a``
    flipped, their slices counted from the other end; and the flipped axes."""
    items = list(index) if isinstance(index, tuple) else [index]
    if not any(isinstance(it, slice) and it.step is not None and it.step < 0 for it in items):
        return a, index, ()
    named = sum(1 for it in items if it is not None and it is not Ellipsis)
    axis, flipped = 0, []
    for k, it in enumerate(items):
        if it is Ellipsis:
            axis += a.ndim - named
        elif isinstance(it, slice) and it.step is not None and it.step < 0:
            n = a.shape[axis]
            r = range(*it.indices(n))
            items[k] = slice(n - 1 - r[0], n - r[-1], -it.step) if len(r) else slice(0, 0)
            flipped.append(axis)
        if it is not None and it is not Ellipsis:
            axis += 1
    axes = tuple(flipped)
    return xp.flip(a, axis=axes), tuple(items), axes


def _assign(xp: Any, out: Any, index: Any, value: Any) -> None:
    """``out[index] = value`` for a basic numpy index: the standard's assignment takes no
    None (a new axis: ``value`` is fitted to the picked shape without it instead)."""
    if library(out) == "torch":
        turned, index, axes = _forward_steps(xp, out, index)
        if axes:
            _assign(xp, turned, index, value)
            out[...] = xp.flip(turned, axis=axes)
            return
    items = index if isinstance(index, tuple) else (index,)
    shape = tuple(out.shape)
    if any(it is None for it in items):
        picked = out[_full(items, shape)].shape  # getitem does take None
        target = _full(tuple(it for it in items if it is not None), shape)
        if not hasattr(value, "shape"):  # a number fills any shape
            out[target] = value
            return
        out[target] = xp.reshape(xp.broadcast_to(value, picked), out[target].shape)
        return
    out[_full(items, shape)] = value


def _full(index: Any, shape: tuple[int, ...] | None = None) -> Any:
    """A basic index that names every axis (the standard has no implicit trailing ones),
    with forward slices clipped to ``shape``'s bounds (the standard has no out-of-range
    starts, which numpy clips)."""
    items = index if isinstance(index, tuple) else (index,)
    if shape is not None:
        axis, clipped = 0, []
        for it in items:
            if it is Ellipsis:
                axis = len(shape) - sum(1 for i in items if i is not None and i is not Ellipsis
                                        ) + axis
            elif isinstance(it, slice) and (it.step is None or it.step > 0):
                it = slice(*it.indices(shape[axis]))
            clipped.append(it)
            if it is not None and it is not Ellipsis:
                axis += 1
        items = tuple(clipped)
    return items if any(it is Ellipsis for it in items) else (*items, Ellipsis)


def getitem(xp: Any, a: Any, index: Any, basic: bool) -> Any:
    """``a[index]`` with numpy's meaning, on a library that follows the standard."""
    index = _index(xp, a, index)
    if basic and library(a) == "torch":
        a, index, _ = _forward_steps(xp, a, index)
    if basic or library(a) in ("cupy", "torch"):  # full numpy-style indexing there
        return a[_full(index, tuple(a.shape)) if basic else index]
    outer, inner = _split(xp, index, a.ndim)
    if outer is not None:
        return getitem(xp, a[_full(outer, tuple(a.shape))], inner, False)
    flat, shape = _flat_positions(xp, index, tuple(a.shape), "getitem")
    return xp.reshape(xp.take(xp.reshape(a, (-1,)), flat), shape)


def windows(a: Any, kernel: tuple[int, int], stride: tuple[int, int]) -> Any:
    """(..., OH, OW, KH, KW) windows of the last two axes: a stack of the offset grids (the
    standard has no strided views, so this copies, as CuPy's im2col does)."""
    if isinstance(a, np.ndarray):
        return NUMPY_NS.windows(a, kernel, stride)
    xp = namespace(a)
    grids = [a[index] for index in window_offsets(a.shape, kernel, stride)]
    stacked = xp.stack(grids, axis=-1)
    return xp.reshape(stacked, stacked.shape[:-1] + tuple(kernel))


def fold(g: Any, size: tuple[int, int], stride: tuple[int, int]) -> Any:
    """Adjoint of ``windows`` (col2im): add each window back."""
    if isinstance(g, np.ndarray):
        return NUMPY_NS.fold(g, size, stride)
    xp = namespace(g)
    kh, kw = g.shape[-2:]
    out = _zeros(xp, g.shape[:-4] + tuple(size), g)
    for k, index in enumerate(window_offsets(out.shape, (kh, kw), stride)):
        out[index] = out[index] + g[..., k // kw, k % kw]
    return out


def window_max(a: Any, kernel: tuple[int, int], stride: tuple[int, int]) -> Any:
    xp = namespace(a)
    first, *rest = window_offsets(a.shape, kernel, stride)
    out = a[first]
    for index in rest:
        out = xp.maximum(out, a[index])
    return out


def window_max_grad(g: Any, a: Any, top: Any, kernel: tuple[int, int],
                    stride: tuple[int, int]) -> Any:
    """``window_max``'s backward: each window's gradient shared among its tied maxima."""
    if isinstance(g, np.ndarray):
        return NUMPY_NS.window_max_grad(g, a, top, kernel, stride)
    xp = namespace(g)
    offsets, ties, count = window_ties(a, top, kernel, stride, g.dtype)
    share = g / count
    grad = _zeros(xp, a.shape, g)
    for index, tie in zip(offsets, ties, strict=True):
        grad[index] = grad[index] + share * tie
    return grad


def _index(xp: Any, x: Any, index: Any) -> Any:
    """An index with its numpy arrays moved to ``x``'s library and device."""
    def one(i: Any) -> Any:
        if isinstance(i, np.ndarray):
            return xp.asarray(i, device=device_of(x))
        return i
    return tuple(one(i) for i in index) if isinstance(index, tuple) else one(index)


def _pad(xp: Any, a: Any, widths: Any, value: Any) -> Any:
    shape = tuple(s + lo + hi for s, (lo, hi) in zip(a.shape, widths, strict=True))
    out = xp.full(shape, value, dtype=a.dtype, device=device_of(a))
    out[tuple(slice(lo, lo + s) for s, (lo, _) in zip(a.shape, widths, strict=True))] = a
    return out


def _setitem(xp: Any, a: Any, v: Any, index: Any, basic: bool) -> Any:
    out = xp.asarray(a, copy=True)
    index = _index(xp, a, index)
    if basic:
        _assign(xp, out, index, v)
        return out
    flat, picked = _flat_positions(xp, index, tuple(a.shape), "setitem")
    values = xp.reshape(xp.broadcast_to(xp.asarray(v, dtype=a.dtype, device=device_of(a)),
                                        picked), (-1,))
    last = _last_writes(xp, flat, math.prod(a.shape))
    landed = xp.take(values, xp.where(last > 0, last - 1, 0)) if flat.shape[0] else out
    return xp.reshape(xp.where(last > 0, xp.reshape(landed, (-1,)), xp.reshape(out, (-1,))),
                      a.shape)


def _round(xp: Any, a: Any, decimals: int = 0) -> Any:
    if decimals == 0:
        return xp.round(a)
    scale = 10.0 ** decimals
    return xp.round(a * scale) / scale


# Primitive name -> forward against the standard, f(xp, *inputs, *ctx).
FORWARDS: dict[str, Callable[..., Any]] = {
    **{name: _same_name(fn) for name, fn in {
        "add": "add", "sub": "subtract", "mul": "multiply", "div": "divide", "pow": "pow",
        "neg": "negative", "exp": "exp", "log": "log", "log1p": "log1p", "sin": "sin",
        "cos": "cos", "tanh": "tanh", "sqrt": "sqrt", "abs": "abs", "maximum": "maximum",
        "minimum": "minimum", "tan": "tan", "asin": "asin", "acos": "acos", "atan": "atan",
        "sinh": "sinh", "cosh": "cosh", "asinh": "asinh", "acosh": "acosh", "atanh": "atanh",
        "log2": "log2", "log10": "log10", "floor": "floor", "ceil": "ceil", "trunc": "trunc",
        "remainder": "remainder", "sign": "sign", "copysign": "copysign", "expm1": "expm1",
        "atan2": "atan2", "matmul": "matmul"}.items()},
    "sigmoid": lambda xp, a: 0.5 * xp.tanh(0.5 * a) + 0.5,  # the numpy forward's tanh form
    "relu": lambda xp, a: xp.maximum(a, 0),
    "exp2": lambda xp, a: xp.pow(2.0, a),
    # fmod of the magnitudes is their (Python) remainder, exactly; the sign is the dividend's
    "fmod": lambda xp, a, b: xp.copysign(xp.remainder(xp.abs(a), xp.abs(b)), a),
    "round": _round,
    "clip": lambda xp, a, lo, hi: xp.clip(a, lo, hi),
    "where": lambda xp, a, b, cond: xp.where(_index(xp, a, cond), a, b),
    "cast": lambda xp, a, dtype: xp.astype(a, dtype),
    "sum": lambda xp, a, axis, keepdims: xp.sum(a, axis=axis, keepdims=keepdims),
    "max": lambda xp, a, axis, keepdims: xp.max(a, axis=axis, keepdims=keepdims),
    "min": lambda xp, a, axis, keepdims: xp.min(a, axis=axis, keepdims=keepdims),
    "prod": lambda xp, a, axis, keepdims: xp.prod(a, axis=axis, keepdims=keepdims),
    "reshape": lambda xp, a, shape: xp.reshape(a, shape),
    "transpose": lambda xp, a, axes: xp.permute_dims(a, axes),
    "flip": lambda xp, a, axes: xp.flip(a, axis=axes),
    "roll": lambda xp, a, shifts, axes: xp.roll(a, shift=shifts, axis=axes),
    "cumsum": lambda xp, a, axis: xp.cumulative_sum(a, axis=axis),
    "expand": lambda xp, a, shape: xp.broadcast_to(a, shape),
    "getitem": getitem,
    "add_at": lambda xp, g, index, basic, shape: add_at(g, _index(xp, g, index), basic, shape),
    "setitem": _setitem,
    "pad": _pad,
    "addmm": lambda xp, c, a, b: xp.matmul(a, b) + c,
    "concat": lambda xp, *args: xp.concat(args[:-2], axis=args[-2]),
    "windows": lambda xp, a, kernel, stride: windows(a, kernel, stride),
    "fold": lambda xp, g, size, stride: fold(g, size, stride),
    "window_max": lambda xp, a, kernel, stride: window_max(a, kernel, stride),
    # a and top were moved to g's library by ops._window_max_grad (the rule reads them too)
    "window_max_grad": lambda xp, g, a, top, kernel, stride: window_max_grad(
        g, a, top, kernel, stride),
    "erf": _erf,
    "to": lambda xp, a, target, source: move(a, target),
}
# Ops the standard has no function for (a library may still have one: erf's shim).
UNSUPPORTED = {name: f.why for name, f in FORWARDS.items()  # type: ignore[attr-defined]
               if hasattr(f, "why")}


def forward(op: Any) -> Callable[..., Any]:
    """``op``'s forward on any library, ``f(xp, *inputs, *ctx)``: a primitive's from
    ``FORWARDS``; a custom op's own (it receives the arrays as they are)."""
    if not is_primitive(op):
        return lambda xp, *args: op.fwd(*args)
    return FORWARDS[op.name]


# ------------------------------------------------------------------ the rules' namespace
def _either(np_fn: Callable[..., Any], generic: Callable[..., Any]) -> Callable[..., Any]:
    """numpy's function for a numpy first argument, else ``generic(xp, ...)``."""
    def fn(x: Any, *args: Any) -> Any:
        if isinstance(x, np.ndarray | np.generic):
            return np_fn(x, *args)
        return generic(namespace(x), x, *args)
    return fn


def _xp_unbroadcast(g: Any, parent: Any) -> Any:
    if isinstance(g, np.ndarray | np.generic | float | int):
        return NUMPY_NS.unbroadcast(g, parent)
    xp = namespace(g)
    shape, dtype = parent.shape, parent.dtype
    if g.shape != shape:
        axes = broadcast_axes(g.shape, shape)
        if axes:
            g = xp.sum(g, axis=axes)
        g = xp.reshape(g, shape)
    if g.dtype != dtype:
        g = xp.astype(g, dtype)
    return g


def _basic(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return not any(hasattr(it, "shape") for it in items)


def _generic_where(c: Any, x: Any, y: Any) -> Any:
    for v in (c, x, y):
        if is_foreign(v):
            xp = namespace(v)
            return xp.where(c if is_foreign(c) else xp.asarray(c, device=device_of(v)), x, y)
    return np.where(c, x, y)


ARRAY_NS = SimpleNamespace(
    exp=_either(np.exp, lambda xp, x: xp.exp(x)),
    log=_either(np.log, lambda xp, x: xp.log(x)),
    sin=_either(np.sin, lambda xp, x: xp.sin(x)),
    cos=_either(np.cos, lambda xp, x: xp.cos(x)),
    sign=_either(np.sign, lambda xp, x: xp.sign(x)),
    pow=_either(np.power, lambda xp, x, y: xp.pow(x, y)),
    sinh=_either(np.sinh, lambda xp, x: xp.sinh(x)),
    cosh=_either(np.cosh, lambda xp, x: xp.cosh(x)),
    zeros_like=_either(np.zeros_like, lambda xp, x: xp.zeros_like(x)),
    flip=_either(NUMPY_NS.flip, FORWARDS["flip"]),
    roll=_either(NUMPY_NS.roll, FORWARDS["roll"]),
    cumsum=_either(NUMPY_NS.cumsum, FORWARDS["cumsum"]),
    where=_generic_where,
    eq=lambda a, b: a == b,
    within=NUMPY_NS.within,
    sum=_either(NUMPY_NS.sum, FORWARDS["sum"]),
    prod=_either(NUMPY_NS.prod, FORWARDS["prod"]),
    expand=_either(NUMPY_NS.expand, FORWARDS["expand"]),
    reshape=_either(NUMPY_NS.reshape, FORWARDS["reshape"]),
    transpose=_either(NUMPY_NS.transpose, FORWARDS["transpose"]),
    expand_dims=_either(np.expand_dims, lambda xp, x, axis: xp.expand_dims(x, axis=axis)),
    matmul=lambda a, b: a @ b,
    mT=_either(NUMPY_NS.mT, lambda xp, x: xp.matrix_transpose(x)),
    getitem=_either(NUMPY_NS.getitem, lambda xp, x, index: getitem(xp, x, index, _basic(index))),
    add_at=add_at, windows=windows, fold=fold, window_max_grad=window_max_grad,
    cast=_either(NUMPY_NS.cast, lambda xp, x, dtype: xp.astype(x, dtype)),
    unbroadcast=_xp_unbroadcast, move=move,
    # numpy's product with a mask; the standard multiplies no floats by booleans
    mask=lambda g, m: g * m if isinstance(g, np.ndarray) else _generic_where(m, g, 0),
)

# ctx = (target, source): Tensor.to; the gradient moves back to where the input lives.
MOVE = defop("to", lambda a, target, source: move(a, target), None,
             lambda ns, g, out, ctx, a: ns.move(g, ctx[1]))


# ------------------------------------------------------------------ out= for the optimizers
class _Into:
    """numpy's ``f(..., out=)`` for a library without ``out=``: compute, then assign into
    ``out`` (the optimizers' in-place updates, on any array)."""

    def __init__(self, xp: Any) -> None:
        self.xp = xp

    def _into(self, value: Any, out: Any) -> Any:
        if out is None:
            return value
        out[...] = value
        return out

    def multiply(self, a: Any, b: Any, out: Any = None) -> Any:
        return self._into(a * b, out)

    def add(self, a: Any, b: Any, out: Any = None) -> Any:
        return self._into(a + b, out)

    def subtract(self, a: Any, b: Any, out: Any = None) -> Any:
        return self._into(a - b, out)

    def full_like(self, a: Any, value: float) -> Any:
        return self.xp.full_like(a, value)

    def divide(self, a: Any, b: Any, out: Any = None) -> Any:
        return self._into(a / b, out)

    def sqrt(self, a: Any, out: Any = None) -> Any:
        return self._into(self.xp.sqrt(a), out)

    def maximum(self, a: Any, b: Any, out: Any = None) -> Any:
        return self._into(self.xp.maximum(a, b), out)

    def zeros_like(self, a: Any) -> Any:
        return self.xp.zeros_like(a)

    def empty_like(self, a: Any) -> Any:
        return self.xp.empty_like(a)

    def copy(self, a: Any) -> Any:
        return self.xp.asarray(a, copy=True)

    def may_share_memory(self, a: Any, b: Any) -> bool:
        return a is b


_INTO: dict[int, _Into] = {}


def updates(x: Any) -> Any:
    """The namespace an optimizer's in-place update uses for ``x``: numpy itself for numpy
    arrays, else one whose ``multiply``/``add``/``divide``/``sqrt``/``maximum`` take ``out=``."""
    if isinstance(x, np.ndarray):
        return np
    xp = namespace(x)
    into = _INTO.get(id(xp))
    if into is None:
        into = _INTO[id(xp)] = _Into(xp)
    return into
