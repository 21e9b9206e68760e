"""Issue N, teaching backward: backward_steps, rule text, animate_backward, why_no_grad."""

import gc
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd_core as ag
from autograd_core.primitives import OPS, concat_op
from autograd_core.rule_text import RULE_TEXT, rule_text
from autograd_core.viz import GraphvizNotFoundError, animate_backward, backward_steps
from autograd_core.viz.animate import backward_frames

ROOT = Path(__file__).resolve().parents[1]
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz 'dot' executable not installed")


# ---------------------------------------------------------------------- helpers
def bits(g):
    """A gradient's exact bits (NaN-safe), with its dtype for arrays."""
    if isinstance(g, ag.Tensor):
        g = g.data
    if isinstance(g, np.ndarray):
        return g.dtype.str, g.shape, g.tobytes()
    return float(g).hex()


def neuron(names=True):
    x1, x2 = ag.Scalar(2.0, requires_grad=False), ag.Scalar(-1.0, requires_grad=False)
    w1, w2, b = ag.Scalar(-0.5), ag.Scalar(1.5), ag.Scalar(4.0)
    if names:
        for s, n in zip((x1, x2, w1, w2, b), ("x1", "x2", "w1", "w2", "b"), strict=True):
            s.name = n
    return (x1 * w1 + x2 * w2 + b).relu(), (w1, w2, b)


def check_against_backward(loss, leaves, nodes=()):
    """The steps' gradients are backward()'s, bit for bit: at the leaves (their .grad) and
    at every intermediate node given (``ag.grad`` of it, the same driver's capture)."""
    steps = backward_steps(loss)
    by_node = {id(s.node): s for s in steps}
    inter = ag.grad(loss, list(nodes), retain_graph=True) if nodes else ()
    for x, g in zip(nodes, inter, strict=True):
        assert bits(by_node[id(x._node)].grad_after_hooks) == bits(g)
    loss.backward()
    for leaf in leaves:
        step = by_node.get(id(leaf._node))
        if step is None:  # not used by the loss: backward gave it nothing either
            assert leaf.grad is None or leaf.grad == 0.0
            continue
        got = step.grad_after_hooks
        if isinstance(leaf, ag.Scalar):
            got = 0.0 + got  # Scalar.grad starts at 0.0 and backward adds to it
        assert bits(got) == bits(leaf.grad)
    return steps


# ------------------------------------------------------------------ backward_steps
def test_neuron_steps_in_engine_order_with_rules():
    out, (w1, w2, b) = neuron()
    steps = check_against_backward(out, (w1, w2, b))
    assert [s.label for s in steps] == ["relu", "add", "add", "mul", "mul", "w1", "w2", "b"]
    assert [s.index for s in steps] == list(range(8))
    relu, add = steps[0], steps[1]
    assert relu.contributions[0].consumer is None and relu.grad == 1.0  # the seed
    assert relu.rules == (rule_text(OPS["relu"], 0),)
    assert [(s.slot, s.grad) for s in add.sends] == [(0, 1.0), (1, 1.0)]
    mul_w2 = steps[3]  # newest first: x2*w2 was recorded after x1*w1
    assert [s.parent for s in mul_w2.sends] == [w2]  # x2 needs no grad: nothing is sent
    assert mul_w2.sends[0].rule == "d(a*b)/db = a" and mul_w2.sends[0].grad == -1.0
    assert "d(a*b)/db = a" in str(mul_w2) and "sends -1" in str(mul_w2)
    assert (w1.grad, w2.grad, b.grad) == (2.0, -1.0, 1.0)


def test_node_used_twice_sums_contributions_in_arrival_order():
    a = ag.Scalar(1.0, name="a")
    b = a + a
    c = b * b + a
    steps = check_against_backward(c, (a,), (b,))
    (leaf,) = [s for s in steps if s.node is a]
    assert len(leaf.contributions) == 3  # from c's add, then b's add twice
    total = leaf.contributions[0].grad
    for k in leaf.contributions[1:]:
        total = total + k.grad
    assert bits(total) == bits(leaf.grad) and a.grad == 9.0
    assert [k.consumer.op_name for k in leaf.contributions] == ["add", "add", "add"]


