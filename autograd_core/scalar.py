"""`Scalar`: a Python float that records operations (micrograd-style); same engine as Tensor."""

from __future__ import annotations

import operator
from types import SimpleNamespace
from typing import Any

from . import engine
from . import primitives as P
from .engine import COUNTS, SEQ, STATE, Const, Node, Op, Recorded, _annotate, const
from .namespaces import FLOAT_NS

__all__ = ["Scalar"]

_new = object.__new__


def _snew(value: float) -> Scalar:
    """A leaf Scalar that does not require grad (no checks: a hot path)."""
    s = _new(Scalar)
    s.data = value
    s.grad = 0.0
    s.requires_grad = False
    s._op = None
    s._a = None
    s._pending = None
    return s


def _record(op: Op, value: float, a: Node, b: Node | None = None, ctx: Any = None
            ) -> Scalar:
    """A Scalar of ``value`` recorded as ``op`` of ``a`` (and ``b``); grad mode is checked
    by the caller.  Every field is set once: this is the hot path of every Scalar op."""
    s = _new(Scalar)
    s.data = value
    s.grad = 0.0
    s.requires_grad = True
    s._op = op
    s._a = a
    s._b = b
    s._out = value
    s._pending = None
    s._seq = next(SEQ)
    if ctx is not None:
        s._ctx = ctx  # rare (clip): lands in the instance dict, see Scalar
    if COUNTS.annotating and STATE.annotate:
        _annotate(s, value)
    return s


# The constants of repeated numbers, shared: a Const is immutable and never requires grad,
# so one object can stand in any number of graphs; every one fewer is one object fewer for
# Python's cyclic collector to scan while a graph is alive (see Scalar).  Zero (-0.0 ==
# 0.0) and NaN are not cached, and the cache stops growing at 1,024 entries.
_CONSTS: dict[float, Const] = {}


def _constant(x: float) -> Const:
    c = _CONSTS.get(x)
    if c is None:
        c = const(x)
        if x and x == x and len(_CONSTS) < 1024:
            _CONSTS[x] = c
    return c


def _operand(x: Any, op: Op) -> Node:
    if isinstance(x, Scalar):
        return x
    if isinstance(x, (int, float)):
        return _constant(float(x))
    raise TypeError(f"{op.name}: cannot combine a Scalar with a {type(x).__name__}; Scalar "
                    f"works with Scalars and Python numbers (use Tensor for arrays)")


def _binary(op: Op, a: Any, b: Any) -> Scalar:
    if type(a) is not Scalar:
        a = _operand(a, op)
    if type(b) is not Scalar:
        b = _operand(b, op)
    if (a.requires_grad or b.requires_grad) and (not COUNTS.grad_off or STATE.grad_enabled):
        return _record(op, op.sfwd(a.data, b.data), a, b)
    return _snew(op.sfwd(a.data, b.data))


def _unary(op: Op, a: Scalar) -> Scalar:
    if a.requires_grad and (not COUNTS.grad_off or STATE.grad_enabled):
        return _record(op, op.sfwd(a.data), a)
    return _snew(op.sfwd(a.data))


