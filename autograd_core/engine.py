"""The one graph engine: node protocol, grad mode, iterative topological sort, backward driver.

`Scalar` and `Tensor` are both `Node`s.  A node that was produced by an operation while grad
mode was on records the `Op` (whose backward rules live in `primitives.py`), its parent nodes
and an op-specific context; a leaf has ``_op is None``.  `backward` and `grad` walk that graph
once, iteratively, in reverse topological order: newest recorded node first.

Rules are written once against a *namespace* ``ns``: without ``create_graph`` the rule sees
plain values (floats or ndarrays) and ``ns`` is plain maths, so backward records nothing and
pays nothing; with ``create_graph`` the rule sees the nodes themselves and ``ns`` is the
engine's own differentiable ops, so the gradient is itself a graph (higher derivatives).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
from collections.abc import Callable, Iterable, Sequence
from heapq import heappop, heappush
from typing import Any

__all__ = [
    "Node",
    "Op",
    "backward",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "live_nodes",
    "no_grad",
    "set_grad_enabled",
]


class _State:
    """Process-wide engine switches (single-threaded by design; see README).  Slotted:
    every recorded op reads them, and slot reads are the cheapest attribute reads."""

    __slots__ = ("grad_enabled", "inplace_stamp", "scope", "anomaly", "anomaly_check_forward")

    def __init__(self) -> None:
        self.grad_enabled = True
        # Stamp shared by in-place ops: a node stores the stamp current when it was
        # recorded and a tensor the stamp of its last in-place write, so "modified after it
        # was saved" is one integer comparison and costs nothing until an in-place op runs.
        self.inplace_stamp = 0
        # Current nn.Module path (a tuple of names), recorded on new nodes for the drawing.
        self.scope: tuple[str, ...] = ()
        # Set by detect_anomaly(): nodes remember where they were created; grads checked.
        self.anomaly = False
        self.anomaly_check_forward = False


STATE = _State()


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager / decorator that turns graph recording on or off.

    >>> with set_grad_enabled(False):
    ...     pass
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self.prev: list[bool] = []

    def __enter__(self) -> None:
        self.prev.append(STATE.grad_enabled)
        STATE.grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        STATE.grad_enabled = self.prev.pop()


class no_grad(set_grad_enabled):
    """Record nothing inside: ``with no_grad(): ...`` or ``@no_grad()``."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record again inside a ``no_grad`` block: ``with enable_grad(): ...``."""

    def __init__(self) -> None:
        super().__init__(True)


def is_grad_enabled() -> bool:
    """True when new operations are being recorded."""
    return STATE.grad_enabled


OUT = -1  # in an Op's ``reads``: the rule reads the op's output


class Op:
    """A primitive: its name, forwards, one backward rule per input, and test metadata.

    ``vjps[i](ns, g, out, ctx, *inputs)`` returns the gradient for input ``i`` given the
    output gradient ``g``.  ``reads[i]`` lists the inputs (by index, ``OUT`` for the output)
    whose values rule ``i`` reads: only those are checked for in-place modification when
    rule ``i`` runs (as precise as PyTorch: ``x.mul_(2)`` is fine, ``x.mul_(w)`` is not when
    ``w`` needs a gradient).  ``domain`` and ``kinks`` describe where the op is smooth, for
    the property tests and the strategies in ``autograd_core.testing``.

    ``elementwise``: the op has one input and an output of that input's shape and dtype,
    and its rule returns a gradient of ``g``'s shape and dtype, so its nodes are recorded
    as fitting (``Node._fits``; a test checks the claim for every op that makes it).
    """

    __slots__ = ("name", "fwd", "sfwd", "vjps", "reads", "domain", "kinks", "smooth2",
                 "elementwise", "__dict__")

    def __init__(self, name: str, fwd: Callable | None, sfwd: Callable | None,
                 vjps: Sequence[Callable], *, reads: Sequence[tuple[int, ...]] | None = None,
                 domain: dict[int, str] | None = None,
                 kinks: dict[int, tuple[float, ...]] | str | None = None,
                 smooth2: bool = True, elementwise: bool = False) -> None:
        self.name = name
        self.fwd: Callable[..., Any] = fwd or _missing_forward(name, "Tensor")
        self.sfwd: Callable[..., Any] = sfwd or _missing_forward(name, "Scalar")
        self.vjps = tuple(vjps)
        self.reads = tuple(reads) if reads is not None else ((),) * len(self.vjps)
        self.domain = domain or {}
        self.kinks = kinks or {}
        self.smooth2 = smooth2
        self.elementwise = elementwise

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