def test_tensor_graph_with_broadcasting_and_reuse():
    x = ag.randn(4, 3)
    w = ag.randn(3, requires_grad=True)  # broadcast over the rows
    b = ag.randn(1, 1, requires_grad=True)  # size-1 dims summed away
    h = (x * w + b).tanh()
    loss = (h * h + h).sum()  # h used three times
    steps = check_against_backward(loss, (w, b), (h,))
    (hs,) = [s for s in steps if s.node is h._node]
    assert len(hs.contributions) == 3
    (wstep,) = [s for s in steps if s.node is w]
    assert wstep.grad.shape == (3,) and wstep.grad.dtype == np.float32
    assert "(3,)" in str(wstep)


def test_steps_leave_grads_alone_and_backward_still_runs():
    x = ag.tensor([1.0, -2.0, 3.0], requires_grad=True)
    loss = (x * x).relu().sum()
    steps = backward_steps(loss)
    assert x.grad is None  # nothing filled
    loss.backward()  # the saved values were kept
    assert bits(steps[-1].grad) == bits(x.grad)


def test_hooks_run_and_their_replacement_is_recorded():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    y.register_hook(lambda g: g * 0.5)
    (ys,) = [s for s in backward_steps(y.sum()) if s.node is y._node]
    assert ys.hooked and ys.grad.tolist() == [1.0, 1.0]
    assert ys.grad_after_hooks.tolist() == [0.5, 0.5] and "a hook replaced" in str(ys)


def test_backward_steps_after_a_plain_backward_raises_the_engine_error():
    out, _ = neuron()
    out.backward()
    with pytest.raises(RuntimeError, match=r"backward_steps: .*freed.*retain_graph=True"):
        backward_steps(out)
    out2, _ = neuron()
    out2.backward(retain_graph=True)
    assert len(backward_steps(out2)) == 8


def test_deep_chain_and_no_reference_cycles():
    x = ag.Scalar(0.5)
    y = x
    for _ in range(20_000):  # iterative all the way: a recursive walker dies near 1,000
        y = y * 1.0
    gc.collect()
    steps = backward_steps(y)
    assert len(steps) == 20_001 and steps[-1].grad == 1.0
    del steps
    assert gc.collect() == 0  # the records hold no cycles of ours
    assert ag.why_no_grad(x, y).cause == "has_grad"


def test_backward_steps_bad_input():
    with pytest.raises(TypeError, match="backward_steps: loss must be a Tensor or Scalar"):
        backward_steps([1.0])
    with pytest.raises(RuntimeError, match="backward_steps: the loss .* does not require"):
        backward_steps(ag.tensor([1.0]).sum())
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="backward_steps: grad can be implicitly created"):
        backward_steps(x * 2.0)
    assert len(backward_steps(x * 2.0, grad=np.ones(2))) == 2


# Random graphs built from the rule table's ops that take any real input: the steps must
# agree with backward() bit for bit, whatever the shape of the graph.
UNARY = sorted(n for n, op in OPS.items() if op.elementwise and not op.domain
               and len(op.vjps) == 1 and hasattr(ag, n))
BINARY = ["add", "sub", "mul", "maximum", "minimum", "copysign"]
SCALAR_UNARY = ["exp", "tanh", "sigmoid", "relu", "sin", "cos", "abs"]


@st.composite
def programs(draw, scalar):
    n_leaves = draw(st.integers(1, 3))
    ops = SCALAR_UNARY if scalar else UNARY
    steps = []
    for k in range(draw(st.integers(1, 8))):
        avail = n_leaves + k
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(ops)), draw(st.integers(0, avail - 1)), None))
        else:
            names = BINARY[:3] if scalar else BINARY
            steps.append((draw(st.sampled_from(names)), draw(st.integers(0, avail - 1)),
                          draw(st.integers(0, avail - 1))))
    values = draw(st.lists(st.floats(-2, 2, width=32), min_size=n_leaves * 6,
                           max_size=n_leaves * 6))
    return n_leaves, steps, values