class Scalar(Recorded):
    """A float that remembers how it was computed; ``backward()`` fills every ``.grad``.

    Unlike Tensor, a Scalar requires grad by default (as in micrograd).  Scalars combine
    with Python numbers and other Scalars, not with Tensors (a clear TypeError).

    >>> x, w = Scalar(2.0), Scalar(-3.0)
    >>> y = (x * w).relu() + x
    >>> y.backward()
    >>> x.grad, w.grad
    (1.0, 0.0)
    """

    # A recorded Scalar saves its parents' floats (its parents are in ``_a`` and ``_b``,
    # see Recorded) and its own (``_out``) until a backward without retain_graph releases
    # them (``_out`` None); ``_saved`` builds the tuple when asked.
    __slots__ = ("data", "grad")
    _values_in_parents = True  # see Recorded
    _plain_ns = FLOAT_NS
    # Class constants shadowing Node's slots, one store fewer per op: a Scalar has no hooks,
    # its gradients always fit (floats), and only clip has a context (in the instance dict).
    _hooks = None  # type: ignore[misc]
    _fits = True  # type: ignore[misc]
    _ctx = None  # type: ignore[misc]

    def __init__(self, data: float, requires_grad: bool = True, name: str | None = None
                 ) -> None:
        if isinstance(data, Node):
            raise TypeError(f"Scalar: expected a number, got {type(data).__name__}")
        self.data = float(data)
        self.grad: Any = 0.0
        self.requires_grad = bool(requires_grad)
        self._op = None
        self._a = None
        self._pending = None
        if name is not None:
            self.name = name

    @property
    def _saved(self) -> tuple[Node, ...] | None:  # type: ignore[override]
        return self._parents if self._op is not None and self._out is not None else None

    def __repr__(self) -> str:
        name = f"{self.name}: " if self.name else ""
        return f"Scalar({name}data={self.data:.6g}, grad={_fmt(self.grad)})"

    def _describe(self) -> str:
        name = f"'{self.name}' " if self.name else ""
        return f"Scalar {name}{self.data:.6g}"

    def __float__(self) -> float:
        return self.data

    def item(self) -> float:
        return self.data

    # ------------------------------------------------------------------ autograd API
    def backward(self, grad: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see ``Tensor.backward``)."""
        engine.backward(self, grad, retain_graph, create_graph)

    def _seed_grad(self, grad: Any, create_graph: bool) -> Any:
        g = 1.0 if grad is None else float(grad)
        return Scalar(g, requires_grad=False) if create_graph else g

    def _accumulate(self, g: Any, create_graph: bool, fresh: bool) -> None:
        self.grad = self.grad + g

    def _graph_out(self) -> Scalar:
        return self  # a Scalar is its own node: its value is always at hand

    def detach(self) -> Scalar:
        """The same value, cut from the graph (does not require grad)."""
        return Scalar(self.data, requires_grad=False)

    def zero_grad(self) -> None:
        self.grad = 0.0

    # ------------------------------------------------------------------ operators
    def __add__(self, other: Any) -> Scalar:
        return _binary(P.ADD, self, other)

    def __radd__(self, other: Any) -> Scalar:
        return _binary(P.ADD, other, self)

    def __sub__(self, other: Any) -> Scalar:
        return _binary(P.SUB, self, other)

    def __rsub__(self, other: Any) -> Scalar:
        return _binary(P.SUB, other, self)

    def __mul__(self, other: Any) -> Scalar:
        return _binary(P.MUL, self, other)

    def __rmul__(self, other: Any) -> Scalar:
        return _binary(P.MUL, other, self)

    def __truediv__(self, other: Any) -> Scalar:
        return _binary(P.DIV, self, other)

    def __rtruediv__(self, other: Any) -> Scalar:
        return _binary(P.DIV, other, self)

    def __pow__(self, other: Any) -> Scalar:
        return _binary(P.POW, self, other)

    def __rpow__(self, other: Any) -> Scalar:
        return _binary(P.POW, other, self)

    def __neg__(self) -> Scalar:
        return _unary(P.NEG, self)

    def __pos__(self) -> Scalar:
        return self

    def __abs__(self) -> Scalar:
        return _unary(P.ABS, self)

    # Comparisons compare values and give plain bools (identity stays the hash and ==).
    def __lt__(self, other: Any) -> bool:
        return self.data < _value(other)

    def __le__(self, other: Any) -> bool:
        return self.data <= _value(other)

    def __gt__(self, other: Any) -> bool:
        return self.data > _value(other)

    def __ge__(self, other: Any) -> bool:
        return self.data >= _value(other)

    # ------------------------------------------------------------------ functions
    def exp(self) -> Scalar:
        return _unary(P.EXP, self)

    def log(self) -> Scalar:
        return _unary(P.LOG, self)

    def log1p(self) -> Scalar:
        return _unary(P.LOG1P, self)

    def sqrt(self) -> Scalar:
        return _unary(P.SQRT, self)

    def sin(self) -> Scalar:
        return _unary(P.SIN, self)

    def cos(self) -> Scalar:
        return _unary(P.COS, self)

    def tanh(self) -> Scalar:
        return _unary(P.TANH, self)

    def sigmoid(self) -> Scalar:
        return _unary(P.SIGMOID, self)

    def relu(self) -> Scalar:
        return _unary(P.RELU, self)

    def abs(self) -> Scalar:
        return _unary(P.ABS, self)

    def maximum(self, other: Any) -> Scalar:
        return _binary(P.MAXIMUM, self, other)

    def minimum(self, other: Any) -> Scalar:
        return _binary(P.MINIMUM, self, other)

    def clip(self, min: float | None = None, max: float | None = None) -> Scalar:  # noqa: A002
        value = P.CLIP.sfwd(self.data, min, max)
        if self.requires_grad and (not COUNTS.grad_off or STATE.grad_enabled):
            return _record(P.CLIP, value, self, None, (min, max))
        return _snew(value)


def _value(x: Any) -> float:
    return x.data if isinstance(x, Scalar) else x


def _fmt(g: Any) -> str:
    return repr(g) if isinstance(g, Scalar) else f"{g:.6g}"


def _graph_unary(op: Op) -> Any:
    def fn(x: Any) -> Any:
        return _unary(op, x) if isinstance(x, Scalar) else op.sfwd(x)
    return fn


Scalar._graph_ns = SimpleNamespace(
    exp=_graph_unary(P.EXP), log=_graph_unary(P.LOG), sin=_graph_unary(P.SIN),
    cos=_graph_unary(P.COS), sign=lambda x: FLOAT_NS.sign(_value(x)),
    sinh=_graph_unary(P.SINH), cosh=_graph_unary(P.COSH),
    zeros_like=FLOAT_NS.zeros_like,
    pow=lambda a, b: _binary(P.POW, a, b) if isinstance(a, Scalar) or isinstance(b, Scalar)
    else P._spow(a, b),
    where=FLOAT_NS.where, eq=lambda a, b: _value(a) == _value(b),
    within=lambda a, lo, hi: FLOAT_NS.within(_value(a), lo, hi),
    unbroadcast=FLOAT_NS.unbroadcast, mask=operator.mul,
)
