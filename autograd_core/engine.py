"""The one graph engine: node protocol, grad mode, iterative topological sort, backward driver.

The graph is made of `Node`s.  A leaf (a user-made Tensor or Scalar) is its own node, with
``_op is None``.  An operation recorded while grad mode is on makes a `Recorded` node: the
`Op` (whose backward rules live in `primitives.py`), its parents' nodes, an op-specific
context, and ``_saved``: only the values its rules read (as ``ctx.save_for_backward`` does).
A `Scalar` is its own recorded node (its value is a float); a `Tensor` made by an op points
to its node (``grad_fn``) but is not part of the graph, so an intermediate array that nobody
holds and no rule reads is freed during the forward pass, as in PyTorch.  `backward` and
`grad` walk the graph once, iteratively, in reverse topological order: newest node first.
After a backward without ``retain_graph`` the saved values are dropped and the structure
(ops, edges, shapes, leaves) stays, for drawings, until the output is dropped.

Rules are written once against a *namespace* ``ns``: without ``create_graph`` the rule sees
plain values (floats or ndarrays) and ``ns`` is plain maths, so backward records nothing and
pays nothing; with ``create_graph`` the rule sees the nodes themselves and ``ns`` is the
engine's own differentiable ops, so the gradient is itself a graph (higher derivatives).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from heapq import heappop, heappush, heapreplace
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
    "queue_callback",
    "set_grad_enabled",
]


class _Counts:
    """The switches' counts over every thread (one object, `COUNTS`), which every recorded
    op reads before the thread-local flags.  A module-level object with slots, not class
    attributes: CPython 3.11 specializes a slot read (two fast instructions) but not a
    class attribute read, which is a full lookup."""

    __slots__ = ("annotating", "grad_off", "inplace_writes")

    def __init__(self) -> None:
        # How many in-place writes there have been, in any thread: backward checks saved
        # values only once there was one.  A write stamps the value's version cell with the
        # next recording number (``SEQ``), so "modified after the node was recorded" is
        # one comparison with the node's own ``_seq`` and costs nothing until an in-place
        # op runs.
        self.inplace_writes = 0
        # How many threads have ``annotate`` on: while none has, a recorded op tests this
        # count instead of the thread-local flag, which costs three times as much to read.
        self.annotating = 0
        # How many threads have grad mode off: while none has, a recorded op tests this
        # count instead of the thread-local flag (``not COUNTS.grad_off or
        # STATE.grad_enabled``), which costs about 70 ns more.  A thread that ends with
        # grad mode off leaves it counted: the test then reads the flag, still right.
        self.grad_off = 0


COUNTS = _Counts()
_COUNTS_LOCK = threading.Lock()  # for the counts: ``+=`` is not atomic


class _State(threading.local):
    """The engine's switches, one set per thread (as PyTorch's grad mode and anomaly mode):
    ``no_grad()`` in one thread does not stop another from recording.  Every recorded op
    reads them (after `COUNTS`); a thread-local attribute read costs a few tens of
    nanoseconds."""

    def __init__(self) -> None:  # run once in each thread, on its first use
        # Written through set_grad only, which keeps ``grad_off``.
        self.grad_enabled = True
        # Current nn.Module path (a tuple of names), recorded on new nodes for the drawing.
        self._scope: tuple[str, ...] = ()
        # Set by detect_anomaly() to its checks (an object with creation_site, check_forward
        # and check_backward; None when off): nodes remember where they were created and
        # gradients are checked.  Handed in, so the engine never imports the layer above.
        self._anomaly: Any = None
        self.anomaly_check_forward = False
        # scope or anomaly: the one flag every recorded op tests (see _annotate), set
        # through _set_annotate only.
        self.annotate = False
        # While ag.compile records a call: its ``tracing.Tracer``, told of what the graph
        # alone does not show (backward calls, computations outside the graph); else None.
        self.tracer: Any = None
        # The callbacks queued (``queue_callback``) during the backward pass now running in
        # this thread; None outside backward.
        self.callbacks: list[Callable[[], Any]] | None = None

    @property
    def scope(self) -> tuple[str, ...]:
        return self._scope

    @scope.setter
    def scope(self, value: tuple[str, ...]) -> None:
        self._scope = value
        self._set_annotate(bool(value) or self._anomaly is not None)

    @property
    def anomaly(self) -> Any:
        return self._anomaly

    @anomaly.setter
    def anomaly(self, checks: Any) -> None:
        self._anomaly = checks
        self._set_annotate(bool(self._scope) or checks is not None)

    def set_grad(self, on: bool) -> None:
        """Turn this thread's grad mode on or off."""
        on = bool(on)
        if on != self.grad_enabled:
            with _COUNTS_LOCK:
                COUNTS.grad_off += -1 if on else 1
            self.grad_enabled = on

    def _set_annotate(self, on: bool) -> None:
        if on != self.annotate:
            with _COUNTS_LOCK:
                COUNTS.annotating += 1 if on else -1
            self.annotate = on


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
        STATE.set_grad(self.mode)

    def __exit__(self, *exc: object) -> None:
        STATE.set_grad(self.prev.pop())


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
    whose values rule ``i`` reads: a node saves those values and only those (a rule may
    still ask any input for its shape, dtype and ndim), and only those are checked for
    in-place modification when rule ``i`` runs (as precise as PyTorch: ``x.mul_(2)`` is
    fine, ``x.mul_(w)`` is not when ``w`` needs a gradient); undeclared, every rule reads
    everything.  ``domain`` and ``kinks``
    describe where the op is smooth, for the property tests and the strategies in
    ``autograd_core.testing``.

    ``elementwise``: the op has one input and an output of that input's shape and dtype,
    and its rule returns a gradient of ``g``'s shape and dtype, so its nodes are recorded
    as fitting (``Recorded._fits``; a test checks the claim for every op that makes it).
    ``ctx_saves``: the context holds values (a custom Function's saved arrays), so backward
    drops it with the saved values; other contexts (axes, shapes, indices) stay with the
    structure, so a drawing can replay the forward pass (``replay.values``).
    """

    __slots__ = ("name", "fwd", "sfwd", "vjps", "reads", "domain", "kinks", "smooth2",
                 "elementwise", "ctx_saves", "plans", "__dict__")

    def __init__(self, name: str, fwd: Callable | None, sfwd: Callable | None,
                 vjps: Sequence[Callable], *, reads: Sequence[tuple[int, ...]] | None = None,
                 domain: dict[int, str] | None = None,
                 kinks: dict[int, tuple[float, ...]] | str | None = None,
                 smooth2: bool = True, elementwise: bool = False,
                 ctx_saves: bool = False) -> None:
        self.name = name
        self.fwd: Callable[..., Any] = fwd or _missing_forward(name, "Tensor")
        self.sfwd: Callable[..., Any] = sfwd or _missing_forward(name, "Scalar")
        self.vjps = tuple(vjps)
        # Undeclared: every rule may read every input and the output (safe for user ops).
        every = (*range(len(self.vjps)), OUT)
        self.reads = tuple(reads) if reads is not None else (every,) * len(self.vjps)
        self.domain = domain or {}
        self.kinks = kinks or {}
        self.smooth2 = smooth2
        self.elementwise = elementwise
        self.ctx_saves = ctx_saves
        # What a node saves, by which inputs require grad (bit i: input i): only what the
        # rules that will run read.  A table, so recording costs one lookup.
        n = len(self.vjps)
        self.plans = [self.plan(mask) for mask in range(1 << n)] if n <= 3 else None

    def plan(self, mask: int) -> tuple[bool | tuple[bool, ...], bool]:
        """What a node saves when the inputs in bitmask ``mask`` require grad: per input
        (True: all of them, False: none, else one flag each), and whether its output."""
        read = {j for i, r in enumerate(self.reads) if mask >> i & 1 for j in r}
        keep = tuple(j in read for j in range(len(self.vjps)))
        return (True if all(keep) else False if not any(keep) else keep), OUT in read

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


def _missing_forward(name: str, kind: str) -> Callable[..., Any]:
    def missing(*args: Any) -> Any:
        raise TypeError(f"{name}: this op has no {kind} form")
    return missing


class Node:
    """What the backward driver walks.  Identity-hashed; never compared by value here.

    Every node has ``requires_grad``, ``_pending`` (None except while backward gathers the
    node's gradient) and ``_hooks``.  A leaf has ``_op is None`` and ``_parents == ()``;
    a recorded node is a `Recorded`.  The subclasses are `Const`, `Scalar`, `Tensor` (as a
    leaf) and ``tensor.TensorNode`` (what a Tensor made by an op points to).
    """

    __slots__ = ("__dict__", "__weakref__", "_hooks", "_pending", "requires_grad")

    data: Any  # the value (a Tensor's node answers with itself: it keeps no value)
    grad: Any
    requires_grad: bool
    _pending: Any
    # Per-node backward behaviour: hooks by handle key.  Not None also after retain_grad()
    # (then possibly empty), so the driver tests one slot for both.
    _hooks: dict[int, Callable] | None
    _op: Op | None
    _parents: tuple[Node, ...]

    _values_in_parents = False  # see Recorded

    # Rarely set, so they live in the (lazily created) instance dict, not in every node.
    _retains_grad: Any = False
    _meta: dict | None = None
    _vc: list[int] | None = None  # version cell, shared with views of the same memory
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

    @property
    def _node(self) -> Node:
        """The graph node standing for this value (a Tensor made by an op: its grad_fn)."""
        return self

    def _share_version(self) -> list[int]:
        """This value's version cell, created on first use (views and saves share it)."""
        if self._vc is None:
            self._vc = [0]
        return self._vc

    # -- hooks the driver calls; the subclasses override them ------------------------------
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


class Recorded(Node):
    """A node made by a recorded op.

    Its parents (the inputs' nodes) live in two slots, ``_a`` and ``_b`` (None where
    absent), not in a tuple: a graph is many small objects, all alive until backward, and
    CPython's cyclic collector scans each of them every time it runs, so one object per op
    instead of two halves that work (a Tensor's node of an op of no or more than two inputs
    has ``_a`` None and the tuple in ``_b``).  ``_parents`` builds the tuple when asked
    (graph walks, drawings); the backward driver reads the slots.

    ``_saved``: one entry per input whose ``.data`` the rules receive -- the input value
    itself (a Tensor, Scalar or constant) where a rule reads it, else the parent node (a
    Tensor's node answers ``.data`` with itself: shape, dtype and ndim are all a rule may
    ask of an input it does not read); ``()`` when the rules that run read no input (they
    get the parent nodes); `SAVED_PARENTS` (a node of one or two inputs) when every input
    they read is its own node (a constant or a leaf: ``x * 2``), so the entries would be the
    parents themselves; None once a backward without ``retain_graph`` has run (a second
    backward then raises). Both empty forms spare the collector a tuple per op.  ``_out``:
    the output value when a rule reads it (``OUT``), else None.  ``_fits`` is True when
    every rule's gradient already has its input's shape and dtype, given a ``g`` of the
    output's: no broadcasting or promotion happened, and backward skips ``unbroadcast``.  It
    is set from ``Op.elementwise``, or by the forward that knows.

    A class that sets ``_values_in_parents`` (`Scalar`) holds its own value: its rules
    read its parents' values and its own, saved until ``_out`` is None (see `Scalar`).
    """

    __slots__ = ("_a", "_b", "_ctx", "_fits", "_op", "_out", "_saved", "_seq")

    _a: Node | None
    _b: Any  # the second parent, None, or (``_a`` None) the tuple of every parent
    _op: Op | None
    _saved: tuple[Any, ...] | None
    _out: Any
    _ctx: Any
    _seq: int  # see SEQ
    _fits: bool

    @property
    def _parents(self) -> tuple[Node, ...]:  # type: ignore[override]
        a = self._a
        if a is None:  # a leaf (its ``_b`` is never set), or a node of 0 or 3+ inputs
            return () if self._op is None else self._b
        b = self._b
        return (a,) if b is None else (a, b)

    def _graph_out(self) -> Any:
        """The output as a node a create_graph rule can differentiate through."""
        raise NotImplementedError


class Const(Node):
    """A non-node operand (a Python number or array) standing in a graph as a constant.

    The fields every op and every backward step read (``requires_grad``, ``grad_fn``) are
    slots, set by `const`; the rarely read ones are class constants.  (CPython 3.11 does not
    specialize reading a class attribute through an instance: each such read is a full
    lookup, several times a store's cost.)
    """

    __slots__ = ("data", "grad_fn")

    data: Any
    grad = None
    grad_fn: None
    _op = None
    _parents = ()
    _hooks = None  # type: ignore[misc]

    def _describe(self) -> str:
        return f"constant {self.data!r}"


class _SavedParents(tuple):
    """The type of `SAVED_PARENTS`: empty, so a walk over saved entries that differ from
    the parents finds none."""

    def __repr__(self) -> str:
        return "SAVED_PARENTS"

    def __reduce__(self) -> str:  # copies and pickles are the one object (tests use ``is``)
        return "SAVED_PARENTS"


# ``_saved`` of a node whose rules read only inputs that are their own nodes (Recorded).
SAVED_PARENTS = _SavedParents()

# Recording order, counted downwards: every consumer of a node is recorded after it, so a
# min-heap on ``_seq`` hands the driver each node after all of its consumers.  Read as
# ``next(SEQ)``: CPython specializes that builtin call, not a bound ``SEQ.__next__``.
SEQ = itertools.count(0, -1)


def const(data: Any) -> Const:
    """Wrap ``data`` as a constant parent (never requires grad)."""
    c = Const()  # no __init__: the class's call is the cheapest way to make one
    c.data = data
    c.requires_grad = False
    c.grad_fn = None
    return c


def _annotate(out: Node, value: Any) -> None:
    """Remember the module path and (in anomaly mode) the creation site of ``out``, whose
    value is ``value``."""
    meta: dict[str, Any] = {"scope": STATE.scope}
    checks = STATE.anomaly
    if checks is not None:
        meta["site"] = checks.creation_site()
        if STATE.anomaly_check_forward:
            checks.check_forward(out, value)
    out._meta = meta


def toposort(roots: Iterable[Node], targets: set[int] | None = None
             ) -> tuple[list[Node], set[int] | None]:
    """Nodes reachable from ``roots`` that require grad, outputs first (iterative DFS).

    With ``targets`` (ids) also returns the ids of nodes lying on a path to a target, so
    ``grad(y, x)`` runs only the rules that matter.  (Backward itself needs no sort: it
    takes nodes newest first, see ``run_backward``.)
    """
    done: dict[int, bool] = {}  # id -> False while its parents are visited, then True
    post: list[Node] = []
    stack = [r._node for r in roots]
    while stack:
        node = stack[-1]
        state = done.get(id(node))
        if state is None:
            done[id(node)] = False
            for p in node._parents:
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
            if any(id(p) in needed for p in node._parents):
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


def _check_saved(node: Recorded, saved: tuple, i: int) -> None:
    """Raise if a value that rule ``i`` of ``node`` reads was modified in place since."""
    op, seq = node._op, node._seq
    assert op is not None
    for j in op.reads[i]:
        who = node if j == OUT else saved[j]
        vc = who._vc
        if vc is not None and vc[0] < seq:  # written after the node was recorded
            raise _modified_error(node, who)


def bump_version(t: Node) -> None:
    """Record that ``t``'s data was modified in place (optimizers call this after a step)."""
    COUNTS.inplace_writes += 1
    vc = t._vc
    if vc is None:
        vc = t._share_version()
    vc[0] = next(SEQ)  # later than every node recorded so far (the count goes down)


def run_backward(roots: Sequence[Node], root_grads: Sequence[Any], retain_graph: bool,
                 create_graph: bool, inputs: Sequence[Node] | None = None,
                 allow_unused: bool = False, observer: Any = None) -> list[Any] | None:
    """The backward driver shared by ``backward`` and ``grad``; ``roots`` and ``inputs``
    are graph nodes (``x._node``).

    Without ``inputs``: accumulates into the leaves' ``.grad``.  With ``inputs``: returns
    their gradients (in ``inputs`` order) and leaves every ``.grad`` untouched.

    A node waits, with the sum of the gradients it has received so far in ``_pending``,
    from the first gradient it receives until it is run.  Recorded nodes wait in a heap
    ordered newest first (``_seq``): all of a node's consumers were recorded after it, so
    by the time it is popped every gradient it will get has arrived -- a reverse
    topological order with no separate sort.  Leaves feed nothing and wait until the end.

    ``observer`` (None on every normal path, which then pays one test per node; per edge
    it shares anomaly mode's test) is told what the driver does, for
    ``viz.backward_steps``: ``ran(node, g_in, g)`` when a node is taken (``g_in`` the
    summed gradient it received, ``g`` that after its hooks), and ``sent(node, i, parent,
    pg)`` for each gradient a rule sends.  The values are the driver's own objects, so a
    record of them is bit for bit what backward computed.
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
    check_saved = COUNTS.inplace_writes != 0
    anomaly = STATE.anomaly
    watched = anomaly is not None or observer is not None
    prev_mode = STATE.grad_enabled
    STATE.set_grad(create_graph)
    # Backward creates no reference cycles, so the cyclic collector has nothing to find
    # here; pausing it saves re-traversing the whole (large, young) graph several times.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    prev_callbacks = STATE.callbacks
    callbacks: list[Callable[[], Any]] = []
    STATE.callbacks = callbacks
    # Scalars and Tensors never share a graph, so one namespace serves the whole run, and
    # every recorded node is of one kind: a Scalar (its own value, its parents in slots) or
    # a Tensor's node.
    ns = roots[0]._graph_ns if create_graph else roots[0]._plain_ns
    own_value = roots[0]._values_in_parents  # type: ignore[attr-defined]
    parents: tuple[Any, ...]
    saved: tuple[Any, ...] | None
    unbroadcast = ns.unbroadcast
    # Without retain_graph a node drops its saved values once it has run, so each value is
    # freed during backward as soon as no later rule can read it, and its memory is reused
    # by the gradients still to come (what PyTorch does with saved tensors).
    # The recorded node that got its first gradient last, held out of the heap: in a chain
    # it is the next to run, so it skips a push and a pop (checked against the heap's top
    # when taken, as another parent may have been pushed after it).
    nxt: Any = None
    try:
        while nxt is not None or waiting or leaves:
            if nxt is not None:
                node, nxt = nxt, None
                if waiting and waiting[0][0] < node._seq:  # type: ignore[attr-defined]
                    node = heapreplace(waiting, (node._seq, node))[1]  # type: ignore[attr-defined]
            else:
                node = heappop(waiting)[1] if waiting else leaves.pop()
            g = g_in = node._pending
            node._pending = None
            if node._hooks is not None:
                for hook in tuple(node._hooks.values()):
                    res = hook(node._wrap_grad(g))
                    if res is not None:
                        g = node._unwrap_grad(res)
                if node._retains_grad and targets is None:
                    node._accumulate(g, create_graph, _fresh(g, handed_out))
            if observer is not None:
                observer.ran(node, g_in, g)
            if targets is not None and id(node) in targets:
                captured[id(node)] = g
            op = node._op
            if op is None:
                if targets is None:
                    node._accumulate(g, create_graph, _fresh(g, handed_out))
                continue
            a, b = node._a, node._b  # type: ignore[attr-defined]
            # Recorded._parents inlined (a property call costs more; this node is recorded)
            parents = b if a is None else (a,) if b is None else (a, b)
            by_node = False  # the rules get the parents' nodes, not their values
            if own_value:  # a Scalar: its parents hold the values, saved until released
                if node._out is None:  # type: ignore[attr-defined]
                    raise _released_error(node)
                saved = parents
            else:
                saved = node._saved  # type: ignore[attr-defined]
                if saved is None:
                    raise _released_error(node)
                if not saved:  # () or SAVED_PARENTS: the parents stand for the entries
                    by_node = saved is not SAVED_PARENTS
                    saved = parents
            n = len(parents)
            if create_graph:  # rules see nodes (constants as their raw values)
                out = node._graph_out() if node._out is not None else None  # type: ignore[attr-defined]
                args = tuple([s.data if type(s) is Const else s for s in saved])
            else:
                out = node._out  # type: ignore[attr-defined]
                if by_node:
                    args = saved  # no rule that runs reads an input: the nodes will do
                else:
                    args = ((saved[0].data, saved[1].data) if n == 2 else
                            (saved[0].data,) if n == 1 else tuple([s.data for s in saved]))
            vjps, ctx, fits = op.vjps, node._ctx, node._fits  # type: ignore[attr-defined]
            for i, p in enumerate(parents):
                if not p.requires_grad or (needed is not None and id(p) not in needed):
                    continue
                if check_saved:
                    _check_saved(node, saved, i)  # type: ignore[arg-type]
                # Spelled out for one and two inputs: a call with *args costs ~4x as much.
                rule = vjps[i]
                pg = (rule(ns, g, out, ctx, args[0]) if n == 1 else
                      rule(ns, g, out, ctx, args[0], args[1]) if n == 2 else
                      rule(ns, g, out, ctx, *args))
                if not fits:
                    pg = unbroadcast(pg, p)
                if watched:  # one test per edge on the normal path, as before observers
                    if anomaly is not None:
                        anomaly.check_backward(node, i, pg)
                    if observer is not None:
                        observer.sent(node, i, p, pg)
                prev = p._pending
                if prev is None:  # p's first gradient: it now waits (``_wait``, inlined)
                    if p._op is None:
                        leaves.append(p)
                    elif nxt is None:
                        nxt = p
                    else:
                        heappush(waiting, (p._seq, p))  # type: ignore[attr-defined]
                    p._pending = pg
                else:
                    p._pending = prev + pg
            if not retain_graph:
                if not own_value:
                    node._saved = None  # type: ignore[attr-defined]
                node._out = None  # type: ignore[attr-defined]
                if op.ctx_saves:
                    node._ctx = None  # type: ignore[attr-defined]
    finally:
        STATE.set_grad(prev_mode)
        STATE.callbacks = prev_callbacks
        for _, node in waiting:  # after an error, leave no stale partial gradients behind
            node._pending = None
        if nxt is not None:
            nxt._pending = None
        for node in leaves:
            node._pending = None
        if gc_was_enabled:
            gc.enable()
    if inputs is None:
        for callback in callbacks:  # every .grad is final now (a grad() pass fills none)
            callback()
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


def queue_callback(callback: Callable[[], Any]) -> None:
    """Run ``callback()`` once the ``backward()`` pass now running has accumulated every
    leaf's ``.grad`` (PyTorch's ``Variable._execution_engine.queue_callback``); call it
    from a hook.  Callbacks run in the order queued, and one equal to a callback already
    queued in this pass is not queued again (a hook on several outputs asks once); a pass
    of `grad` (which fills no ``.grad``) drops them, and so does a pass that raised.
    `nn.DistributedDataParallel` averages the gradients this way.

    >>> import autograd_core as ag
    >>> x = ag.tensor([1.0, 2.0], requires_grad=True)
    >>> y = x * 3
    >>> seen = []
    >>> _ = y.register_hook(lambda g: queue_callback(lambda: seen.append(x.grad.tolist())))
    >>> y.sum().backward()
    >>> seen
    [[3.0, 3.0]]
    """
    if STATE.callbacks is None:
        raise RuntimeError("queue_callback: no backward pass is running in this thread; "
                           "call it from a hook during backward()")
    if callback not in STATE.callbacks:
        STATE.callbacks.append(callback)


def _wait(node: Node, waiting: list[tuple[int, Node]], leaves: list[Node]) -> None:
    """Queue ``node``, which has just received its first gradient, to run."""
    if node._op is None:
        leaves.append(node)
    else:
        heappush(waiting, (node._seq, node))  # type: ignore[attr-defined]


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
    if STATE.tracer is not None:
        STATE.tracer.backward(node._node, grad, create_graph)
    seed = node._seed_grad(grad, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    run_backward([node._node], [seed], retain_graph, create_graph)
    if STATE.tracer is not None:
        STATE.tracer.backward_done()


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
    if STATE.tracer is not None and not create_graph:
        STATE.tracer.refuse("grad() without create_graph=True (its result is a constant "
                            "to a plan; call backward() in the function instead)")
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
    res = run_backward([o._node for o in outs], seeds, retain_graph, create_graph,
                       [x._node for x in ins], allow_unused)
    assert res is not None
    return tuple(res)


def live_nodes() -> int:
    """How many recorded graph nodes are alive (released by backward or not); for leak
    tests: a graph lives exactly as long as something holds its output."""
    # type() rather than isinstance(): the latter reads __class__, which some foreign
    # objects (torch's deprecated aliases) answer with a warning.
    return sum(1 for o in gc.get_objects()
               if issubclass(type(o), Recorded) and o._op is not None)