def _run(program, scalar):
    n_leaves, steps, values = program
    if scalar:
        leaves = [ag.Scalar(values[i]) for i in range(n_leaves)]
    else:  # shapes (2, 3), (3,), (1, 3): every binary op broadcasts
        shapes = [(2, 3), (3,), (1, 3)]
        leaves = [ag.tensor(np.array(values[6 * i:6 * i + 6], np.float32)[:np.prod(s)]
                            .reshape(s), requires_grad=True) for i, s in
                  zip(range(n_leaves), shapes, strict=False)]
    vals = list(leaves)
    for name, i, j in steps:
        a = vals[i]
        if scalar:
            vals.append(getattr(a, name)() if j is None else
                        {"add": a + vals[j], "sub": a - vals[j], "mul": a * vals[j]}[name])
        else:
            fn = getattr(ag, name)
            vals.append(fn(a) if j is None else fn(a, vals[j]))
    total = vals[-1]
    for v in vals[n_leaves:-1]:  # every node feeds the loss, some twice
        total = total + v
    loss = total if scalar else total.sum()
    return loss, leaves, [v for v in vals[n_leaves:] if v.requires_grad]


@given(programs(scalar=False))
def test_random_tensor_graphs_match_backward_bit_for_bit(program):
    with np.errstate(all="ignore"):
        loss, leaves, nodes = _run(program, scalar=False)
        if loss.requires_grad:
            check_against_backward(loss, leaves, nodes)


@given(programs(scalar=True))
def test_random_scalar_graphs_match_backward_bit_for_bit(program):
    loss, leaves, nodes = _run(program, scalar=True)
    check_against_backward(loss, leaves, nodes)


# ---------------------------------------------------------------------- rule text
def test_every_op_in_the_rule_table_has_rule_text():
    missing = [n for n in OPS if n not in RULE_TEXT]
    assert missing == []
    assert [n for n in RULE_TEXT if n not in OPS] == []  # no stale entries
    # concat has one Op per arity and one line serving every input
    wrong = [n for n, op in OPS.items()
             if len(RULE_TEXT[n]) != (1 if n == "concat" else len(op.vjps))]
    assert wrong == []
    assert all(text.strip() for lines in RULE_TEXT.values() for text in lines)


def test_every_op_defined_anywhere_in_the_package_has_rule_text():
    """Ops registered outside the table (``Op("name", ...)`` or ``defop``) need text too."""
    names = set()
    for path in (ROOT / "autograd_core").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith(">>>"):
                continue  # docstring examples (the checker's deliberately broken op)
            names.update(re.findall(r'\b(?:defop|Op)\(\s*"(\w+)"', line))
    assert "concat" in names and "mul" in names
    assert sorted(names - set(RULE_TEXT)) == []


