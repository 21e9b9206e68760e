"""The Tensor functional API: thin wrappers over the primitives, and compositions of them.

Composite functions (``mean``, ``var``, ``logsumexp``, ``softmax``, ``stack``, ...) have no
backward code of their own: their gradients come from the primitives they are built of.
Three neighbours hold the rest of the API and are re-exported here: ``selection``
(gather/scatter, sort/topk, masks), ``linalg`` (einsum, named products) and ``creation``
(zeros, arange, randn, ...).
"""

from __future__ import annotations

import builtins
import functools
import operator
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, NamedTuple

import numpy as np

from . import backends
from . import primitives as P
from .backends import namespace as _namespace
from .engine import STATE, const
from .errors import OpError, OpTypeError
from .namespaces import NUMPY_NS, broadcast_axes
from .tensor import (
    Tensor,
    TensorNode,
    _apply,
    _binary,
    _fwd,
    _leaf,
    _make,
    _operand,
    _traced,
    _unary,
)
from .tracing import outside

__all__ = [
    "abs",
    "acos",
    "acosh",
    "add",
    "addcdiv",
    "addcmul",
    "addmm",
    "all",
    "allclose",
    "amax",
    "amin",
    "any",
    "arange",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "argmax",
    "argmin",
    "argsort",
    "asin",
    "asinh",
    "astype",
    "atan",
    "atan2",
    "atanh",
    "bitwise_and",
    "bitwise_left_shift",
    "bitwise_not",
    "bitwise_or",
    "bitwise_right_shift",
    "bitwise_xor",
    "bmm",
    "broadcast_to",
    "cat",
    "ceil",
    "chunk",
    "clamp",
    "clamp_max",
    "clamp_min",
    "clip",
    "concatenate",
    "copysign",
    "cos",
    "cosh",
    "count_nonzero",
    "cummax",
    "cummin",
    "cumprod",
    "cumsum",
    "deg2rad",
    "diag",
    "diagonal",
    "diff",
    "div",
    "dot",
    "einsum",
    "empty",
    "empty_like",
    "erf",
    "exp",
    "exp2",
    "expand",
    "expm1",
    "eye",
    "fix",
    "flatten",
    "flip",
    "floor",
    "floor_divide",
    "fmod",
    "fold_windows",
    "frac",
    "full",
    "full_like",
    "gather",
    "getitem",
    "hstack",
    "hypot",
    "index_select",
    "isclose",
    "isfinite",
    "isinf",
    "isnan",
    "lerp",
    "linspace",
    "log",
    "log10",
    "log1p",
    "log2",
    "log_softmax",
    "logaddexp",
    "logcumsumexp",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "logit",
    "logsumexp",
    "masked_fill",
    "masked_select",
    "matmul",
    "max",
    "maximum",
    "mean",
    "meshgrid",
    "min",
    "minimum",
    "mm",
    "moveaxis",
    "movedim",
    "mul",
    "mv",
    "nan_to_num",
    "nanmean",
    "nansum",
    "narrow",
    "neg",
    "nonzero",
    "norm",
    "ones",
    "ones_like",
    "outer",
    "pad",
    "permute",
    "pow",
    "prod",
    "rad2deg",
    "rand",
    "randint",
    "randn",
    "reciprocal",
    "relu",
    "remainder",
    "repeat",
    "repeat_interleave",
    "reshape",
    "roll",
    "round",
    "rsqrt",
    "scatter",
    "scatter_add",
    "scatter_reduce",
    "select",
    "setitem",
    "sigmoid",
    "sign",
    "signbit",
    "sin",
    "sinh",
    "sliding_windows",
    "softmax",
    "sort",
    "split",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "std_mean",
    "sub",
    "sum",
    "swapaxes",
    "take_along_dim",
    "tan",
    "tanh",
    "tensordot",
    "tile",
    "topk",
    "trace",
    "transpose",
    "tril",
    "triu",
    "trunc",
    "unbind",
    "unflatten",
    "unfold",
    "unsqueeze",
    "var",
    "var_mean",
    "vstack",
    "where",
    "window_max",
    "xlogy",
    "zeros",
    "zeros_like",
]


