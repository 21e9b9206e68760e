"""`Tensor`: a numpy array that records the operations applied to it (PyTorch-style API)."""

from __future__ import annotations

import builtins
import functools
import math
import operator
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import backends, engine
from . import primitives as _P
from .engine import (
    COUNTS,
    SAVED_PARENTS,
    SEQ,
    STATE,
    Const,
    Node,
    Op,
    Recorded,
    _annotate,
    bump_version,
    const,
)
from .errors import OpError
from .namespaces import NUMPY_NS

# numpy defines a module ``__getattr__``, so CPython 3.11 never specializes ``np.ndarray``
# read inside a function (a dict lookup through the module each time); a global is.
_ndarray = np.ndarray
_asarray = np.asarray

__all__ = ["Tensor", "as_tensor", "from_numpy", "get_default_dtype", "set_default_dtype",
           "tensor"]

_DEFAULT_DTYPE: list[np.dtype] = [np.dtype(np.float32)]


def set_default_dtype(dtype: Any) -> None:
    """Dtype given to Python numbers and lists (float32 unless changed).

    >>> set_default_dtype("float64"); set_default_dtype("float32")
    """
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {dt}")
    _DEFAULT_DTYPE[0] = dt


def get_default_dtype() -> np.dtype:
    """The dtype Python numbers and lists become (float32 by default)."""
    return _DEFAULT_DTYPE[0]


def _to_array(data: Any, dtype: Any, copy: bool) -> np.ndarray:
    """Array for a new Tensor: ndarrays keep their dtype (copied, or shared where ``copy``
    is False and no cast is needed); Python floats take the default float dtype, Python
    ints int64 and bools bool (PyTorch's inference)."""
    if isinstance(data, Tensor):
        data = data.data
    if backends.is_foreign(data):  # another array library's array: it stays there
        return _foreign_array(data, dtype, copy)
    if isinstance(data, np.ndarray | np.generic):
        arr = np.array(data, dtype=dtype, copy=copy or None)
    elif isinstance(data, Node):
        raise TypeError(f"Tensor: cannot build a Tensor from {type(data).__name__}; "
                        f"use Tensor(s.data) for a Scalar's value")
    else:
        arr = np.asarray(data)
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
        elif arr.dtype.kind == "f":  # Python floats -> the default float dtype
            arr = arr.astype(_DEFAULT_DTYPE[0], copy=False)
        elif arr.dtype.kind in "iu":  # Python ints -> int64, as torch.tensor([1, 2])
            arr = arr.astype(np.int64, copy=False)
        elif arr.dtype.kind != "b":
            raise TypeError(f"Tensor: cannot make a numeric tensor from {type(data).__name__} "
                            f"with numpy dtype {arr.dtype}")
    return arr


def _foreign_array(data: Any, dtype: Any, copy: bool) -> Any:
    """A Tensor's array of another library (CuPy, torch, array-api-strict, ...): numpy-style
    dtype names are that library's dtypes of the same name."""
    xp = backends.namespace(data)
    if dtype is not None:
        data = xp.astype(data, backends.dtype_for(data, dtype))
    elif copy:
        data = xp.asarray(data, copy=True)
    _use_array_namespaces()
    return data


def _on_other_library(like: Any) -> None:
    """An op on another library's arrays is about to run: its rules need ``ARRAY_NS``, and
    ``ag.compile`` (whose plans are numpy calls) refuses it."""
    if STATE.tracer is not None:
        STATE.tracer.refuse(f"an op on {backends.describe(like)} (plans replay numpy calls)")
    _use_array_namespaces()


def _use_array_namespaces(on: bool = True) -> None:
    """From the first array of another library on, backward rules run on ``ARRAY_NS``,
    which sends each array to its own library (numpy-only programs keep ``NUMPY_NS``, the
    fast path; ``on=False`` goes back to it, for tests)."""
    ns = backends.ARRAY_NS if on else NUMPY_NS
    if Tensor._plain_ns is not ns:
        Tensor._plain_ns = TensorNode._plain_ns = ns


def _check_float(arr: Any, what: str = "Tensor") -> None:
    if not isinstance(arr, np.ndarray):
        if not backends.is_floating(arr.dtype):
            raise TypeError(f"{what}: only floating-point tensors can require grad, got dtype "
                            f"{arr.dtype}")
        return
    if arr.dtype.kind not in "fc":
        raise TypeError(f"{what}: only floating-point tensors can require grad, got dtype "
                        f"{arr.dtype}; cast first, e.g. x.astype('float32')")


