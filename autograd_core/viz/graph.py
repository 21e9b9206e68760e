"""What a drawing knows about a graph: values, names, scopes, gradients, NaN, paths."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine import Const, Node
from ..replay import values, walk


@dataclass
class GraphView:
    """A graph laid out as parallel lists indexed by position in topological order.

    Positions, not ``id()``, name everything, so two runs that build the same graph give
    the same picture.  Every list has one entry per node.
    """

    nodes: list[Node]  # every node after all of its parents
    parents: list[tuple[int, ...]]  # parent positions
    values: list[Any]  # each node's value (recomputed where freed; None if impossible)
    kept: list[bool]  # the graph still holds the value (False: freed, shown as such)
    roots: list[int]
    scopes: list[tuple[str, ...]]  # module path; a leaf takes the common path of its consumers
    names: list[str | None]
    grads: list[Any]  # gradient shown on each node (raw float / ndarray) or None
    overlay: bool  # grads are d(roots)/d(node) for every node, edges carry magnitudes
    edge_grads: dict[tuple[int, int], float]  # (child, parent slot) -> |gradient along edge|
    bad: list[bool]  # the value or its gradient holds NaN/Inf
    origin: int | None  # the first bad node (see ``find_origin``)
    origin_note: str
    origin_site: str  # where the origin was created (only recorded under detect_anomaly)
    on_path: list[bool] | None  # set by the ``path`` option
    unreached: list[tuple[str, Node]]  # selected parameters not in the graph (no gradient)
    # Set by animate_backward's frames: the node of the current step (outlined), and text
    # on edges, (child, parent slot) -> (text, whether it was sent in the current step).
    current: int | None = None
    edge_notes: dict[tuple[int, int], tuple[str, bool]] = field(default_factory=dict)
    # With build(..., edge_values=True): the gradient itself along each edge (why_no_grad).
    edge_values: dict[tuple[int, int], Any] = field(default_factory=dict)


def common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    """The longest shared beginning of two module paths."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def named_nodes(params: Any, module: Any) -> list[tuple[str, Node]]:
    """(name, node) pairs from a ``params=`` mapping / pair list and a module's parameters."""
    pairs: list[tuple[str, Node]] = []
    if module is not None:
        if not hasattr(module, "named_parameters"):
            raise TypeError(f"viz: module= needs an object with named_parameters(), got "
                            f"{type(module).__name__}")
        pairs.extend(module.named_parameters())
    if params is not None:
        pairs.extend(params.items() if isinstance(params, Mapping) else params)
    for name, node in pairs:
        if not isinstance(node, Node):
            raise TypeError(f"viz: parameter {name!r} is a {type(node).__name__}, not a "
                            f"Tensor or Scalar")
    return pairs


def raw(value: Any) -> Any:
    """A gradient as a plain float or ndarray (grads may be nodes under create_graph)."""
    return value.data if isinstance(value, Node) else value


