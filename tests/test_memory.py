"""No reference cycles, no leaked graph nodes, and 1,000,000-node graphs (TRAPS 1 and 8)."""

import gc
import sys
import weakref

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import Scalar, buffers
from autograd_core.engine import SAVED_PARENTS


def training_step(W, b, x, y):
    loss = ((ag.relu(x @ W + b) - y) ** 2).mean()
    loss.backward()
    with ag.no_grad():
        W.data -= 0.01 * W.grad.data
        b.data -= 0.01 * b.grad.data
    W.grad = b.grad = None
    return loss


def test_training_step_creates_no_reference_cycles():
    rng = np.random.default_rng(0)
    W = ag.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = ag.Tensor(np.zeros(3), requires_grad=True)
    x, y = ag.Tensor(rng.standard_normal((8, 4))), ag.Tensor(rng.standard_normal((8, 3)))
    s = Scalar(0.5)
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            training_step(W, b, x, y)
            (s * s + s.tanh()).backward()
            (g,) = ag.grad((W ** 3).sum(), W, create_graph=True)
            g.sum().backward()
            W.grad = None
        del g
        gc.set_debug(gc.DEBUG_SAVEALL)
        found = gc.collect()
        ours = [type(o).__name__ for o in gc.garbage
                if isinstance(o, ag.engine.Node) or "autograd_core" in repr(type(o))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert ours == []
    assert found == 0


def test_live_nodes_flat_across_training_steps():
    rng = np.random.default_rng(0)
    W = ag.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = ag.Tensor(np.zeros(3), requires_grad=True)
    x, y = ag.Tensor(rng.standard_normal((8, 4))), ag.Tensor(rng.standard_normal((8, 3)))
    start = ag.live_nodes()
    for step in range(1, 1001):
        loss = training_step(W, b, x, y)
        if step == 10:
            at10 = ag.live_nodes()
    at1000 = ag.live_nodes()
    assert at10 == at1000
    del loss
    assert ag.live_nodes() == start


def test_graph_is_freed_after_backward_unless_retained():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    start = ag.live_nodes()
    h = (x * 2).exp()
    y = (h * h).sum()
    assert ag.live_nodes() == start + 4
    mul = y.grad_fn._parents[0]
    assert mul._saved[0] is h  # mul reads both of its inputs: it saved them
    y.backward()
    # The saved values are dropped; the structure (ops, edges, shapes) stays for drawings...
    assert h.grad_fn._saved is None and y.grad_fn._saved is None and mul._saved is None
    assert h.grad_fn._out is None  # exp's saved output too
    assert ag.live_nodes() == start + 4
    assert [n.op_name for n in (y.grad_fn, mul, h.grad_fn)] == ["sum", "mul", "exp"]
    assert mul.shape == (2,) and mul.dtype == np.float32
    # ... until the output is dropped.
    del h, y, mul
    assert ag.live_nodes() == start


def test_intermediate_values_are_freed_during_backward():
    # As in PyTorch: once the rules that read a value have run, backward holds on to nothing,
    # so the gradients still to come reuse that memory (lower peak, fewer page faults).
    x = ag.tensor(np.ones(3), requires_grad=True)
    refs = []

    def forward():
        a = x * 2.0
        b = a.exp()
        refs.extend(weakref.ref(t) for t in (a, b))
        return (b * b).sum()

    alive_at_the_leaf = []
    x.register_hook(lambda g: alive_at_the_leaf.extend(r() is not None for r in refs))
    forward().backward()
    assert alive_at_the_leaf == [False, False]


def test_a_scalar_graph_is_one_collected_object_per_op():
    """Every object a graph keeps alive is scanned by each full collection of CPython's
    cyclic collector; a Scalar op adds one (the Scalar: its parents live in slots, repeated
    numbers share a constant), before and after backward.  Two per op made an MLP step on
    Scalars spend half its time in the collector."""
    x, w = Scalar(0.5), Scalar(-1.5)
    n = 2_000
    gc.collect()
    before = len(gc.get_objects())
    y = x
    for _ in range(n // 4):
        y = (y * w + 0.25).tanh() - 0.125  # two numbers, four ops
    during = len(gc.get_objects()) - before
    y.backward()
    after = len(gc.get_objects()) - before
    assert n <= during <= n + 50
    assert n <= after <= n + 50
    # the structure is all there: per op an edge out, and one in per input (7 per 4 ops)
    assert ag.viz.to_dot(y).count(" -> ") == n + 7 * n // 4
    a, b = y._parents
    assert b.data == 0.125 and a._op.name == "tanh"
    del y, a, b
    gc.collect()
    assert len(gc.get_objects()) - before <= 50


def test_a_tensor_graph_keeps_one_collected_object_per_op():
    """As for Scalars: a Tensor op whose rules read no input keeps one object the cyclic
    collector scans (its node: the parents live in slots, the intermediate Tensor is freed,
    repeated numbers share a constant), before and after backward; a node of an op that
    reads an input adds the tuple of what it saved until backward releases it."""
    x = ag.tensor(np.linspace(-1.0, 1.0, 16, dtype=np.float32), requires_grad=True)
    n = 2_000
    gc.collect()
    before = len(gc.get_objects())
    y = x
    for _ in range(n // 4):
        y = ((y + 0.25).tanh() - 0.125).exp()  # rules read no input, or the output
    during = len(gc.get_objects()) - before
    y.sum().backward()
    after = len(gc.get_objects()) - before
    assert n <= during <= n + 50
    assert n <= after <= n + 50
    assert x.grad is not None and np.isfinite(x.grad.data).all()
    # the structure is all there after backward
    a, b = y.grad_fn._parents[0]._parents
    assert a._op.name == "tanh" and float(b.data) == 0.125
    del y, a, b
    gc.collect()
    assert len(gc.get_objects()) - before <= 50


def test_a_product_with_a_constant_keeps_no_tuple_of_saved_values():
    """``h * 1.5`` reads the constant, which is its own node: the node saves
    SAVED_PARENTS, not a tuple (one collected object per op), and backward still reads
    the constant; a product of two op outputs keeps its tuple."""
    x = ag.tensor(np.linspace(-1.0, 1.0, 16), requires_grad=True)
    n = 2_000
    h = x.tanh()
    gc.collect()
    before = len(gc.get_objects())
    y = h
    for _ in range(n // 2):
        y = (y * 1.5) * 0.5  # rules read the constants
    during = len(gc.get_objects()) - before
    assert y.grad_fn._saved is SAVED_PARENTS
    assert n <= during <= n + 50
    y.sum().backward()
    dtanh = 1 - np.tanh(x.data) ** 2
    np.testing.assert_allclose(x.grad.data, 0.75 ** (n // 2) * dtanh, rtol=1e-12)
    assert y.grad_fn._saved is None  # released: a second backward raises
    with pytest.raises(RuntimeError, match="second time"):
        y.sum().backward()
    w = ag.tensor(np.ones(16), requires_grad=True)  # a leaf: its own node too
    assert (w * 3.0).grad_fn._saved is SAVED_PARENTS and (w * w).grad_fn._saved is SAVED_PARENTS
    h = x.tanh()  # the first backward released the old one
    g = h * h.exp()  # both op outputs: their values are kept in the tuple
    assert g.grad_fn._saved[0] is h and g.grad_fn._saved[1].grad_fn is g.grad_fn._b
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, 0.75 ** (n // 2) * dtanh + (
        np.exp(np.tanh(x.data)) * (1 + np.tanh(x.data))) * dtanh, rtol=1e-12)


DEEP = 1_000_000


@pytest.mark.slow
def test_million_node_scalar_chain_backward_and_free():
    limit = sys.getrecursionlimit()
    x = Scalar(1.0)
    y = x
    for _ in range(DEEP // 2):  # two nodes per step
        y = y * 1.0001 + 0.0001
    y.backward()
    assert np.isfinite(x.grad) and x.grad > 1
    z = x
    for _ in range(DEEP // 2):  # freeing an un-backwarded deep graph must not recurse
        z = z * 1.0 + 0.0
    del z, y
    assert sys.getrecursionlimit() == limit


@pytest.mark.slow
def test_million_node_tensor_chain_backward():
    x = ag.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(DEEP // 2):
        y = y * 1.0001 + 0.0001
    y.backward()
    expect = float(np.float32(1.0001)) ** (DEEP // 2)  # the float32 multiplier, exactly
    np.testing.assert_allclose(x.grad.data, [expect], rtol=1e-3)
    del y


def test_forward_of_a_relu_mlp_keeps_only_what_backward_reads():
    """10 Linear+ReLU layers: backward reads each layer's input (saved by the product) and
    each ReLU's output -- the same array, the next layer's input -- and nothing else.  The
    pre-activations (the products) are freed during the forward pass, as in PyTorch; before
    the graph nodes were split from the tensors they were all kept, twice the memory."""
    import tracemalloc

    import nn

    layers, batch, width = 10, 64, 256
    rng = np.random.default_rng(0)
    model = nn.Sequential(*[m for _ in range(layers) for m in (nn.Linear(width, width), nn.ReLU())])
    model.double()
    x = ag.tensor(rng.standard_normal((batch, width)))
    act = batch * width * 8  # bytes of one activation

    def traced_forward() -> tuple[int, int]:
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            out = model(x)
            held, peak = (m - base for m in tracemalloc.get_traced_memory())
        finally:
            tracemalloc.stop()
        out.sum().backward()
        assert all(p.grad is not None for p in model.parameters())
        return held, peak

    # What the graph holds, without buffers.py's cache (which keeps freed arrays to reuse).
    limit = buffers.limit()
    buffers.set_limit(0)
    try:
        held, peak = traced_forward()
    finally:
        buffers.set_limit(limit)
    # Saved: the 9 hidden activations and the output (the input x was allocated before);
    # everything else is small (nodes, shapes).  Peak: one product more, while its ReLU runs.
    assert held < (layers + 0.5) * act, (held / act, "activations held after the forward")
    assert peak < (layers + 1.5) * act, (peak / act, "activations at the peak")
    assert held > (layers - 0.5) * act  # the saved ones are really there
    # With the cache, the products share one buffer: the same, plus that one.
    buffers.empty_cache()
    held, peak = traced_forward()
    assert (layers - 0.5) * act < held < (layers + 1.5) * act, held / act
    assert peak < (layers + 1.5) * act, peak / act
