"""`Function`: user-defined differentiable operations with their own numpy forward and backward.

Example -- a numerically stable ``log(1 + e**x)``:

>>> import numpy as np
>>> import autograd_core as ag
>>> class Log1pExp(ag.Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return np.logaddexp(0.0, x)          # numpy in, numpy out
...     @staticmethod
...     def backward(ctx, grad):
...         (x,) = ctx.saved_tensors                # Tensors here
...         return grad * ag.sigmoid(x)             # engine ops: differentiable again
>>> x = ag.tensor([-800.0, 0.0, 800.0], requires_grad=True)
>>> y = Log1pExp.apply(x)
>>> y.sum().backward()
>>> x.grad.tolist()
[0.0, 0.5, 1.0]

``forward`` receives the inputs' numpy arrays (other arguments as given) and returns an
array.  ``backward`` receives the output gradient as a Tensor and returns one gradient per
input of ``forward`` (a Tensor, an array, or None).  Arrays saved with
``save_for_backward`` come back in ``saved_tensors`` as the *input or output Tensors* they
belong to, so a backward written with engine ops is itself differentiable: second
derivatives (``create_graph=True``) work.  The op appears in drawings under the class name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import backends
from .engine import SAVED_PARENTS, STATE, Op, const
from .tensor import Tensor, TensorNode, _made_by, _make

__all__ = ["Function", "FunctionCtx"]


class FunctionCtx:
    """What ``forward`` and ``backward`` share: saved arrays and any attributes you set."""

    def __init__(self) -> None:
        self.saved: tuple[Any, ...] = ()
        self.needs_input_grad: tuple[bool, ...] = ()
        self._memo: tuple[Any, tuple] | None = None
        self._node: TensorNode | None = None

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays (inputs, the output, or anything else) for ``backward``."""
        self.saved = arrays

    @property
    def saved_tensors(self) -> tuple[Tensor, ...]:
        """The saved arrays as Tensors: the input/output Tensor itself when the array is
        one of theirs (so gradients of gradients flow), otherwise a constant."""
        node = self._node
        owners: dict[int, Any] = {}
        if node is not None and node._saved is not None:  # the node saved every input
            saved = node._parents if node._saved is SAVED_PARENTS else node._saved
            owners = {id(x.data): x for x in saved if isinstance(x, Tensor)}
            owners[id(node._out)] = node._graph_out()
        out: list[Any] = []
        for a in self.saved:
            owner = owners.get(id(a))
            if owner is None or not STATE.grad_enabled:
                owner = _make(_array(a)) if owner is None else _make(owner.data)
            out.append(owner)
        return tuple(out)


class Function:
    """Base class for custom ops: subclass, define static ``forward`` and ``backward``,
    call ``YourFunction.apply(*args)``.  See the module docstring for a full example."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> Any:
        raise NotImplementedError("Function subclasses define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx: FunctionCtx, grad: Tensor) -> Any:
        raise NotImplementedError("Function subclasses define backward(ctx, grad)")

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run ``forward`` on the arguments' arrays and record the op."""
        ctx = FunctionCtx()
        parents = tuple(a if isinstance(a, Tensor) else const(a) for a in args)
        ctx.needs_input_grad = tuple(p.requires_grad for p in parents)
        data = _array(cls.forward(ctx, *[p.data for p in parents]))
        if STATE.grad_enabled and any(ctx.needs_input_grad):
            out = _made_by(data, _op_for(cls, len(parents)), parents, (ctx,))
            ctx._node = out.grad_fn
            return out
        return _make(data)


def _op_for(cls: type[Function], n: int) -> Op:
    """The Op of ``cls`` for ``n`` inputs (cached on the class)."""
    ops = cls.__dict__.get("_agc_ops")
    if ops is None:
        ops = {}
        cls._agc_ops = ops  # type: ignore[attr-defined]
    op = ops.get(n)
    if op is None:
        def replay(*args: Any) -> Any:  # the inputs, then the recorded ctx (if still kept)
            return cls.forward(FunctionCtx(), *args[:n])

        # reads left undeclared: backward may read anything it saved
        op = ops[n] = Op(cls.__name__, replay, None, [_rule(cls, i) for i in range(n)],
                         ctx_saves=True)
    return op


def _rule(cls: type[Function], i: int) -> Any:
    def rule(ns: Any, g: Any, out: Any, ctx: Any, *inputs: Any) -> Any:
        fctx: FunctionCtx = ctx[0]
        memo = fctx._memo
        if memo is None or memo[0] is not g:  # one backward call serves every input
            grads = cls.backward(fctx, g if isinstance(g, Tensor) else _make(_array(g)))
            if not isinstance(grads, tuple):
                grads = (grads,)
            if len(grads) != len(inputs):
                raise RuntimeError(f"{cls.__name__}.backward returned {len(grads)} gradients "
                                   f"for {len(inputs)} inputs of forward")
            fctx._memo = memo = (g, grads)
        gi = memo[1][i]
        if gi is None:
            value = _array(getattr(inputs[i], "data", inputs[i]))
            gi = backends.namespace(value).zeros_like(value)
        if isinstance(g, Tensor):  # create_graph: keep Tensors
            return gi if isinstance(gi, Tensor) else _make(_array(gi))
        return gi.data if isinstance(gi, Tensor) else _array(gi)
    return rule


def _array(x: Any) -> Any:
    """``x`` as an array: numpy's, unless it is already another library's (kept there)."""
    return x if backends.is_foreign(x) else np.asarray(x)