def _t(x: Any, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor (numbers/arrays become constants; dtype follows ``like``)."""
    if isinstance(x, Tensor):
        return x
    if like is not None:
        return _make(np.asarray(_operand(x, like.data, P.ADD)))
    return Tensor(x)


def _axes(x: Tensor, axis: Any, dim: Any = None) -> tuple[int, ...] | None:
    """Normalise ``axis`` (or PyTorch's ``dim``) to a sorted tuple of non-negative ints."""
    if dim is not None:
        if axis is not None:
            raise TypeError("pass either axis= or dim=, not both")
        axis = dim
    if axis is None:
        return None
    nd = x.data.ndim
    items = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in items:
        a = operator.index(a)
        if not -builtins.max(nd, 1) <= a < builtins.max(nd, 1):
            raise IndexError(f"dimension {a} is out of range for a tensor of shape "
                             f"{x.data.shape}")
        out.append(a % builtins.max(nd, 1))
    # A 0-d tensor takes dim 0 or -1 (as torch) and has no axis to reduce.
    return tuple(sorted(set(out))) if nd else ()


def _keep(keepdims: bool, keepdim: bool | None) -> bool:
    return bool(keepdims if keepdim is None else keepdim)


# ------------------------------------------------------------------- elementwise
def add(a: Any, b: Any) -> Tensor:
    """``a + b`` with numpy broadcasting."""
    return _binary(P.ADD, a, b)


def sub(a: Any, b: Any) -> Tensor:
    """``a - b`` with numpy broadcasting."""
    return _binary(P.SUB, a, b)


def mul(a: Any, b: Any) -> Tensor:
    """``a * b`` with numpy broadcasting."""
    return _binary(P.MUL, a, b)


def div(a: Any, b: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``a / b`` with numpy broadcasting; ``rounding_mode`` "trunc" or "floor" rounds the
    quotient (zero gradient, as torch), in the inputs' dtype for integers."""
    if rounding_mode is None:
        return _binary(P.DIV, a, b)
    if rounding_mode not in ("trunc", "floor"):
        raise OpError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                      f"{rounding_mode!r}")
    ad, bd = _data(a), _data(b)
    # integers stay integers: exact, no float
    if not builtins.any(backends.is_floating(v.dtype if hasattr(v, "dtype") else
                                             np.result_type(v)) for v in (ad, bd)):
        return outside(functools.partial(_integer_div, rounding_mode), a, b)
    return (floor if rounding_mode == "floor" else trunc)(_binary(P.DIV, a, b))


def _integer_div(rounding_mode: str, a: Any, b: Any) -> np.ndarray:
    q = np.floor_divide(a, b)
    if rounding_mode == "trunc":  # floor rounds down: one less toward zero when signs differ
        q = q + ((np.remainder(a, b) != 0) & ((np.sign(a) * np.sign(b)) < 0))
    return np.asarray(q)


def floor_divide(a: Any, b: Any) -> Tensor:
    """``a // b``: the quotient rounded down (torch.floor_divide)."""
    return div(a, b, rounding_mode="floor")


def remainder(a: Any, b: Any) -> Tensor:
    """``a % b`` with the sign of ``b`` (torch.remainder, Python's %); gradients 1 and
    ``-floor(a / b)``."""
    return _binary(P.REMAINDER, a, b)


def fmod(a: Any, b: Any) -> Tensor:
    """C's fmod: ``a - trunc(a / b)·b``, with the sign of ``a`` (torch.fmod)."""
    return _binary(P.FMOD, a, b)


def copysign(a: Any, b: Any) -> Tensor:
    """``|a|`` with the sign of ``b`` (-0.0 counts as negative); ``b``'s gradient is 0."""
    return _binary(P.COPYSIGN, a, b)


def _bitwise(fn: Any, who: str, *xs: Any) -> Tensor:
    """An integer or boolean Tensor from a numpy bitwise function (no gradient)."""
    data = [_data(x) for x in xs]
    if builtins.any(np.result_type(d).kind not in "biu" for d in data):
        raise OpTypeError(f"{who}: needs integer or boolean tensors, got "
                          f"{', '.join(str(np.result_type(d)) for d in data)}")
    return outside(fn, *xs)


def bitwise_and(a: Any, b: Any) -> Tensor:
    return _bitwise(np.bitwise_and, "bitwise_and", a, b)


def bitwise_or(a: Any, b: Any) -> Tensor:
    return _bitwise(np.bitwise_or, "bitwise_or", a, b)


def bitwise_xor(a: Any, b: Any) -> Tensor:
    return _bitwise(np.bitwise_xor, "bitwise_xor", a, b)


def bitwise_not(x: Any) -> Tensor:
    return _bitwise(np.invert, "bitwise_not", x)


def bitwise_left_shift(a: Any, b: Any) -> Tensor:
    return _bitwise(np.left_shift, "bitwise_left_shift", a, b)


def bitwise_right_shift(a: Any, b: Any) -> Tensor:
    return _bitwise(np.right_shift, "bitwise_right_shift", a, b)


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001  (torch.pow)
    """``a ** b``; the gradient in ``b`` needs ``a > 0``."""
    return _binary(P.POW, a, b)


def neg(x: Tensor) -> Tensor:
    return _unary(P.NEG, x)


def exp(x: Tensor) -> Tensor:
    """e**x.  >>> exp(Tensor([0.0])).tolist()
    [1.0]"""
    return _unary(P.EXP, x)


def log(x: Tensor) -> Tensor:
    """Natural logarithm (domain x > 0)."""
    return _unary(P.LOG, x)


def log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate for small x (domain x > -1)."""
    return _unary(P.LOG1P, x)


def sqrt(x: Tensor) -> Tensor:
    """Square root; its gradient at 0 is defined as 0 (see the kinks table)."""
    return _unary(P.SQRT, x)


def sin(x: Tensor) -> Tensor:
    return _unary(P.SIN, x)


def cos(x: Tensor) -> Tensor:
    return _unary(P.COS, x)


def tanh(x: Tensor) -> Tensor:
    return _unary(P.TANH, x)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e**-x), computed stably at both tails."""
    return _unary(P.SIGMOID, x)


def tan(x: Tensor) -> Tensor:
    return _unary(P.TAN, x)


def asin(x: Tensor) -> Tensor:
    """Inverse sine (domain -1 <= x <= 1; the gradient is inf at ±1)."""
    return _unary(P.ASIN, x)


def acos(x: Tensor) -> Tensor:
    """Inverse cosine (domain -1 <= x <= 1; the gradient is -inf at ±1)."""
    return _unary(P.ACOS, x)


def atan(x: Tensor) -> Tensor:
    return _unary(P.ATAN, x)


def sinh(x: Tensor) -> Tensor:
    return _unary(P.SINH, x)


def cosh(x: Tensor) -> Tensor:
    return _unary(P.COSH, x)


def asinh(x: Tensor) -> Tensor:
    return _unary(P.ASINH, x)


def acosh(x: Tensor) -> Tensor:
    """Inverse hyperbolic cosine (domain x >= 1)."""
    return _unary(P.ACOSH, x)


def atanh(x: Tensor) -> Tensor:
    """Inverse hyperbolic tangent (domain -1 < x < 1)."""
    return _unary(P.ATANH, x)


def erf(x: Tensor) -> Tensor:
    """The error function 2/sqrt(pi) ∫₀ˣ e^(-t²) dt (math.erf per element: numpy has none)."""
    return _unary(P.ERF, x)


def exp2(x: Tensor) -> Tensor:
    """2**x."""
    return _unary(P.EXP2, x)


def log2(x: Tensor) -> Tensor:
    """Base-2 logarithm (domain x > 0)."""
    return _unary(P.LOG2, x)


def log10(x: Tensor) -> Tensor:
    """Base-10 logarithm (domain x > 0)."""
    return _unary(P.LOG10, x)


def floor(x: Tensor) -> Tensor:
    """Largest integer <= x, as a float tensor; gradient 0 (as PyTorch)."""
    return _unary(P.FLOOR, x)


def ceil(x: Tensor) -> Tensor:
    """Smallest integer >= x, as a float tensor; gradient 0 (as PyTorch)."""
    return _unary(P.CEIL, x)


def trunc(x: Tensor) -> Tensor:
    """x rounded toward zero; gradient 0 (as PyTorch)."""
    return _unary(P.TRUNC, x)


def round(x: Tensor, decimals: int = 0) -> Tensor:  # noqa: A001  (torch.round)
    """Round half to even (as torch.round and numpy), to ``decimals`` places; gradient 0."""
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    return _unary(P.ROUND, x, decimals)


def rsqrt(x: Tensor) -> Tensor:
    """1 / sqrt(x) (domain x > 0; inf at 0, as PyTorch)."""
    return pow(x, -0.5)


# numpy's and PyTorch's other spellings
arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh
fix = trunc


def relu(x: Tensor) -> Tensor:
    """max(x, 0); relu'(0) = 0."""
    return _unary(P.RELU, x)


def abs(x: Tensor) -> Tensor:  # noqa: A001  (torch.abs)
    """|x|; abs'(0) = 0."""
    return _unary(P.ABS, x)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; at ties each input gets half the gradient."""
    return _binary(P.MAXIMUM, a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum; at ties each input gets half the gradient."""
    return _binary(P.MINIMUM, a, b)


def clip(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """Limit values to [min, max]; the gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise OpError("clip: at least one of min and max must be given")
    return _unary(P.CLIP, _t(x), min, max)


clamp = clip


def clamp_min(x: Tensor, min: float) -> Tensor:  # noqa: A002
    return clip(x, min, None)


def clamp_max(x: Tensor, max: float) -> Tensor:  # noqa: A002
    return clip(x, None, max)


def expm1(x: Tensor) -> Tensor:
    """exp(x) − 1, accurate for small x."""
    return _unary(P.EXPM1, _t(x))


def atan2(a: Any, b: Any) -> Tensor:
    """The angle of the point (b, a) in [−π, π] (torch.atan2; it jumps across a = 0 for
    b < 0)."""
    return _binary(P.ATAN2, a, b)


arctan2 = atan2


def square(x: Tensor) -> Tensor:
    return mul(x, x)


def reciprocal(x: Tensor) -> Tensor:
    return div(1.0, _t(x))


def hypot(a: Any, b: Any) -> Tensor:
    """sqrt(a² + b²) (its gradient at the origin is 0, as sqrt'(0))."""
    return sqrt(add(mul(a, a), mul(b, b)))


def logit(x: Tensor, eps: float | None = None) -> Tensor:
    """log(x / (1 − x)), with ``x`` clamped to [eps, 1 − eps] first when ``eps`` is given."""
    x = _t(x)
    if eps is not None:
        x = clip(x, eps, 1.0 - eps)
    return log(x) - log1p(-x)


def xlogy(a: Any, b: Any) -> Tensor:
    """a·log(b), and 0 where a == 0 (also for b == 0), with no gradient there, as
    torch.xlogy."""
    zero = _data(a) == 0
    if not P._anywhere(zero):
        return mul(a, log(b))
    safe = where(zero, 1.0, b)  # keeps log finite where the product is 0 anyway
    return where(zero, 0.0, mul(a, log(safe)))


def frac(x: Tensor) -> Tensor:
    """x − trunc(x): the fractional part, with x's sign (gradient 1)."""
    x = _t(x)
    return x - trunc(x)


def deg2rad(x: Tensor) -> Tensor:
    return mul(x, np.pi / 180.0)


def rad2deg(x: Tensor) -> Tensor:
    return mul(x, 180.0 / np.pi)


def signbit(x: Tensor) -> Tensor:
    """Whether the sign bit is set (-0.0 included); no gradient."""
    return _predicate(np.signbit, _t(x))


def nan_to_num(x: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """NaN and ±inf replaced by finite values (the dtype's extremes by default); the
    replaced elements get no gradient."""
    x = _t(x)
    info = np.finfo(backends.numpy_dtype(x.dtype)) if backends.is_floating(x.dtype) else None
    hi = posinf if posinf is not None else (info.max if info else 0)
    lo = neginf if neginf is not None else (info.min if info else 0)
    out = where(outside(np.isnan, x), nan, x)
    out = where(outside(np.isposinf, x), float(hi), out)
    return where(outside(np.isneginf, x), float(lo), out)


def _predicate(fn: Any, *xs: Any) -> Tensor:
    """A boolean Tensor from a numpy predicate of the inputs' data (no gradient)."""
    return outside(fn, *xs)


def isnan(x: Tensor) -> Tensor:
    return _predicate(np.isnan, _t(x))


def isinf(x: Tensor) -> Tensor:
    return _predicate(np.isinf, _t(x))


def isfinite(x: Tensor) -> Tensor:
    return _predicate(np.isfinite, _t(x))


def logical_not(x: Tensor) -> Tensor:
    return _predicate(np.logical_not, _t(x))


def logical_and(a: Any, b: Any) -> Tensor:
    return _predicate(np.logical_and, a, b)


def logical_or(a: Any, b: Any) -> Tensor:
    return _predicate(np.logical_or, a, b)


def logical_xor(a: Any, b: Any) -> Tensor:
    return _predicate(np.logical_xor, a, b)


def isclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """``|a − b| <= atol + rtol·|b|`` elementwise, as torch.isclose (a boolean Tensor)."""
    return _predicate(lambda x, y: np.isclose(x, y, rtol, atol, equal_nan), a, b)


def allclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether ``isclose`` holds everywhere (a Python bool, as torch.allclose)."""
    return bool(isclose(a, b, rtol, atol, equal_nan).data.all())


def any(x: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,  # noqa: A001
        keepdims: bool | None = None) -> Tensor:
    """Whether any element (over ``dim``) is nonzero: a boolean Tensor, as torch.any
    (``if t.any():`` still works: a one-element Tensor has a truth value)."""
    x = _t(x)
    axes, keep = _axes(x, axis, dim), _keep(keepdim, keepdims)
    return _predicate(lambda d: np.any(d, axes, keepdims=keep), x)


def all(x: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,  # noqa: A001
        keepdims: bool | None = None) -> Tensor:
    """Whether every element (over ``dim``) is nonzero: a boolean Tensor, as torch.all."""
    x = _t(x)
    axes, keep = _axes(x, axis, dim), _keep(keepdim, keepdims)
    return _predicate(lambda d: np.all(d, axes, keepdims=keep), x)


def lerp(start: Any, end: Any, weight: Any) -> Tensor:
    """``start + weight·(end − start)`` (torch.lerp; ``weight`` a number or a tensor)."""
    return add(start, mul(weight, sub(end, start)))


def logaddexp(a: Any, b: Any) -> Tensor:
    """``log(e^a + e^b)`` without overflow: ``max(a, b) + log1p(e^−|a−b|)``.  At a tie the
    gradient is ½ to each side (σ(0)), as the exact derivative σ(a − b) says."""
    return add(maximum(a, b), log1p(exp(neg(abs(sub(a, b))))))


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1; its gradient is 0 (recorded, as torch, so ``x.sign().sum().backward()``
    gives zeros)."""
    return _unary(P.SIGN, _t(x))


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """``x`` where ``condition`` holds, else ``y`` (numpy broadcasting)."""
    cond = condition.data if isinstance(condition, Tensor) else condition
    if not backends.is_foreign(cond):
        cond = np.asarray(cond)
    if type(cond) is not np.ndarray:  # another library's mask
        xp = _namespace(cond)
        cond = cond if cond.dtype == xp.bool else xp.astype(cond, xp.bool)
    elif cond.dtype != np.bool_:
        cond = cond.astype(bool)
    like = x if isinstance(x, Tensor) else y if isinstance(y, Tensor) else None
    if like is None:
        if type(cond) is np.ndarray:
            return _leaf(np.where(cond, x, y))
        xp, dev = _namespace(cond), backends.device_of(cond)
        return _leaf(xp.where(cond, xp.asarray(x, device=dev), xp.asarray(y, device=dev)))
    xd = x.data if isinstance(x, Tensor) else _operand(x, like.data, P.WHERE)
    yd = y.data if isinstance(y, Tensor) else _operand(y, like.data, P.WHERE)
    try:
        data = _fwd(P.WHERE, xd, yd, cond)
    except ValueError:
        raise OpError(f"where: shapes {cond.shape}, {np.shape(xd)} and {np.shape(yd)} "
                      f"cannot be broadcast together") from None
    return _apply(P.WHERE, (x if isinstance(x, Tensor) else const(xd),
                            y if isinstance(y, Tensor) else const(yd)), data, (cond,))


def astype(x: Tensor, dtype: Any) -> Tensor:
    """Cast to ``dtype``; the gradient is cast back to the input's dtype."""
    if type(x.data) is not np.ndarray:  # another library: numpy's names are its dtypes'
        dt = backends.dtype_for(x.data, dtype)
        if x.data.dtype == dt:
            return x
        if x.requires_grad and not backends.is_floating(dt):
            return _make(_namespace(x.data).astype(x.data, dt))
        return _unary(P.CAST, x, dt)
    dt = np.dtype(dtype)
    if x.data.dtype == dt:
        return x
    if x.requires_grad and dt.kind not in "fc":  # no gradient through an integer cast
        data = x.data.astype(dt)
        return _make(data) if STATE.tracer is None else _traced(data, P.CAST, (x,), (dt,))
    return _unary(P.CAST, x, dt)


# -------------------------------------------------------------------- reductions
def sum(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None,  # noqa: A001
        keepdim: bool | None = None, dtype: Any = None) -> Tensor:
    """Sum over ``axis`` (int, tuple or None for all); ``dim``/``keepdim`` also accepted.
    ``dtype``: cast to it first (as torch.sum)."""
    x = _t(x) if dtype is None else astype(_t(x), dtype)
    return _unary(P.SUM, x, _axes(x, axis, dim), _keep(keepdims, keepdim))


def prod(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Product over ``dim`` (all elements when None); exact gradients at zeros, as torch."""
    x = _t(x) if dtype is None else astype(_t(x), dtype)
    return _unary(P.PROD, x, _axes(x, dim), keepdim)


def _extremum(op: Any, x: Tensor, axis: Any, keepdims: bool, dim: Any, keepdim: Any) -> Tensor:
    x = _t(x)
    if x.size == 0:
        raise OpError(f"{op.name}: cannot reduce an empty tensor of shape {x.data.shape}")
    return _unary(op, x, _axes(x, axis, dim), _keep(keepdims, keepdim))


def _torch_extremum(op: Any, pick: Any, pairwise: Any, x: Tensor, dim: Any, keepdim: bool,
                    axis: Any, keepdims: bool | None) -> Any:
    """torch.max / torch.min: over everything (a Tensor); over one int ``dim`` (or
    ``axis``, torch's alias) the ``(values, indices)`` pair; over a tuple of dims the
    values; with a Tensor, elementwise."""
    if isinstance(dim, Tensor):
        return pairwise(x, dim)
    keep = _keep(keepdim, keepdims)
    if axis is not None:  # torch takes axis= as another name for dim
        dim = axis
    if not isinstance(dim, (int, np.integer)):
        return _extremum(op, x, None, keep, dim, None)
    x = _t(x)
    values = _extremum(op, x, None, keep, dim, None)
    d = _dims(x, dim, op.name)[0]
    index = _argext(pick, x, d, keep, None, None) if x.ndim else _make(np.zeros((), np.int64))
    return ValuesIndices(values, index)


def max(x: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,  # noqa: A001
        keepdims: bool | None = None) -> Any:
    """Largest value (torch.max): of all elements; ``(values, indices)`` over an int
    ``dim`` (the first maximum's index); the values over a tuple of dims; ``maximum`` with
    a Tensor ``dim``.  Tied maxima share the gradient equally (PyTorch gives it to one of
    them)."""
    return _torch_extremum(P.MAX, np.argmax, maximum, x, dim, keepdim, axis, keepdims)


def min(x: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,  # noqa: A001
        keepdims: bool | None = None) -> Any:
    """Smallest value (torch.min), as ``max``."""
    return _torch_extremum(P.MIN, np.argmin, minimum, x, dim, keepdim, axis, keepdims)


def amax(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Largest values over ``dim`` (an int, a tuple, or all), values only (torch.amax)."""
    return _extremum(P.MAX, x, None, keepdim, dim if dim != () else None, None)


def amin(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Smallest values over ``dim``, values only (torch.amin)."""
    return _extremum(P.MIN, x, None, keepdim, dim if dim != () else None, None)


def _count(x: Tensor, axes: tuple[int, ...] | None) -> int:
    if axes is None:
        return x.size
    return int(np.prod([x.data.shape[a] for a in axes]))


def mean(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
         keepdim: bool | None = None) -> Tensor:
    """Arithmetic mean over ``axis``."""
    x = _t(x)
    axes = _axes(x, axis, dim)
    with np.errstate(invalid="ignore"):  # no elements: 0/0 = NaN, as torch
        return sum(x, axes, _keep(keepdims, keepdim)) / float(_count(x, axes))


def var(x: Tensor, axis: Any = None, keepdims: bool = False, *, correction: int = 1,
        dim: Any = None, keepdim: bool | None = None, ddof: int | None = None) -> Tensor:
    """Variance over ``axis`` with ``correction`` (PyTorch's default 1 = unbiased; numpy's
    ``ddof`` is accepted as an alias; batch norm uses 0).  With no more elements than
    ``correction`` the sum of squares is divided by 0, as PyTorch: inf, or NaN where the sum
    is 0 too (a size-1 axis)."""
    x = _t(x)
    axes = _axes(x, axis, dim)
    c = correction if ddof is None else ddof
    d = x - mean(x, axes, True)
    dof = builtins.max(_count(x, axes) - c, 0)
    with np.errstate(divide="ignore", invalid="ignore"):  # dof 0: inf, or NaN for 0/0
        return sum(d * d, axes, _keep(keepdims, keepdim)) / float(dof)


def std(x: Tensor, axis: Any = None, keepdims: bool = False, *, correction: int = 1,
        dim: Any = None, keepdim: bool | None = None, ddof: int | None = None) -> Tensor:
    """Standard deviation: ``sqrt(var(...))``."""
    return sqrt(var(x, axis, keepdims, correction=correction, dim=dim, keepdim=keepdim,
                    ddof=ddof))


def var_mean(x: Tensor, axis: Any = None, keepdims: bool = False, *, correction: int = 1,
             dim: Any = None, keepdim: bool | None = None) -> tuple[Tensor, Tensor]:
    """``(var, mean)`` over the same axes, as ``torch.var_mean``."""
    axes = _axes(_t(x), axis, dim)
    keep = _keep(keepdims, keepdim)
    return var(x, axes, keep, correction=correction), mean(x, axes, keep)


def std_mean(x: Tensor, axis: Any = None, keepdims: bool = False, *, correction: int = 1,
             dim: Any = None, keepdim: bool | None = None) -> tuple[Tensor, Tensor]:
    """``(std, mean)`` over the same axes, as ``torch.std_mean``."""
    v, m = var_mean(x, axis, keepdims, correction=correction, dim=dim, keepdim=keepdim)
    return sqrt(v), m


def _dims(x: Tensor, dims: Any, who: str) -> tuple[int, ...]:
    """``dims`` (an int or a sequence) as non-negative axes of ``x``; IndexError if out of
    range, as PyTorch."""
    seq = (dims,) if isinstance(dims, int) else tuple(dims)
    nd = builtins.max(x.ndim, 1)
    for d in seq:
        if not -nd <= d < nd:
            raise IndexError(f"{who}: dimension {d} is out of range for a tensor of shape "
                             f"{x.shape}")
    return tuple(d % nd for d in seq)


def flip(x: Tensor, dims: Any) -> Tensor:
    """Reverse the order of elements along ``dims`` (a copy, as torch.flip)."""
    x = _t(x)
    axes = _dims(x, dims, "flip")
    if len(set(axes)) < len(axes):
        raise OpError(f"flip: dims {dims!r} repeat an axis (tensor of shape {x.shape})")
    return _unary(P.FLIP, x, axes) if x.ndim else x.clone()


def roll(x: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Shift elements along ``dims`` cyclically; without ``dims`` the flattened tensor is
    rolled and the shape restored (torch.roll)."""
    x = _t(x)
    if dims is None:
        if not isinstance(shifts, int):
            if len(shifts) != 1:
                raise OpError(f"roll: without dims, shifts must be one int, got {shifts!r}")
            shifts = shifts[0]
        return reshape(roll(reshape(x, (-1,)), shifts, 0), x.shape)
    axes = _dims(x, dims, "roll")
    ks = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if len(ks) != len(axes):
        raise OpError(f"roll: shifts {shifts!r} and dims {dims!r} must have one length")
    return _unary(P.ROLL, x, ks, axes)


def cumsum(x: Tensor, dim: int) -> Tensor:
    """Cumulative sum along ``dim`` (torch.cumsum)."""
    x = _t(x)
    d = _dims(x, dim, "cumsum")[0]  # a 0-d tensor takes dim 0 or -1, as torch
    if x.ndim == 0:
        return _unary(P.CUMSUM, reshape(x, (1,)), 0).reshape(())
    return _unary(P.CUMSUM, x, d)


def _scan(x: Tensor, dim: int, who: str, reduce: Any, fill: float) -> Tensor:
    """A cumulative ``reduce`` along ``dim`` as a reduction of a masked square: output i
    reduces the elements j <= i (the others replaced by ``reduce``'s identity ``fill``).
    O(n²) memory for a length-n axis, but every gradient, at zeros and of second order
    too, is the reduction's own."""
    x = _t(x)
    d = _dims(x, dim, who)[0]
    if x.ndim == 0:
        return reshape(_scan(reshape(x, (1,)), 0, who, reduce, fill), ())
    moved = swapaxes(x, d, -1)
    n = moved.shape[-1]
    square = broadcast_to(unsqueeze(moved, -2), moved.shape + (n,))
    upto = np.tril(np.ones((n, n), dtype=bool))  # row i keeps columns j <= i
    return swapaxes(reduce(where(upto, square, fill), -1), d, -1)


def cumprod(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Cumulative product along ``dim`` (torch.cumprod); built from ``prod``, so its
    gradient is exact at zeros (see ``_scan``)."""
    x = _t(x) if dtype is None else astype(_t(x), dtype)
    return _scan(x, dim, "cumprod", prod, 1.0)


def logcumsumexp(x: Tensor, dim: int) -> Tensor:
    """``log(cumsum(exp(x)))`` along ``dim`` without overflow (torch.logcumsumexp):
    each prefix is a stable ``logsumexp`` (see ``_scan``)."""
    return _scan(x, dim, "logcumsumexp", logsumexp, -np.inf)


class ValuesIndices(NamedTuple):
    """The (values, indices) pair of sort, topk, cummax, cummin (torch.return_types)."""

    values: Tensor
    indices: Tensor


def _triangle(x: Tensor, diagonal: int, lower: bool, who: str) -> Tensor:
    x = _t(x)
    if x.ndim < 2:
        raise OpError(f"{who}: needs a tensor of at least 2 dimensions, got shape {x.shape}")
    keep = (np.tril if lower else np.triu)(np.ones(x.shape[-2:], dtype=bool), diagonal)
    # a zero of x's dtype (numpy's of its name; it joins x's library): bool stays bool
    return where(keep, x, np.zeros((), backends.numpy_dtype(x.dtype)))


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two axes (elements above ``diagonal`` set to 0)."""
    return _triangle(x, diagonal, True, "tril")


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two axes (elements below ``diagonal`` set to 0)."""
    return _triangle(x, diagonal, False, "triu")


def norm(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
         keepdim: bool | None = None) -> Tensor:
    """Euclidean norm; its gradient at 0 is 0, not NaN."""
    x = _t(x)
    return sqrt(sum(x * x, axis, keepdims, dim=dim, keepdim=keepdim))


def _argext(fn: Any, x: Tensor, axis: Any, keepdims: bool, dim: Any, keepdim: Any) -> Tensor:
    x = _t(x)
    if dim is not None:
        axis = dim
    return outside(functools.partial(fn, axis=axis, keepdims=_keep(keepdims, keepdim)), x)


def argmax(x: Tensor, axis: int | None = None, keepdims: bool = False, *,
           dim: int | None = None, keepdim: bool | None = None) -> Tensor:
    """Indices of the maxima (int64, no gradient)."""
    return _argext(np.argmax, x, axis, keepdims, dim, keepdim)


def argmin(x: Tensor, axis: int | None = None, keepdims: bool = False, *,
           dim: int | None = None, keepdim: bool | None = None) -> Tensor:
    """Indices of the minima (int64, no gradient)."""
    return _argext(np.argmin, x, axis, keepdims, dim, keepdim)


def logsumexp(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
              keepdim: bool | None = None) -> Tensor:
    """log(sum(exp(x))) computed stably: the (detached) maximum is subtracted first."""
    x = _t(x)
    axes = _axes(x, axis, dim)
    m = outside(functools.partial(_finite_max, axes), x)  # a constant to the gradient
    out = log(sum(exp(x - m), axes, True)) + m
    return out if _keep(keepdims, keepdim) else squeeze(out, axes)


@backends.native
def _finite_max(axes: tuple[int, ...] | None, a: np.ndarray) -> np.ndarray:
    """The max along ``axes`` (kept; None: all), 0 where it is not finite: the stable
    shift."""
    xp = _namespace(a)
    m = xp.max(a, axis=axes, keepdims=True)
    return xp.astype(xp.where(xp.isfinite(m), m, 0), a.dtype)


def softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the detached max for stability."""
    x = _t(x)
    axes = _axes(x, axis, dim)
    e = exp(x - outside(functools.partial(np.max, axis=axes, keepdims=True), x))
    return e / sum(e, axes, True)


def log_softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """x - logsumexp(x) along ``axis`` (finite even for logits of +-1e4)."""
    x = _t(x)
    return x - logsumexp(x, _axes(x, axis, dim), True)


# ------------------------------------------------------------------------ shapes
def _shape_arg(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """Same data, new shape (one dimension may be -1)."""
    x = _t(x)
    shape = _shape_arg(shape)
    try:
        data = _fwd(P.RESHAPE, x.data, shape)
    except ValueError:
        raise OpError(f"reshape: cannot reshape a tensor of shape {x.data.shape} "
                      f"({x.size} elements) into {shape}") from None
    if data.shape == x.data.shape:
        return x
    return _apply(P.RESHAPE, (x,), data, (data.shape,), view_of=x)


def permute(x: Tensor, *dims: Any) -> Tensor:
    """Reorder the axes (``torch.permute`` / ``numpy.transpose(x, axes)``)."""
    x = _t(x)
    axes = _shape_arg(dims)
    nd = x.data.ndim
    if sorted(a % builtins.max(nd, 1) for a in axes) != list(range(nd)):
        raise OpError(f"permute: {axes} is not a permutation of the axes of a tensor of "
                      f"shape {x.data.shape}")
    axes = tuple(a % nd for a in axes)
    return _apply(P.TRANSPOSE, (x,), _fwd(P.TRANSPOSE, x.data, axes), (axes,), view_of=x)


def transpose(x: Tensor, *dims: Any) -> Tensor:
    """PyTorch semantics: ``transpose(x, d0, d1)`` swaps two axes; with no axes the order
    is reversed; a full permutation tuple is also accepted (numpy semantics)."""
    x = _t(x)
    if not dims:
        return permute(x, tuple(range(x.data.ndim - 1, -1, -1)))
    if len(dims) == 2 and builtins.all(isinstance(d, (int, np.integer)) for d in dims):
        return swapaxes(x, dims[0], dims[1])
    return permute(x, *dims)


def swapaxes(x: Tensor, axis1: int, axis2: int) -> Tensor:
    x = _t(x)
    nd = x.data.ndim
    for a in (axis1, axis2):
        if not -nd <= a < nd:
            raise OpError(f"swapaxes: axis {a} is out of range for shape {x.data.shape}")
    axes = list(range(nd))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return permute(x, tuple(axes))


def squeeze(x: Tensor, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Drop size-1 axes (all of them, or those in ``axis``)."""
    x = _t(x)
    axes = _axes(x, axis, dim)
    shape = x.data.shape
    if axes is None:
        new = tuple(s for s in shape if s != 1)
    else:
        new = tuple(s for i, s in enumerate(shape) if not (i in axes and s == 1))
    return reshape(x, new)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 axis at ``dim`` (negative counts from the end of the result)."""
    x = _t(x)
    nd = x.data.ndim + 1
    if not -nd <= dim < nd:
        raise OpError(f"unsqueeze: dim {dim} is out of range for shape {x.data.shape}")
    d = dim % nd
    shape = x.data.shape
    return reshape(x, shape[:d] + (1,) + shape[d:])


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to ``sizes`` (``-1`` keeps a dimension), as ``torch.Tensor.expand``."""
    x = _t(x)
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.data.ndim
    shape = tuple(x.data.shape[i - lead] if s == -1 and i >= lead else s
                  for i, s in enumerate(sizes))
    return broadcast_to(x, shape)


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """Broadcast to ``shape`` without copying (numpy rules)."""
    x = _t(x)
    shape = tuple(shape)
    if shape == x.data.shape:
        return x
    try:
        data = _fwd(P.EXPAND, x.data, shape)
    except ValueError:
        raise OpError(f"expand: cannot broadcast a tensor of shape {x.data.shape} to "
                      f"{shape}") from None
    return _apply(P.EXPAND, (x,), data, (shape,), view_of=x)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim..end_dim`` into one (PyTorch semantics)."""
    x = _t(x)
    shape = x.data.shape
    if not shape:
        return reshape(x, (1,))
    s, e = start_dim % len(shape), end_dim % len(shape)
    return reshape(x, shape[:s] + (-1,) + shape[e + 1:])


def _normalise_index(index: Any, like: Any = None) -> tuple[Any, bool]:
    """Tensors, lists and tuples inside an index become arrays; also says whether it is
    basic indexing.  Index arrays of another library stay there when they index an array
    ``like`` of theirs (numpy ones join it later); for a numpy array they become numpy."""
    items = index if isinstance(index, tuple) else (index,)
    out, basic = [], True
    for it in items:
        if isinstance(it, Tensor):
            it = it.data
        elif isinstance(it, (list, tuple)):  # nested sequences index as arrays, as torch
            it = np.asarray(it)
        if type(it) is not np.ndarray and backends.is_foreign(it):
            if like is None or type(like) is np.ndarray:
                it = backends.to_numpy(it)
            else:
                xp = backends.check_same("getitem", (like, it))
                if not xp.isdtype(it.dtype, ("integral", "bool")):
                    raise IndexError(f"getitem: index arrays must be integer or boolean, "
                                     f"got {it.dtype}")
                basic = False
                out.append(it)
                continue
        if isinstance(it, np.ndarray):
            if it.dtype.kind not in "biu":
                raise IndexError(f"getitem: index arrays must be integer or boolean, got "
                                 f"{it.dtype}")
            basic = False
        elif not (it is None or it is Ellipsis or isinstance(it, (slice, int, np.integer))):
            raise IndexError(f"getitem: unsupported index {it!r}")
        out.append(it)
    return (tuple(out) if isinstance(index, tuple) else out[0]), basic


def _ints_first(index: tuple) -> tuple[tuple, tuple] | None:
    """torch applies the ints of an index that also holds index arrays as basic indexing
    first, where numpy makes them advanced indices too (so ``x[:, 1, :, idx]`` puts idx's
    axis in place in torch, first in numpy): the int part and the rest, or None if the
    index does not mix them."""
    def is_int(k: Any) -> bool:
        return isinstance(k, (int, np.integer)) and not isinstance(k, bool)

    if not (builtins.any(is_int(k) for k in index)
            and builtins.any(hasattr(k, "shape") for k in index)):
        return None
    ints = tuple(k if is_int(k) or k is None or k is Ellipsis else slice(None) for k in index)
    rest = tuple(slice(None) if k is None else k for k in index if not is_int(k))
    return ints, rest


def getitem(x: Tensor, index: Any) -> Tensor:
    """Indexing with torch's semantics: ints, slices, None, Ellipsis, integer arrays and
    boolean masks (numpy's, except that ints next to index arrays are basic indices, as
    in torch).  Repeated integer indices accumulate their gradients."""
    x = _t(x)
    index, basic = _normalise_index(index, x.data)
    split = None if basic or not isinstance(index, tuple) else _ints_first(index)
    if split is not None:
        return getitem(getitem(x, split[0]), split[1])
    try:
        data = _fwd(P.GETITEM, x.data, index, basic)
    except IndexError as e:
        raise IndexError(f"getitem: {e} (tensor of shape {x.data.shape})") from None
    return _apply(P.GETITEM, (x,), data, (index, basic), view_of=x if basic else None)


def setitem(x: Tensor, index: Any, value: Any) -> Tensor:
    """``x`` with ``x[index] = value``, out of place (what ``x[index] = value`` records).

    The overwritten elements of ``x`` get no gradient; ``value`` gets ``grad[index]``
    (summed over broadcasting).
    """
    x = _t(x)
    v = value if isinstance(value, Tensor) else _t(value, x)
    index, basic = _normalise_index(index, x.data)
    try:
        data = _fwd(P.SETITEM, x.data, v.data, index, basic)
    except (IndexError, ValueError) as e:
        raise type(e)(f"setitem: {e} (tensor of shape {x.data.shape}, value of shape "
                      f"{v.data.shape})") from None
    return _apply(P.SETITEM, (x, v), data, (index, basic))


def _add_at(g: Tensor, index: Any, basic: bool, shape: tuple[int, ...]) -> Tensor:
    return _apply(P.ADD_AT, (g,), _fwd(P.ADD_AT, g.data, index, basic, shape),
                  (index, basic, shape))


def cat(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing axis (``torch.cat`` / ``numpy.concatenate``)."""
    if axis is not None:
        dim = axis
    ts = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not ts:
        raise OpError("cat: expected a non-empty sequence of tensors")
    if builtins.any(type(t.data) is not np.ndarray for t in ts):
        backends.check_same("cat", [t.data for t in ts])
    nd = ts[0].data.ndim
    if nd == 0 or not -nd <= dim < nd:
        raise OpError(f"cat: dim {dim} is out of range for tensors of shape "
                      f"{ts[0].data.shape}")
    d = dim % nd
    try:
        data = _fwd(P.concat_op(len(ts)), *[t.data for t in ts], d, None)
    except ValueError:
        shapes = ", ".join(str(t.data.shape) for t in ts)
        raise OpError(f"cat: shapes {shapes} do not match outside dim {d}") from None
    bounds = np.cumsum([0] + [t.data.shape[d] for t in ts]).tolist()
    return _apply(P.concat_op(len(ts)), tuple(ts), data, (d, bounds))


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """numpy spelling of ``cat``."""
    return cat(tensors, axis)


def repeat(x: Tensor, *repeats: Any) -> Tensor:
    """Tile ``x`` ``repeats[i]`` times along each axis (torch's ``Tensor.repeat``, numpy's
    ``tile``); extra leading repeats add axes.  Built from expand and reshape, so the
    gradient sums the copies back."""
    x = _t(x)
    reps = _shape_arg(repeats)
    if len(reps) < x.ndim:
        raise OpError(f"repeat: {len(reps)} repeats for a tensor of {x.ndim} dimensions "
                      f"(shape {x.shape}); give at least one per dimension")
    if builtins.any(r < 0 for r in reps):
        raise OpError(f"repeat: repeats must be >= 0, got {reps}")
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    interleaved = tuple(v for s in shape for v in (1, s))
    target = tuple(v for r, s in zip(reps, shape, strict=True) for v in (r, s))
    out = broadcast_to(reshape(x, interleaved), target)
    return reshape(out, tuple(r * s for r, s in zip(reps, shape, strict=True)))


def repeat_interleave(x: Tensor, repeats: int, dim: int | None = None) -> Tensor:
    """Repeat each element ``repeats`` times along ``dim`` (flattened when None), as
    ``torch.repeat_interleave`` with an int ``repeats``."""
    x = _t(x)
    if not isinstance(repeats, int) or repeats < 0:
        raise OpError(f"repeat_interleave: repeats must be an int >= 0, got {repeats!r}")
    if dim is None:
        x, dim = reshape(x, (-1,)), 0
    d = _dims(x, dim, "repeat_interleave")[0]
    shape = x.shape
    spread = broadcast_to(unsqueeze(x, d + 1), shape[:d + 1] + (repeats,) + shape[d + 1:])
    return reshape(spread, shape[:d] + (shape[d] * repeats,) + shape[d + 1:])


def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Split axis ``dim`` into ``sizes`` (one may be -1), as ``torch.unflatten``."""
    x = _t(x)
    d = _dims(x, dim, "unflatten")[0]
    return reshape(x, x.shape[:d] + tuple(sizes) + x.shape[d + 1:])


def diagonal(x: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of axes ``dim1``, ``dim2`` (moved to the end, as torch.diagonal);
    ``offset`` > 0 above the main diagonal, < 0 below."""
    x = _t(x)
    if x.ndim < 2:
        raise OpError(f"diagonal: needs at least 2 dimensions, got shape {x.shape}")
    d1, d2 = _dims(x, (dim1, dim2), "diagonal")
    if d1 == d2:
        raise OpError(f"diagonal: dim1 and dim2 must differ, got {dim1} and {dim2}")
    rest = [k for k in range(x.ndim) if k not in (d1, d2)]
    moved = permute(x, (*rest, d1, d2))
    n1, n2 = x.shape[d1], x.shape[d2]
    rows = np.arange(builtins.max(0, -offset), n1)
    cols = rows + offset
    keep = cols < n2
    return getitem(moved, (Ellipsis, rows[keep], cols[keep]))


_take_diagonal = diagonal  # diag's own argument is named diagonal, as torch's


def diag(x: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D ``x`` as the ``diagonal``-th diagonal of a square matrix; a 2-D ``x``'s
    diagonal (torch.diag)."""
    x = _t(x)
    if x.ndim == 2:
        return _take_diagonal(x, diagonal)
    if x.ndim != 1:
        raise OpError(f"diag: expected a 1-D or 2-D tensor, got shape {x.shape}")
    n = x.shape[0] + builtins.abs(diagonal)
    # Element (r, c) of the diagonal is x[r] above the main diagonal, x[c] below it: x,
    # padded to n, spread along the other axis, then masked to the diagonal.
    line = pad(x, ((0, builtins.abs(diagonal)),))
    grid = broadcast_to(reshape(line, (n, 1) if diagonal >= 0 else (1, n)), (n, n))
    return where(np.eye(n, k=diagonal, dtype=bool), grid, 0.0)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids of 1-D tensors (``indexing="ij"``, torch's default, or "xy")."""
    ts = [_t(t) for t in (tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list,
          tuple)) else tensors)]
    if indexing not in ("ij", "xy"):
        raise OpError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if builtins.any(t.ndim > 1 for t in ts):
        raise OpError(f"meshgrid: expects 0-D or 1-D tensors, got shapes "
                      f"{[t.shape for t in ts]}")
    ts = [reshape(t, (1,)) if t.ndim == 0 else t for t in ts]  # a 0-d tensor is one point
    n = len(ts)
    axes = list(range(n))  # the axis along which each input varies
    if indexing == "xy" and n >= 2:
        axes[0], axes[1] = 1, 0  # x along columns, y along rows
    sizes = [0] * n
    for t, axis in zip(ts, axes, strict=True):
        sizes[axis] = t.shape[0]
    return tuple(broadcast_to(reshape(t, tuple(sizes[k] if k == axis else 1 for k in range(n))),
                              tuple(sizes)) for t, axis in zip(ts, axes, strict=True))


def stack(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors along a new axis."""
    if axis is not None:
        dim = axis
    ts = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    shapes = {t.data.shape for t in ts}
    if len(shapes) > 1:
        raise OpError(f"stack: all tensors must have the same shape, got "
                      f"{', '.join(str(t.data.shape) for t in ts)}")
    return cat([unsqueeze(t, dim) for t in ts], dim)


def split(x: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0
          ) -> tuple[Tensor, ...]:
    """Split into chunks of a given size, or of the given sizes (``torch.split``)."""
    x = _t(x)
    n = x.data.shape[dim]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise OpError(f"split: split size must be positive, got {step}")
        sizes = [builtins.min(step, n - i) for i in range(0, n, step)]
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != n:
            raise OpError(f"split: sizes {sizes} do not add up to {n} (dim {dim} of shape "
                          f"{x.data.shape})")
    d = dim % x.data.ndim
    out, start = [], 0
    for s in sizes:
        out.append(getitem(x, (slice(None),) * d + (slice(start, start + s),)))
        start += s
    return tuple(out)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``dim``, that axis removed (torch.unbind)."""
    x = _t(x)
    d = _dims(x, dim, "unbind")[0]
    return tuple(getitem(x, (slice(None),) * d + (i,)) for i in range(x.shape[d]))


def select(x: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim``, that axis removed (torch.select)."""
    x = _t(x)
    d = _dims(x, dim, "select")[0]
    if not -x.shape[d] <= index < x.shape[d]:
        raise IndexError(f"select: index {index} is out of range for dim {d} of size "
                         f"{x.shape[d]}")
    return getitem(x, (slice(None),) * d + (index,))


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``length`` elements from ``start`` along ``dim`` (a view, as torch.narrow)."""
    x = _t(x)
    d = _dims(x, dim, "narrow")[0]
    n = x.shape[d]
    start = start + n if start < 0 else start
    if not (0 <= start <= n and 0 <= length <= n - start):
        raise OpError(f"narrow: start {start} and length {length} do not fit dim {d} of "
                      f"size {n}")
    return getitem(x, (slice(None),) * d + (slice(start, start + length),))


def index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    """The entries at the 1-D ``index`` along ``dim`` (torch.index_select); repeats
    accumulate their gradients."""
    x = _t(x)
    d = _dims(x, dim, "index_select")[0]
    idx = np.asarray(index.data if isinstance(index, Tensor) else index)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise OpError(f"index_select: index must be a 1-D integer tensor, got shape "
                      f"{idx.shape} and dtype {idx.dtype}")
    return getitem(x, (slice(None),) * d + (idx.reshape(-1),))


def movedim(x: Tensor, source: Any, destination: Any) -> Tensor:
    """Move axes ``source`` to positions ``destination`` (torch.movedim)."""
    x = _t(x)
    src, dst = _dims(x, source, "movedim"), _dims(x, destination, "movedim")
    if len(src) != len(dst):
        raise OpError(f"movedim: {source!r} and {destination!r} must have one length")
    order = [a for a in range(x.ndim) if a not in src]
    for d, a in sorted(zip(dst, src, strict=True)):
        order.insert(d, a)
    return permute(x, tuple(order))


moveaxis = movedim


def tile(x: Tensor, dims: Sequence[int]) -> Tensor:
    """``repeat`` with fewer repeats than dimensions allowed (ones are prepended)."""
    x = _t(x)
    reps = tuple(dims)
    return repeat(x, (1,) * (x.ndim - len(reps)) + reps)


def hstack(tensors: Sequence[Any]) -> Tensor:
    """Join along axis 1 (axis 0 for 1-D tensors), as torch.hstack."""
    ts = [_t(t) for t in tensors]
    return cat(ts, 0 if ts and ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Any]) -> Tensor:
    """Join along axis 0, 1-D tensors as rows (torch.vstack)."""
    return cat([reshape(_t(t), (1, -1)) if _t(t).ndim < 2 else _t(t) for t in tensors], 0)


def diff(x: Tensor, n: int = 1, dim: int = -1) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (torch.diff)."""
    x = _t(x)
    d = _dims(x, dim, "diff")[0]
    for _ in range(n):
        x = (getitem(x, (slice(None),) * d + (slice(1, None),))
             - getitem(x, (slice(None),) * d + (slice(None, -1),)))
    return x


def trace(x: Tensor) -> Tensor:
    """The sum of a matrix's diagonal."""
    x = _t(x)
    if x.ndim != 2:
        raise OpError(f"trace: expected a matrix, got shape {x.shape}")
    return sum(diagonal(x))


def count_nonzero(x: Tensor, dim: Any = None) -> Tensor:
    x = _t(x)
    return outside(functools.partial(_count_nonzero, _axes(x, dim)), x)


def _count_nonzero(axes: tuple[int, ...] | None, a: np.ndarray) -> np.ndarray:
    return np.asarray(np.count_nonzero(a, axis=axes), dtype=np.int64)


def nansum(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Sum ignoring NaNs (they get no gradient)."""
    x = _t(x)
    return sum(where(outside(np.isnan, x), 0.0, x), dim, keepdim)


def nanmean(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Mean of the non-NaN elements."""
    x = _t(x)
    count = outside(functools.partial(_count_kept, _axes(x, dim), keepdim), x)
    with np.errstate(invalid="ignore"):
        return nansum(x, dim, keepdim) / count


@backends.native
def _count_kept(axes: tuple[int, ...] | None, keepdim: bool, a: np.ndarray) -> np.ndarray:
    xp = _namespace(a)
    return xp.sum(xp.astype(~xp.isnan(a), xp.int64), axis=axes, keepdims=keepdim)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` pieces of ``ceil(n / chunks)`` along ``dim`` (the last may be
    smaller, and there may be fewer pieces), as torch.chunk."""
    x = _t(x)
    if not isinstance(chunks, int) or chunks <= 0:
        raise OpError(f"chunk: chunks must be a positive int, got {chunks!r}")
    d = _dims(x, dim, "chunk")[0]
    n = x.shape[d]
    return split(x, builtins.max(-(-n // chunks), 1), d)


def unfold(x: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """All slices of length ``size`` along ``dimension``, ``step`` apart, in a new last
    axis (torch's ``Tensor.unfold``); overlapping slices accumulate their gradients."""
    x = _t(x)
    d = _dims(x, dimension, "unfold")[0] if x.ndim else 0
    n = x.shape[d] if x.ndim else 1
    if size < 0 or size > n or step <= 0:
        raise OpError(f"unfold: size {size} must be in [0, {n}] and step {step} positive "
                      f"(dimension {d} of shape {x.shape})")
    if x.ndim == 0:
        return reshape(x, (1,))
    starts = np.arange(0, n - size + 1, step)
    picks = starts[:, None] + np.arange(size)  # (windows, size)
    taken = getitem(x, (slice(None),) * d + (picks,))  # (..., windows, size, ...)
    return permute(taken, (*range(d + 1), *range(d + 2, x.ndim + 1), d + 1))


def pad(x: Tensor, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding, numpy-style ``pad_width`` (an int, a pair, or one pair per axis)."""
    x = _t(x)
    if x.data.ndim == 0:
        raise OpError("pad: a 0-d tensor has no axes to pad")
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.data.ndim, 2))
    except ValueError:
        raise OpError(f"pad: pad_width {pad_width!r} does not fit a tensor of shape "
                      f"{x.data.shape} (give an int, a pair, or one pair per axis)") from None
    widths_t = tuple((int(a), int(b)) for a, b in widths)
    if builtins.any(a < 0 or b < 0 for a, b in widths_t):
        raise OpError(f"pad: widths must be non-negative, got {widths_t}")
    return _unary(P.PAD, x, widths_t, value)


def _matrices(who: str, a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """The two operands of a matrix product as Tensors, checked to have dimensions."""
    if not isinstance(a, Tensor):
        a = _t(a, b)
    if not isinstance(b, Tensor):
        b = _t(b, a)
    if type(a.data) is not np.ndarray or type(b.data) is not np.ndarray:
        backends.check_same(who, (a.data, b.data))
    if a.data.ndim == 0 or b.data.ndim == 0:
        raise OpError(f"{who}: both operands need at least one dimension, got shapes "
                      f"{a.data.shape} and {b.data.shape}; use * for scaling")
    return a, b


def _not_aligned(who: str, a: Tensor, b: Tensor) -> OpError:
    return OpError(f"{who}: shapes {a.data.shape} and {b.data.shape} are not aligned")


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with numpy semantics: 1-D, 2-D, batched, broadcast batch dims."""
    a, b = _matrices("matmul", a, b)
    try:
        data = _fwd(P.MATMUL, a.data, b.data)
    except ValueError:
        raise _not_aligned("matmul", a, b) from None
    return _apply(P.MATMUL, (a, b), data)


def addmm(input: Any, mat1: Any, mat2: Any) -> Tensor:  # noqa: A002  (torch.addmm)
    """``input + mat1 @ mat2`` as one op (``torch.addmm``, with ``matmul``'s numpy semantics
    for the product: 1-D, batched, broadcast batch dims).  As in PyTorch, ``input`` must
    broadcast to the product's shape without enlarging it.

    Same values and gradients as the two ops, but ``input`` (a layer's bias) is added into
    the fresh product, so the product is never kept as a separate array: one full-size
    array and one pass fewer per layer.  ``nn.Linear`` and ``nn.Conv2d`` use it.

    >>> addmm(ones(2), ones(3, 4), ones(4, 2)).tolist()
    [[5.0, 5.0], [5.0, 5.0], [5.0, 5.0]]
    """
    a, b = _matrices("addmm", mat1, mat2)
    c = input if isinstance(input, Tensor) else _t(input, a)
    try:
        product = _fwd(P.MATMUL, a.data, b.data)
    except ValueError:
        raise _not_aligned("addmm", a, b) from None
    shape = tuple(product.shape)
    try:
        fits = np.broadcast_shapes(shape, c.data.shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise OpError(f"addmm: input of shape {c.data.shape} cannot be broadcast to the "
                      f"product's shape {shape}")
    if type(product) is not np.ndarray:  # another library: the product plus c
        backends.check_same("addmm", (product, c.data))
        return _apply(P.ADDMM, (c, a, b), product + c.data)
    return _apply(P.ADDMM, (c, a, b), P.add_into(product, c.data))


def _window_geometry(who: str, x: Tensor, kernel_size: tuple[int, int],
                     stride: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Validated ((kh, kw), (sh, sw)) for windows over ``x``'s last two axes."""
    kh, kw = (int(k) for k in kernel_size)
    sh, sw = (int(s) for s in stride)
    shape = x.data.shape
    if len(shape) < 2 or kh > shape[-2] or kw > shape[-1] or builtins.min(kh, kw) <= 0:
        raise OpError(f"{who}: kernel {(kh, kw)} does not fit input of shape {shape}")
    if builtins.min(sh, sw) <= 0:
        raise OpError(f"{who}: stride must be positive, got {(sh, sw)}")
    return (kh, kw), (sh, sw)


def sliding_windows(x: Tensor, kernel_size: tuple[int, int], stride: tuple[int, int] = (1, 1)
                    ) -> Tensor:
    """Zero-copy view (..., OH, OW, KH, KW) of the windows over the last two axes (im2col's
    first half).  Its gradient is the col2im accumulation (``fold_windows``)."""
    x = _t(x)
    ctx = _window_geometry("sliding_windows", x, kernel_size, stride)
    return _apply(P.WINDOWS, (x,), _fwd(P.WINDOWS, x.data, *ctx), ctx)


def window_max(x: Tensor, kernel_size: tuple[int, int], stride: tuple[int, int] = (1, 1)
               ) -> Tensor:
    """Max over each window of the last two axes, shape (..., OH, OW): max-pooling's core.

    Equal to ``sliding_windows(x, kernel_size, stride).max((-2, -1))`` with the same
    convention (tied elements share their window's gradient equally), but neither pass
    builds anything of the window layout.

    >>> window_max(arange(16.0).reshape(4, 4), (2, 2), (2, 2)).tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    """
    x = _t(x)
    ctx = _window_geometry("window_max", x, kernel_size, stride)
    return _apply(P.WINDOW_MAX, (x,), _fwd(P.WINDOW_MAX, x.data, *ctx), ctx)


def _window_max_grad(g: Any, a: Any, top: Any, kernel: tuple[int, int],
                     stride: tuple[int, int]) -> Tensor:
    """Recorded ``window_max_grad`` (the graph namespace's): linear in ``g`` alone."""
    g = _t(g)
    a, top = _data(a), _data(top)
    if type(g.data) is not np.ndarray and type(a) is np.ndarray:  # constants follow g
        a, top = (_namespace(g.data).asarray(v, device=g.device) for v in (a, top))
    ctx = (a, top, kernel, stride)
    return _apply(P.WINDOW_MAX_GRAD, (g,), _fwd(P.WINDOW_MAX_GRAD, g.data, *ctx), ctx)


def fold_windows(g: Tensor, size: tuple[int, int], stride: tuple[int, int] = (1, 1)) -> Tensor:
    """Adjoint of ``sliding_windows``: sums each window back into an array of ``size``."""
    g = _t(g)
    ctx = ((size[0], size[1]), (stride[0], stride[1]))
    return _apply(P.FOLD, (g,), _fwd(P.FOLD, g.data, *ctx), ctx)


# The functional API's other modules (they build on the functions above).
from .creation import (  # noqa: E402
    arange,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    zeros,
    zeros_like,
)
from .linalg import (  # noqa: E402
    addcdiv,
    addcmul,
    bmm,
    dot,
    einsum,
    mm,
    mv,
    outer,
    tensordot,
)
from .selection import (  # noqa: E402
    argsort,
    cummax,
    cummin,
    gather,
    masked_fill,
    masked_select,
    nonzero,
    scatter,
    scatter_add,
    scatter_reduce,
    sort,
    take_along_dim,
    topk,
)


# --------------------------------------------------- the namespace rules see (graph)
def _unbroadcast(g: Tensor, parent: Any) -> Tensor:
    shape, dtype = parent.shape, parent.dtype
    if g.data.shape != shape:  # namespaces.sum_to_shape, recorded
        axes = broadcast_axes(g.data.shape, shape)
        g = reshape(sum(g, axes) if axes else g, shape)
    if g.data.dtype != dtype:
        g = astype(g, dtype)
    return g


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


GRAPH_NS = SimpleNamespace(
    exp=exp, log=log, sin=sin, cos=cos, sign=sign, pow=pow, where=where,
    sinh=sinh, cosh=cosh, zeros_like=lambda g: _make(_namespace(_data(g)).zeros_like(_data(g))),
    flip=flip, roll=roll, cumsum=cumsum,
    # Masks from values, by ag.outside: a compiled second-order step recomputes them.
    eq=lambda a, b: outside(operator.eq, a, b),
    within=lambda a, lo, hi: outside(backends.native(lambda v: NUMPY_NS.within(v, lo, hi)), a),
    sum=sum, prod=prod, expand=broadcast_to, reshape=reshape, transpose=permute,
    expand_dims=unsqueeze, matmul=matmul, mT=lambda x: swapaxes(x, -1, -2),
    getitem=getitem, add_at=_add_at, windows=sliding_windows, fold=fold_windows,
    window_max_grad=_window_max_grad,
    cast=lambda x, dtype: astype(_t(x), dtype), unbroadcast=_unbroadcast,
    move=lambda x, where: _t(x).to(where), mask=operator.mul,
)
Tensor._graph_ns = TensorNode._graph_ns = GRAPH_NS
