"""Walking a recorded graph, and the values of its nodes (recomputed where no longer held)."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .engine import Node, Recorded

__all__ = ["values", "walk"]


def walk(roots: Iterable[Node]) -> tuple[list[Node], dict[int, int]]:
    """Every node reachable from ``roots`` (constants too), parents first; iterative DFS.

    Parents are visited in argument order, so the numbering follows the order in which the
    expression was written (``x1, w1, mul, x2, ...``).
    """
    order: list[Node] = []
    position: dict[int, int] = {}  # -1 while a node's parents are still being visited
    unfinished: list[Node] = []
    # None on the stack means "the last unfinished node has all its parents placed"; it
    # saves building a (node, state) pair per visit on graphs of millions of nodes.
    stack: list[Node | None] = list(reversed(list(roots)))
    while stack:
        node = stack.pop()
        if node is None:
            done = unfinished.pop()
            position[id(done)] = len(order)
            order.append(done)
            continue
        key = id(node)
        if key in position:
            continue
        parents = node._parents
        if not parents:
            position[key] = len(order)
            order.append(node)
            continue
        position[key] = -1
        unfinished.append(node)
        stack.append(None)
        stack.extend(reversed(parents))
    return order, position


def values(nodes: Sequence[Node], parents: Sequence[tuple[int, ...]],
           known: dict[int, Any] | None = None) -> tuple[list[Any], list[bool]]:
    """Each node's value, and whether the graph still holds it (False: recomputed).

    ``nodes`` lists every node after its parents (``viz.graph.walk``), ``parents`` their
    positions.  A leaf, a constant and a Scalar hold their value; a Tensor's node holds its
    output only while a rule reads it, but a consumer may hold it as an input it reads.
    Anything else is recomputed by replaying the op on its inputs (``op.fwd(*inputs,
    *ctx)``): the structure keeps every op's arguments for that.  ``known`` maps node ids
    to values the caller holds (a drawn root's own data).  A value is None when it
    cannot be recomputed: an input was modified in place since (an optimizer step), or
    the op's context went with its saved values (a custom Function after backward).
    """
    held: dict[int, Any] = dict(known or {})
    for node in nodes:
        saved = getattr(node, "_saved", None)
        if saved:  # None once released, () when no rule reads an input
            for entry, parent in zip(saved, node._parents, strict=True):
                if entry is not parent and id(parent) not in held:
                    held[id(parent)] = entry.data  # an input the node reads: its value
    _add_live_tensors(nodes, held)
    vals: list[Any] = []
    kept: list[bool] = []
    for node, ps in zip(nodes, parents, strict=True):
        value = _held(node, held)
        kept.append(value is not None)
        if value is None and ps:
            value = _recompute(node, [vals[p] for p in ps], [nodes[p] for p in ps])
        vals.append(value)
    return vals, kept


def _add_live_tensors(nodes: Sequence[Node], held: dict[int, Any]) -> None:
    """Values the user still holds: a Tensor alive somewhere whose ``grad_fn`` is one of
    ``nodes``.  The graph keeps no reference to its output tensors (that is what lets them
    be freed), so ask the collector which objects refer to the nodes; it costs one pass
    over the live objects per drawing and nothing while recording."""
    lost = {id(n): n for n in nodes if n.data is n and n._out is None  # type: ignore[attr-defined]
            and id(n) not in held}
    if not lost:
        return
    for r in gc.get_referrers(*lost.values()):
        # type() rather than isinstance(): some foreign objects answer __class__ with a
        # warning; a Node's grad_fn is a plain slot or class attribute.
        if issubclass(type(r), Node) and id(getattr(r, "grad_fn", None)) in lost:
            held.setdefault(id(r.grad_fn), r.data)  # type: ignore[attr-defined]


def _held(node: Node, held: dict[int, Any]) -> Any:
    data = node.data  # type: ignore[attr-defined]
    if data is not node:  # leaves, constants and Scalars hold their value
        return data
    out = node._out  # type: ignore[attr-defined]  # a Tensor's node: only what was saved
    return out if out is not None else held.get(id(node))


def _recompute(node: Node, inputs: list[Any], parents: list[Node]) -> Any:
    op = node._op
    assert isinstance(node, Recorded) and op is not None
    if any(v is None for v in inputs) or (op.ctx_saves and node._ctx is None):
        return None
    for p in parents:  # modified in place after node was recorded: the replay would lie
        vc = p._vc
        if vc is not None and vc[0] < node._seq:  # see engine.bump_version
            return None
    with np.errstate(all="ignore"):  # the forward pass already warned, if it had to
        data = op.fwd(*inputs, *(node._ctx or ()))
    return data if isinstance(data, np.ndarray) else np.asarray(data)