class Tensor(Node):
    """A numpy-backed n-d array that records operations for reverse-mode autodiff.

    >>> import autograd_core as ag
    >>> x = ag.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad.tolist()
    [[2.0, 4.0], [6.0, 8.0]]
    """

    __slots__ = ("_grad", "data", "grad_fn")
    # numpy must not swallow a Tensor on the left of an operator (ndarray * Tensor): with
    # __array_ufunc__ = None numpy returns NotImplemented and Python calls Tensor.__rmul__.
    __array_ufunc__ = None
    _plain_ns = NUMPY_NS
    # As a graph node a Tensor is always a leaf: a Tensor made by an op is not in the graph
    # itself, its ``grad_fn`` (a TensorNode) is.
    _op = None
    _parents = ()

    data: np.ndarray
    _grad: Tensor | None
    grad_fn: TensorNode | None

    @property  # type: ignore[override]
    def grad(self) -> Tensor | None:
        """The gradient backward accumulated here (None until then, or after zero_grad)."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if STATE.tracer is not None:  # ag.compile: a plan replays clearing it, no more
            STATE.tracer.set_grad(self, value)
        self._grad = value

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        # A copy, as torch.tensor / torch.Tensor: editing the caller's array afterwards
        # cannot change this tensor or its gradients (``as_tensor`` shares instead).
        self._init(_to_array(data, dtype, copy=True), requires_grad)

    def _init(self, arr: np.ndarray, requires_grad: bool) -> None:
        if requires_grad:
            _check_float(arr)
        self.data = arr
        self._grad = None
        self.requires_grad = bool(requires_grad)
        self.grad_fn = None
        self._pending = None
        self._hooks = None

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        data = self.data  # math.prod for libraries whose size is a method (torch)
        return data.size if type(data) is np.ndarray else math.prod(data.shape)

    @property
    def is_leaf(self) -> bool:
        """True unless an op recorded in the graph made this tensor (``grad_fn`` is set)."""
        return self.grad_fn is None

    @property
    def op_name(self) -> str:
        """The short label of the op that made this tensor ("" for a leaf)."""
        fn = self.grad_fn
        return "" if fn is None else fn.op_name

    @property
    def _node(self) -> Node:
        return self if self.grad_fn is None else self.grad_fn

    @property  # type: ignore[override]
    def name(self) -> str | None:
        """A label for drawings and error messages (kept on the graph node of a non-leaf)."""
        return self._node.__dict__.get("name")

    @name.setter
    def name(self, value: str | None) -> None:
        self._node.__dict__["name"] = value

    def numel(self) -> int:
        return self.size

    def dim(self) -> int:
        return self.data.ndim

    @property
    def T(self) -> Tensor:
        """All axes reversed (numpy's ``.T``)."""
        return _F.permute(self, tuple(range(self.data.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (a batch of matrices transposed)."""
        return _F.swapaxes(self, -1, -2)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied; like ``torch.Tensor.numpy``); a numpy
        copy for an array of another library (from a GPU: copied to the host)."""
        data = self.data
        return data if type(data) is np.ndarray else backends.to_numpy(data)

    @property
    def device(self) -> Any:
        """Where the array lives: ``"cpu"`` for numpy, else its library's device object."""
        return backends.device_of(self.data)

    def to(self, where: Any = None, dtype: Any = None) -> Tensor:
        """This tensor on another array library (a namespace module: ``numpy``,
        ``array_api_strict``, ``cupy``, ``torch``, ...) or device of its own library, and/or
        cast to ``dtype`` (``x.to("float64")`` casts, as ``torch.Tensor.to``).
        Differentiable: the gradient moves back.  ``self`` itself when nothing changes.

        >>> import numpy as np
        >>> x = tensor([1.0]); x.to(np) is x, x.to("float64").dtype
        (True, dtype('float64'))
        """
        if dtype is not None:
            return self.to(where).astype(dtype)
        if where is None:
            return self
        if backends.is_dtype(where):
            return _F.astype(self, where)
        data = backends.move(self.data, where)
        if data is self.data:
            return self
        if type(data) is not np.ndarray:
            _use_array_namespaces()
        return _apply(backends.MOVE, (self,), data, (where, backends.where_of(self.data)))

    def item(self) -> Any:
        _reads_value("item()")
        if self.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python number, "
                             f"got shape {self.data.shape}")
        return self.numpy().item()

    def tolist(self) -> Any:
        _reads_value("tolist()")
        return self.numpy().tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self.numpy()
        return data if dtype is None else data.astype(dtype)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        _reads_value("bool(tensor) (an if or while on a tensor's value)")
        if self.size != 1:
            raise ValueError(f"bool: the truth value of a tensor of shape {self.data.shape} "
                             f"is ambiguous; use .any() or .all()")
        return bool(self.numpy())

    __hash__ = Node.__hash__  # identity, although __eq__ is elementwise

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extra = "" if type(self.data) is np.ndarray else f", device={self.device}"
        if type(self.data) is not np.ndarray or self.data.dtype != _DEFAULT_DTYPE[0]:
            extra += f", dtype={self.data.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{self.grad_fn.op_name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def _describe(self) -> str:
        name = f"'{self.name}' " if self.name else ""
        return f"tensor {name}of shape {self.data.shape} and dtype {self.data.dtype}"

    # ------------------------------------------------------------------ autograd API
    def backward(self, grad: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        ``grad`` is the upstream gradient (required unless ``self`` has one element).  The
        graph's saved values are released afterwards unless ``retain_graph=True``;
        ``create_graph=True`` records the backward pass so ``.grad`` is differentiable.
        """
        engine.backward(self, grad, retain_graph, create_graph)

    def _seed_grad(self, grad: Any, create_graph: bool) -> Any:
        if grad is None:
            if self.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for one-element outputs, "
                    f"but the output has shape {self.data.shape}; pass grad= (an array of that "
                    f"shape), or reduce first, e.g. y.sum().backward()")
            g = backends.namespace(self.data).ones_like(self.data)
        else:
            if isinstance(grad, Tensor) and grad.dtype != self.data.dtype:
                grad = grad.astype(self.data.dtype)  # as PyTorch; the driver relies on it
            g = grad.data if isinstance(grad, Tensor) else _as_data(grad, self.data)
            if g.shape != self.data.shape:
                raise RuntimeError(f"backward: grad has shape {g.shape} but the output has "
                                   f"shape {self.data.shape}")
            if create_graph and isinstance(grad, Tensor):
                return grad
        return _make(g) if create_graph else g

    def _wrap_grad(self, g: Any) -> Tensor:
        return g if isinstance(g, Tensor) else _make(
            g if backends.is_foreign(g) else np.asarray(g))

    def _unwrap_grad(self, g: Any) -> Any:
        if not isinstance(g, Tensor):
            g = Tensor(g, dtype=self.dtype)
        elif g.dtype != self.dtype:
            g = g.astype(self.dtype)
        if g.shape != self.shape:
            raise RuntimeError(f"hook: returned a gradient of shape {g.shape} for "
                               f"{self._describe()}")
        return g if STATE.grad_enabled else g.data

    def _accumulate(self, g: Any, create_graph: bool, fresh: bool) -> None:
        if create_graph:
            g = g if isinstance(g, Tensor) else _make(g)
            self._grad = g if self._grad is None else self._grad + g
            return
        grad = self._grad
        if grad is not None:
            self._grad = _make(grad.data + g)
            return
        if type(g) is not np.ndarray:
            if backends.is_foreign(g):  # another library: no flags to read, copy unless fresh
                self._grad = _make(g if fresh else backends.namespace(g).asarray(g, copy=True))
                return
            g = np.asarray(g)
        flags = g.flags
        if not (fresh and flags.writeable and (flags.c_contiguous or flags.f_contiguous)):
            # never share memory with another leaf's grad, never keep a strided view
            g = np.array(g, order="K" if fresh else "C")
        self._grad = _make(g)

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        fn = self.grad_fn
        if fn is not None:
            fn._retains_grad = weakref.ref(self)  # the node must not keep the tensor alive
            if fn._hooks is None:
                fn._hooks = {}  # the driver's one test for per-node behaviour
        return self

    @property
    def retains_grad(self) -> bool:
        """Whether ``retain_grad()`` was called on this non-leaf tensor."""
        fn = self.grad_fn
        return fn is not None and bool(fn._retains_grad) and fn._retains_grad() is self

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> _HookHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient.  Returns a handle whose ``remove()`` unregisters it."""
        if not self.requires_grad:
            raise RuntimeError(f"register_hook: {self._describe()} does not require grad")
        node = self._node
        if node._hooks is None:
            node._hooks = {}
        handle = _HookHandle(node._hooks)
        node._hooks[handle.key] = hook
        return handle

    def detach(self) -> Tensor:
        """The same data (shared) cut from the graph; never requires grad."""
        # While ag.compile records: a view no gradient passes, so replays recompute it.
        out = _make(self.data) if STATE.tracer is None else _traced(
            self.data, _P.RESHAPE, (self,), (self.data.shape,))
        out._vc = self._share_version()
        return out

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place on a leaf (like PyTorch)."""
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("requires_grad_: only leaves can stop requiring grad; use "
                               "detach() on a non-leaf")
        if requires_grad:
            _check_float(self.data, "requires_grad_")
        self.requires_grad = bool(requires_grad)
        return self

    def _share_version(self) -> list[int]:
        vc = self._vc
        if vc is None:
            vc = self._vc = [0]
            fn = self.grad_fn
            if fn is not None and fn._out is not None:
                fn._vc = vc  # the node saved this very array: it checks the same cell
        return vc

    # ------------------------------------------------------------------ methods
    # Thin delegations to the functional API in ops.py (documented there).
    def exp(self) -> Tensor:
        return _F.exp(self)

    def log(self) -> Tensor:
        return _F.log(self)

    def log1p(self) -> Tensor:
        return _F.log1p(self)

    def sqrt(self) -> Tensor:
        return _F.sqrt(self)

    def sin(self) -> Tensor:
        return _F.sin(self)

    def cos(self) -> Tensor:
        return _F.cos(self)

    def tanh(self) -> Tensor:
        return _F.tanh(self)

    def sigmoid(self) -> Tensor:
        return _F.sigmoid(self)

    def tan(self) -> Tensor:
        return _F.tan(self)

    def asin(self) -> Tensor:
        return _F.asin(self)

    def acos(self) -> Tensor:
        return _F.acos(self)

    def atan(self) -> Tensor:
        return _F.atan(self)

    def sinh(self) -> Tensor:
        return _F.sinh(self)

    def cosh(self) -> Tensor:
        return _F.cosh(self)

    def asinh(self) -> Tensor:
        return _F.asinh(self)

    def acosh(self) -> Tensor:
        return _F.acosh(self)

    def atanh(self) -> Tensor:
        return _F.atanh(self)

    def erf(self) -> Tensor:
        return _F.erf(self)

    def exp2(self) -> Tensor:
        return _F.exp2(self)

    def log2(self) -> Tensor:
        return _F.log2(self)

    def log10(self) -> Tensor:
        return _F.log10(self)

    def floor(self) -> Tensor:
        return _F.floor(self)

    def ceil(self) -> Tensor:
        return _F.ceil(self)

    def trunc(self) -> Tensor:
        return _F.trunc(self)

    def rsqrt(self) -> Tensor:
        return _F.rsqrt(self)

    def arcsin(self) -> Tensor:
        return _F.arcsin(self)

    def arccos(self) -> Tensor:
        return _F.arccos(self)

    def arctan(self) -> Tensor:
        return _F.arctan(self)

    def arcsinh(self) -> Tensor:
        return _F.arcsinh(self)

    def arccosh(self) -> Tensor:
        return _F.arccosh(self)

    def arctanh(self) -> Tensor:
        return _F.arctanh(self)

    def fix(self) -> Tensor:
        return _F.fix(self)

    def round(self, decimals: int = 0) -> Tensor:
        return _F.round(self, decimals)

    def flip(self, *dims: Any) -> Tensor:
        return _F.flip(self, dims[0] if len(dims) == 1 and not isinstance(dims[0], int)
                       else dims)

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        return _F.roll(self, shifts, dims)

    def cumsum(self, dim: int) -> Tensor:
        return _F.cumsum(self, dim)

    def cumprod(self, dim: int, **kw: Any) -> Tensor:
        return _F.cumprod(self, dim, **kw)

    def logcumsumexp(self, dim: int) -> Tensor:
        return _F.logcumsumexp(self, dim)

    def cummax(self, dim: int) -> Any:
        return _F.cummax(self, dim)

    def cummin(self, dim: int) -> Any:
        return _F.cummin(self, dim)

    def prod(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _F.prod(self, dim, keepdim, **kw)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        return _F.sort(self, dim, descending, stable)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False
                ) -> Tensor:
        return _F.argsort(self, dim, descending, stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True  # noqa: A002
             ) -> Any:
        return _F.topk(self, k, dim, largest, sorted)

    def gather(self, dim: int, index: Any) -> Tensor:
        return _F.gather(self, dim, index)

    def take_along_dim(self, indices: Any, dim: int | None = None) -> Tensor:
        return _F.take_along_dim(self, indices, dim)

    def scatter(self, dim: int, index: Any, src: Any = None, **kw: Any) -> Tensor:
        return _F.scatter(self, dim, index, src, **kw)

    def scatter_add(self, dim: int, index: Any, src: Any) -> Tensor:
        return _F.scatter_add(self, dim, index, src)

    def scatter_reduce(self, dim: int, index: Any, src: Any, reduce: str, **kw: Any
                       ) -> Tensor:
        return _F.scatter_reduce(self, dim, index, src, reduce, **kw)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        return _F.masked_fill(self, mask, value)

    def masked_select(self, mask: Any) -> Tensor:
        return _F.masked_select(self, mask)

    def nonzero(self, *, as_tuple: bool = False) -> Any:
        return _F.nonzero(self, as_tuple=as_tuple)

    def tril(self, diagonal: int = 0) -> Tensor:
        return _F.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        return _F.triu(self, diagonal)

    def isnan(self) -> Tensor:
        return _F.isnan(self)

    def isinf(self) -> Tensor:
        return _F.isinf(self)

    def isfinite(self) -> Tensor:
        return _F.isfinite(self)

    def logical_not(self) -> Tensor:
        return _F.logical_not(self)

    def logical_and(self, other: Any) -> Tensor:
        return _F.logical_and(self, other)

    def logical_or(self, other: Any) -> Tensor:
        return _F.logical_or(self, other)

    def logical_xor(self, other: Any) -> Tensor:
        return _F.logical_xor(self, other)

    def logaddexp(self, other: Any) -> Tensor:
        return _F.logaddexp(self, other)

    def isclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
                equal_nan: bool = False) -> Tensor:
        return _F.isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
                 equal_nan: bool = False) -> bool:
        return _F.allclose(self, other, rtol, atol, equal_nan)

    def lerp(self, end: Any, weight: Any) -> Tensor:
        return _F.lerp(self, end, weight)

    def repeat(self, *repeats: Any) -> Tensor:
        return _F.repeat(self, *repeats)

    def repeat_interleave(self, repeats: int, dim: int | None = None) -> Tensor:
        return _F.repeat_interleave(self, repeats, dim)

    def unflatten(self, dim: int, sizes: Any) -> Tensor:
        return _F.unflatten(self, dim, sizes)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        return _F.diagonal(self, offset, dim1, dim2)

    def diag(self, diagonal: int = 0) -> Tensor:
        return _F.diag(self, diagonal)

    def add(self, other: Any, *, alpha: builtins.float = 1) -> Tensor:
        return _F.add(self, other if alpha == 1 else other * alpha)

    def sub(self, other: Any, *, alpha: builtins.float = 1) -> Tensor:
        return _F.sub(self, other if alpha == 1 else other * alpha)

    def mul(self, other: Any) -> Tensor:
        return _F.mul(self, other)

    def div(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        return _F.div(self, other, rounding_mode=rounding_mode)

    def floor_divide(self, other: Any) -> Tensor:
        return _F.floor_divide(self, other)

    def remainder(self, other: Any) -> Tensor:
        return _F.remainder(self, other)

    def fmod(self, other: Any) -> Tensor:
        return _F.fmod(self, other)

    def copysign(self, other: Any) -> Tensor:
        return _F.copysign(self, other)

    def bitwise_and(self, other: Any) -> Tensor:
        return _F.bitwise_and(self, other)

    def bitwise_or(self, other: Any) -> Tensor:
        return _F.bitwise_or(self, other)

    def bitwise_xor(self, other: Any) -> Tensor:
        return _F.bitwise_xor(self, other)

    def bitwise_not(self) -> Tensor:
        return _F.bitwise_not(self)

    def bitwise_left_shift(self, other: Any) -> Tensor:
        return _F.bitwise_left_shift(self, other)

    def bitwise_right_shift(self, other: Any) -> Tensor:
        return _F.bitwise_right_shift(self, other)

    def neg(self) -> Tensor:
        return _F.neg(self)

    def t(self) -> Tensor:
        """The transpose of a matrix (a vector or 0-d tensor unchanged), as torch."""
        if self.ndim > 2:
            raise OpError(f"t: expects a tensor of at most 2 dimensions, got shape "
                          f"{self.shape}")
        return _F.transpose(self) if self.ndim == 2 else self

    def expand_as(self, other: Tensor) -> Tensor:
        return _F.broadcast_to(self, other.shape)

    def view_as(self, other: Tensor) -> Tensor:
        return _F.reshape(self, other.shape)

    reshape_as = view_as

    def type_as(self, other: Tensor) -> Tensor:
        return _F.astype(self, other.dtype)

    negative = neg

    def chunk(self, chunks: builtins.int, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return _F.chunk(self, chunks, dim)

    def unfold(self, dimension: builtins.int, size: builtins.int, step: builtins.int
               ) -> Tensor:
        return _F.unfold(self, dimension, size, step)

    def relu(self) -> Tensor:
        return _F.relu(self)

    def abs(self) -> Tensor:
        return _F.abs(self)

    def sign(self) -> Tensor:
        return _F.sign(self)

    def pow(self, exponent: Any) -> Tensor:
        return _F.pow(self, exponent)

    def maximum(self, other: Any) -> Tensor:
        return _F.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return _F.minimum(self, other)

    def clip(self, min: builtins.float | None = None,  # noqa: A002
             max: builtins.float | None = None) -> Tensor:  # noqa: A002
        return _F.clip(self, min, max)

    clamp = clip

    def sum(self, axis: Any = None, keepdims: bool = False, **kw: Any) -> Tensor:
        return _F.sum(self, axis, keepdims, **kw)

    def mean(self, axis: Any = None, keepdims: bool = False, **kw: Any) -> Tensor:
        return _F.mean(self, axis, keepdims, **kw)

    def var(self, axis: Any = None, keepdims: bool = False, **kw: Any) -> Tensor:
        return _F.var(self, axis, keepdims, **kw)

    def std(self, axis: Any = None, keepdims: bool = False, **kw: Any) -> Tensor:
        return _F.std(self, axis, keepdims, **kw)

    def max(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
        return _F.max(self, dim, keepdim, **kw)

    def min(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
        return _F.min(self, dim, keepdim, **kw)

    def amax(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _F.amax(self, dim, keepdim)

    def amin(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _F.amin(self, dim, keepdim)

    def argmax(self, axis: int | None = None, keepdims: bool = False, **kw: Any) -> Tensor:
        return _F.argmax(self, axis, keepdims, **kw)

    def argmin(self, axis: int | None = None, keepdims: bool = False, **kw: Any) -> Tensor:
        return _F.argmin(self, axis, keepdims, **kw)

    def logsumexp(self, axis: Any = None, keepdims: bool = False, **kw: Any) -> Tensor:
        return _F.logsumexp(self, axis, keepdims, **kw)

    def softmax(self, axis: int = -1, **kw: Any) -> Tensor:
        return _F.softmax(self, axis, **kw)

    def log_softmax(self, axis: int = -1, **kw: Any) -> Tensor:
        return _F.log_softmax(self, axis, **kw)

    def norm(self, axis: Any = None, keepdims: bool = False, **kw: Any) -> Tensor:
        return _F.norm(self, axis, keepdims, **kw)

    def any(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _F.any(self, dim, keepdim, **kw)

    def all(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _F.all(self, dim, keepdim, **kw)

    def reshape(self, *shape: Any) -> Tensor:
        return _F.reshape(self, *shape)

    def view(self, *shape: Any) -> Tensor:
        """``reshape``; or, given a dtype, the same bytes read as that dtype (no gradient),
        as torch.Tensor.view."""
        if len(shape) == 1 and not isinstance(shape[0], (builtins.int, tuple, list)):
            return _make(self.data.view(np.dtype(shape[0])))
        return _F.reshape(self, *shape)

    def permute(self, *dims: Any) -> Tensor:
        return _F.permute(self, *dims)

    def transpose(self, *dims: Any) -> Tensor:
        return _F.transpose(self, *dims)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        return _F.swapaxes(self, axis1, axis2)

    def squeeze(self, axis: Any = None, **kw: Any) -> Tensor:
        return _F.squeeze(self, axis, **kw)

    def unsqueeze(self, dim: int) -> Tensor:
        return _F.unsqueeze(self, dim)

    def expand(self, *sizes: Any) -> Tensor:
        return _F.expand(self, *sizes)

    def broadcast_to(self, shape: Any) -> Tensor:
        return _F.broadcast_to(self, shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _F.flatten(self, start_dim, end_dim)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        return _F.split(self, split_size_or_sections, dim)

    def matmul(self, other: Any) -> Tensor:
        return _F.matmul(self, other)

    def astype(self, dtype: Any) -> Tensor:
        return _F.astype(self, dtype)

    def type(self, dtype: Any = None) -> Any:
        """Cast to ``dtype``; without one, the dtype's name (torch.Tensor.type)."""
        return self.data.dtype.name if dtype is None else _F.astype(self, dtype)

    def float(self) -> Tensor:
        return _F.astype(self, np.float32)

    def half(self) -> Tensor:
        return _F.astype(self, np.float16)

    def int(self) -> Tensor:
        return _F.astype(self, np.int32)

    def long(self) -> Tensor:
        return _F.astype(self, np.int64)

    def bool(self) -> Tensor:
        return _F.astype(self, np.bool_)

    def double(self) -> Tensor:
        return _F.astype(self, np.float64)

    def clone(self) -> Tensor:
        """A copy with its own memory; gradients flow back to ``self``."""
        return _F.mul(self, 1)

    # ------------------------------------------------------------------ in-place
    # Each in-place op is its out-of-place twin written back into ``self.data``: the
    # version stamp makes backward refuse values that were saved before the write, and
    # ``self.grad_fn`` becomes the new op's node, whose parent is the old one, so gradients
    # stay right -- PyTorch's semantics.
    def add_(self, other: Any, *, alpha: builtins.float = 1) -> Tensor:
        return self._inplace("add_", _P.ADD, other * alpha if alpha != 1 else other)

    def sub_(self, other: Any, *, alpha: builtins.float = 1) -> Tensor:
        return self._inplace("sub_", _P.SUB, other * alpha if alpha != 1 else other)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", _P.MUL, other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", _P.DIV, other)

    def zero_(self) -> Tensor:
        return self._inplace("zero_", None, 0)

    def fill_(self, value: builtins.float) -> Tensor:
        return self._inplace("fill_", None, value)

    def copy_(self, src: Any) -> Tensor:
        return self._inplace("copy_", None, src)

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace("+=", _P.ADD, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace("-=", _P.SUB, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace("*=", _P.MUL, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace("/=", _P.DIV, other)

    def __setitem__(self, index: Any, value: Any) -> None:
        self._inplace("__setitem__", None, value, index)

    def _inplace(self, name: str, op: Op | None, other: Any, index: Any = Ellipsis) -> Tensor:
        """Apply ``op(self, other)`` (or, with ``op=None``, ``self[index] = other``) in place."""
        recording = STATE.grad_enabled and (
            self.requires_grad or (isinstance(other, Tensor) and other.requires_grad))
        fn = self.grad_fn
        if recording and fn is None and self.requires_grad:
            raise RuntimeError(
                f"{name}: {self._describe()} is a leaf that requires grad and cannot be "
                f"modified in place while gradients are recorded; update it under "
                f"`with no_grad():` (as optimizers do) or use the out-of-place form")
        if recording and fn is not None and fn.op_name in _VIEW_OPS:
            raise RuntimeError(
                f"{name}: {self._describe()} is a view (made by '{fn.op_name}') of a tensor "
                f"in a graph; in-place writes through views are not supported, use the "
                f"out-of-place form (e.g. where(...) or cat(...))")
        if not self.data.flags.writeable:
            raise RuntimeError(f"{name}: {self._describe()} is a read-only broadcast view "
                               f"(from expand/broadcast_to) and cannot be written in place")
        result: Tensor | None = None
        # Recorded against an alias of the value before the write (same array, version
        # cell and node): the new node must not hold ``self``, whose grad_fn it becomes.
        src = self._alias() if recording else self
        if op is None:
            if recording:
                result = _F.setitem(src, index, other)
                new = result.data
            else:
                new = other.data if isinstance(other, Tensor) else other
        else:
            result = _binary(op, src, other)
            new = result.data
        try:
            if op is None and not recording:
                self.data[index] = new
            else:
                np.copyto(self.data, new, casting="same_kind")
        except (TypeError, ValueError) as e:
            raise type(e)(f"{name}: cannot write the result into {self._describe()}: "
                          f"{e}") from None
        bump_version(self)
        if recording and result is not None and result.grad_fn is not None:
            # The new node's parent is the old node (or self as a leaf): earlier consumers
            # keep the old node, so nothing else needs rewiring.
            label = self.name
            self.grad_fn = result.grad_fn
            self.requires_grad = True
            if label is not None:
                self.name = label  # the name follows the tensor to its new node
        return self

    def _alias(self) -> Tensor:
        """Another Tensor object for the same array, version cell and graph node."""
        t = _make(self.data)
        t.requires_grad, t.grad_fn, t._vc = self.requires_grad, self.grad_fn, self._share_version()
        return t

    # ------------------------------------------------------------------ operators
    def __add__(self, other: Any) -> Tensor:
        return _binary(_P.ADD, self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _binary(_P.ADD, other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _binary(_P.SUB, self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _binary(_P.SUB, other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _binary(_P.MUL, self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _binary(_P.MUL, other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _binary(_P.DIV, self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _binary(_P.DIV, other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _binary(_P.POW, self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _binary(_P.POW, other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _F.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _F.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _unary(_P.NEG, self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _unary(_P.ABS, self)

    def __getitem__(self, index: Any) -> Tensor:
        return _F.getitem(self, index)

    # Comparisons and logic give boolean tensors that never require grad.
    def __lt__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(operator.lt, self, other)

    def __le__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(operator.le, self, other)

    def __gt__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(operator.gt, self, other)

    def __ge__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(operator.ge, self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(operator.eq, self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(operator.ne, self, other)

    # Bitwise on integer tensors, logical on boolean ones (as torch); no gradient.
    def __and__(self, other: Any) -> Tensor:
        return _F.bitwise_and(self, other)

    def __or__(self, other: Any) -> Tensor:
        return _F.bitwise_or(self, other)

    def __xor__(self, other: Any) -> Tensor:
        return _F.bitwise_xor(self, other)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self) -> Tensor:
        return _F.bitwise_not(self)

    def __lshift__(self, other: Any) -> Tensor:
        return _F.bitwise_left_shift(self, other)

    def __rshift__(self, other: Any) -> Tensor:
        return _F.bitwise_right_shift(self, other)

    def __mod__(self, other: Any) -> Tensor:
        return _F.remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return _F.remainder(other, self)

    def __floordiv__(self, other: Any) -> Tensor:
        return _F.floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return _F.floor_divide(other, self)


_VIEW_OPS = frozenset({"reshape", "transpose", "expand", "getitem"})


class _HookHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    _next = 0

    def __init__(self, hooks: dict[int, Callable]) -> None:
        _HookHandle._next += 1
        self.key = _HookHandle._next
        self.hooks = hooks

    def remove(self) -> None:
        self.hooks.pop(self.key, None)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """A Tensor that shares ``data``'s memory when it is an array of the right dtype (as
    torch.as_tensor), so writes to either show in both; otherwise a converted copy."""
    t = _new(Tensor)
    t._init(_to_array(data, dtype, copy=False), False)
    return t


def from_numpy(array: np.ndarray) -> Tensor:
    """A Tensor sharing ``array``'s memory (torch.from_numpy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return as_tensor(array)


def _leaf(data: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A leaf around a fresh array the library just made (no copy)."""
    t = _new(Tensor)
    t._init(data, requires_grad)
    return t


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, device: Any = None
           ) -> Tensor:
    """Make a Tensor (``torch.tensor`` spelling): always a copy of ``data``.  ``device``
    puts it on another array library or device, as ``Tensor.to`` takes it (a namespace
    such as ``array_api_strict`` or ``cupy``, or a device of the data's library).

    >>> tensor([1.0, 2]).dtype, tensor([1, 2]).dtype
    (dtype('float32'), dtype('int64'))
    """
    if device is None:
        return Tensor(data, requires_grad=requires_grad, dtype=dtype)
    t = Tensor(data, dtype=dtype)
    moved = backends.move(t.data, device)
    if moved is not t.data:
        if type(moved) is not np.ndarray:
            _use_array_namespaces()
        t = _leaf(moved)
    return t.requires_grad_(requires_grad) if requires_grad else t


# ---------------------------------------------------------------------- application
_new = object.__new__


class TensorNode(Recorded):
    """The graph node of a Tensor made by an op (its ``grad_fn``): the op, the inputs'
    nodes, the values its rules read, and the output's shape and dtype -- not the output.

    It answers ``.data`` with itself: where a rule receives an input it does not read, it
    gets this node, which has the ``shape``, ``dtype`` and ``ndim`` a rule may still ask.

    It has no ``__init__`` (nor has any base): `_made_of` makes one per op by calling the
    class, which then sets no field (CPython's ``type.__call__`` costs less than
    ``object.__new__(cls)`` called from Python, which repacks its arguments).
    """

    __slots__ = ("dtype", "shape")

    shape: tuple[int, ...]
    dtype: np.dtype
    _plain_ns = NUMPY_NS

    @property
    def data(self) -> TensorNode:
        return self

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def grad(self) -> Tensor | None:
        """The ``.grad`` of the tensor that called ``retain_grad()``, if it is alive."""
        holder = self._retains_grad() if self._retains_grad else None
        return None if holder is None else holder.grad

    def _graph_out(self) -> Tensor:
        t = _make(self._out)
        t.requires_grad, t.grad_fn, t._vc = True, self, self._vc
        return t

    def _accumulate(self, g: Any, create_graph: bool, fresh: bool) -> None:
        holder = self._retains_grad()  # retain_grad(): the tensor, if it is still alive
        if holder is not None:
            holder._accumulate(g, create_graph, fresh)

    _wrap_grad = Tensor._wrap_grad
    _unwrap_grad = Tensor._unwrap_grad

    def _describe(self) -> str:
        name = f"'{self.name}' " if self.name else ""
        return f"tensor {name}of shape {self.shape} and dtype {self.dtype} made by op " \
               f"'{self.op_name}'"

    def __repr__(self) -> str:
        return f"<{self.op_name} node: shape {self.shape}, dtype {self.dtype}>"


def _made_by(data: np.ndarray, op: Op, inputs: tuple, ctx: Any = None, fits: bool = False
             ) -> Tensor:
    """A Tensor around ``data`` made by ``op`` of ``inputs`` (any number), and its node:
    `_made_of`, handed one or two inputs as themselves."""
    n, dtype = len(inputs), data.dtype
    if n == 1:
        return _made_of(data, dtype, op, inputs[0], None, ctx, fits)
    if n == 2:
        return _made_of(data, dtype, op, inputs[0], inputs[1], ctx, fits)
    return _made_of(data, dtype, op, None, None, ctx, fits, inputs)


def _made_of(data: np.ndarray, dtype: np.dtype, op: Op, a: Any, b: Any, ctx: Any = None,
             fits: bool = False, inputs: tuple | None = None) -> Tensor:
    """A Tensor around ``data`` made by ``op`` of ``a`` (and ``b``, None for one input) or,
    of no or three and more inputs, of ``inputs`` (``a`` and ``b`` None); and its node.
    The hot path of every op in grad mode: the inputs come as themselves, not in a tuple,
    and each field is set once (``engine._record`` inlined).  ``dtype``: ``data.dtype``,
    which the caller has read already (CPython 3.11 does not specialize an ndarray
    attribute read, so each costs a full lookup).  ``fits``: the caller knows the
    gradients fit their inputs (``Recorded._fits``)."""
    node = TensorNode()  # the class's own call: ~300 instructions less than object.__new__
    # Set here although always the same: backward reads both of every node, and CPython
    # 3.11 does not specialize a class attribute read through an instance (a store is cheaper).
    node.requires_grad = True
    node._hooks = None
    node._pending = None
    node.dtype = dtype
    # ``like``: an input's node of the output's shape, when one is known to be (the output
    # of a fitting or elementwise op): its shape tuple is shared, where ``data.shape``
    # would build a new one.
    like = None
    # _saved: per input, the input itself where a rule that will run reads it, else its
    # node; () where no rule that will run reads an input (see Recorded).
    if b is not None:
        fa, fb = a.grad_fn, b.grad_fn  # a constant's is None too
        pa, pb = a if fa is None else fa, b if fb is None else fb
        node._a, node._b = pa, pb
        keep, out = op.plans[a.requires_grad + 2 * b.requires_grad]  # type: ignore[index]
        if keep is False:
            node._saved = ()
        else:
            ka, kb = (True, True) if keep is True else keep
            if (ka and fa is not None) or (kb and fb is not None):  # a value to keep alive
                node._saved = (a if ka else pa, b if kb else pb)
            else:  # each input read is its own node (a constant or a leaf): ``x * 2``
                node._saved = SAVED_PARENTS
        if fits:  # both inputs have the output's shape, or one is a number (no node)
            like = fa if fa is not None else fb
    elif a is not None:
        fa = a.grad_fn
        node._a = a if fa is None else fa
        node._b = None
        keep, out = op.plans[1]  # type: ignore[index]
        node._saved = () if not keep else SAVED_PARENTS if fa is None else (a,)
        if op.elementwise:
            like = fa
    else:
        assert inputs is not None
        parents = tuple([x._node for x in inputs])
        node._a, node._b = None, parents
        keep, out = op.plan(sum(x.requires_grad << i for i, x in enumerate(inputs)))
        node._saved = inputs if keep is True else () if keep is False else tuple(
            [x if k else p for x, p, k in zip(inputs, parents, keep, strict=True)])
    node.shape = data.shape if like is None else like.shape
    node._out = data if out else None
    node._op = op
    node._ctx = ctx
    node._fits = fits or op.elementwise
    node._seq = next(SEQ)
    if COUNTS.annotating and STATE.annotate:
        _annotate(node, data)
    t = _new(Tensor)  # not a graph node itself: _pending and _hooks stay unset
    t.data = data
    t._grad = None
    t.requires_grad = True
    t.grad_fn = node
    return t


class TracedNode(TensorNode):
    """While ag.compile records a call: the node of an op no gradient flows through (no
    input requires grad, or grad mode is off), kept so the plan recomputes its value on a
    replay instead of keeping it as a constant.  It never requires grad, so backward and
    every graph walk that follows ``requires_grad`` pass it by."""

    __slots__ = ()
    requires_grad = False  # type: ignore[misc]


def _traced(data: np.ndarray, op: Op, inputs: tuple, ctx: Any = None) -> Tensor:
    """The result of ``op`` that needs no gradient, while a call is being compiled: as
    `_make`'s, but with a `TracedNode` as ``grad_fn`` (``requires_grad`` stays False)."""
    t = _made_by(data, op, inputs, ctx)
    t.grad_fn.__class__ = TracedNode  # type: ignore[union-attr]
    t.requires_grad = False
    return t


def _make(data: np.ndarray) -> Tensor:
    """A leaf Tensor around ``data`` (no checks: the hot path of every op)."""
    t = _new(Tensor)
    t.data = data
    t._grad = None
    t.requires_grad = False
    t.grad_fn = None
    t._pending = None
    t._hooks = None
    return t


_PY_NUMBERS = (int, float, bool)


def _operand(x: Any, like: np.ndarray, op: Op) -> Any:
    """A non-Tensor operand as data.  A Python number next to a float array becomes a 0-d
    array of its dtype (``primitives.number_as``: same values, faster in the op and again
    in its rule), next to other arrays it stays a number (numpy keeps the array's dtype for
    it); arrays are cast to the tensor's float dtype so nothing promotes."""
    if type(like) is not np.ndarray and backends.is_foreign(like):
        return _as_data(x, like) if backends.is_floating(like.dtype) or type(
            x) in _PY_NUMBERS else backends.namespace(like).asarray(x)
    if type(x) in _PY_NUMBERS:  # exact types: np.float64 subclasses float but promotes
        dtype = like.dtype
        return _P.number_as(x, dtype) if dtype.kind == "f" else x
    if isinstance(x, Node):
        raise TypeError(f"{op.name}: cannot combine a Tensor with a {type(x).__name__}; "
                        f"Scalar and Tensor graphs do not mix (use Tensor(s.data) or "
                        f"Scalar(t.item()))")
    if backends.is_foreign(x):
        backends.check_same(op.name, (like, x))
    arr = np.asarray(x)
    if like.dtype.kind == "f" and arr.dtype.kind in "biuf" and arr.dtype != like.dtype:
        arr = arr.astype(like.dtype)
    elif arr.dtype.kind not in "biufc":
        raise TypeError(f"{op.name}: unsupported operand of type {type(x).__name__}")
    elif arr is x or arr.base is not None:  # the caller's memory: copy, as Tensor() does
        arr = arr.copy()
    return arr


def _shape_error(op: Op, *arrays: Any) -> OpError:
    shapes = " and ".join(str(np.shape(a)) for a in arrays)
    return OpError(f"{op.name}: shapes {shapes} cannot be broadcast together")


_NUMBER_CONSTS: dict[tuple[Any, np.dtype], Const] = {}


def _constant(x: Any, like: np.ndarray, op: Op, number: bool) -> Const:
    """The other operand of a Tensor as a graph constant (its data from `_operand`);
    ``number``: ``x`` is a Python number (the caller has tested it).  The constant of a
    cached number is itself shared: it is immutable, never requires grad, and no graph walk
    writes to it, so one object can stand in any number of graphs."""
    if number:
        c = _NUMBER_CONSTS.get((x, like.dtype))
        if c is not None:
            return c
        c = const(_operand(x, like, op))
        if (x, like.dtype) in _P.NUMBERS:  # number_as cached it: cache its constant too
            _NUMBER_CONSTS[x, like.dtype] = c
        return c
    return const(_operand(x, like, op))


def _float_result(data: np.ndarray, *inputs: Any) -> np.ndarray:
    """The dtype rule where integers meet floats (PyTorch's): a float result takes the
    widest float input's dtype, or the default float dtype when no input is a float array
    (``ints / 2``, ``ints.exp()``, ``ints * 1.5``) -- numpy would give float64."""
    floats = [x.dtype for x in inputs if isinstance(x, np.ndarray) and x.dtype.kind == "f"]
    dtype = np.result_type(*floats) if floats else _DEFAULT_DTYPE[0]
    return data if data.dtype == dtype else data.astype(dtype)


def _binary(op: Op, a: Any, b: Any) -> Tensor:
    """Apply an elementwise binary primitive; one side may be a number or an array."""
    # With a Python number on one side, the gradient fits the tensor side as it is (the
    # number became a 0-d array of its dtype): see Node._fits.
    number = False
    if isinstance(a, Tensor):
        ad = a.data
        if type(ad) is not _ndarray:
            return _foreign_op(op, (a, b), ())
        if isinstance(b, Tensor):
            bd = b.data
            if type(bd) is not _ndarray:
                return _foreign_op(op, (a, b), ())
        else:
            number = type(b) in _PY_NUMBERS
            # The cache hit of _constant, inlined: most operands are a few repeated numbers.
            c = _NUMBER_CONSTS.get((b, ad.dtype)) if number else None
            b = c if c is not None else _constant(b, ad, op, number)
            bd = b.data
    else:
        bd = b.data
        if type(bd) is not _ndarray:
            return _foreign_op(op, (a, b), ())
        number = type(a) in _PY_NUMBERS
        c = _NUMBER_CONSTS.get((a, bd.dtype)) if number else None
        a = c if c is not None else _constant(a, bd, op, number)
        ad = a.data
    try:
        data = op.fwd(ad, bd)
    except ValueError:
        raise _shape_error(op, ad, bd) from None
    if type(data) is not _ndarray:
        data = _asarray(data)
    dtype = data.dtype
    if (type(ad) is not _ndarray or dtype is not ad.dtype) and dtype.kind == "f":
        data = _float_result(data, ad, bd)
        dtype = data.dtype
    if (a.requires_grad or b.requires_grad) and (not COUNTS.grad_off or STATE.grad_enabled):
        return _made_of(data, dtype, op, a, b, None,
                        number or (ad.dtype is bd.dtype and ad.shape == bd.shape))
    return _make(data) if STATE.tracer is None else _traced(data, op, (a, b))


def _unary(op: Op, a: Any, *ctx: Any) -> Tensor:
    """Apply a one-input primitive; ``ctx`` are its extra forward arguments."""
    if not isinstance(a, Tensor):
        a = Tensor(a)
    ad = a.data
    if type(ad) is not _ndarray:
        return _foreign_op(op, (a,), ctx)
    data = op.fwd(ad, *ctx) if ctx else op.fwd(ad)
    if type(data) is not _ndarray:
        data = _asarray(data)
    dtype = data.dtype
    if dtype is not ad.dtype and dtype.kind == "f" and op is not _P.CAST:
        data = _float_result(data, ad)
        dtype = data.dtype
    if a.requires_grad and (not COUNTS.grad_off or STATE.grad_enabled):
        return _made_of(data, dtype, op, a, None, ctx or None)
    return _make(data) if STATE.tracer is None else _traced(data, op, (a,), ctx or None)


def _apply(op: Op, inputs: tuple[Tensor | Const, ...], data: Any, ctx: Any = None,
           view_of: Tensor | None = None) -> Tensor:
    """Wrap an already computed ``data`` as the output of ``op`` applied to ``inputs``.

    ``view_of``: the output shares memory with that input, so they share a version counter
    (an in-place write through either is seen by the other's saved-value check).
    """
    if type(data) is not np.ndarray and not backends.is_foreign(data):
        data = np.asarray(data)
    out = None
    if not COUNTS.grad_off or STATE.grad_enabled:
        for x in inputs:
            if x.requires_grad:
                out = _made_by(data, op, inputs, ctx)
                break
    if out is None:
        out = _make(data) if STATE.tracer is None else _traced(data, op, inputs, ctx)
    if view_of is not None:
        out._vc = view_of._share_version()
    return out


def _as_data(x: Any, like: Any) -> Any:
    """``x`` (an array, list or number) as an array of ``like``'s library, device and dtype."""
    if isinstance(like, np.ndarray | np.generic):
        return np.asarray(x, like.dtype)
    if backends.is_foreign(x):
        backends.check_same("tensor", (like, x))
    return backends.namespace(like).asarray(x, dtype=like.dtype,
                                            device=backends.device_of(like))


def _fwd(op: Op, first: Any, *args: Any) -> Any:
    """``op``'s forward on its inputs' arrays: the numpy one, or the array-API one."""
    if type(first) is np.ndarray:
        for a in args:  # numpy would read another library's array silently
            if type(a) is not np.ndarray and hasattr(a, "shape") and backends.is_foreign(a):
                backends.check_same(op.name, (first, a))
        return op.fwd(first, *args)
    # Tensors of two libraries never meet here: numpy constants (indices, masks) move
    xp = backends.check_same(op.name, [first, *[a for a in args if backends.is_foreign(a)]])
    _on_other_library(first)
    return backends.forward(op)(xp, first, *args)


def _foreign_op(op: Op, inputs: tuple, ctx: tuple) -> Tensor:
    """``_binary`` / ``_unary`` for arrays of another library: operands become arrays of the
    tensors' library, device and dtype (a float tensor's dtype for every number and integer
    operand, as numpy's path), and mixing libraries or devices raises."""
    like = next(x.data for x in inputs if isinstance(x, Tensor))
    xp = backends.namespace(like)
    _on_other_library(like)
    floating = backends.is_floating(like.dtype)
    items: list[Tensor | Const] = []
    for x in inputs:
        if isinstance(x, Tensor):
            items.append(x)
        elif isinstance(x, Node):
            raise TypeError(f"{op.name}: cannot combine a Tensor with a {type(x).__name__}")
        else:
            items.append(const(_as_data(x, like) if floating or type(x) in _PY_NUMBERS
                               else xp.asarray(x, device=backends.device_of(like))))
    backends.check_same(op.name, [x.data for x in items])
    if floating:  # an integer operand of a float op takes its dtype (numpy's path promotes),
        items = [x if backends.is_floating(x.data.dtype)  # as a constant: the rules read it
                 else const(xp.astype(x.data, like.dtype)) for x in items]
    datas = [x.data for x in items]
    try:
        data = backends.forward(op)(xp, *datas, *ctx)
    except backends.BackendError:
        raise
    except (ValueError, TypeError) as e:
        shapes = " and ".join(str(tuple(d.shape)) for d in datas)
        raise OpError(f"{op.name}: cannot apply to {backends.describe(like)} of shapes "
                      f"{shapes}: {e}") from None
    fits = op.elementwise or all(d.shape == data.shape and d.dtype == data.dtype
                                 for d in datas)
    if STATE.grad_enabled and any(x.requires_grad for x in items):
        return _made_by(data, op, tuple(items), ctx or None, fits)
    return _make(data) if STATE.tracer is None else _traced(data, op, tuple(items), ctx or None)


def _compare(fn: Callable, a: Tensor, b: Any) -> Tensor:
    bd = b.data if isinstance(b, Tensor) else b
    if isinstance(bd, Node):
        raise TypeError(f"comparison: cannot compare a Tensor with a {type(b).__name__}")
    try:
        out = _make(_compared(fn, a.data, bd))
    except ValueError:
        raise OpError(f"comparison: shapes {a.data.shape} and {np.shape(bd)} cannot be "
                      f"broadcast together") from None
    if STATE.tracer is not None:  # ag.compile: a mask computed outside the graph
        STATE.tracer.outside(functools.partial(_compared, fn), (a, b), (out,))
    return out


def _compared(fn: Callable, a: Any, b: Any) -> np.ndarray:
    r = fn(a, b)
    return r if type(r) is np.ndarray or backends.is_foreign(r) else np.asarray(r)


def _reads_value(what: str) -> None:
    """Refuse, while ag.compile records, what turns a tensor's value into Python."""
    if STATE.tracer is not None:
        STATE.tracer.refuse(f"{what} (it turns a tensor's value into a Python value, "
                            f"which a plan would keep as a constant)")


from . import ops as _F  # noqa: E402  (methods below the class call the functional API)

# torch's smaller Tensor methods: the functional op itself, as its first argument is the
# tensor (``x.square()`` is ``ops.square(x)``; the signatures and docstrings are the ops').
for _name in ("clamp_min", "clamp_max", "expm1", "atan2", "arctan2", "square", "reciprocal",
              "hypot", "logit", "xlogy", "frac", "deg2rad", "rad2deg", "signbit",
              "nan_to_num", "unbind", "select", "narrow", "index_select", "movedim",
              "moveaxis", "tile", "diff", "trace", "count_nonzero", "nansum", "nanmean", "dot",
              "mm", "bmm", "mv", "outer", "addcmul", "addcdiv"):
    setattr(Tensor, _name, getattr(_F, _name))
