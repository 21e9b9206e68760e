"""A Tensor call recorded by ``ag.compile``, flattened into a plan of numpy calls over slots.

The plan is read from what one eager call left behind: the graph (every recorded op keeps
its op, its parents and its context after backward, so ``op.fwd(*inputs, *ctx)`` repeats
its forward) and the tracer's events (`tracing`): computations outside the graph, the
``backward()`` calls, and side effects such as ``optimizer.step()``.  Every value gets a
numbered slot; the forward steps, the events and the backward rules run in the order the
eager call ran them, with the engine's own functions, so a replay's values, gradients,
optimizer state and buffers are bit-identical to eager.

What a slot holds on a replay:

- an argument's array (in an op's context too, where an index is the argument itself);
- a parameter's or a buffer's ``.data``, read again after every event (a step may rebind
  it), and the target of its gradient;
- a constant the graph holds, or the result of an `outside` call or an op.

Two recordings of the same call are compared (`check_same`): a constant, a context or a
leaf that differs between them came from the data by a route the graph does not show,
and the plan would replay it stale, so that raises `CompileError` naming the op.  What
no comparison can see: a Python branch on numpy values read from ``.data`` that went the
same way both times (``bool(tensor)`` and ``.item()`` refuse while recording).
"""

from __future__ import annotations

import functools
import gc
import types
from collections.abc import Sequence
from typing import Any

import numpy as np

from .engine import OUT, Const, Node, _fresh
from .errors import CompileError
from .namespaces import NUMPY_NS
from .replay import walk
from .tensor import Tensor
from .tracing import Tracer

__all__ = ["TensorPlan"]

_LOAD, _OP, _OUTSIDE, _CALL, _BACKWARD = range(5)


class _Hole:
    """A place in an op's context that a replay fills with a slot's value: an argument's
    array used as an index, a mask computed by `outside`."""

    __slots__ = ("slot",)

    def __init__(self, slot: int) -> None:
        self.slot = slot

    def __repr__(self) -> str:
        return f"v{self.slot}"


def _fill(ctx: Any, values: list[Any]) -> Any:
    if isinstance(ctx, _Hole):
        return values[ctx.slot]
    if isinstance(ctx, tuple | list):
        return type(ctx)(_fill(c, values) for c in ctx)
    return ctx


def _holes(ctx: Any, array_slots: dict[int, int]) -> tuple[Any, bool]:
    """``ctx`` with the arrays that are slots' values replaced by `_Hole`s, and whether
    there were any."""
    if isinstance(ctx, np.ndarray):
        k = array_slots.get(id(ctx))
        return (ctx, False) if k is None else (_Hole(k), True)
    if isinstance(ctx, tuple | list):
        parts = [_holes(c, array_slots) for c in ctx]
        if any(h for _, h in parts):
            return type(ctx)(c for c, _ in parts), True
    return ctx, False


def _hole_slots(ctx: Any) -> list[int]:
    if isinstance(ctx, _Hole):
        return [ctx.slot]
    if isinstance(ctx, tuple | list):
        return [k for c in ctx for k in _hole_slots(c)]
    return []


# A backward plan's rule call, a tuple: (rule, k, ins, p, unbroadcast, first, ctx, hole,
# reads, free, free_grad): rule ``i`` of the node in slot ``k`` (inputs ``ins``) gives the
# gradient of slot ``p`` (``first``: its first contribution; ``unbroadcast``: the input node
# to sum it back to, None when it fits); ``ctx`` its context (``hole``: this replay's,
# filled in); ``reads``: the slots whose values it reads; ``free``: those it is the last to
# read, and ``free_grad``: whether it is the node's last rule (its gradient can go).
_READS = 8


