"""`ag.compile`: record a computation once, then replay it as a flat plan of calls.

Tensor calls (any argument a Tensor or an array) are recorded by `tensor_plan`: the graph,
the backward pass and the events `tracing` reports (optimizer steps, running statistics,
random masks); the first two calls run eagerly and are compared, later ones replay, with a
few plans per argument signature (`TensorCalls`).  The rest of this docstring is about
Scalar calls.

The first call runs ``fn`` eagerly and reads the graph it recorded: every op's scalar
forward (``op.sfwd``) and backward rules (``op.vjps``), in the order the engine would run
them, over numbered slots.  Later calls replay that plan -- no Scalar or node objects, no
graph walk -- and ``backward()`` on the result runs the rules into the parameters'
``.grad``.  The arithmetic is the engine's own, call for call and in the same order, so
values and gradients are bit-identical to eager.

What the plan assumes, and how it is checked: the arguments (floats or Scalars, in any
nesting of lists and tuples) are what changes between calls; every other number ``fn``
uses is a constant; and ``fn`` takes the same path every time.  The second call records
again and compares: a constant or a path that depends on the data (``if x.data > 0``,
``Scalar(x.data)``) differs there and raises ``CompileError``.  A difference that appears
only on a later call cannot be seen; keep data-dependent control flow out of ``fn``.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import Any

import numpy as np

from . import backends
from .engine import STATE, Const
from .errors import CompileError
from .namespaces import FLOAT_NS
from .scalar import Scalar
from .tensor import Tensor, _make
from .tensor_plan import TensorPlan, check_same
from .tracing import Tracer

__all__ = ["CompileError", "Compiled", "compile"]


def _nesting(args: Any, leaf_key: Callable[[Any], Any]) -> tuple[list[Any], Any]:
    """The leaves of nested lists and tuples, and the nesting as a key (each leaf's part
    of it given by ``leaf_key``)."""
    leaves: list[Any] = []

    def walk(x: Any) -> Any:
        if isinstance(x, list | tuple):
            return (type(x).__name__, tuple(walk(v) for v in x))
        leaves.append(x)
        return ("leaf", leaf_key(x))
    return leaves, walk(args)


def _scalar_key(x: Any) -> str:
    if isinstance(x, Scalar):
        return "S"
    if isinstance(x, int | float):
        return "f"
    raise CompileError(f"compile: arguments must be Scalars or floats, or Tensors and "
                       f"arrays (in lists or tuples), got {type(x).__name__}")


def _flatten(args: Any) -> tuple[list[Any], Any]:
    """A Scalar call's leaves (Scalars, numbers as floats) and its nesting."""
    leaves, key = _nesting(args, _scalar_key)
    return [x if isinstance(x, Scalar) else float(x) for x in leaves], key


def _rebuild(key: Any, leaves: list[Any]) -> Any:
    """The nesting ``key`` describes, filled with ``leaves`` in order."""
    it = iter(leaves)

    def build(k: Any) -> Any:
        kind, items = k
        if kind == "leaf":
            return next(it)
        built = [build(v) for v in items]
        return built if kind == "list" else tuple(built)
    return build(key)


def _has_tensor(args: Any) -> bool:
    if isinstance(args, list | tuple):
        return any(_has_tensor(a) for a in args)
    return isinstance(args, Tensor | np.ndarray)


def _with_ctx(fn: Callable, ctx: Any) -> Callable:
    return functools.partial(lambda f, c, *xs: f(*xs, *c), fn, ctx) if ctx else fn


