"""`ag.compile`: record a Scalar computation once, then replay it as a flat plan of calls.

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
Tensor graphs are not compiled yet (issue K).
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import Any

from .engine import STATE, Const
from .namespaces import FLOAT_NS
from .scalar import Scalar

__all__ = ["CompileError", "Compiled", "compile"]


class CompileError(RuntimeError):
    """``fn`` cannot be compiled: it depends on its data in a way a plan cannot replay."""


def _flatten(args: Any) -> tuple[list[Any], Any]:
    """The leaves (floats or Scalars) of nested lists/tuples, and the nesting as a key."""
    leaves: list[Any] = []

    def walk(x: Any) -> Any:
        if isinstance(x, (list, tuple)):
            return (type(x).__name__, tuple(walk(v) for v in x))
        if isinstance(x, Scalar):
            leaves.append(x)
            return "S"
        if isinstance(x, (int, float)):
            leaves.append(float(x))
            return "f"
        raise CompileError(f"compile: arguments must be floats or Scalars (in lists or "
                           f"tuples), got {type(x).__name__}; Tensor graphs are not "
                           f"compiled yet")
    return leaves, walk(args)


def _rebuild(key: Any, leaves: list[Any]) -> Any:
    """The nesting ``key`` describes, filled with ``leaves`` in order."""
    it = iter(leaves)

    def build(k: Any) -> Any:
        if isinstance(k, tuple):
            kind, items = k
            built = [build(v) for v in items]
            return built if kind == "list" else tuple(built)
        return next(it)
    return build(key)


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


class _Replayed(Scalar):
    """A compiled call's result: its value, and ``backward()`` through the plan."""

    __slots__ = ("_plan", "_values")
    _plan: _Plan
    _values: list[Any] | None

    def backward(self, grad: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        if create_graph:
            raise CompileError("compile: a replay has no graph to differentiate again; call "
                               "the function uncompiled for higher-order gradients")
        if self._values is None:
            raise RuntimeError("backward: this compiled result's backward already ran; pass "
                               "retain_graph=True to run it twice")
        self._plan.run_backward(self._values, 1.0 if grad is None else float(grad))
        if not retain_graph:
            self._values = None


class Compiled:
    """``fn`` with its plans, one per nesting of its arguments (see the module docstring)."""

    def __init__(self, fn: Callable[..., Scalar]) -> None:
        self.fn = fn
        self.plans: dict[Any, _Plan] = {}
        self._verified: set[Any] = set()
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    @property
    def plan(self) -> _Plan | None:
        """The plan recorded last (``print(compiled.plan)`` lists its steps)."""
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

    def __call__(self, *args: Any) -> Scalar:
        leaves, key = _flatten(args)
        if not STATE.grad_enabled:
            return self.fn(*args)
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