def _missing_forward(name: str, kind: str) -> Callable[..., Any]:
    def missing(*args: Any) -> Any:
        raise TypeError(f"{name}: this op has no {kind} form")
    return missing


class Node:
    """What every differentiable value is.  Identity-hashed; never compared by value here.

    ``_parents`` is a tuple of nodes for a recorded node, ``()`` for a leaf, and ``None``
    once backward has released the node (a second backward then raises).  ``_pending`` is
    None except while backward gathers the node's gradient.  ``_fits`` (recorded nodes) is
    True when every rule's gradient already has its input's shape and dtype, given a ``g``
    of the output's: no broadcasting or promotion happened, and backward skips
    ``unbroadcast``.  It is set from ``Op.elementwise``, or by the forward that knows.
    """

    __slots__ = (
        "__dict__",
        "__weakref__",
        "_ctx",
        "_fits",
        "_hooks",
        "_op",
        "_parents",
        "_pending",
        "_seq",
        "_stamp",
        "data",
        "grad",
        "requires_grad",
    )

    data: Any
    grad: Any
    requires_grad: bool
    _op: Op | None
    _parents: tuple[Node, ...] | None
    _ctx: Any
    _stamp: int
    _pending: Any
    _seq: int  # recorded nodes only: see _SEQ
    _fits: bool  # recorded nodes only
    # Per-node backward behaviour: hooks by handle key.  Not None also after retain_grad()
    # (then possibly empty), so the driver tests one slot for both.
    _hooks: dict[int, Callable] | None

    # Rarely set, so they live in the (lazily created) instance dict, not in every node.
    _retains_grad = False
    _meta: dict | None = None
    _vc: list[int] | None = None  # version cell, shared with views of the same memory
    _history: list[tuple[int, Node]] | None = None  # (stamp, snapshot) per in-place rebase
    name: str | None = None

    # Filled in by the subclasses: the namespace rules see without / with create_graph.
    _plain_ns: Any = None
    _graph_ns: Any = None

    @property
    def is_leaf(self) -> bool:
        """True for nodes not produced by a recorded op (user-created or detached)."""
        return self._op is None

    @property
    def op_name(self) -> str:
        """The short label of the op that produced this node ("" for a leaf)."""
        return "" if self._op is None else self._op.name

    def _as_of(self, stamp: int) -> Node:
        """The node that held this value for a consumer recorded at ``stamp``."""
        for rebased_at, snapshot in self._history or ():
            if rebased_at > stamp:
                return snapshot
        return self

    # -- hooks the driver calls; Scalar and Tensor override them ----------------------------
    def _wrap_grad(self, g: Any) -> Any:
        return g

    def _unwrap_grad(self, g: Any) -> Any:
        return g

    def _accumulate(self, g: Any, create_graph: bool, fresh: bool) -> None:
        raise NotImplementedError

    def _seed_grad(self, grad: Any, create_graph: bool) -> Any:
        raise NotImplementedError

    def _describe(self) -> str:
        raise NotImplementedError


class Const(Node):
    """A non-node operand (a Python number or array) standing in a graph as a constant.

    Only ``data`` is set per instance; the fields a graph walk reads are class constants
    (they shadow Node's slots), so wrapping an operand costs one allocation and one store.
    """

    __slots__ = ()

    requires_grad = False  # type: ignore[misc]
    grad = None
    _op = None
    _parents = ()
    _ctx = None
    _hooks = None

    def _describe(self) -> str:
        return f"constant {self.data!r}"


_new = object.__new__
# Recording order, counted downwards: every consumer of a node is recorded after it, so a
# min-heap on ``_seq`` hands the driver each node after all of its consumers.
_SEQ = itertools.count(0, -1)


