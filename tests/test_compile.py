"""ag.compile on Scalar graphs (issue K, first part): replays equal eager bit for bit."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag

UNARY = ["tanh", "sigmoid", "exp", "sin", "cos", "relu", "abs"]
BINARY = ["add", "sub", "mul", "maximum"]


@st.composite
def programs(draw):
    """A random straight-line program: each step applies an op to earlier values (or to
    an earlier value and a constant)."""
    steps = []
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(UNARY)), draw(st.integers(0, 99)), None))
        else:
            other = draw(st.one_of(st.integers(0, 99), st.floats(-2, 2).map(lambda c: ("c", c))))
            steps.append(("b", draw(st.sampled_from(BINARY)), draw(st.integers(0, 99)), other))
    return steps


def run(steps, w, v, x, y):
    vals = [w, v, w * x, v + y]  # the arguments enter through ops with the parameters
    for kind, name, i, j in steps:
        a = vals[i % len(vals)]
        if kind == "u":
            vals.append(getattr(a * 0.5, name)())  # halved: exp stays finite
            continue
        b = j[1] if isinstance(j, tuple) else vals[j % len(vals)]
        vals.append(a.maximum(b) if name == "maximum" else
                    {"add": a + b, "sub": a - b, "mul": a * b}[name])
    return vals[-1]


def grads_after(f, params, *args):
    for p in params:
        p.grad = 0.0
    out = f(*args)
    out.backward()
    return out.data, [p.grad for p in params]


@settings(max_examples=30, deadline=None)
@given(programs(), st.lists(st.floats(-1.5, 1.5), min_size=6, max_size=6))
def test_replays_equal_eager_bit_for_bit(steps, nums):
    w, v = ag.Scalar(nums[0]), ag.Scalar(nums[1])

    def f(x, y):
        return run(steps, w, v, x, y)

    compiled = ag.compile(f)
    for x, y in ((nums[2], nums[3]), (nums[4], nums[5]), (nums[3], nums[2])):
        eager = grads_after(f, [w, v], x, y)
        replay = grads_after(compiled, [w, v], x, y)
        assert eager == replay  # values and gradients, exactly
    assert len(compiled.plans) == 1


def test_the_first_call_records_and_later_calls_replay_the_plan():
    w = ag.Scalar(0.3)
    calls = []

    def f(x):
        calls.append(x)
        return (w * x).tanh() ** 2

    step = ag.compile(f)
    for x in (1.0, 2.0, 3.0, 4.0):
        step(x).backward()
    assert len(calls) == 2  # recorded on the first call, checked again on the second
    expected = sum(2 * math.tanh(0.3 * x) * (1 - math.tanh(0.3 * x) ** 2) * x
                   for x in (1.0, 2.0, 3.0, 4.0))
    assert w.grad == pytest.approx(expected, rel=1e-12)
    assert len(step.plans) == 1 and step.__wrapped__ is f


def test_a_new_nesting_of_arguments_records_a_new_plan():
    w = ag.Scalar(1.0)
    step = ag.compile(lambda xs: sum(w * x for x in xs))
    assert step([1.0, 2.0]).data == 3.0
    assert step([1.0, 2.0, 3.0]).data == 6.0
    assert len(step.plans) == 2


def test_data_dependent_paths_and_constants_are_caught_on_the_second_call():
    w = ag.Scalar(1.0)
    branchy = ag.compile(lambda x: w * 2 if x.data > 0 else w * 3)
    branchy(1.0)
    with pytest.raises(ag.CompileError, match="another path or used another constant"):
        branchy(-1.0)
    baked = ag.compile(lambda x: w * float(x))  # float(x): a constant taken from the data
    baked(1.0)
    with pytest.raises(ag.CompileError, match="depends on its data"):
        baked(2.0)


def test_errors_for_what_cannot_be_compiled():
    w = ag.Scalar(1.0)
    with pytest.raises(ag.CompileError, match="arguments must be Scalars or floats"):
        ag.compile(lambda s: w)("text")
    with pytest.raises(ag.CompileError, match="Scalars and Tensors cannot be compiled"):
        ag.compile(lambda t, s: w)(ag.tensor([1.0]), w)
    with pytest.raises(ag.CompileError, match="must return a Scalar"):
        ag.compile(lambda x: 3.0)(1.0)
    out = ag.compile(lambda x: w * x)(2.0)
    out.backward()
    with pytest.raises(RuntimeError, match="already ran"):
        out.backward()
    with pytest.raises(ag.CompileError, match="no graph to differentiate again"):
        ag.compile(lambda x: w * x)(2.0).backward(create_graph=True)


def test_under_no_grad_the_function_runs_eagerly():
    w = ag.Scalar(2.0)
    step = ag.compile(lambda x: w * x)
    with ag.no_grad():
        assert step(3.0).data == 6.0
    assert step.plans == {}


def test_the_plan_prints_its_steps():
    w = ag.Scalar(0.5)
    step = ag.compile(lambda x: (w * x).tanh())
    assert step.plan is None
    step(2.0)
    text = str(step.plan)
    assert text.splitlines()[0] == (
        "plan: 1 arguments, 1 parameters, 2 forward and 2 backward steps; output v3")
    assert "v2 = mul(" in text and "v3 = tanh(v2)" in text
    assert "g2 = rule 0 of tanh at v3, times g3" in text