class _Plan:
    """One recording, flattened: slots for every value, the forward calls, the backward
    rule calls, and which slots are the arguments, the parameters and the output."""

    def __init__(self, out: Scalar, inputs: list[Scalar]) -> None:
        if not isinstance(out, Scalar):
            raise CompileError(f"compile: fn must return a Scalar, got {type(out).__name__}")
        if out._hooks is not None:
            raise CompileError("compile: the output has hooks, which a plan cannot replay")
        nodes = self._nodes(out)
        slot = {id(n): k for k, n in enumerate(nodes)}
        input_ids = {id(x): k for k, x in enumerate(inputs)}
        self.size = len(nodes)
        self.template: list[Any] = [None] * len(nodes)  # constants' values
        self.arguments: list[tuple[int, int]] = []  # (slot, argument index)
        self.params: list[tuple[int, Scalar]] = []  # (slot, leaf whose .data and .grad)
        self.forward: list[tuple[Callable, int, int, int]] = []
        self.signature: list[Any] = []  # compared between recordings
        recorded: list[tuple[int, int, Any, tuple[int, ...]]] = []  # (_seq, slot, node, ins)
        needs: set[int] = set()  # slots of the nodes that lead to a parameter
        for k, n in enumerate(nodes):  # parents before children
            if n._hooks is not None:
                raise CompileError(f"compile: {n._describe()} has hooks, which a plan "
                                   f"cannot replay")
            if n._op is None:
                if id(n) in input_ids:
                    self.arguments.append((k, input_ids[id(n)]))
                    self.signature.append(("arg", input_ids[id(n)]))
                elif n.requires_grad and type(n) is not Const:
                    self.params.append((k, n))
                    self.signature.append(("param", id(n)))
                    needs.add(k)
                else:
                    self.template[k] = n.data
                    self.signature.append(("const", n.data))
                continue
            ins = tuple([slot[id(p)] for p in n._parents])
            if len(ins) > 2:
                raise CompileError(f"compile: op '{n._op.name}' takes {len(ins)} inputs; "
                                   f"plans take one or two")
            a, b = ins[0], ins[1] if len(ins) == 2 else -1
            self.forward.append((_with_ctx(n._op.sfwd, n._ctx), k, a, b))
            self.signature.append((n._op.name, a, b, n._ctx))
            recorded.append((n._seq, k, n, ins))
            if a in needs or b in needs:
                needs.add(k)
        self.out = slot[id(out)]
        self.backward = self._backward_plan(recorded, needs)

    @staticmethod
    def _nodes(out: Scalar) -> list[Any]:
        """Every node ``out`` depends on (constants and non-grad leaves too), parents
        before children (iterative DFS)."""
        order: list[Any] = []
        state: dict[int, bool] = {}
        stack: list[Any] = [out]
        while stack:
            node = stack[-1]
            seen = state.get(id(node))
            if seen is None:
                state[id(node)] = False
                stack.extend(p for p in node._parents if id(p) not in state)
            else:
                stack.pop()
                if seen is False:
                    state[id(node)] = True
                    order.append(node)
        return order

    def _backward_plan(self, recorded: list[tuple[int, int, Any, tuple[int, ...]]],
                       needs: set[int]) -> list[tuple[Callable, Any, int, int, int, int, bool]]:
        # The engine runs recorded nodes newest first (smallest _seq first) and adds each
        # gradient to its parent's pending sum in that order: the plan does the same.
        plan = []
        seen: set[int] = {self.out}
        recorded.sort()  # by _seq: unique, so the nodes themselves are never compared
        for _, k, n, ins in recorded:
            if k not in needs:
                continue
            a, b = ins[0], ins[1] if len(ins) == 2 else -1
            for i, p in enumerate(ins):
                if p in needs:
                    plan.append((n._op.vjps[i], n._ctx, k, a, b, p, p not in seen))
                    seen.add(p)
        return plan

    def __str__(self) -> str:
        lines = [f"plan: {len(self.arguments)} arguments, {len(self.params)} parameters, "
                 f"{len(self.forward)} forward and {len(self.backward)} backward steps; "
                 f"output v{self.out}"]
        for k, entry in enumerate(self.signature):
            if entry[0] == "arg":
                lines.append(f"  v{k} = argument {entry[1]}")
            elif entry[0] == "param":
                lines.append(f"  v{k} = parameter")
            elif entry[0] == "const":
                lines.append(f"  v{k} = {entry[1]!r}")
            else:
                name, a, b = entry[:3]
                lines.append(f"  v{k} = {name}(v{a}" + (f", v{b})" if b >= 0 else ")"))
        lines.append("backward:")
        for _, _, k, a, _b, p, first in self.backward:
            i = 0 if p == a else 1
            lines.append(f"  g{p} {'=' if first else '+='} rule {i} of "
                         f"{self.signature[k][0]} at v{k}, times g{k}")
        return "\n".join(lines)

    def run_forward(self, args: list[float]) -> list[Any]:
        values = list(self.template)
        for k, i in self.arguments:
            values[k] = args[i]
        for k, p in self.params:
            values[k] = p.data
        for f, k, a, b in self.forward:
            values[k] = f(values[a]) if b < 0 else f(values[a], values[b])
        return values

    def run_backward(self, values: list[Any], seed: float) -> None:
        grads: list[Any] = [None] * self.size
        grads[self.out] = seed
        ns = FLOAT_NS
        for rule, ctx, k, a, b, p, first in self.backward:
            g = (rule(ns, grads[k], values[k], ctx, values[a]) if b < 0 else
                 rule(ns, grads[k], values[k], ctx, values[a], values[b]))
            grads[p] = g if first else grads[p] + g
        for k, leaf in self.params:
            if grads[k] is not None:
                leaf.grad = leaf.grad + grads[k]


def _check_backward(create_graph: bool, spent: bool) -> None:
    """What ``backward()`` of a replay's result refuses."""
    if create_graph:
        raise CompileError("compile: a replay has no graph to differentiate again; call "
                           "the function uncompiled for higher-order gradients")
    if spent:
        raise RuntimeError("backward: this compiled result's backward already ran; pass "
                           "retain_graph=True to run it twice")