def test_rule_text_for_concat_of_any_arity_and_custom_functions():
    op3 = concat_op(3)
    assert [rule_text(op3, i) for i in range(3)] == [RULE_TEXT["concat"][0]] * 3

    class Twice(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    x = ag.tensor([1.0], requires_grad=True)
    (step, _) = backward_steps(Twice.apply(x).sum())[1:]
    assert "Twice.backward" in step.rules[0] and "custom Function" in step.rules[0]


# ----------------------------------------------------------------- animate_backward
def test_frames_are_byte_stable_and_show_the_steps():
    def sources():
        out, _ = neuron()
        return [f.source for f in backward_frames(out)[1]]

    first, second = sources(), sources()
    assert first == second and len(first) == 8
    frame = first[3]  # mul(x2, w2): outlined, sending -1 to w2 along a coloured edge
    assert frame.count("#d6006f") >= 3  # the op, its value and the edge it sent on
    assert "d(a*b)/db = a" in frame and "label=-1 " in frame
    assert "grad 1" in frame and "grad -1" not in frame  # w2 has not run yet
    assert "grad -1" in first[6]


@needs_dot
def test_animation_html_is_byte_stable_and_self_contained(tmp_path):
    out1, _ = neuron()
    out2, _ = neuron()
    a = animate_backward(out1, tmp_path / "a.html")
    b = animate_backward(out2, tmp_path / "b.html")
    page = (tmp_path / "a.html").read_bytes()
    assert page == (tmp_path / "b.html").read_bytes()
    text = page.decode()
    assert text.count("<svg") == len(a) == 8 and 'type="range"' in text
    assert "http" not in text.replace("http://www.w3.org", "")  # nothing fetched
    assert a._repr_html_() in text and b.html == text


def test_animation_without_dot_raises_clearly(monkeypatch):
    monkeypatch.setattr("autograd_core.viz.shutil.which", lambda name: None)
    out, _ = neuron()
    with pytest.raises(GraphvizNotFoundError, match="animate_backward: Graphviz's 'dot'"):
        animate_backward(out, "never.html")


def test_animation_bad_options():
    out, _ = neuron()
    with pytest.raises(TypeError, match="animate_backward: unknown .*collapse"):
        backward_frames(out, collapse=1)
    with pytest.raises(ValueError, match="animate_backward: the graph has 8 backward steps"):
        backward_frames(out, max_steps=3)


# ------------------------------------------------------------------- why_no_grad
def test_why_requires_grad_false():
    w = ag.tensor([1.0, 2.0])
    r = ag.why_no_grad(w, (w * ag.tensor([1.0, 1.0], requires_grad=True)).sum(), name="w")
    assert r.cause == "requires_grad_false" and "although the loss uses it" in str(r)


def test_why_detach():
    w, v = ag.tensor([0.5, -0.5], requires_grad=True), ag.ones(2, requires_grad=True)
    r = ag.why_no_grad(w, (w.detach() * v).sum(), name="w")
    assert (r.cause, r.breaks_at) == ("not_connected", "detach") and "detach()" in str(r)


def test_why_detach_of_a_value_computed_from_the_parameter():
    w, v = ag.tensor([0.5, -0.5], requires_grad=True), ag.ones(2, requires_grad=True)
    h = w * 2.0
    r = ag.why_no_grad(w, (h.detach() * v).sum(), name="w")
    assert r.breaks_at == "detach" and "the output of mul" in str(r)


def test_why_detach_of_a_unary_op_of_the_parameter():
    # The op's node holds w in a parent slot only (tanh saves its output, not w): the
    # search for w's users must look at slots, not only at tuples (it answered "no_grad").
    w, v = ag.tensor([0.5, -0.5], requires_grad=True), ag.ones(2, requires_grad=True)
    h = w.tanh()
    r = ag.why_no_grad(w, (h.detach() * v).sum(), name="w")
    assert r.breaks_at == "detach" and "the output of tanh" in str(r)


def test_why_data():
    w, v = ag.tensor([0.5, -0.5], requires_grad=True), ag.ones(2, requires_grad=True)
    r = ag.why_no_grad(w, (w.data * v).sum(), name="w")  # a constant sharing w's memory
    assert (r.cause, r.breaks_at) == ("not_connected", "data") and ".data" in str(r)
    r = ag.why_no_grad(w, (ag.tensor(w.data) * v).sum(), name="w")  # a copy of the values
    assert r.breaks_at == "data"


def test_why_integer_cast():
    w, v = ag.tensor([0.5, 2.5], requires_grad=True), ag.ones(2, requires_grad=True)
    r = ag.why_no_grad(w, (w.long() * v).sum(), name="w")
    assert (r.cause, r.breaks_at) == ("not_connected", "int_cast")
    a, b = ag.Scalar(2.5), ag.Scalar(1.0)
    assert ag.why_no_grad(a, b * int(a.data)).breaks_at == "int_cast"


def test_why_no_grad_block():
    w, v = ag.tensor([0.5, -0.5], requires_grad=True), ag.ones(2, requires_grad=True)
    with ag.no_grad():
        h = w * 2.0
    r = ag.why_no_grad(w, (h * v).sum(), name="w")
    assert (r.cause, r.breaks_at) == ("not_connected", "no_grad") and "no_grad()" in str(r)
    with ag.no_grad():
        loss = (w * v).sum()
    r = ag.why_no_grad(w, loss, name="w")
    assert r.breaks_at == "no_grad" and "no graph at all" in str(r)


def test_why_dead_relu_and_its_fraction():
    x = ag.tensor([[1.0, 2.0], [3.0, 1.0]])
    w = ag.tensor([0.5, -0.5], requires_grad=True)
    r = ag.why_no_grad(w, ((x @ w) - 10.0).relu().sum(), name="w")
    assert (r.cause, r.op, r.fraction) == ("dead_relu", "relu", 1.0)
    assert "100% of its outputs are 0" in str(r)


def test_why_saturated_sigmoid():
    w = ag.tensor([1.0, -2.0], requires_grad=True)
    r = ag.why_no_grad(w, (w * 1000.0).sigmoid().sum(), name="w")
    assert (r.cause, r.op, r.fraction) == ("saturated", "sigmoid", 1.0)


def test_why_zero_mask():
    w = ag.tensor([1.0, -2.0], requires_grad=True)
    r = ag.why_no_grad(w, (w * ag.zeros(2)).sum(), name="w")
    assert (r.cause, r.op) == ("zero_mask", "mul") and "is 0 in 100%" in str(r)
    r = ag.why_no_grad(w, ag.where(ag.tensor([False, False]), w, 0.0).sum(), name="w")
    assert (r.cause, r.op) == ("zero_mask", "where")


def test_why_hook_replaced_the_gradient():
    w = ag.tensor([1.0, -2.0], requires_grad=True)
    y = w * 3.0
    y.register_hook(lambda g: g * 0)
    r = ag.why_no_grad(w, y.sum(), name="w")
    assert r.cause == "hook" and "hook on the output of mul" in str(r)


def test_why_cancelled_and_fine():
    w = ag.tensor([1.0, -2.0], requires_grad=True)
    assert ag.why_no_grad(w, (w - w).sum()).cause == "cancelled"
    r = ag.why_no_grad(w, (w * w).sum(), name="w")
    assert r.cause == "has_grad" and "has backward() run" in str(r)


def test_why_works_after_a_plain_backward():
    out, (w1, _, _) = neuron()
    out.backward()  # saved values freed: the answer replays the graph's values
    assert ag.why_no_grad(w1, out).cause == "has_grad"
    x = ag.Scalar(-3.0, name="x")
    dead = (x * 2.0).relu()
    dead.backward()
    assert ag.why_no_grad(x, dead).cause == "dead_relu"


def test_why_no_grad_bad_input():
    w = ag.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="why_no_grad: param must be a Tensor or Scalar"):
        ag.why_no_grad(np.ones(1), w.sum())
    with pytest.raises(TypeError, match="why_no_grad: loss must be a Tensor or Scalar"):
        ag.why_no_grad(w, 3.0)


