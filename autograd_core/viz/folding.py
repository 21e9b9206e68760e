"""Folding a large graph for drawing: deep modules become one node, repeated blocks one node.

``collapse=depth`` folds every module whose path is longer than ``depth`` into a single
node (its ops, the parameters used only inside it, its input and output shapes).  Then
*runs* are folded: along a linear chain of drawn units -- each one's only consumer is the
next, which has no other computed input, and both are drawn in the same module -- a block
of 1 to 16 units repeated at least ``min_repeats`` times in a row becomes one node labelled
with the block and the count (where several block lengths fit, the one covering the most
units wins).  The million ops of ``y = y*a + b`` repeated 500,000 times are one node
``(mul add) × 500000``; a
100-layer MLP folded at the layer depth is its first layer, ``layers.1 ... layers.98`` and
its last layer.  Parameters and constants used only inside a folded node go with it; inputs
(leaves that need no grad) stay outside modules, and a leaf read only by a run's first
repeat (the ``y0`` a chain starts from) stays outside the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import Const
from .graph import GraphView

# Blocks longer than this are not searched for (an unrolled step of a few dozen ops is
# better folded by giving it a module).
_LONGEST_BLOCK = 16


@dataclass
class Group:
    """One drawn node standing for many graph nodes."""

    kind: str  # "module" or "run"
    members: list[int]  # node positions, ascending
    cluster: tuple[str, ...]  # the (unfolded) module the node is drawn in
    path: tuple[str, ...] = ()  # module path (modules), or of the first folded module (runs)
    last_path: tuple[str, ...] = ()  # runs of modules: path of the last folded module
    block: tuple[str, ...] = ()  # runs of ops: the op names of one repeat
    count: int = 1  # runs: how many repeats
    inputs: list[int] = field(default_factory=list)  # outside nodes feeding the group
    outputs: list[int] = field(default_factory=list)  # members used outside, or roots


@dataclass
class Layout:
    """Which drawn unit each node belongs to: ``u < n`` is node ``u`` itself, ``u >= n``
    is ``groups[u - n]``."""

    unit_of: list[int]
    groups: list[Group]
    # Edges between different units as (child, slot, parent), in child order; slot -1 is
    # the edge from an unfolded op to its value.
    edges: list[tuple[int, int, int]] = field(default_factory=list)


def fold(view: GraphView, collapse: int | None, min_repeats: int | None) -> Layout:
    """Assign every node to a drawn unit (see the module docstring)."""
    layout = Layout(list(range(len(view.nodes))), [])
    if collapse is not None:
        if any(view.scopes):
            _fold_modules(view, layout, collapse)
            _connect(view, layout)
        if min_repeats is not None:
            _fold_runs(view, layout, min_repeats)
    _connect(view, layout)
    return layout


def _fold_modules(view: GraphView, layout: Layout, depth: int) -> None:
    n = len(view.nodes)
    index: dict[tuple[str, ...], int] = {}
    for i, scope in enumerate(view.scopes):
        if len(scope) <= depth:
            continue
        # A leaf's scope is the common path of its consumers, so a leaf lands here only
        # when every consumer is folded into the same module.
        key = scope[:depth + 1]
        k = index.get(key)
        if k is None:
            k = index[key] = len(layout.groups)
            layout.groups.append(Group("module", [], key[:-1], path=key))
        layout.groups[k].members.append(i)
        layout.unit_of[i] = n + k


def _connect(view: GraphView, layout: Layout) -> None:
    """List the edges between units; fill each group's inputs (outside nodes it reads) and
    outputs (members read outside)."""
    n = len(view.nodes)
    unit_of = layout.unit_of
    inputs: list[dict[int, None]] = [{} for _ in layout.groups]
    outputs: list[dict[int, None]] = [{} for _ in layout.groups]
    edges = layout.edges = []
    for c, ps in enumerate(view.parents):
        uc = unit_of[c]
        if uc == c and view.nodes[c]._op is not None:
            edges.append((c, -1, c))
        if not ps:
            continue
        for slot, p in enumerate(ps):
            up = unit_of[p]
            if up != uc:
                edges.append((c, slot, p))
                if up >= n:
                    outputs[up - n][p] = None
                if uc >= n:
                    inputs[uc - n][p] = None
    for r in view.roots:
        if unit_of[r] >= n:
            outputs[unit_of[r] - n][r] = None
    for g, ins, outs in zip(layout.groups, inputs, outputs, strict=True):
        g.inputs, g.outputs = list(ins), sorted(outs)


def _fold_runs(view: GraphView, layout: Layout, min_repeats: int) -> None:
    """Find the linear chains of units, fold their repeated blocks, absorb their leaves."""
    nodes, n, unit_of = view.nodes, len(view.nodes), layout.unit_of
    size = n + len(layout.groups)
    is_leaf = [node._op is None for node in nodes] + [False] * len(layout.groups)
    out_first, out_many = [-1] * size, [False] * size
    in_first, in_many = [-1] * size, [False] * size
    leaf_consumers: dict[int, set[int]] = {}  # leaves read by several units
    for c, ps in enumerate(view.parents):
        if not ps:
            continue
        uc = unit_of[c]
        for p in ps:
            up = unit_of[p]
            if up == uc:
                continue
            from_leaf = is_leaf[up]
            reader = out_first[up]
            if reader == -1:
                out_first[up] = uc
            elif reader != uc:
                out_many[up] = True
                if from_leaf:
                    leaf_consumers.setdefault(up, {reader}).add(uc)
            if not from_leaf:
                producer = in_first[uc]
                if producer == -1:
                    in_first[uc] = up
                elif producer != up:
                    in_many[uc] = True
    root_units = {unit_of[r] for r in view.roots}
    units = _units_in_order(layout, size)
    clusters = view.scopes + [g.cluster for g in layout.groups]
    following: dict[int, int] = {}
    for u in units:
        v = out_first[u]
        if (v != -1 and not out_many[u] and not in_many[v] and in_first[v] == u
                and not is_leaf[u] and u not in root_units and clusters[u] == clusters[v]):
            following[u] = v
    linked_to = set(following.values())
    starts = [u for u in units if u in following and u not in linked_to]
    run_of: dict[int, int] = {}
    first_repeat: dict[int, set[int]] = {}
    for start in starts:
        chain = [start]
        while chain[-1] in following:
            chain.append(following[chain[-1]])
        for first, period, count in _repeats(_signatures(view, layout, chain), min_repeats):
            key = _add_run(view, layout, chain[first:first + period * count], period, count,
                           clusters[start], run_of)
            first_repeat[key] = set(chain[first:first + period])
    for leaf in [i for i in range(n) if is_leaf[i] and unit_of[i] == i]:
        owner = run_of.get(out_first[leaf], -1)
        if owner == -1:
            continue
        readers = leaf_consumers.get(leaf)
        if readers is not None and any(run_of.get(u) != owner for u in readers):
            continue
        # A parameter or input read only by the first repeat is where the chain starts
        # (y0 in y = y*a + b): it stays outside, drawn as the run's input.
        if type(nodes[leaf]) is Const or not (readers or {out_first[leaf]}) <= first_repeat[owner]:
            unit_of[leaf] = owner
            layout.groups[owner - n].members.append(leaf)
    for g in layout.groups:
        if g.kind == "run":
            g.members.sort()


def _units_in_order(layout: Layout, size: int) -> list[int]:
    seen = bytearray(size)
    units = []
    for u in layout.unit_of:
        if not seen[u]:
            seen[u] = 1
            units.append(u)
    return units


def _signatures(view: GraphView, layout: Layout, chain: list[int]) -> list[int]:
    """Small ints equal exactly when two units would draw the same (op, shapes)."""
    n = len(view.nodes)
    interned: dict[tuple, int] = {}
    out = []
    for u in chain:
        if u < n:
            node = view.nodes[u]
            sig: tuple = (node.op_name, getattr(node.data, "shape", None))
        else:
            g = layout.groups[u - n]
            sig = (g.path[:-1], tuple(view.nodes[i].op_name for i in g.members),
                   tuple(getattr(view.nodes[i].data, "shape", None) for i in g.inputs),
                   tuple(getattr(view.nodes[i].data, "shape", None) for i in g.outputs))
        out.append(interned.setdefault(sig, len(interned)))
    return out


def _repeats(ids: list[int], min_repeats: int) -> list[tuple[int, int, int]]:
    """(start, period, count) of maximal back-to-back repeats of a block, left to right.

    At each position the block length covering the most units wins (the shorter on ties).
    """
    found = []
    i, total = 0, len(ids)
    while i < total:
        best_cover, best = 0, (1, 1)
        for period in range(1, min(_LONGEST_BLOCK, (total - i) // min_repeats) + 1):
            block = ids[i:i + period]
            count = 1
            while ids[i + count * period:i + (count + 1) * period] == block:
                count += 1
            if count >= min_repeats and count * period > best_cover:
                best_cover, best = count * period, (period, count)
                if best_cover == total - i:
                    break
        if best_cover:
            found.append((i, *best))
            i += best_cover
        else:
            i += 1
    return found


def _add_run(view: GraphView, layout: Layout, units: list[int], period: int, count: int,
             cluster: tuple[str, ...], run_of: dict[int, int]) -> int:
    """Fold ``units`` into a new run group drawn in ``cluster``; returns its unit number.

    A module group folded into the run is left in ``layout.groups`` but owns no node."""
    n = len(view.nodes)
    key = n + len(layout.groups)
    run = Group("run", [], cluster, count=count)
    if units[0] < n:
        run.block = tuple(view.nodes[u].op_name for u in units[:period])
    else:
        run.path, run.last_path = layout.groups[units[0] - n].path, \
            layout.groups[units[-1] - n].path
    for u in units:
        run_of[u] = key
        if u < n:
            run.members.append(u)
            layout.unit_of[u] = key
        else:
            g = layout.groups[u - n]
            run.members.extend(g.members)
            for i in g.members:
                layout.unit_of[i] = key
    layout.groups.append(run)
    return key
