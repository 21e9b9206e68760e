"""The rule table: every primitive op with its forwards and one backward rule per input.

A recorded node replays as ``op.fwd(*inputs, *ctx)``: ``ctx`` is always the tuple of the
op's extra forward arguments.  A rule has the signature ``rule(ns, g, out, ctx, *inputs)``
and returns the gradient for its input.  ``ns`` supplies the few functions a rule needs
(``ns.exp``, ``ns.where``, ...): plain numpy / math without create_graph, the engine's own
ops with it -- so each rule is written once and is itself differentiable.  Rules never
mention broadcasting: the engine sums each gradient back to its input's shape in one place
(``ns.unbroadcast``; skipped where nothing was broadcast or promoted, e.g. after an op
marked ``elementwise``: see ``Node._fits``).  Rules reuse the output ``out`` wherever the
derivative is a function of it (exp, tanh, sigmoid, sqrt, div).

Conventions at kinks (tested in tests/test_kinks.py):

=================  ====================================================================
op                 convention
=================  ====================================================================
relu'(0)           0  (strict mask ``relu(x) > 0``, i.e. ``x > 0``: the rule reads the
                   output, so the input -- a layer's pre-activation -- need not be kept)
abs'(0)            0  (``sign(0) = 0``)
maximum / minimum  ties split the gradient equally between the two inputs (as PyTorch)
max / min reduce   ties split the gradient equally among all tied elements (as amax)
window_max         the same per window (PyTorch's max_pool gives it all to one element)
clip(x, lo, hi)    gradient passes on the closed interval ``lo <= x <= hi``
sqrt'(0)           0 instead of inf, so ``sqrt(x**2)`` and norms are 0 at 0, not NaN
floor, ceil,       0 everywhere, also at the jumps (as PyTorch); the tests keep a margin
round, trunc       from the jumps (integers; halves for round, which is half to even)
tan                poles at ±pi/2 (+ k*pi): kinks for the tests, not a convention
prod               exact at zeros, first and second order (as PyTorch's); elsewhere the
                   rule is out / a, whose own derivative cancels badly for inputs near 0
                   (PyTorch's too): the tests keep inputs a margin from 0
=================  ====================================================================
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import buffers
from .engine import OUT, Node, Op


def array_namespace(x: Any) -> Any:
    """numpy for numpy values, else the array's own library (rules' masks and constants)."""
    if isinstance(x, np.ndarray | np.generic | bool | int | float):
        return np
    from .backends import namespace  # the backends module builds on this table

    return namespace(x)

__all__ = ["OPS"]

OPS: dict[str, Op] = {}


def is_primitive(op: Op) -> bool:
    """Whether ``op`` is the table's own (a custom op may share a primitive's name); one of
    concat's per-arity Ops, which are not all in the table, counts too."""
    return OPS.get(op.name) is op or (op.name == "concat" and op.fwd is OPS["concat"].fwd)


def defop(name: str, fwd: Any, sfwd: Any, *vjps: Any, **meta: Any) -> Op:
    """Create and register a primitive; the table is keyed by name.  Unlike a bare `Op`,
    a primitive reads nothing unless its ``reads`` say so."""
    meta.setdefault("reads", ((),) * len(vjps))
    op = Op(name, fwd, sfwd, vjps, **meta)
    OPS[name] = op
    return op


# ---------------------------------------------------------------- scalar (math) forwards
def _slog(x: float) -> float:
    return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)


def _slog1p(x: float) -> float:
    return math.log1p(x) if x > -1 else (-math.inf if x == -1 else math.nan)


def _ssqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 else math.nan