# ------------------------------------------------------------------ README frame
def test_committed_readme_frame_is_current():
    from autograd_core.examples import readme_backward

    committed = ROOT / "notebooks" / "img" / "neuron_step3.dot"
    assert readme_backward.dot_source() == committed.read_text(encoding="utf-8"), (
        "run `python -m autograd_core.examples.readme_backward` and commit notebooks/img")
    assert "neuron_step3.svg" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_frame_generator_writes_both_files(tmp_path):
    from autograd_core.examples import readme_backward

    assert readme_backward.main(["--out-dir", str(tmp_path)]) == (0 if HAS_DOT else 1)
    assert (tmp_path / "neuron_step3.dot").exists()
    assert (tmp_path / "neuron_step3.svg").exists() == HAS_DOT


def test_nn_why_unused_names_the_parameters_that_do_not_train():
    import nn

    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    with ag.no_grad():
        model[0].bias.data[:] = -100.0  # every hidden unit dead
    loss = model(ag.ones(4, 2)).sum()
    reasons = nn.utils.why_unused(model, loss)
    # layer 2's weight multiplies the dead outputs; its bias still trains
    assert sorted(reasons) == ["0.bias", "0.weight", "2.weight"]
    assert {r.cause for r in reasons.values()} == {"dead_relu"}
    assert "other input is all 0" in str(reasons["2.weight"])
    assert "0.weight gets an exactly zero gradient" in str(reasons["0.weight"])


def test_backward_steps_refused_inside_compile():
    w = ag.tensor([1.0, 2.0], requires_grad=True)

    def step(x):
        loss = (x * w).sum()
        backward_steps(loss)
        return loss

    with pytest.raises(ag.CompileError, match=r"viz.backward_steps\(\) inside a compiled"):
        ag.compile(step)(ag.ones(2))