class TensorPlan:
    """One recording of a Tensor call (see the module docstring).

    ``args``: the argument leaves as ``fn`` received them (Tensors, arrays, other values),
    of which those in ``grad_args`` are the caller's own tensors that require grad (the
    others only stood in for them); ``outputs``: the flattened leaves of what it returned.
    """

    def __init__(self, tracer: Tracer, args: Sequence[Any], grad_args: set[int],
                 outputs: Sequence[Any]) -> None:
        events = tracer.events
        roots: list[Node] = []
        for *_, ins, outs in events:
            roots.extend(x._node for x in ins if isinstance(x, Node))
            roots.extend(outs)
        roots.extend(o._node for o in outputs if isinstance(o, Tensor))
        # The nodes are kept: leaves are read on replays, and rules ask inputs' shapes.
        self.nodes, self.position = walk(roots)
        self.size = len(self.nodes)
        self.template: list[Any] = [None] * self.size  # constants' values
        self.arguments: list[tuple[int, int]] = []  # (slot, argument index)
        self.loads: list[tuple[int, Tensor]] = []  # (slot, leaf whose .data it holds)
        self.load_layouts: list[tuple[tuple[int, ...], np.dtype]] = []  # as recorded
        self.entries: list[tuple[Any, ...]] = []  # what check_same compares
        # The leaves whose gradient a backward delivers: the parameter itself, or the
        # index of the argument (the replay's own tensor gets it).
        self.owners: dict[int, Tensor | int] = {}
        self.holes: set[int] = set()  # the ops whose context a replay fills in
        self.backed: set[int] = set()  # the outputs whose backward the function ran
        self.ins_of: list[tuple[int, ...]] = [()] * self.size  # each node's inputs' slots
        self._from: dict[int, tuple[Any, ...]] = {}  # backward_from's plans
        array_slots = self._leaves(args, grad_args, events)
        self.argument_at = dict(self.arguments)  # slot -> argument index
        self.loaded = {k for k, _ in self.loads}
        steps = self._ops(array_slots) + self._events(events, array_slots)
        steps.sort(key=lambda s: -s[0])  # the order of the eager call (the count goes down)
        self.steps = [s for _, s in steps]
        # (slot, None) for a Tensor, (-1, value) for anything else the function returned
        self.outputs = [(self.position[id(o._node)], None) if isinstance(o, Tensor)
                        else (-1, o) for o in outputs]
        self.entries.append(("outputs", self.outputs))
        self.finalized = False

    def _leaves(self, args: Sequence[Any], grad_args: set[int], events: list[Any]
                ) -> dict[int, int]:
        """Sort the leaves into constants, arguments, results of `outside` calls and
        parameters or buffers (read on each replay); returns the slots of the arrays a
        context may hold (``id(array) -> slot``)."""
        arg_index = {id(a): i for i, a in enumerate(args) if isinstance(a, Tensor)}
        made_by = {id(o): (e, j) for e, ev in enumerate(events) for j, o in enumerate(ev[4])}
        array_slots: dict[int, int] = {}
        for k, node in enumerate(self.nodes):
            if type(node) is Const:
                self.template[k] = node.data
                self.entries.append(("constant", node.data))
            elif node._op is None:
                assert isinstance(node, Tensor)
                if node._hooks is not None:
                    raise CompileError(f"compile: {node._describe()} has hooks, which a "
                                       f"plan cannot replay")
                if id(node) in arg_index:
                    i = arg_index[id(node)]
                    self.arguments.append((k, i))
                    self.entries.append(("argument", i))
                    array_slots[id(node.data)] = k
                    if i in grad_args:
                        self.owners[id(node)] = i
                elif id(node) in made_by:
                    self.entries.append(("outside", *made_by[id(node)]))
                    array_slots[id(node.data)] = k
                else:
                    self.loads.append((k, node))
                    self.load_layouts.append((node.data.shape, node.data.dtype))
                    self.entries.append(("parameter" if node.requires_grad else "leaf", node))
                    if node.requires_grad:
                        self.owners[id(node)] = node
        for i, a in enumerate(args):  # arguments used only inside contexts: as indices
            data = a.data if isinstance(a, Tensor) else a
            if isinstance(data, np.ndarray) and id(data) not in array_slots:
                array_slots[id(data)] = self._extra(None)
                self.arguments.append((array_slots[id(data)], i))
                self.entries.append(("argument", i))
        return array_slots

    def _ops(self, array_slots: dict[int, int]) -> list[tuple[int, tuple[Any, ...]]]:
        """A forward step per recorded op, numbered by its recording order."""
        steps = []
        position = self.position
        for k, node in enumerate(self.nodes):
            op = node._op
            if op is None:
                continue
            if node._hooks is not None:
                raise CompileError(f"compile: {node._describe()} has hooks (or "
                                   f"retain_grad), which a plan cannot replay")
            if op.ctx_saves:
                raise CompileError(f"compile: op '{op.name}' is a custom Function, whose "
                                   f"backward reads what its forward saved; a plan cannot "
                                   f"replay it")
            ins = self.ins_of[k] = tuple([position[id(p)] for p in node._parents])
            ctx, holes = _holes(node._ctx, array_slots)  # type: ignore[attr-defined]
            if holes:
                self.holes.add(k)
            self.entries.append(("op", op.name, ins, ctx))
            steps.append((node._seq, (_OP, k, op.fwd, ins, ctx or (),  # type: ignore[attr-defined]
                                      holes, node.dtype)))  # type: ignore[attr-defined]
        return steps

    def _events(self, events: list[Any], array_slots: dict[int, int]
                ) -> list[tuple[int, tuple[Any, ...]]]:
        """A step per event: a backward (its rules: see `finalize`), a call, or a call
        outside the graph (its inputs' slots and its outputs')."""
        steps: list[tuple[int, tuple[Any, ...]]] = []
        position = self.position
        for seq, kind, fn, ins, outs in events:
            if kind == "backward":
                root, grad = ins
                if isinstance(grad, Node):
                    seed: Any = position[id(grad._node)]
                elif grad is not None:
                    seed = np.asarray(grad.data if isinstance(grad, Tensor) else grad,
                                      root.dtype)
                else:
                    seed = None
                steps.append((seq, (_BACKWARD, root, seed)))
                self.entries.append(("backward", position[id(root)], seed))
                self.backed.add(position[id(root)])
            elif kind == "call":
                steps.append((seq, (_CALL, fn)))
                self.entries.append(("call", fn))
            else:
                slots = tuple([self._input_slot(x, array_slots) for x in ins])
                outs_at = tuple([position.get(id(o), -1) for o in outs])
                steps.append((seq, (_OUTSIDE, fn, slots, outs_at)))
                self.entries.append(("call outside the graph", fn, slots, len(outs)))
        return steps

    def leaves_fit(self) -> bool:
        """Whether every parameter and buffer still has the shape and dtype it was recorded
        with (``p.data = ...`` may have replaced it; a plan bakes shapes in)."""
        return all(leaf.data.shape == shape and leaf.data.dtype == dtype
                   for (_, leaf), (shape, dtype) in zip(self.loads, self.load_layouts,
                                                        strict=True))

    def finalize(self) -> None:
        """Make the recording replayable: the backward steps' rules and when each value
        is released (not needed for the first recording, which is only compared)."""
        self.steps = [(_BACKWARD, self._backward(st[1]), st[2])
                      if st[0] == _BACKWARD else st for st in self.steps]
        self._schedule_release()
        self.finalized = True

    def _extra(self, value: Any) -> int:
        self.template.append(value)
        self.size += 1
        return self.size - 1

    def _input_slot(self, x: Any, array_slots: dict[int, int]) -> int:
        if isinstance(x, Node):
            return self.position[id(x._node)]
        if isinstance(x, np.ndarray) and id(x) in array_slots:
            return array_slots[id(x)]
        self.entries.append(("constant", x))
        return self._extra(x)

    def _backward(self, root: Node) -> tuple[Any, ...]:
        """The rules ``backward()`` ran from ``root``, in the engine's order (newest node
        first, each gradient added to its input's sum in that order), restricted to the
        nodes on a path to a gradient's owner; and those owners' slots.  Slots number the
        nodes parents first, so one pass down from the root finds what it reaches (through
        nodes that require grad, as the engine goes) and one pass up what leads to an
        owner."""
        nodes, owners = self.nodes, self.owners
        r = self.position[id(root)]
        ins_of = self.ins_of
        reach = bytearray(r + 1)
        reach[r] = 1
        for k in range(r, -1, -1):
            if reach[k]:
                for p in ins_of[k]:
                    if nodes[p].requires_grad:
                        reach[p] = 1
        needs = bytearray(r + 1)
        for k in range(r + 1):
            if reach[k] and (id(nodes[k]) in owners if nodes[k]._op is None else
                             any(needs[p] for p in ins_of[k])):
                needs[k] = 1
        recorded = sorted((k for k in range(r + 1) if needs[k] and nodes[k]._op is not None),
                          key=lambda k: nodes[k]._seq)  # type: ignore[attr-defined]
        rules = []
        seen = bytearray(r + 1)
        seen[r] = 1
        holes = self.holes
        for k in recorded:
            node = nodes[k]
            op = node._op
            assert op is not None
            ins = ins_of[k]
            hole = k in holes
            ctx = None if hole else node._ctx  # type: ignore[attr-defined]
            for i, p in enumerate(ins):
                if needs[p]:
                    reads = tuple([k if j == OUT else ins[j] for j in op.reads[i]])
                    rules.append((op.vjps[i], k, ins, p,
                                  None if node._fits else node._parents[i],  # type: ignore[attr-defined]
                                  not seen[p], ctx, hole, reads, (), False))
                    seen[p] = 1
        targets = [(k, owners[id(nodes[k])]) for k in range(r + 1)
                   if needs[k] and nodes[k]._op is None]
        return r, rules, targets

    def _schedule_release(self) -> None:
        """When each value can go: after the last step or backward rule that reads it (a
        rule gets the node instead of an input it does not read, as in the engine), so a
        replay holds no more than the eager step did.  What the function returns, and what
        a later ``backward()`` of a returned output will read, stays."""
        n, size = len(self.nodes), self.size
        owned = bytearray(size)  # the values a replay makes: ops' and outside calls'
        for st in self.steps:
            if st[0] == _OP:
                owned[st[1]] = 1
            elif st[0] == _OUTSIDE:
                for k in st[3]:
                    if k >= 0:
                        owned[k] = 1
        for k, _ in self.outputs:
            if k >= 0:
                owned[k] = 0
                if k < n and k not in self.backed and self.nodes[k].requires_grad:
                    for r in self.backward_from(k)[1]:
                        for j in r[_READS]:
                            owned[j] = 0
        last = [-1] * size
        for p, st in enumerate(self.steps):
            kind = st[0]
            if kind == _OP:
                for k in st[3]:
                    last[k] = p
                for k in _hole_slots(st[4]):
                    last[k] = p
                last[st[1]] = p
            elif kind == _OUTSIDE:
                for k in st[2]:
                    last[k] = p
                for k in st[3]:
                    last[k] = p
            elif kind == _BACKWARD:
                root, rules, _ = st[1]
                last[root] = p
                for r in rules:
                    for j in r[_READS]:
                        last[j] = p
                if type(st[2]) is int:
                    last[st[2]] = p
        after: dict[int, list[int]] = {}
        for k in range(size):
            if owned[k] and last[k] >= 0:
                after.setdefault(last[k], []).append(k)
        self.release: list[tuple[int, ...]] = [()] * len(self.steps)
        for p, st in enumerate(self.steps):
            ks = after.get(p, [])
            if st[0] != _BACKWARD:
                self.release[p] = tuple(ks)
                continue
            # Inside a backward: each value goes after the last rule that reads it, and
            # each gradient after its node's last rule (a node's rules are consecutive).
            rules = st[1][1]
            last_rule = {j: r for r, rule in enumerate(rules) for j in rule[_READS]}
            free: dict[int, list[int]] = {}
            for k in ks:
                free.setdefault(last_rule.get(k, -1), []).append(k)
            for r, rule in enumerate(rules):
                rules[r] = (*rule[:_READS + 1], tuple(free.get(r, ())),
                            r + 1 == len(rules) or rules[r + 1][1] != rule[1])
            self.release[p] = tuple(free.get(-1, ()))

    def __str__(self) -> str:
        n_ops = sum(1 for st in self.steps if st[0] == _OP)
        lines = [f"plan: {len(self.arguments)} arguments, {len(self.loads)} parameters and "
                 f"buffers, {n_ops} ops, {len(self.steps) - n_ops} other steps"]
        for k, i in self.arguments:
            lines.append(f"  v{k} = argument {i}")
        for k, leaf in self.loads:
            lines.append(f"  v{k} = {'parameter' if leaf.requires_grad else 'leaf'} "
                         f"{leaf.shape} {leaf.dtype}")
        for k, value in enumerate(self.template):
            if value is not None:
                shown = (repr(value.item()) if isinstance(value, np.ndarray) and
                         value.size == 1 else f"constant {np.shape(value)}")
                lines.append(f"  v{k} = {shown}")
        for st in self.steps:
            if st[0] == _OP:
                node = self.nodes[st[1]]
                ins = ", ".join(f"v{i}" for i in st[3])
                lines.append(f"  v{st[1]} = {node.op_name}({ins})  "
                             f"{node.shape} {node.dtype}")  # type: ignore[attr-defined]
            elif st[0] == _OUTSIDE:
                outs = ", ".join(f"v{k}" for k in st[3] if k >= 0) or "nothing"
                ins = ", ".join(f"v{i}" for i in st[2])
                lines.append(f"  {outs} = outside {_name(st[1])}({ins})")
            elif st[0] == _CALL:
                lines.append(f"  call {_name(st[1])}()")
            elif self.finalized:
                root, rules, targets = st[1]
                lines.append(f"  backward from v{root}: {len(rules)} rules into "
                             f"{len(targets)} gradients")
            else:
                lines.append(f"  backward from v{self.position[id(st[1])]}")
        outs = ", ".join(f"v{k}" if k >= 0 else repr(v) for k, v in self.outputs)
        lines.append(f"  return {outs}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ replay
    def run(self, args: Sequence[Any]) -> tuple[list[Any], dict[int, Any]]:
        """One replay with argument leaves ``args``: every step, events included; returns
        the slots' values and the contexts filled in for this replay."""
        values = list(self.template)
        for k, i in self.arguments:
            a = args[i]
            values[k] = a.data if isinstance(a, Tensor) else a
        loads = self.loads
        for k, leaf in loads:
            values[k] = leaf.data
        ctxs: dict[int, Any] = {}
        nodes = self.nodes
        for step, release in zip(self.steps, self.release, strict=True):
            kind = step[0]
            if kind == _OP:
                _, k, fwd, ins, ctx, holes, dtype = step
                if holes:
                    ctx = ctxs[k] = _fill(ctx, values)
                v = (fwd(values[ins[0]], *ctx) if len(ins) == 1 else
                     fwd(values[ins[0]], values[ins[1]], *ctx) if len(ins) == 2 else
                     fwd(*[values[i] for i in ins], *ctx))
                if type(v) is not np.ndarray:
                    v = np.asarray(v)
                if v.dtype is not dtype and v.dtype != dtype:  # the eager op's own casts
                    v = v.astype(dtype)
                values[k] = v
                for k in release:
                    values[k] = nodes[k]  # what a rule gets for an input it does not read
                continue
            if kind == _OUTSIDE:
                _, fn, slots, outs_at = step
                res = fn(*[values[i] for i in slots])
                for k, r in zip(outs_at, res if isinstance(res, tuple) else (res,),
                                strict=False):
                    if k >= 0:
                        values[k] = np.asarray(r)
            elif kind == _CALL:
                step[1]()
            else:
                seed = step[2]
                self.run_backward(step[1], values, ctxs, args,
                                  values[seed] if type(seed) is int else seed)
            for k in release:
                values[k] = nodes[k]
            for k, leaf in loads:  # a step or an update may have given a leaf new data
                values[k] = leaf.data
        return values, ctxs

    def run_backward(self, plan: tuple[Any, ...], values: list[Any], ctxs: dict[int, Any],
                     args: Sequence[Any], seed: Any = None) -> None:
        """Run one backward plan (``_backward``) over a replay's values, from ``seed``
        (default: ones, as ``backward()`` of a one-element output), into the owners'
        ``.grad``."""
        root, rules, targets = plan
        if seed is None:
            seed = np.ones_like(values[root])
        grads: list[Any] = [None] * self.size
        grads[root] = seed
        ns = NUMPY_NS
        unbroadcast = ns.unbroadcast
        nodes = self.nodes
        was_enabled = gc.isenabled()
        gc.disable()  # as the engine's backward: the rules make no cycles
        try:
            for rule, k, ins, p, unb, first, ctx, hole, _, free, free_grad in rules:
                if hole:
                    ctx = ctxs[k]
                pg = (rule(ns, grads[k], values[k], ctx, values[ins[0]]) if len(ins) == 1 else
                      rule(ns, grads[k], values[k], ctx, values[ins[0]], values[ins[1]])
                      if len(ins) == 2 else
                      rule(ns, grads[k], values[k], ctx, *[values[i] for i in ins]))
                if unb is not None:
                    pg = unbroadcast(pg, unb)
                grads[p] = pg if first else grads[p] + pg
                for j in free:
                    values[j] = nodes[j]
                if free_grad:
                    grads[k] = None
        finally:
            if was_enabled:
                gc.enable()
        handed_out = {id(seed)}
        for k, leaf in targets:
            g = grads[k]
            if g is None:
                continue
            owner = args[leaf] if type(leaf) is int else leaf  # an argument's index
            owner._accumulate(g, False, _fresh(g, handed_out))

    # ------------------------------------------------------------------ checks
    def backward_from(self, slot: int) -> tuple[Any, ...]:
        """The backward plan of an output the caller calls ``backward()`` on (cached)."""
        plan = self._from.get(slot)
        if plan is None:
            plan = self._from[slot] = self._backward(self.nodes[slot])
        return plan


def _name(fn: Any) -> str:
    fn = getattr(fn, "func", fn)  # a partial: the function it calls
    return getattr(fn, "__qualname__", type(fn).__name__)


def check_same(first: TensorPlan, second: TensorPlan) -> None:
    """Raise `CompileError` where two recordings of one call differ: a branch on a value,
    or something computed from the data by a route the graph does not show."""
    if len(first.entries) != len(second.entries):
        raise CompileError(f"compile: the second call recorded {len(second.entries)} steps "
                           f"and values where the first recorded {len(first.entries)}: the "
                           f"function's path depends on its data")
    for e1, e2 in zip(first.entries, second.entries, strict=True):
        kind = e1[0]
        if kind not in ("leaf", "parameter"):  # (tensors: compared below)
            try:  # the common case, fast: equal by ==, arrays of one element included
                if e1 == e2:
                    continue
            except ValueError:  # arrays inside: compared element by element below
                pass
        if kind != e2[0]:
            raise CompileError(f"compile: the second call took another path ({kind} where "
                               f"the first had {e2[0]}): the function's path depends on its "
                               f"data")
        if kind == "parameter" and e1[1] is e2[1]:
            continue
        if kind == "leaf" and (e1[1] is e2[1] or (e1[1].dtype == e2[1].dtype
                                                   and _same(e1[1].data, e2[1].data))):
            continue
        if kind not in ("parameter", "leaf") and _same(e1[1:], e2[1:]):
            continue
        raise CompileError(_difference(second, e2))


def _difference(plan: TensorPlan, entry: tuple[Any, ...]) -> str:
    kind = entry[0]
    hint = ("compute it with Tensor ops or ag.outside(fn, tensor), or pass it as an "
            "argument")
    if kind == "op":
        return (f"compile: op '{entry[1]}' had other inputs or another context on the second "
                f"call (an index, shape or mask taken from the data): {hint}")
    if kind == "constant":
        what = f"of shape {np.shape(entry[1])}" if np.ndim(entry[1]) else f"{entry[1]!r}"
        users = [n._op.name for n in plan.nodes if n._op is not None  # type: ignore[union-attr]
                 and any(type(p) is Const and p.data is entry[1] for p in n._parents)]
        by = f" fed to op '{users[0]}'" if users else ""
        return (f"compile: a constant {what}{by} differs between the first two calls: it was "
                f"computed from a tensor's data outside the graph; {hint}")
    if kind in ("leaf", "parameter"):
        return (f"compile: a {entry[1]._describe()} that is not an argument differs between "
                f"the first two calls (a new tensor made from data inside the function, or a "
                f"batch fetched from outside it): {hint}")
    if kind == "outputs":
        return (f"compile: the outputs differ between the first two calls beyond what the "
                f"graph computes (an output made outside the graph): {hint}")
    return (f"compile: the {kind} step differs between the first two calls (a function "
            f"capturing values from the data, another optimizer): {hint}")


def _same(a: Any, b: Any) -> bool:
    """Whether two recorded values are the same: arrays by content, functions by code and
    captured values, objects (modules, generators, tensors) by identity."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return (a.shape == b.shape and a.dtype == b.dtype
                and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, _Hole):
        return a.slot == b.slot
    if isinstance(a, functools.partial):
        return _same((a.func, a.args, a.keywords), (b.func, b.args, b.keywords))
    if isinstance(a, types.FunctionType):
        return (a.__code__ is b.__code__ and _same(a.__defaults__, b.__defaults__)
                and _same(_captured(a), _captured(b)))
    if isinstance(a, types.MethodType):
        return a.__func__ is b.__func__ and a.__self__ is b.__self__
    if isinstance(a, types.BuiltinMethodType):  # np.maximum.accumulate: new each time
        return a.__self__ is b.__self__ and a.__name__ == b.__name__
    if isinstance(a, int | float | complex | str | bytes | np.generic | slice | np.dtype):
        try:
            return bool(a == b) or (a != a and b != b)  # NaN: the same constant
        except (TypeError, ValueError):
            return False
    return False  # modules, generators, tensors: only themselves


def _captured(fn: types.FunctionType) -> tuple[Any, ...]:
    cells = []
    for c in fn.__closure__ or ():
        try:
            cells.append(c.cell_contents)
        except ValueError:  # an empty cell
            cells.append(None)
    return tuple(cells)