def _sexp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _ssigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sdiv(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        return math.nan if a == 0 or a != a else math.copysign(math.inf, a) * math.copysign(1, b)


def _spow(a: float, b: float) -> float:
    try:
        r = a ** b
    except ZeroDivisionError:
        return math.inf
    except OverflowError:
        return math.inf
    return math.nan if isinstance(r, complex) else r


NUMBERS: dict[tuple[Any, np.dtype], np.ndarray] = {}


def number_as(x: Any, dtype: np.dtype) -> np.ndarray:
    """Python number ``x`` as a read-only 0-d array of ``dtype``, cached.

    numpy combines a small float32 array with a 0-d float32 array ~1.6x faster than with a
    Python float, whose weak-scalar dtype it resolves on every call (NEP 50); the values are
    the same, as NEP 50 casts the number to the array's dtype anyway.  Zero (-0.0 == 0.0)
    and NaN are never cached, and the cache stops growing at 1,024 entries.
    """
    key = (x, dtype)
    data = NUMBERS.get(key)
    if data is None:
        data = np.array(x, dtype)
        data.flags.writeable = False
        if x and x == x and len(NUMBERS) < 1024:
            NUMBERS[key] = data
    return data


# 0.5 in each float dtype, read once per sigmoid; any other input (ints, wider floats,
# complex) takes float64's, which promotes as the input's own dtype would (0.5 is exact).
_HALVES = {np.dtype(t): number_as(0.5, np.dtype(t)) for t in (np.float16, np.float32, np.float64)}
_HALF64 = _HALVES[np.dtype(np.float64)]


# Globals, not ``np.`` reads: numpy's module ``__getattr__`` keeps CPython 3.11 from
# specializing those, and sigmoid makes three calls.
_multiply, _tanh, _add, _ndarray = np.multiply, np.tanh, np.add, np.ndarray


def _np_sigmoid(x: np.ndarray) -> np.ndarray:
    # tanh form: stable at both tails, no overflow warning, keeps float32.  After the first
    # product the array is this call's own, so the rest is done in place (positional
    # ``out``): a fifth less time on small arrays, the same values.
    half = _HALVES.get(x.dtype, _HALF64)
    s = _multiply(x, half)
    if type(s) is not _ndarray:  # of a 0-d input: a numpy scalar, nothing to write into
        return half * _tanh(s) + half
    _tanh(s, s)
    _multiply(s, half, s)
    return _add(s, half, s)


# ---------------------------------------------------------------------- elementwise
ADD = defop("add", np.add, lambda a, b: a + b,
            lambda ns, g, out, ctx, a, b: g,
            lambda ns, g, out, ctx, a, b: g)
SUB = defop("sub", np.subtract, lambda a, b: a - b,
            lambda ns, g, out, ctx, a, b: g,
            lambda ns, g, out, ctx, a, b: -g)
MUL = defop("mul", np.multiply, lambda a, b: a * b,
            lambda ns, g, out, ctx, a, b: g * b,
            lambda ns, g, out, ctx, a, b: g * a, reads=((1,), (0,)))
DIV = defop("div", np.divide, _sdiv,
            lambda ns, g, out, ctx, a, b: g / b,
            lambda ns, g, out, ctx, a, b: -g * out / b,
            reads=((1,), (1, OUT)), domain={1: "nonzero"})
def _value(x: Any) -> Any:
    """The plain value of a rule's argument: an array or float (a Tensor or Scalar in a
    create_graph backward) -- for masks, which are constants."""
    return x.data if isinstance(x, Node) else x


def _anywhere(mask: Any) -> bool:
    if isinstance(mask, np.ndarray):
        return bool(mask.any())
    if isinstance(mask, bool | np.bool_):
        return bool(mask)
    return bool(array_namespace(mask).any(mask))  # another array library's array


def _pow_vjp_base(ns: Any, g: Any, out: Any, ctx: Any, a: Any, b: Any) -> Any:
    # b·a^(b−1), and 0 at a == b == 0 (not 0·0^−1 = NaN), as PyTorch: there a is replaced
    # by 1, which keeps a^(b−1) and its own derivative finite.
    b_zero = _value(b) == 0  # usually a 0-d exponent: tested before a pass over a
    if _anywhere(b_zero):
        zero = b_zero & (_value(a) == 0)
        if _anywhere(zero):
            a = ns.where(zero, 1, a)
    return g * b * ns.pow(a, b - 1)


def _pow_vjp_exponent(ns: Any, g: Any, out: Any, ctx: Any, a: Any, b: Any) -> Any:
    # a^b·log a, and its limit 0 at a == 0 with b >= 0 (not 0·−inf = NaN), as PyTorch.
    zero = (_value(a) == 0) & (_value(b) >= 0)
    if _anywhere(zero):
        a = ns.where(zero, 1, a)
    return g * out * ns.log(a)


POW = defop("pow", np.power, _spow, _pow_vjp_base, _pow_vjp_exponent,
            reads=((0, 1), (0, 1, OUT)), domain={0: "positive"})
NEG = defop("neg", np.negative, lambda a: -a,
            lambda ns, g, out, ctx, a: -g, elementwise=True)
EXP = defop("exp", np.exp, _sexp,
            lambda ns, g, out, ctx, a: g * out, reads=((OUT,),), elementwise=True)
LOG = defop("log", np.log, _slog,
            lambda ns, g, out, ctx, a: g / a, reads=((0,),), domain={0: "positive"},
            elementwise=True)
LOG1P = defop("log1p", np.log1p, _slog1p,
              lambda ns, g, out, ctx, a: g / (a + 1), reads=((0,),),
              domain={0: "gt_minus_one"}, elementwise=True)
SIN = defop("sin", np.sin, math.sin,
            lambda ns, g, out, ctx, a: g * ns.cos(a), reads=((0,),), elementwise=True)
COS = defop("cos", np.cos, math.cos,
            lambda ns, g, out, ctx, a: -g * ns.sin(a), reads=((0,),), elementwise=True)
TANH = defop("tanh", np.tanh, math.tanh,
             # g - g*out*out, not g*(1 - out*out): as accurate, and no Python number
             # (numpy resolves a weak scalar's dtype on every call, ~2x an array op).
             lambda ns, g, out, ctx, a: g - g * out * out, reads=((OUT,),),
             elementwise=True)
SIGMOID = defop("sigmoid", _np_sigmoid, _ssigmoid,
                # out - out*out, not out*(1 - out), for tanh's reason above; as accurate:
                # 1 - out carries out's own rounding error either way.
                lambda ns, g, out, ctx, a: g * (out - out * out), reads=((OUT,),),
                elementwise=True)


def _sqrt_vjp(ns: Any, g: Any, out: Any, ctx: Any, a: Any) -> Any:
    # sqrt'(0) := 0 (see table above).  The inner where keeps the unused branch finite so
    # that the second derivative is not 0 * inf = NaN either.
    zero = ns.eq(out, 0)
    return ns.where(zero, 0, g / (2 * ns.where(zero, 1, out)))


SQRT = defop("sqrt", np.sqrt, _ssqrt, _sqrt_vjp, reads=((OUT,),),
             domain={0: "positive"}, kinks={0: (0.0,)}, elementwise=True)
RELU = defop("relu", lambda a: np.maximum(a, 0, out=buffers.like(a)), lambda a: a if a > 0 else 0.0,
             lambda ns, g, out, ctx, a: ns.mask(g, out > 0), reads=((OUT,),),
             kinks={0: (0.0,)},
             elementwise=True)
ABS = defop("abs", np.abs, abs,
            lambda ns, g, out, ctx, a: g * ns.sign(a), reads=((0,),), kinks={0: (0.0,)},
            elementwise=True)


def _max_vjp(ns: Any, g: Any, a: Any, b: Any) -> Any:
    return ns.where(ns.eq(a, b), g * 0.5, ns.mask(g, a > b))


def _min_vjp(ns: Any, g: Any, a: Any, b: Any) -> Any:
    return ns.where(ns.eq(a, b), g * 0.5, ns.mask(g, a < b))


MAXIMUM = defop("maximum", np.maximum, max,
                lambda ns, g, out, ctx, a, b: _max_vjp(ns, g, a, b),
                lambda ns, g, out, ctx, a, b: _max_vjp(ns, g, b, a),
                reads=((0, 1), (0, 1)), kinks="ties")
MINIMUM = defop("minimum", np.minimum, min,
                lambda ns, g, out, ctx, a, b: _min_vjp(ns, g, a, b),
                lambda ns, g, out, ctx, a, b: _min_vjp(ns, g, b, a),
                reads=((0, 1), (0, 1)), kinks="ties")
# ------------------------------------------------- more elementwise math (torch's names)
LN2, LN10, TWO_OVER_SQRT_PI = math.log(2.0), math.log(10.0), 2.0 / math.sqrt(math.pi)


def _math_or_nan(fn: Any) -> Any:
    """A math function that returns NaN (inf on overflow) where numpy would, not raise."""
    def safe(x: float) -> float:
        try:
            return fn(x)
        except ValueError:
            return math.nan
        except OverflowError:
            return math.inf
    return safe


_np_erf = np.vectorize(math.erf, otypes=[np.float64])  # numpy has no erf; math's is exact


def _erf(x: np.ndarray) -> np.ndarray:
    # float64 in math.erf, then back to the input's float dtype (float32 stays float32).
    out = _np_erf(x)
    return out.astype(x.dtype, copy=False) if x.dtype.kind == "f" else out


def _zero_vjp(ns: Any, g: Any, out: Any, ctx: Any, a: Any) -> Any:
    return ns.zeros_like(g)  # piecewise constant: gradient 0 (as PyTorch), not NaN for g=inf


def _unary_math(name: str, fwd: Any, sfwd: Any, rule: Any, reads: Any = ((0,),),
                **meta: Any) -> Op:
    return defop(name, fwd, _math_or_nan(sfwd) if sfwd else None, rule, reads=reads,
                 elementwise=True, **meta)


HALF_PI = math.pi / 2
TAN = _unary_math("tan", np.tan, math.tan,
                  lambda ns, g, out, ctx, a: g + g * out * out, reads=((OUT,),),
                  kinks={0: (-HALF_PI, HALF_PI)})  # poles: kept a margin away in tests
ASIN = _unary_math("asin", np.arcsin, math.asin,
                   lambda ns, g, out, ctx, a: g * ns.pow(1 - a * a, -0.5),
                   domain={0: "open_unit"})
ACOS = _unary_math("acos", np.arccos, math.acos,
                   lambda ns, g, out, ctx, a: -g * ns.pow(1 - a * a, -0.5),
                   domain={0: "open_unit"})
ATAN = _unary_math("atan", np.arctan, math.atan, lambda ns, g, out, ctx, a: g / (a * a + 1))
SINH = _unary_math("sinh", np.sinh, math.sinh, lambda ns, g, out, ctx, a: g * ns.cosh(a))
COSH = _unary_math("cosh", np.cosh, math.cosh, lambda ns, g, out, ctx, a: g * ns.sinh(a))
ASINH = _unary_math("asinh", np.arcsinh, math.asinh,
                    lambda ns, g, out, ctx, a: g * ns.pow(a * a + 1, -0.5))
ACOSH = _unary_math("acosh", np.arccosh, math.acosh,
                    lambda ns, g, out, ctx, a: g * ns.pow(a * a - 1, -0.5),
                    domain={0: "gt_one"})
ATANH = _unary_math("atanh", np.arctanh, math.atanh,
                    lambda ns, g, out, ctx, a: g / (1 - a * a), domain={0: "open_unit"})
ERF = _unary_math("erf", _erf, math.erf,
                  lambda ns, g, out, ctx, a: g * TWO_OVER_SQRT_PI * ns.exp(-(a * a)))
EXP2 = _unary_math("exp2", np.exp2, lambda x: 2.0 ** x,
                   lambda ns, g, out, ctx, a: g * out * LN2, reads=((OUT,),))
LOG2 = _unary_math("log2", np.log2, math.log2,
                   lambda ns, g, out, ctx, a: g / (a * LN2), domain={0: "positive"})
LOG10 = _unary_math("log10", np.log10, math.log10,
                    lambda ns, g, out, ctx, a: g / (a * LN10), domain={0: "positive"})
# Piecewise constant: zero gradient; the jumps are kinks for the tests.
_INTEGERS = tuple(float(k) for k in range(-3, 4))
FLOOR = _unary_math("floor", np.floor, lambda x: float(np.floor(x)), _zero_vjp, reads=((),),
                    kinks={0: _INTEGERS})
CEIL = _unary_math("ceil", np.ceil, lambda x: float(np.ceil(x)), _zero_vjp, reads=((),),
                   kinks={0: _INTEGERS})
TRUNC = _unary_math("trunc", np.trunc, lambda x: float(np.trunc(x)), _zero_vjp, reads=((),),
                    kinks={0: _INTEGERS})
# Half to even, as torch.round and np.round; ctx = (decimals,).
ROUND = defop("round", lambda a, decimals=0: np.round(a, decimals),
              lambda a, decimals=0: float(np.round(a, decimals)), _zero_vjp, reads=((),),
              kinks={0: tuple(k + 0.5 for k in range(-4, 4))}, elementwise=True)


def _quotient(a: Any, b: Any, rounding: str) -> Any:
    q = _value(a) / _value(b)
    return getattr(array_namespace(q), rounding)(q)


# a − q·b for the quotient q = a/b rounded down (remainder, the sign of b, as torch's and
# Python's %) or toward zero (fmod, the sign of a): gradients 1 and −q, with q a constant
# (its derivative is 0).  The jumps, where a/b is an integer, are kinks for the tests.
REMAINDER = defop("remainder", np.remainder, None,
                  lambda ns, g, out, ctx, a, b: g,
                  lambda ns, g, out, ctx, a, b: -g * _quotient(a, b, "floor"),
                  reads=((), (0, 1)), domain={1: "nonzero"})
FMOD = defop("fmod", np.fmod, None,
             lambda ns, g, out, ctx, a, b: g,
             lambda ns, g, out, ctx, a, b: -g * _quotient(a, b, "trunc"),
             reads=((), (0, 1)), domain={1: "nonzero"})


# Piecewise constant: zero gradient, kink (the jump) at 0.
SIGN = defop("sign", np.sign, lambda a: float(np.sign(a)), _zero_vjp, kinks={0: (0.0,)},
             elementwise=True)
# |a| with b's sign: a's gradient is g·sign(a)·(±1 by b's sign, a constant); b's is 0.
COPYSIGN = defop("copysign", np.copysign, math.copysign,
                 lambda ns, g, out, ctx, a, b: ns.where(_signbit(_value(b)), -g, g) * ns.sign(a),
                 lambda ns, g, out, ctx, a, b: ns.zeros_like(g), reads=((0, 1), ()))


def _signbit(b: Any) -> Any:
    return array_namespace(b).signbit(b)


EXPM1 = _unary_math("expm1", np.expm1, math.expm1,
                    lambda ns, g, out, ctx, a: g * out + g, reads=((OUT,),))
# atan2(a, b): the angle of the point (b, a).  It jumps by 2π across a = 0 for b < 0 and
# has no derivative at the origin: the tests keep a a margin from 0.
ATAN2 = defop("atan2", np.arctan2, math.atan2,
              lambda ns, g, out, ctx, a, b: g * b / (a * a + b * b),
              lambda ns, g, out, ctx, a, b: -g * a / (a * a + b * b),
              reads=((0, 1), (0, 1)), domain={0: "nonzero"})


# ctx = (lo, hi), either may be None.
CLIP = defop("clip", lambda a, lo, hi: np.clip(a, lo, hi),
             lambda a, lo, hi: min(max(a, -math.inf if lo is None else lo),
                                   math.inf if hi is None else hi),
             lambda ns, g, out, ctx, a: ns.where(ns.within(a, *ctx), g, 0),
             reads=((0,),), kinks="bounds")
# ctx = (condition,), a constant boolean array.
WHERE = defop("where", lambda a, b, cond: np.where(cond, a, b), None,
              lambda ns, g, out, ctx, a, b: ns.where(ctx[0], g, 0),
              lambda ns, g, out, ctx, a, b: ns.where(ctx[0], 0, g))
# Changes dtype only; the engine casts every gradient back to its input's dtype.
CAST = defop("cast", lambda a, dtype: a.astype(dtype), None,
             lambda ns, g, out, ctx, a: g)


# ----------------------------------------------------------------------- reductions
def _keep_shape(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> tuple[int, ...]:
    """``shape`` with the reduced axes kept as size 1 (axis normalised, non-negative)."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else s for i, s in enumerate(shape))


def _sum_vjp(ns: Any, g: Any, out: Any, ctx: Any, a: Any) -> Any:
    axis, keepdims = ctx
    if not keepdims:
        g = ns.reshape(g, _keep_shape(a.shape, axis))
    return ns.expand(g, a.shape)


def _extremum_vjp(ns: Any, g: Any, out: Any, ctx: Any, a: Any) -> Any:
    # Ties share the gradient equally: g * 1[a == max] / (number of ties).
    axis, keepdims = ctx
    if not keepdims:
        kshape = _keep_shape(a.shape, axis)
        g, out = ns.reshape(g, kshape), ns.reshape(out, kshape)
    mask = ns.cast(ns.eq(a, out), g.dtype)
    return g * mask / ns.sum(mask, axis, True)


SUM = defop("sum", lambda a, axis, keepdims: np.sum(a, axis, keepdims=keepdims), None,
            _sum_vjp)
MAX = defop("max", lambda a, axis, keepdims: np.max(a, axis, keepdims=keepdims), None,
            _extremum_vjp, reads=((0, OUT),), kinks="ties")
MIN = defop("min", lambda a, axis, keepdims: np.min(a, axis, keepdims=keepdims), None,
            _extremum_vjp, reads=((0, OUT),), kinks="ties")


def _prod_vjp(ns: Any, g: Any, out: Any, ctx: Any, a: Any) -> Any:
    # ∂out/∂a_i is the product of the others: out / a_i where a_i != 0, and at zeros the
    # exact product too (as PyTorch), written so that its own derivative is also exact.
    axis, keepdims = ctx
    if not keepdims:
        kshape = _keep_shape(a.shape, axis)
        g, out = ns.reshape(g, kshape), ns.reshape(out, kshape)
    zero = _value(a) == 0
    if not _anywhere(zero):
        return g * (out / a)
    xp = array_namespace(zero)
    count = xp.sum(xp.astype(zero, xp.int64), axis=axis, keepdims=True)
    safe = ns.where(zero, 1, a)
    # At a zero: the product of the nonzero rest, times the slice's other zero when there
    # are two (0 in value, but with the right derivative), 0 with three or more.
    other_zero = ns.sum(ns.where(zero, a, 0), axis, True) - a
    at_zero = ns.prod(safe, axis, True) * ns.where(count == 1, 1,
                                                   ns.where(count == 2, other_zero, 0))
    return g * ns.where(zero, at_zero, out / safe)


PROD = defop("prod", lambda a, axis, keepdims: np.prod(a, axis, keepdims=keepdims), None,
             _prod_vjp, reads=((0, OUT),), domain={0: "nonzero"})


# --------------------------------------------------------------------------- shapes
RESHAPE = defop("reshape", buffers.reshape, None,
                lambda ns, g, out, ctx, a: ns.reshape(g, a.shape))
TRANSPOSE = defop("transpose", lambda a, axes: np.transpose(a, axes), None,
                  lambda ns, g, out, ctx, a: ns.transpose(
                      g, tuple(sorted(range(len(ctx[0])), key=ctx[0].__getitem__))))
# ctx = (axes,): a copy, as torch.flip (no view shares the input's memory).
FLIP = defop("flip", lambda a, axes: np.flip(a, axes).copy(), None,
             lambda ns, g, out, ctx, a: ns.flip(g, ctx[0]))
# ctx = (shifts, axes), tuples of one length.
ROLL = defop("roll", lambda a, shifts, axes: np.roll(a, shifts, axes), None,
             lambda ns, g, out, ctx, a: ns.roll(g, tuple(-k for k in ctx[0]), ctx[1]))
# ctx = (axis,): the gradient is the reversed cumulative sum of g along the axis.
CUMSUM = defop("cumsum", lambda a, axis: np.cumsum(a, axis), None,
               lambda ns, g, out, ctx, a: ns.flip(ns.cumsum(ns.flip(g, ctx), ctx[0]), ctx))
# The engine's unbroadcast sums the gradient back to the input's shape: the rule is g.
EXPAND = defop("expand", lambda a, shape: np.broadcast_to(a, shape), None,
               lambda ns, g, out, ctx, a: g)
def add_at_np(g: Any, index: Any, basic: bool, shape: tuple[int, ...]) -> np.ndarray:
    """Adjoint of indexing: a zero array of ``shape`` with ``g`` added at ``index``."""
    out = buffers.zeros(shape, np.result_type(g))
    if basic:  # basic indices never repeat an element: plain assignment is exact
        out[index] = g
    else:  # advanced indices may repeat an element: accumulate
        np.add.at(out, index, g)
    return out


# ctx = (index, is_basic); the adjoint pair getitem <-> add_at (np.add.at into zeros).
GETITEM = defop("getitem", lambda a, index, basic: a[index], None,
                lambda ns, g, out, ctx, a: ns.add_at(g, *ctx, a.shape))
# ctx = (index, is_basic, shape)
ADD_AT = defop("add_at", add_at_np, None,
                lambda ns, g, out, ctx, a: ns.getitem(g, ctx[0]))
def setitem_np(a: np.ndarray, v: Any, index: Any, basic: bool) -> np.ndarray:
    """``a`` with ``a[index] = v``, out of place."""
    out = a.copy()
    out[index] = v
    return out


def _setitem_vjp_a(ns: Any, g: Any, out: Any, ctx: Any, a: Any, v: Any) -> Any:
    if not isinstance(_value(g), np.ndarray):  # another array library
        from .backends import setitem_masks

        return ns.where(setitem_masks(_value(g), ctx[0], a.shape)[0], g, 0)
    keep = np.ones(a.shape, dtype=bool)  # the overwritten elements get no gradient
    keep[ctx[0]] = False
    return ns.where(keep, g, 0)


def _setitem_vjp_v(ns: Any, g: Any, out: Any, ctx: Any, a: Any, v: Any) -> Any:
    index, basic = ctx
    picked = ns.getitem(g, index)
    if basic:
        return picked
    # A repeated advanced index writes several values to one element and only the last
    # lands: replay the assignment with value ids to find the writes that survived.
    if not isinstance(_value(g), np.ndarray):  # another array library
        from .backends import setitem_masks

        return ns.where(setitem_masks(_value(g), index, a.shape)[1], picked, 0)
    ids = np.arange(math.prod(picked.shape)).reshape(picked.shape)
    owner = np.full(a.shape, -1)
    owner[index] = ids
    return ns.where(owner[index] == ids, picked, 0)


# ctx = (index, is_basic); the value v is broadcast into a[index] (x[index] = v).
SETITEM = defop("setitem", setitem_np, None, _setitem_vjp_a, _setitem_vjp_v)
# ctx = (((before, after), ...) per axis, fill value); adjoint: slice the border off again.
def pad_np(a: np.ndarray, widths: tuple[tuple[int, int], ...], value: Any) -> np.ndarray:
    """``a`` with ``widths`` (before, after) of ``value`` around each axis, as ``np.pad``'s
    constant mode (the same casts), into a buffer."""
    out = buffers.empty(tuple(n + lo + hi for n, (lo, hi) in zip(a.shape, widths, strict=True)),
                        a.dtype)
    out.fill(value)
    out[tuple(slice(lo, lo + n) for n, (lo, _) in zip(a.shape, widths, strict=True))] = a
    return out


PAD = defop("pad", pad_np, None,
            lambda ns, g, out, ctx, a: ns.getitem(
                g, tuple(slice(lo, g.shape[i] - hi) for i, (lo, hi) in enumerate(ctx[0]))))


def _column_major(x: Any) -> bool:
    """Whether ``x``'s last two axes are laid out swapped, as in ``W.mT`` of a row-major W.

    The matmul rules then compute that input's gradient transposed (same product, BLAS
    takes the transposes for free), so it arrives in the input's own layout: ``linear``'s
    weight gradient comes back row-major like the weight, and the optimizer's elementwise
    update runs on matching layouts instead of striding across one (PyTorch's mm backward
    makes the same choice).
    """
    strides: tuple[int, ...] = getattr(getattr(x, "data", x), "strides", ())  # others: none
    return len(strides) >= 2 and strides[-2] < strides[-1]


def _matmul_vjp_a(ns: Any, g: Any, out: Any, ctx: Any, a: Any, b: Any) -> Any:
    if b.ndim == 1:  # out (..., n) or (); ga = g ⊗ b
        return ns.expand_dims(g, -1) * b
    if a.ndim == 1:  # out (..., m); ga[k] = Σ_m b[..., k, m] g[..., m]
        return ns.matmul(b, ns.expand_dims(g, -1))[..., 0]
    if _column_major(a):  # ga = g bᵀ = (b gᵀ)ᵀ
        return ns.mT(ns.matmul(b, ns.mT(g)))
    return ns.matmul(g, ns.mT(b))


def _matmul_vjp_b(ns: Any, g: Any, out: Any, ctx: Any, a: Any, b: Any) -> Any:
    if a.ndim == 1:  # out (..., m) or (); gb = a ⊗ g
        return ns.expand_dims(a, -1) * ns.expand_dims(g, -2) if b.ndim > 1 else g * a
    if b.ndim == 1:  # out (..., n); gb[k] = Σ_n a[..., n, k] g[..., n]
        return ns.matmul(ns.mT(a), ns.expand_dims(g, -1))[..., 0]
    if _column_major(b):  # gb = aᵀ g = (gᵀ a)ᵀ
        return ns.mT(ns.matmul(ns.mT(g), a))
    return ns.matmul(ns.mT(a), g)


# Each rule also reads its own input, for its layout (``_column_major``).
MATMUL = defop("matmul", buffers.matmul, None, _matmul_vjp_a, _matmul_vjp_b,
               reads=((0, 1), (0, 1)))


def add_into(product: Any, c: np.ndarray) -> Any:
    """``product + c``, written into the fresh ``product`` when that keeps its shape and
    dtype: one array and one pass fewer than a separate add (a layer's bias)."""
    if (type(product) is np.ndarray and np.result_type(product, c) == product.dtype
            and np.broadcast_shapes(product.shape, c.shape) == product.shape):
        return np.add(product, c, out=product)
    return product + c


def addmm_np(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``c + a @ b`` (``ops.addmm`` checks that ``c`` fits the product first)."""
    return add_into(buffers.matmul(a, b), c)


# The product's rules, with the inputs shifted by one (g has the product's shape, as c
# may not enlarge it); c's gradient is g, unbroadcast.
ADDMM = defop("addmm", addmm_np, None,
              lambda ns, g, out, ctx, c, a, b: g,
              lambda ns, g, out, ctx, c, a, b: _matmul_vjp_a(ns, g, out, ctx, a, b),
              lambda ns, g, out, ctx, c, a, b: _matmul_vjp_b(ns, g, out, ctx, a, b),
              reads=((), (1, 2), (1, 2)))


def _concat_vjp(i: int) -> Any:
    def rule(ns: Any, g: Any, out: Any, ctx: Any, *xs: Any) -> Any:
        axis, bounds = ctx
        index = (slice(None),) * axis + (slice(bounds[i], bounds[i + 1]),)
        return ns.getitem(g, index)
    return rule


_CONCAT_OPS: dict[int, Op] = {}


def _concat_np(*args: Any) -> np.ndarray:
    *xs, axis, _bounds = args  # ctx = (axis, bounds) follows the inputs
    return np.concatenate(xs, axis=axis)


def concat_op(n: int) -> Op:
    """The concatenate primitive for ``n`` inputs (one rule per input, cached by arity)."""
    op = _CONCAT_OPS.get(n)
    if op is None:
        op = _CONCAT_OPS[n] = Op("concat", _concat_np, None, [_concat_vjp(i) for i in range(n)],
                                 reads=((),) * n)
    return op


OPS["concat"] = concat_op(2)


# ------------------------------------------------------------ sliding windows (im2col)
def windows_np(a: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Zero-copy view (..., OH, OW, KH, KW) of the KHxKW windows of the last two axes."""
    kh, kw = kernel
    sh, sw = stride
    h, w = a.shape[-2:]
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    s = a.strides
    shape = a.shape[:-2] + (oh, ow, kh, kw)
    strides = s[:-2] + (s[-2] * sh, s[-1] * sw, s[-2], s[-1])
    return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=False)


def fold_np(g: np.ndarray, size: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Adjoint of ``windows_np`` (col2im): add each window back; one loop per kernel offset."""
    oh, ow, kh, kw = g.shape[-4:]
    sh, sw = stride
    out = buffers.zeros(g.shape[:-4] + tuple(size), g.dtype)
    for i in range(kh):
        for j in range(kw):
            out[..., i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += g[..., i, j]
    return out


def window_offsets(shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int]
                   ) -> list[tuple[Any, slice, slice]]:
    """For each kernel offset (i, j), the index of the (..., OH, OW) grid of window elements
    at that offset: ``a[index][..., p, q]`` is element (i, j) of window (p, q)."""
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = (shape[-2] - kh) // sh + 1, (shape[-1] - kw) // sw + 1
    return [(Ellipsis, slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


def window_max_np(a: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]
                  ) -> np.ndarray:
    """Max over each window, as a running maximum of the KH·KW offset grids: numpy's max over
    the two tiny trailing axes of the window view is many times slower, and stacking the
    grids first copies the input."""
    first, *rest = window_offsets(a.shape, kernel, stride)
    out = buffers.copy(a[first])
    for index in rest:
        np.maximum(out, a[index], out=out)
    return out


def window_ties(a: np.ndarray, top: np.ndarray, kernel: tuple[int, int],
                stride: tuple[int, int], dtype: Any) -> tuple[list, list[np.ndarray], np.ndarray]:
    """Per offset, the index of its grid and where it holds its window's max; and per window,
    how many elements tie for the max (0 only where the max is NaN): as ``dtype``, or for
    numpy as uint8 while it cannot overflow (one-byte adds: W5 counts in half the time)."""
    offsets = window_offsets(a.shape, kernel, stride)
    if not isinstance(a, np.ndarray):  # another library: its masks do not mix with floats
        xp = array_namespace(a)
        ties = [xp.astype(a[index] == top, dtype) for index in offsets]
        return offsets, ties, sum(ties[1:], ties[0])
    ties = [a[index] == top for index in offsets]
    wide = len(ties) > 255  # a uint8 count would wrap around
    count = ties[0].astype(dtype if wide else np.uint8)
    for tie in ties[1:]:
        count += tie if wide else tie.view(np.uint8)  # the view: an add without a cast
    return offsets, ties, count


def window_max_grad_np(g: np.ndarray, a: np.ndarray, top: np.ndarray, kernel: tuple[int, int],
                       stride: tuple[int, int]) -> np.ndarray:
    """``window_max``'s backward: each window's gradient goes to its maximum, shared equally
    among tied elements (the ``max`` convention); one out-sized mask per offset, no mask of
    the window layout.  A window whose max is NaN gets NaN gradients, as with ``max``."""
    offsets, ties, count = window_ties(a, top, kernel, stride, g.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):  # count 0: a NaN window
        share = np.divide(g, count, out=buffers.like(g), dtype=g.dtype)
        (kh, kw), (sh, sw) = kernel, stride
        if (sh, sw) == (kh, kw) and (a.shape[-2] - kh) % sh == 0 and (a.shape[-1] - kw) % sw == 0:
            # The windows tile the input: each offset grid is written once, nothing left over.
            grad = buffers.empty(a.shape, share.dtype)
            for index, tie in zip(offsets, ties, strict=True):
                np.multiply(share, tie, out=grad[index])
            return grad
        grad = buffers.zeros(a.shape, share.dtype)  # overlaps accumulate; gaps stay zero
        for index, tie in zip(offsets, ties, strict=True):
            grad[index] += share * tie
        return grad


def _window_max_gather(ns: Any, gg: Any, out: Any, ctx: Any, g: Any) -> Any:
    # window_max_grad is linear in g with the constant weight tie/count per (window, offset);
    # its adjoint gathers each window's share back from where it was sent.
    a, top, kernel, stride = ctx
    offsets, ties, count = window_ties(a, top, kernel, stride, gg.dtype)
    total = None
    with np.errstate(divide="ignore", invalid="ignore"):
        for index, tie in zip(offsets, ties, strict=True):
            weight = (np.divide(tie, count, dtype=gg.dtype) if isinstance(count, np.ndarray)
                      else tie / count)
            term = ns.getitem(gg, index) * weight
            total = term if total is None else total + term
    return total


# ctx = (kernel, stride); the rule reads the input and the output (where the max sits).
WINDOW_MAX = defop("window_max", window_max_np, None,
                   lambda ns, g, out, ctx, a: ns.window_max_grad(g, a, out, *ctx),
                   reads=((0, OUT),), kinks="ties")
# ctx = (input, its window_max, kernel, stride): constants, so the op is linear in g.
WINDOW_MAX_GRAD = defop("window_max_grad", window_max_grad_np, None, _window_max_gather)

# ctx = (kernel, stride) for windows; (size, stride) for its adjoint fold.
WINDOWS = defop("windows", windows_np, None,
                lambda ns, g, out, ctx, a: ns.fold(g, a.shape[-2:], ctx[1]))
FOLD = defop("fold", fold_np, None,
             lambda ns, g, out, ctx, a: ns.windows(g, a.shape[-2:], ctx[1]))
