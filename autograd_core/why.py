"""``why_no_grad(param, loss)``: why a parameter gets no (or an exactly zero) gradient.

The answer names one cause (``.cause``, a short code) in a sentence (``str()``):

==================== ===================================================================
cause                what it means
==================== ===================================================================
requires_grad_false  the parameter has ``requires_grad=False``
not_connected        the loss's graph does not reach the parameter; ``.breaks_at`` says
                     where the path breaks: ``"detach"``, ``"data"`` (its values used
                     outside the graph: ``.data``, ``.numpy()``, ``.item()``, a copy),
                     ``"int_cast"``, ``"no_grad"``, or None (not found)
dead_relu            a ReLU whose outputs are all 0 passed no gradient (``.op``,
                     ``.fraction``: the share of its outputs that are 0), or a product's
                     other factor is such a ReLU's output (the next layer's weight)
saturated            a sigmoid / tanh so saturated that its derivative is exactly 0
zero_mask            a product with zeros, a ``where``, a clip or a max that selected
                     other elements: the gradient was multiplied by a mask of zeros
zero_rule            another op whose rule gives exactly 0 (floor, round, sign, ...)
cancelled            contributions from several consumers summed to exactly 0
hook                 a hook replaced a nonzero gradient with one holding (more) zeros
has_grad             nothing is wrong: the parameter gets a nonzero gradient
==================== ===================================================================

How each is found, and what is heuristic:

- The gradients are the viz overlay's (``viz.graph``): every op's own rule run over the
  graph's values, recomputed by replay where backward freed them, so it works before and
  after ``backward()``; it runs no hooks (hooks on the path are then called once each, to
  see whether one replaces the gradient: they run as in backward).  Exact, not heuristic.
- The op that made the gradient zero is the first edge, from the loss down, where a
  gradient that was not all zero became all zero on its way to the parameter.  Exact.
- Where a disconnected path breaks is **heuristic**: the graph keeps no record of values
  that left it.  Among the loss graph's leaves that need no grad (constants included), one
  that shares memory with the parameter, or with a value computed from it that is still
  alive (found through ``gc.get_referrers``), is a ``detach()`` when it shares the
  version counter too, else a ``.data``; an integer leaf equal to such a value cast to its
  dtype is an integer cast; a leaf equal to such a value is a copy (``.data``/``item()``;
  for Scalars also ``detach()``, which copies).  With no such leaf and no recorded use of
  the parameter alive, it was used with recording off (``no_grad``) -- or not used at all:
  the two leave the same trace, and the sentence says both.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

import numpy as np

from .engine import Const, Node, Recorded, no_grad
from .replay import walk
from .viz.graph import GraphView, build
from .viz.steps import describe_value, label_of

__all__ = ["NoGradReason", "why_no_grad"]

_SATURATING = frozenset({"sigmoid", "tanh"})
_MASKING = frozenset({"where", "clip", "maximum", "minimum", "max", "min", "window_max",
                      "setitem", "getitem", "div"})
# Products, by input slot: the slot of the other factor (addmm is c + a @ b).
_PRODUCTS = {"mul": {0: 1, 1: 0}, "matmul": {0: 1, 1: 0}, "addmm": {1: 2, 2: 1}}
# How far (in ops) and how wide the search for live values computed from a parameter goes.
_SEARCH_DEPTH, _SEARCH_NODES = 32, 4096


@dataclass(frozen=True)
class NoGradReason:
    """The answer of `why_no_grad`: ``cause`` (see the module doc), the sentence
    (``message``, also ``str()``), and where known the op, the share of zeros and the
    place the path breaks."""

    cause: str
    message: str
    op: str | None = None
    fraction: float | None = None
    breaks_at: str | None = None

    def __str__(self) -> str:
        return self.message


def why_no_grad(param: Node, loss: Node, name: str | None = None) -> NoGradReason:
    """Why ``param`` gets no gradient, or an exactly zero one, from ``loss``.

    ``name`` labels the parameter in the sentence (default: its ``.name``).  Touches no
    ``.grad``; works before and after ``loss.backward()``.

    >>> import autograd_core as ag
    >>> w = ag.tensor([-1.0, -2.0], requires_grad=True)
    >>> r = why_no_grad(w, (w * 3.0).relu().sum(), name="w")
    >>> r.cause, r.op, r.fraction
    ('dead_relu', 'relu', 1.0)
    """
    for what, x in (("param", param), ("loss", loss)):
        if not isinstance(x, Node) or type(x) is Const:
            raise TypeError(f"why_no_grad: {what} must be a Tensor or Scalar, got "
                            f"{type(x).__name__}")
    who = name or param.name or "the parameter"
    node, root = param._node, loss._node
    nodes, position = walk([root])
    used = id(node) in position
    if not param.requires_grad:
        return NoGradReason("requires_grad_false", (
            f"{who} has requires_grad=False, so backward computes no gradient for it"
            f"{' although the loss uses it' if used else ''}; set it with "
            f"requires_grad_() (an nn.Parameter always requires grad)."))
    if not loss.requires_grad:
        return NoGradReason("not_connected", (
            f"{who} is not connected to the loss: the loss has no graph at all (it was "
            f"computed inside no_grad(), or only from values that need no grad)."),
            breaks_at="no_grad")
    if not used:
        return _not_connected(who, param, nodes)
    if root is node:
        return NoGradReason("has_grad", f"{who} is the loss itself: its gradient is 1.")
    try:
        view = build([loss], [], True, None, edge_values=True)
    except ValueError as e:
        raise RuntimeError(f"why_no_grad: {str(e).replace('viz: ', '', 1)}") from None
    target = next(i for i, n in enumerate(view.nodes) if n is node)  # identity, not ==
    return _zero_cause(who, view, target, param)


# ------------------------------------------------------------------- zero gradients
def _zero_fraction(g: Any) -> float:
    if isinstance(g, np.ndarray):
        return float(np.mean(g == 0)) if g.size else 1.0
    return 1.0 if g == 0 else 0.0


def _all_zero(g: Any) -> bool:
    return g is None or _zero_fraction(g) == 1.0


def _zero_cause(who: str, view: GraphView, target: int, param: Node) -> NoGradReason:
    nodes, parents, grads = view.nodes, view.parents, view.grads
    on = [False] * len(nodes)  # computed from the parameter (and feeding the loss)
    on[target] = True
    for c, ps in enumerate(parents):
        if ps and not on[c]:
            on[c] = any(on[p] for p in ps)
    g = grads[target]
    if not _all_zero(g):
        hooked = _hook_cause(who, view, on)
        if hooked is not None:
            return hooked
        zeros = _zero_fraction(g)
        note = f"; {zeros:.0%} of its elements get exactly 0" if zeros else ""
        have = param.grad
        stale = ("" if not (have is None or (isinstance(have, float) and have == 0.0)) else
                 f" (its .grad is {have!r}: has backward() run since the forward pass?)")
        return NoGradReason("has_grad", f"{who} gets a nonzero gradient from the loss: "
                                        f"{describe_value(g)}{note}{stale}.")
    # From the loss down (consumers first): the first edge towards the parameter where a
    # gradient that was not all zero became all zero.
    for c in range(len(nodes) - 1, -1, -1):
        if not on[c] or _all_zero(grads[c]) or not parents[c]:
            continue
        for slot, p in enumerate(parents[c]):
            if on[p] and _all_zero(view.edge_values.get((c, slot))):
                return _zeroing_op(who, view, c, slot)
    for c in range(len(nodes) - 1, -1, -1):  # every edge kept a nonzero: a sum cancelled
        if on[c] and _all_zero(grads[c]) and any(
                not _all_zero(view.edge_values.get((k, s)))
                for k, ps in enumerate(parents) for s, p in enumerate(ps) if p == c):
            return NoGradReason("cancelled", (
                f"{who} gets an exactly zero gradient: at {label_of(nodes[c])} the "
                f"gradients from its consumers sum to exactly 0 (they cancel)."),
                op=nodes[c].op_name or None)
    return NoGradReason("zero_rule", f"{who} gets an exactly zero gradient: the gradient "
                                     f"was zero from the loss on (a zero grad= seed?).")


def _zeroing_op(who: str, view: GraphView, c: int, slot: int) -> NoGradReason:
    node = view.nodes[c]
    op = node.op_name
    out, share = view.values[c], view.edge_values.get((c, slot))
    named = f" '{node.name}'" if node.name else ""
    head = f"{who} gets an exactly zero gradient: the {op}{named}"
    if op == "relu":
        frac = _zero_fraction(out)
        return NoGradReason("dead_relu", (
            f"{head} is dead: {frac:.0%} of its outputs are 0 (inputs <= 0), and relu "
            f"passes gradient only where its output is positive."), op=op, fraction=frac)
    if op in _SATURATING:
        deriv = out * (1 - out) if op == "sigmoid" else 1 - out * out
        frac = _zero_fraction(deriv)
        return NoGradReason("saturated", (
            f"{head} is saturated: its derivative is exactly 0 for {frac:.0%} of its "
            f"elements (outputs rounded to {'0 or 1' if op == 'sigmoid' else '-1 or 1'}); "
            f"scale its inputs down."), op=op, fraction=frac)
    frac = _zero_fraction(share)
    other = _PRODUCTS.get(op, {}).get(slot)
    if other is not None:  # a product: the gradient of one factor is g times the other
        k = view.parents[c][other]
        zeros = _zero_fraction(view.values[k])
        source = view.nodes[k]
        if zeros == 1.0 and source.op_name == "relu":
            return NoGradReason("dead_relu", (
                f"{head}'s other input is all 0: it is the output of a dead relu (inputs "
                f"<= 0), so the gradient of this factor is 0 too."), op="relu", fraction=1.0)
        return NoGradReason("zero_mask", (
            f"{head} multiplied it by zeros (its other input is 0 in {zeros:.0%} of its "
            f"elements): {frac:.0%} of the gradient it sends to input {slot} is 0."),
            op=op, fraction=frac)
    if op in _MASKING:
        return NoGradReason("zero_mask", (
            f"{head} multiplied it by a mask of zeros: {frac:.0%} of the gradient it sends "
            f"to input {slot} is 0."), op=op, fraction=frac)
    return NoGradReason("zero_rule", f"{head} has a rule whose gradient is exactly 0 here "
                                     f"({frac:.0%} of its elements).", op=op, fraction=frac)


def _hook_cause(who: str, view: GraphView, on: list[bool]) -> NoGradReason | None:
    for c in range(len(view.nodes) - 1, -1, -1):
        node, g = view.nodes[c], view.grads[c]
        if not on[c] or not node._hooks or g is None:
            continue
        for hook in tuple(node._hooks.values()):
            with no_grad():  # as in backward: hooks see plain gradients, record nothing
                res = hook(node._wrap_grad(g))
                if res is None:
                    continue
                new = node._unwrap_grad(res)
            new = new.data if isinstance(new, Node) else new
            if _zero_fraction(new) > _zero_fraction(g):
                where = who if node._op is None else f"the output of {node.op_name}"
                return NoGradReason("hook", (
                    f"{who} gets a zero gradient because a hook on {where} "
                    f"replaced its gradient {describe_value(g)} with {describe_value(new)} "
                    f"({_zero_fraction(new):.0%} zeros)."), op=node.op_name or None,
                    fraction=_zero_fraction(new))
    return None


# ------------------------------------------------------------------- disconnected
def _not_connected(who: str, param: Node, nodes: list[Node]) -> NoGradReason:
    leaves = [n for n in nodes if n._op is None and not n.requires_grad]
    descendants = _live_descendants(param._node)
    sources = [(who, param.data, param._vc)] + [_source(d) for d in descendants]
    head = f"{who} is not connected to the loss (no path in its graph reaches {who})"
    for test in (_shares, _int_cast, _equal):
        for label, value, vc in sources:
            if value is None:
                continue
            for leaf in leaves:
                kind = test(leaf, value, vc)
                if kind is not None:
                    return NoGradReason("not_connected", _break_text(
                        head, kind, label, leaf, who), breaks_at=kind)
    if not descendants:
        return NoGradReason("not_connected", (
            f"{head}: no recorded op that uses {who} is alive, so it was used with recording "
            f"off (inside no_grad()) -- or the loss does not use {who} at all."),
            breaks_at="no_grad")
    ops = ", ".join(dict.fromkeys(d.op_name for d in descendants[:8]))
    return NoGradReason("not_connected", (
        f"{head}: {who} feeds recorded ops ({ops}) whose results the loss does not use; "
        f"the path breaks after them (a value taken out as a number or array, e.g. "
        f"float(), item(), numpy(), and put back in as a new input)."))


def _break_text(head: str, kind: str, label: str, leaf: Node, who: str) -> str:
    what = _leaf_text(leaf)
    if kind == "detach":
        return (f"{head}: the path breaks at detach(): the loss uses {what}, which is "
                f"{label} detached (same values, no graph). Use {label} itself.")
    if kind == "int_cast":
        return (f"{head}: the path breaks at an integer cast: the loss uses {what}, which "
                f"is {label} cast to integers; integers carry no gradient.")
    return (f"{head}: the path breaks at .data: the loss uses {what}, which holds the values "
            f"of {label} taken out of the graph (.data, .numpy(), .item() or a copy). Use "
            f"{label} itself in the computation.")


def _leaf_text(leaf: Node) -> str:
    data = leaf.data
    name = f" '{leaf.name}'" if leaf.name else ""
    if type(leaf) is Const:
        return (f"a constant array {tuple(data.shape)} {data.dtype}"
                if isinstance(data, np.ndarray) else f"the constant {data!r}")
    if isinstance(data, np.ndarray):
        return f"the input tensor{name} of shape {tuple(data.shape)} and dtype {data.dtype}"
    return f"the input Scalar{name} {data!r}"


def _shares(leaf: Node, value: Any, vc: Any) -> str | None:
    data = leaf.data
    if not (isinstance(data, np.ndarray) and isinstance(value, np.ndarray)
            and np.shares_memory(data, value)):
        return None
    return "detach" if vc is not None and leaf._vc is vc else "data"


def _int_cast(leaf: Node, value: Any, vc: Any) -> str | None:
    data = leaf.data
    if isinstance(data, np.ndarray) and isinstance(value, np.ndarray):
        fits = (data.dtype.kind in "iub" and value.dtype.kind == "f"
                and data.shape == value.shape
                and np.array_equal(data, value.astype(data.dtype)))
        return "int_cast" if fits else None
    if isinstance(value, float) and isinstance(data, (int, float)) and not isinstance(
            data, bool) and value == value:
        fits = (type(data) is int or data == int(data)) and data == int(value) != value
        return "int_cast" if fits else None
    return None


def _equal(leaf: Node, value: Any, vc: Any) -> str | None:
    data = leaf.data
    if isinstance(data, np.ndarray) and isinstance(value, np.ndarray):
        same = data.shape == value.shape and data.dtype == value.dtype and bool(
            np.array_equal(data, value))
        return ("detach" if vc is not None and leaf._vc is vc else "data") if same else None
    if type(data) is float and isinstance(value, float) and data == value:
        # A Scalar's detach() copies the float, as Scalar(w.data) does: say both.
        return "detach" if type(leaf) is not Const else "data"
    return None


def _live_descendants(start: Node) -> list[Recorded]:
    """Recorded nodes still alive that were computed from ``start`` (breadth first), found
    through the collector: the graph links a node to its inputs, never to its users.  A
    user holds an input's node in a parent slot, or in a tuple (its saved values, or the
    parents of an op of three and more inputs)."""
    found: list[Recorded] = []
    seen = {id(start)}
    frontier: list[Node] = [start]
    for _ in range(_SEARCH_DEPTH):
        ids = {id(f) for f in frontier}
        referrers = gc.get_referrers(*frontier)
        tuples = [r for r in referrers if type(r) is tuple]
        step: list[Recorded] = []
        for r in referrers + (gc.get_referrers(*tuples) if tuples else []):
            # type() rather than isinstance(): see engine.live_nodes
            if (issubclass(type(r), Recorded) and r._op is not None and id(r) not in seen
                    and any(id(p) in ids for p in r._parents)):
                seen.add(id(r))
                step.append(r)
        if not step:
            break
        found += step
        frontier = list(step)
        if len(found) >= _SEARCH_NODES:
            break
    return found


def _source(node: Recorded) -> tuple[str, Any, Any]:
    """A value computed from the parameter: label, value (None if freed), version cell."""
    label = f"the output of {node.op_name}"
    data = node.data
    if data is not node:  # a Scalar holds its value
        return label, data, node._vc
    for r in gc.get_referrers(node):  # the Tensor this node made, if it is alive
        if issubclass(type(r), Node) and getattr(r, "grad_fn", None) is node:
            return label, r.data, r._vc  # type: ignore[attr-defined]
    return label, node._out, node._vc  # type: ignore[attr-defined]