class _Replayed(Scalar):
    """A compiled call's result: its value, and ``backward()`` through the plan."""

    __slots__ = ("_plan", "_values")
    _plan: _Plan
    _values: list[Any] | None

    def backward(self, grad: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        values = self._values
        _check_backward(create_graph, values is None)
        assert values is not None
        self._plan.run_backward(values, 1.0 if grad is None else float(grad))
        if not retain_graph:
            self._values = None


class Compiled:
    """``fn`` with its plans, one per nesting of its arguments (see the module docstring)."""

    def __init__(self, fn: Callable[..., Scalar]) -> None:
        self.fn = fn
        self.plans: dict[Any, _Plan] = {}
        self._verified: set[Any] = set()
        self._tensors = TensorCalls(fn)
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    @property
    def plan(self) -> _Plan | TensorPlan | None:
        """The plan recorded last (``print(compiled.plan)`` lists its steps)."""
        if self._tensors.last is not None:
            return self._tensors.last
        return next(reversed(self.plans.values()), None)

    def _record(self, args: tuple, key: Any) -> tuple[_Plan, Scalar]:
        leaves, _ = _flatten(args)
        # Arguments become Scalars that require grad while recording, so every op that
        # depends on one is recorded; the plan computes no gradient for them.
        inputs = [Scalar(v.data if isinstance(v, Scalar) else v) for v in leaves]
        out = self.fn(*_rebuild(key, inputs))
        # Building the plan makes many tuples and no cycles: pausing the cyclic collector
        # saves it re-traversing the whole recorded graph several times (as backward does).
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return _Plan(out, inputs), out
        finally:
            if was_enabled:
                gc.enable()

    def __call__(self, *args: Any) -> Any:
        if not STATE.grad_enabled or STATE.tracer is not None:  # nothing to record here,
            return self.fn(*args)  # or a compiled call being recorded records this one too
        if _has_tensor(args):
            return self._tensors.call(args)
        leaves, key = _flatten(args)
        plan = self.plans.get(key)
        if plan is None:
            plan, _ = self._record(args, key)
            self.plans[key] = plan
            return self._replay(plan, leaves)
        if key not in self._verified:  # the second call: record again and compare
            again, _ = self._record(args, key)
            for i, (s1, s2) in enumerate(zip(plan.signature, again.signature, strict=False)):
                if s1 != s2:
                    raise CompileError(f"compile: the second call took another path or used "
                                       f"another constant at step {i} ({s1} then {s2}): "
                                       f"fn depends on its data in a way a plan cannot "
                                       f"replay")
            if len(plan.signature) != len(again.signature):
                raise CompileError("compile: the second call recorded a different number of "
                                   "steps: fn's path depends on its data")
            self._verified.add(key)
        return self._replay(plan, leaves)

    def _replay(self, plan: _Plan, leaves: list[Any]) -> Scalar:
        values = plan.run_forward([v.data if isinstance(v, Scalar) else v for v in leaves])
        out = object.__new__(_Replayed)
        Scalar.__init__(out, values[plan.out], requires_grad=False)
        out._plan, out._values = plan, values
        return out


def _tensor_key(x: Any) -> Any:
    """A Tensor call's leaf in the cache key: what a plan assumes of it."""
    if isinstance(x, Tensor):
        if type(x.data) is not np.ndarray:
            raise CompileError(f"compile: plans replay numpy calls; an argument is "
                               f"{backends.describe(x.data)} (run it eagerly)")
        return ("Tensor", x.shape, x.dtype.str, x.requires_grad)
    if isinstance(x, np.ndarray):
        return ("array", x.shape, x.dtype.str)
    if isinstance(x, Scalar):
        raise CompileError("compile: Scalars and Tensors cannot be compiled together")
    try:
        hash(x)
    except TypeError:
        raise CompileError(f"compile: an argument of type {type(x).__name__} is neither a "
                           f"Tensor, an array nor a hashable constant") from None
    return ("value", type(x).__name__, x)


def _stand_in(x: Any) -> Any:
    """What the recording call receives for argument ``x``: a float Tensor that does not
    require grad is replaced by one that does (sharing its array), so every op that
    depends on it is recorded; the plan computes no gradient for it."""
    if isinstance(x, Tensor) and not x.requires_grad and x.dtype.kind == "f":
        t = _make(x.data)
        t.requires_grad = True
        return t
    return x


class _Variant:
    """A plan for one cache key and one train/eval state of the modules it calls: the
    first recording, until the second confirms it."""

    __slots__ = ("guards", "plan", "verified", "out_key")

    def __init__(self, plan: TensorPlan, guards: tuple[tuple[Any, bool], ...],
                 out_key: Any) -> None:
        self.plan, self.guards, self.out_key, self.verified = plan, guards, out_key, False

    def holds(self) -> bool:
        return all(m.training == mode for m, mode in self.guards) and self.plan.leaves_fit()


class TensorCalls:
    """The Tensor side of `Compiled`: plans by argument shapes, dtypes and requires_grad
    (and other arguments' values), each with a few variants by the modules' modes."""

    MAX_KEYS, MAX_VARIANTS = 8, 4  # the oldest goes first

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.plans: dict[Any, list[_Variant]] = {}
        self.last: TensorPlan | None = None

    def call(self, args: tuple[Any, ...]) -> Any:
        leaves, key = _nesting(args, _tensor_key)
        variants = self.plans.get(key)
        if variants is None:
            if len(self.plans) == self.MAX_KEYS:
                del self.plans[next(iter(self.plans))]
            variants = self.plans[key] = []
        for v in variants:
            if v.holds():
                if v.verified:
                    return self._replay(v, leaves)
                # The second call: record again and compare, then replay from now on.
                second, out_key, guards, out = self._record(key, leaves)
                check_same(v.plan, second)
                second.finalize()
                v.plan, v.out_key, v.verified = second, out_key, True
                self.last = second
                return out
        first, out_key, guards, out = self._record(key, leaves)
        if len(variants) == self.MAX_VARIANTS:
            variants.pop(0)
        variants.append(_Variant(first, guards, out_key))
        self.last = first
        return out

    def _record(self, key: Any, leaves: list[Any]) -> tuple[TensorPlan, Any, Any, Any]:
        """One eager call, traced: its plan, output nesting, module guards and result."""
        inputs = [_stand_in(x) for x in leaves]
        grad_args = {i for i, x in enumerate(leaves) if isinstance(x, Tensor) and
                     x.requires_grad}
        tracer = Tracer()
        STATE.tracer = tracer
        try:
            out = self.fn(*_rebuild(key, inputs))
        finally:
            STATE.tracer = None
        if tracer.after:
            raise CompileError("compile: something asked to run after the next backward() "
                               "(DistributedDataParallel's gradient averaging), but the "
                               "function did not call backward(): call it inside")
        outputs, out_key = _nesting(out, lambda _: None)
        was_enabled = gc.isenabled()
        gc.disable()  # as for Scalar plans: many small tuples, no cycles
        try:
            plan = TensorPlan(tracer, inputs, grad_args, outputs)
        finally:
            if was_enabled:
                gc.enable()
        return plan, out_key, tuple(tracer.modules.values()), out

    def _replay(self, v: _Variant, leaves: list[Any]) -> Any:
        plan = v.plan
        values, ctxs = plan.run(leaves)
        outs = []
        for k, value in plan.outputs:
            if k < 0:
                outs.append(value)
                continue
            node = plan.nodes[k]
            if node._op is None:  # a leaf: the argument itself, or the parameter, buffer
                argument = plan.argument_at.get(k)
                outs.append(leaves[argument] if argument is not None else
                            node if k in plan.loaded else _make(values[k]))
            elif k in plan.backed or not node.requires_grad:
                outs.append(_make(values[k]))
            else:
                outs.append(_ReplayedTensor.make(values[k], plan, k, values, ctxs, leaves))
        return _rebuild(v.out_key, outs)


class _ReplayedTensor(Tensor):
    """A compiled call's output that requires grad: ``backward()`` runs the plan's rules."""

    __slots__ = ("_replay",)
    _replay: tuple[Any, ...] | None

    @classmethod
    def make(cls, data: np.ndarray, *replay: Any) -> _ReplayedTensor:
        t = object.__new__(cls)
        t._init(data, False)
        t.requires_grad = True
        t._replay = replay
        return t

    def backward(self, grad: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        replay = self._replay
        _check_backward(create_graph, replay is None)
        assert replay is not None
        plan, k, values, ctxs, leaves = replay
        seed = self._seed_grad(grad, False)
        plan.run_backward(plan.backward_from(k), values, ctxs, leaves, seed)
        if not retain_graph:
            self._replay = None


def compile(fn: Callable[..., Scalar]) -> Compiled:  # noqa: A001  (torch.compile)
    """Compile a function of Scalars (or floats) returning a Scalar: its later calls replay
    a plan recorded on the first, bit-identical to eager (see the module docstring).

    >>> import autograd_core as ag
    >>> w = ag.Scalar(0.5)
    >>> step = ag.compile(lambda x: (w * x - 1.0) ** 2)
    >>> for x in (1.0, 2.0, 3.0):  # recorded, checked, then replayed
    ...     step(x).backward()
    >>> w.grad  # the sum of 2 (w x - 1) x
    2.0
    """
    return Compiled(fn)