def const(data: Any) -> Const:
    """Wrap ``data`` as a constant parent (never requires grad)."""
    c = _new(Const)
    c.data = data
    return c


def _record(out: Node, op: Op, parents: tuple, ctx: Any = None) -> Node:
    """Attach ``op`` and ``parents`` to a freshly made ``out`` (grad mode checked by caller)."""
    out.requires_grad = True
    out._op = op
    out._parents = parents
    out._ctx = ctx
    out._fits = op.elementwise
    out._seq = next(_SEQ)
    out._stamp = STATE.inplace_stamp
    if STATE.scope or STATE.anomaly:
        _annotate(out)
    return out


def _annotate(out: Node) -> None:
    """Remember the module path and (in anomaly mode) the creation site of ``out``."""
    meta: dict[str, Any] = {"scope": STATE.scope}
    if STATE.anomaly:
        from .anomaly import check_forward, creation_site

        meta["site"] = creation_site()
        if STATE.anomaly_check_forward:
            check_forward(out)
    out._meta = meta


def toposort(roots: Iterable[Node], targets: set[int] | None = None
             ) -> tuple[list[Node], set[int] | None]:
    """Nodes reachable from ``roots`` that require grad, outputs first (iterative DFS).

    With ``targets`` (ids) also returns the ids of nodes lying on a path to a target, so
    ``grad(y, x)`` runs only the rules that matter.  (Backward itself needs no sort: it
    takes nodes newest first, see ``run_backward``.)
    """
    rebased = STATE.inplace_stamp != 0
    done: dict[int, bool] = {}  # id -> False while its parents are visited, then True
    post: list[Node] = []
    stack = list(roots)
    while stack:
        node = stack[-1]
        state = done.get(id(node))
        if state is None:
            done[id(node)] = False
            for p in (_resolve_parents(node) if rebased else node._parents) or ():
                if p.requires_grad and id(p) not in done:
                    stack.append(p)
        else:
            stack.pop()
            if state is False:
                done[id(node)] = True
                post.append(node)
    needed = None
    if targets is not None:
        needed = set(targets)
        for node in post:  # parents come before children in post-order
            if any(id(p) in needed for p in node._parents or ()):
                needed.add(id(node))
    post.reverse()
    return post, needed


def _released_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"backward: trying to backward through the graph a second time: the saved values of "
        f"op '{node.op_name}' ({node._describe()}) were freed by the previous backward. "
        f"Pass retain_graph=True to the first backward() if you need to call it twice.")


def _modified_error(node: Node, who: Node) -> RuntimeError:
    return RuntimeError(
        f"backward: a value saved by op '{node.op_name}' ({who._describe()}) was modified by "
        f"an in-place operation after it was saved, so its gradient would be wrong. Use the "
        f"out-of-place form of the in-place op, or clone() the value before modifying it.")


def _check_saved(node: Node, i: int) -> None:
    """Raise if a value that rule ``i`` of ``node`` reads was modified in place since."""
    op, parents, stamp = node._op, node._parents, node._stamp
    assert op is not None and parents is not None  # only recorded, unreleased nodes
    for j in op.reads[i]:
        who = node if j == OUT else parents[j]
        vc = who._vc
        if vc is not None and vc[0] > stamp:
            raise _modified_error(node, who)


def bump_version(t: Node) -> None:
    """Record that ``t``'s data was modified in place (optimizers call this after a step)."""
    STATE.inplace_stamp += 1
    if t._vc is None:
        t._vc = [0]
    t._vc[0] = STATE.inplace_stamp


def _resolve_parents(node: Node) -> tuple[Node, ...] | None:
    """``node``'s parents as they were when it was recorded: a parent whose graph was later
    rebased by an in-place op is replaced by the snapshot of its value at that time."""
    parents = node._parents
    if parents and any(p._history is not None for p in parents):
        parents = node._parents = tuple(
            p if p._history is None else p._as_of(node._stamp) for p in parents)
    return parents