def is_finite(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind not in "fc" or bool(np.isfinite(value).all())
    if isinstance(value, (float, np.floating)):
        return math.isfinite(value)
    return True


def magnitude(g: Any) -> float:
    """|g| for a float, the L2 norm for an array (NaN/Inf propagate; no overflow)."""
    if not isinstance(g, np.ndarray):
        return abs(float(g))
    if g.size == 0:
        return 0.0
    big = float(np.max(np.abs(g)))
    if big == 0.0 or not math.isfinite(big):
        return big
    scaled = g.astype(np.float64) / big
    return big * math.sqrt(float(np.sum(scaled * scaled)))


def build(roots: list[Node], pairs: list[tuple[str, Node]], overlay: bool | None,
          path: Any, edge_values: bool = False) -> GraphView:
    """Walk ``roots`` (Tensors or Scalars) and gather everything the picture shows;
    ``edge_values`` also keeps the overlay's gradient along every edge."""
    known = {id(r._node): r.data for r in roots if r._node is not r}  # the roots' own values
    roots = [r._node for r in roots]
    nodes, position = walk(roots)
    place = position.__getitem__
    parents = [tuple(map(place, map(id, n._parents))) for n in nodes]
    vals, kept = values(nodes, parents, known)
    scopes = _scopes(nodes, parents)
    given = {id(node): name for name, node in pairs}
    names = [given.get(id(n), n.name) for n in nodes] if given else [n.name for n in nodes]
    view = GraphView(nodes, parents, vals, kept, [position[id(r)] for r in roots], scopes,
                     names, [None] * len(nodes), False, {}, [False] * len(nodes), None, "", "",
                     None, [])
    if _wants_overlay(view, overlay):
        with np.errstate(all="ignore"):  # NaN/Inf are what the picture is there to show
            _overlay(view, edge_values)
    else:
        for i, n in enumerate(nodes):
            if n.requires_grad and type(n) is not Const and (n._op is None or n._retains_grad):
                view.grads[i] = raw(n.grad)
    finite_data = [d is None or (d - d == 0.0 if type(d) is float else is_finite(d))
                   for d in vals]  # x - x is NaN for NaN and Inf
    finite_grad = [g is None or is_finite(g) for g in view.grads]
    view.bad = [not (a and b) for a, b in zip(finite_data, finite_grad, strict=True)]
    find_origin(view, finite_data, finite_grad)
    if path is not None and path is not False:
        _mark_path(view, pairs, path, position)
    return view


def _scopes(nodes: list[Node], parents: list[tuple[int, ...]]) -> list[tuple[str, ...]]:
    # Parameters and constants are created outside forward and carry no scope: they are
    # drawn inside the deepest module that contains all their consumers.  Inputs (leaves
    # that need no grad) stay outside every module: they are what modules are applied to.
    metas = [n._meta for n in nodes]
    scopes: list[Any] = [meta.get("scope", ()) if meta else () for meta in metas]
    if not any(scopes):
        return scopes
    placed: list[Any] = [None] * len(nodes)
    for c, ps in enumerate(parents):
        if not ps:
            continue
        s = scopes[c]
        for p in ps:
            leaf = nodes[p]
            if leaf._op is None and (leaf.requires_grad or type(leaf) is Const):
                placed[p] = s if placed[p] is None else common_prefix(placed[p], s)
    return [s if where is None else where for s, where in zip(scopes, placed, strict=True)]


def _wants_overlay(view: GraphView, overlay: bool | None) -> bool:
    """The overlay is on when asked, or (``None``) when some leaf already holds a gradient
    and every value it needs is at hand (kept, or recomputed from the leaves)."""
    if overlay is False:
        return False
    missing = [i for i, v in enumerate(view.values) if v is None]
    if missing:
        if overlay:
            lost = view.nodes[missing[0]]
            raise ValueError(
                f"viz: overlay=True needs every value of the graph, but the value of op "
                f"'{lost.op_name}' ({lost._describe()}) was freed and cannot be recomputed "
                f"(an input was modified in place since, e.g. by an optimizer step); draw "
                f"before modifying the parameters")
        return False
    if overlay:
        return True
    return any(n._op is None and n.requires_grad and type(n) is not Const
               and n.grad is not None and not (isinstance(n.grad, float) and n.grad == 0.0)
               for n in view.nodes)


def _overlay(view: GraphView, keep: bool = False) -> None:
    """d(sum of the roots)/d(node) for every node, and the gradient carried by every edge.

    The chain rule run over the drawing's own values: each op's rule applied once per
    edge, exactly as the backward driver applies it, consumers before their inputs.  It
    touches no ``.grad`` and runs no hooks, and it needs no saved values, so it works after
    a backward that freed them.
    """
    nodes, vals, grads = view.nodes, view.values, view.grads
    for r in dict.fromkeys(view.roots):
        if nodes[r].requires_grad:
            v = vals[r]
            grads[r] = np.ones_like(v) if isinstance(v, np.ndarray) else 1.0
    view.overlay = True
    for c in range(len(nodes) - 1, -1, -1):  # every consumer comes after its inputs
        g, ps = grads[c], view.parents[c]
        if not ps or g is None:
            continue
        child = nodes[c]
        ns, op = child._plain_ns, child._op
        assert op is not None  # only recorded nodes have parents
        args = [vals[p] for p in ps]
        for slot, p in enumerate(ps):
            if nodes[p].requires_grad:
                share = ns.unbroadcast(
                    op.vjps[slot](ns, g, vals[c], child._ctx, *args),  # type: ignore[attr-defined]
                    nodes[p])
                view.edge_grads[(c, slot)] = magnitude(share)
                if keep:
                    view.edge_values[(c, slot)] = share
                grads[p] = share if grads[p] is None else grads[p] + share
    for i, n in enumerate(nodes):
        if type(n) is Const:
            grads[i] = None


def find_origin(view: GraphView, finite_data: list[bool], finite_grad: list[bool]) -> None:
    """Mark where NaN/Inf first appears.

    Forward first: the earliest node in topological order whose value is not finite (its
    parents are all finite, so its op made it).  Otherwise backward: the first node, in the
    order backward visits them (outputs first), whose gradient is not finite; the note names
    the op whose rule produced it when the overlay knows the edge, and the note gives the
    line that created the node when ``detect_anomaly()`` was on during the forward pass.
    """
    if False in finite_data:
        i = finite_data.index(False)
        node = view.nodes[i]
        kind = "NaN" if _has_nan(view.values[i]) else "Inf"
        view.origin, view.origin_note = i, f"{kind} origin" + (
            f" ({node.op_name})" if node._op else "")
    elif False in finite_grad:
        i = len(finite_grad) - 1 - finite_grad[::-1].index(False)
        kind = "NaN" if _has_nan(view.grads[i]) else "Inf"
        via = _bad_consumer(view, i)
        view.origin, view.origin_note = i, f"{kind} origin in grad" + (
            f" (from {via})" if via else "")
    else:
        return
    site = (view.nodes[view.origin]._meta or {}).get("site")
    if site:
        view.origin_site = "at " + site.split(" <- ")[0]


def _has_nan(value: Any) -> bool:
    return bool(np.isnan(value).any()) if isinstance(value, np.ndarray) else value != value


def _bad_consumer(view: GraphView, target: int) -> str:
    for c in range(target + 1, len(view.nodes)):
        for slot, p in enumerate(view.parents[c] or ()):
            mag = view.edge_grads.get((c, slot))
            if p == target and mag is not None and not math.isfinite(mag):
                return view.nodes[c].op_name
    return ""


def _mark_path(view: GraphView, pairs: list[tuple[str, Node]], path: Any,
               position: dict[int, int]) -> None:
    """Flag the nodes on some root-to-parameter path; list selected parameters left out.

    ``path=True`` selects the given parameters (``params=`` / ``module=``) or, without
    them, every leaf that requires grad; an iterable selects those parameters only.
    """
    if path is True:
        chosen = pairs or [(view.names[i] or "", n) for i, n in enumerate(view.nodes)
                           if n._op is None and n.requires_grad and type(n) is not Const]
    else:
        named = {id(node): name for name, node in pairs}
        chosen = [(named.get(id(n), n.name or ""), n) for n in path]
        for _, n in chosen:
            if not isinstance(n, Node):
                raise TypeError(f"viz: path= takes True or Tensors/Scalars, got "
                                f"{type(n).__name__}")
    on = [False] * len(view.nodes)
    for name, n in chosen:
        i = position.get(id(n._node))
        if i is None:
            view.unreached.append((name, n))
        elif n.requires_grad:  # a frozen parameter stays greyed where it is drawn
            on[i] = True
    for c, ps in enumerate(view.parents):
        if ps and not on[c]:
            on[c] = any(on[p] for p in ps)
    view.on_path = on