def run_backward(roots: Sequence[Node], root_grads: Sequence[Any], retain_graph: bool,
                 create_graph: bool, inputs: Sequence[Node] | None = None,
                 allow_unused: bool = False) -> list[Any] | None:
    """The backward driver shared by ``Node.backward`` and ``grad``.

    Without ``inputs``: accumulates into the leaves' ``.grad``.  With ``inputs``: returns
    their gradients (in ``inputs`` order) and leaves every ``.grad`` untouched.

    A node waits, with the sum of the gradients it has received so far in ``_pending``,
    from the first gradient it receives until it is run.  Recorded nodes wait in a heap
    ordered newest first (``_seq``): all of a node's consumers were recorded after it, so
    by the time it is popped every gradient it will get has arrived -- a reverse
    topological order with no separate sort.  Leaves feed nothing and wait until the end.
    """
    targets = None if inputs is None else {id(x) for x in inputs}
    needed = None if targets is None else toposort(roots, targets)[1]
    waiting: list[tuple[int, Node]] = []  # the heap of recorded nodes
    leaves: list[Node] = []
    for r, g in zip(roots, root_grads, strict=True):
        if r._pending is None:
            _wait(r, waiting, leaves)
            r._pending = g
        else:
            r._pending = r._pending + g
    captured: dict[int, Any] = {}
    handed_out: set[int] = {id(g) for g in root_grads}  # arrays a leaf may not keep as-is
    rebased = check_saved = STATE.inplace_stamp != 0
    anomaly = STATE.anomaly
    prev_mode = STATE.grad_enabled
    STATE.grad_enabled = create_graph
    # Backward creates no reference cycles, so the cyclic collector has nothing to find
    # here; pausing it saves re-traversing the whole (large, young) graph several times.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    # Scalars and Tensors never share a graph, so one namespace serves the whole run.
    ns = roots[0]._graph_ns if create_graph else roots[0]._plain_ns
    unbroadcast = ns.unbroadcast
    # Once a node has run and (without retain_graph) its consumers have let go of it,
    # nothing here keeps it: each intermediate value is freed during backward, as soon as
    # no later rule can read it, and its memory is reused by the gradients still to come
    # (what PyTorch does with saved tensors).
    try:
        while waiting or leaves:
            node = heappop(waiting)[1] if waiting else leaves.pop()
            g = node._pending
            node._pending = None
            if node._hooks is not None:
                for hook in tuple(node._hooks.values()):
                    res = hook(node._wrap_grad(g))
                    if res is not None:
                        g = node._unwrap_grad(res)
                if node._retains_grad and targets is None:
                    node._accumulate(g, create_graph, _fresh(g, handed_out))
            if targets is not None and id(node) in targets:
                captured[id(node)] = g
            op = node._op
            if op is None:
                if targets is None:
                    node._accumulate(g, create_graph, _fresh(g, handed_out))
                continue
            parents = _resolve_parents(node) if rebased else node._parents
            if parents is None:
                raise _released_error(node)
            n = len(parents)
            if create_graph:  # rules see nodes (constants as their raw values)
                out = node
                args = tuple([p.data if type(p) is Const else p for p in parents])
            else:
                out = node.data
                args = ((parents[0].data, parents[1].data) if n == 2 else
                        (parents[0].data,) if n == 1 else tuple([p.data for p in parents]))
            vjps, ctx, fits = op.vjps, node._ctx, node._fits
            for i, p in enumerate(parents):
                if not p.requires_grad or (needed is not None and id(p) not in needed):
                    continue
                if check_saved:
                    _check_saved(node, i)
                # Spelled out for one and two inputs: a call with *args costs ~4x as much.
                rule = vjps[i]
                pg = (rule(ns, g, out, ctx, args[0]) if n == 1 else
                      rule(ns, g, out, ctx, args[0], args[1]) if n == 2 else
                      rule(ns, g, out, ctx, *args))
                if not fits:
                    pg = unbroadcast(pg, p)
                if anomaly:
                    from .anomaly import check_backward

                    check_backward(node, i, pg)
                prev = p._pending
                if prev is None:  # p's first gradient: it now waits (``_wait``, inlined)
                    if p._op is None:
                        leaves.append(p)
                    else:
                        heappush(waiting, (p._seq, p))
                    p._pending = pg
                else:
                    p._pending = prev + pg
            if not retain_graph:
                node._parents = None
                node._ctx = None
    finally:
        STATE.grad_enabled = prev_mode
        for _, node in waiting:  # after an error, leave no stale partial gradients behind
            node._pending = None
        for node in leaves:
            node._pending = None
        if gc_was_enabled:
            gc.enable()
    if inputs is None:
        return None
    result: list[Any] = []
    for k, x in enumerate(inputs):
        g = captured.get(id(x))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {k} ({x._describe()}) was not used to compute the outputs; "
                    f"pass allow_unused=True to get None for it.")
            result.append(None)
        else:
            result.append(x._wrap_grad(g))
    return result


def _wait(node: Node, waiting: list[tuple[int, Node]], leaves: list[Node]) -> None:
    """Queue ``node``, which has just received its first gradient, to run."""
    if node._op is None:
        leaves.append(node)
    else:
        heappush(waiting, (node._seq, node))


def _fresh(g: Any, handed_out: set[int]) -> bool:
    """Whether a leaf may keep ``g`` itself as its ``.grad`` (no other leaf shares it)."""
    base = getattr(g, "base", None)
    key = id(g) if base is None else id(base)
    if key in handed_out:
        return False
    handed_out.add(key)
    handed_out.add(id(g))
    return True


def backward(node: Node, grad: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Accumulate d(node)/d(leaf) into every leaf's ``.grad`` (see ``Tensor.backward``)."""
    if not node.requires_grad:
        raise RuntimeError(
            f"backward: {node._describe()} does not require grad and has no graph; did you "
            f"forget requires_grad=True on an input, or run the forward under no_grad()?")
    seed = node._seed_grad(grad, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    run_backward([node], [seed], retain_graph, create_graph)


def grad(outputs: Node | Sequence[Node], inputs: Node | Sequence[Node],
         grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple[Any, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, without touching any ``.grad``.

    Like ``torch.autograd.grad``: returns a tuple with one gradient per input (a Tensor for
    a Tensor input, a float -- or a Scalar with ``create_graph`` -- for a Scalar input).

    >>> import autograd_core as ag
    >>> x = ag.tensor([1.0, 2.0], requires_grad=True)
    >>> (gx,) = ag.grad((x * x).sum(), x)
    >>> gx.tolist()
    [2.0, 4.0]
    """
    outs = [outputs] if isinstance(outputs, Node) else list(outputs)
    ins = [inputs] if isinstance(inputs, Node) else list(inputs)
    if grad_outputs is None:
        gos: list[Any] = [None] * len(outs)
    elif isinstance(grad_outputs, (list, tuple)):
        gos = list(grad_outputs)
    else:
        gos = [grad_outputs]
    if len(gos) != len(outs):
        raise ValueError(f"grad: got {len(gos)} grad_outputs for {len(outs)} outputs")
    for k, x in enumerate(ins):
        if not isinstance(x, Node) or not x.requires_grad:
            raise RuntimeError(f"grad: input {k} does not require grad")
    for k, o in enumerate(outs):
        if not o.requires_grad:
            raise RuntimeError(
                f"grad: output {k} ({o._describe()}) does not require grad; it does not "
                f"depend on any input that requires grad")
    seeds = [o._seed_grad(g, create_graph) for o, g in zip(outs, gos, strict=True)]
    if retain_graph is None:
        retain_graph = create_graph
    res = run_backward(outs, seeds, retain_graph, create_graph, ins, allow_unused)
    assert res is not None
    return tuple(res)


def live_nodes() -> int:
    """How many recorded (non-leaf, unreleased) graph nodes are alive; for leak tests."""
    import gc

    # type() rather than isinstance(): the latter reads __class__, which some foreign
    # objects (torch's deprecated aliases) answer with a warning.
    return sum(1 for o in gc.get_objects()
               if issubclass(type(o), Node) and o._op is not None and o._parents is not None)
