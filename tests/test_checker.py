"""The checker checks itself: wrong rules fail with useful messages; bisection names the op."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from hypothesis import given, settings

import autograd_core as ag
from autograd_core.engine import STATE, Op
from autograd_core.scalar import _unary as scalar_unary
from autograd_core.tensor import _apply
from autograd_core.testing import GradcheckError, bisect_grads, check_grads, replay_float64
from autograd_core.testing.strategies import tensors

# Private ops with a deliberately wrong rule each (the engine's own rules are all right).
BAD_SQUARE = Op("bad_square", np.square, lambda a: a * a,
                [lambda ns, g, out, ctx, a: g * a])  # d(a²)/da is 2a
# First derivative right, but the rule leaves the graph (numpy on the raw value), so the
# second derivative is silently zero.
BAD_SIN = Op("bad_sin", np.sin, None,
             [lambda ns, g, out, ctx, a: g * np.cos(np.asarray(a))])
CRASHING = Op("crashing", np.tanh, None, [lambda ns, g, out, ctx, a: g.no_such_method()])


def bad_square(x: ag.Tensor) -> ag.Tensor:
    return _apply(BAD_SQUARE, (x,), np.square(x.data))


def x64(*values: float) -> ag.Tensor:
    return ag.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def matrix(rows: int = 2, cols: int = 3, seed: int = 1) -> ag.Tensor:
    data = np.random.default_rng(seed).uniform(-1, 1, (rows, cols))
    return ag.tensor(data, requires_grad=True)


# ------------------------------------------------------------------ correct functions pass
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("order", [1, 2])
def test_correct_tensor_functions_pass(order: int, full: bool) -> None:
    a, w = matrix(2, 3), matrix(3, 2, seed=2)
    check_grads(lambda a, w: ag.log_softmax(ag.tanh(a) @ w, axis=-1), a, w, order=order,
                full=full)
    check_grads(lambda a: (a.exp() * a.sin()).sum(axis=0), a, order=order, full=full)


def test_correct_scalar_functions_pass() -> None:
    x, y = ag.Scalar(0.7), ag.Scalar(-1.3)
    check_grads(lambda x, y: (x * y).tanh() + x.exp() / (1 + y * y), x, y, order=2)
    check_grads(lambda x, y: (x.sigmoid(), x * y), x, y, full=True)


def test_tuple_outputs_fixed_arguments_and_plain_values() -> None:
    a, b = matrix(2, 2), matrix(2, 2, seed=3)
    b.requires_grad_(False)  # held fixed, still replayed in float64
    check_grads(lambda a, b, k: ag.split(a * b + k, 1, dim=0), a, b, 2.5, order=2)


def test_check_grads_does_not_touch_the_callers_tensors() -> None:
    x = ag.tensor([[0.3, -0.2], [0.1, 0.5]], requires_grad=True)
    before = x.numpy().copy()
    check_grads(lambda t: (t * t).sum(), x, order=2)
    assert x.grad is None and x.dtype == np.float32
    np.testing.assert_array_equal(x.numpy(), before)


# ------------------------------------------------------------------ wrong rules fail
def test_a_wrong_rule_fails_naming_function_argument_values_worst_element_and_op() -> None:
    scale = ag.tensor(np.array([1.0, 2.0, 3.0]))  # argument 0: fixed

    def model(scale: ag.Tensor, x: ag.Tensor) -> ag.Tensor:
        return ag.exp(bad_square(x * scale))

    with pytest.raises(GradcheckError) as info:
        check_grads(model, scale, x64(0.2, -0.4, 0.5))
    message = str(info.value)
    assert "first-order gradient of `model` with respect to argument 1" in message
    assert "analytic" in message and "numeric" in message
    assert "worst element (" in message
    assert "op 'bad_square'" in message
    assert info.value.report is not None and info.value.report.op == "bad_square"
    assert not info.value.at_kink


def test_the_analytic_and_numeric_values_in_the_message_are_right() -> None:
    # f(x) = x² through the bad rule: analytic x, numeric 2x; a 0-d input leaves no choice of
    # direction (u = ±1) or cotangent (v = ±1), so vᵀJu = ±x resp. ±2x.
    with pytest.raises(GradcheckError) as info:
        check_grads(bad_square, ag.tensor(np.float64(0.75), requires_grad=True))
    message = str(info.value)
    assert "worst the only element of vᵀJ: analytic 0.75, numeric 1.5" in message


def test_x_times_detached_x_fails_and_no_rule_is_blamed() -> None:
    with pytest.raises(GradcheckError) as info:
        check_grads(lambda x: x * x.detach(), x64(0.5, -1.0, 2.0))
    assert info.value.report is None
    assert "no single rule is to blame" in str(info.value)
    assert "detach()" in str(info.value)


def test_scalar_wrong_rule_fails_and_is_named() -> None:
    def f(x: ag.Scalar) -> ag.Scalar:
        return scalar_unary(BAD_SQUARE, x.sin()).exp()

    with pytest.raises(GradcheckError, match="bad_square") as info:
        check_grads(f, ag.Scalar(0.8))
    report = info.value.report
    assert report is not None and report.op == "bad_square" and report.position == 2


def test_a_rule_that_leaves_the_graph_fails_only_at_second_order() -> None:
    def f(x: ag.Tensor) -> ag.Tensor:
        return _apply(BAD_SIN, (x,), np.sin(x.data))

    x = x64(0.3, 1.1)
    check_grads(f, x)
    with pytest.raises(GradcheckError, match="second-order gradient of `f`") as info:
        check_grads(f, x, order=2)
    assert info.value.order == 2
    assert info.value.report is not None and info.value.report.op == "bad_sin"


def test_full_jacobian_mode_reports_the_worst_entry() -> None:
    with pytest.raises(GradcheckError) as info:
        check_grads(lambda x: ag.tanh(bad_square(x)), x64(0.1, 0.9), full=True)
    message = str(info.value)
    assert "full Jacobian" in message
    assert "worst entry: d output element (1,) / d input element (1,)" in message
    assert "op 'bad_square'" in message


def test_an_input_on_a_kink_is_reported_as_such() -> None:
    with pytest.raises(GradcheckError, match="kink") as info:
        check_grads(ag.relu, x64(0.0, 1.0))
    assert info.value.at_kink
    assert info.value.report is not None and info.value.report.at_kink


# ------------------------------------------------------------------ bisection
def test_bisection_names_the_one_wrong_op_in_a_larger_graph() -> None:
    w = matrix(3, 3, seed=4)

    def model(x: ag.Tensor, w: ag.Tensor) -> ag.Tensor:
        h = ag.tanh(x @ w)
        z = bad_square(h + 1.0)
        return ag.log_softmax(z * 0.5, axis=-1).sum()

    report = bisect_grads(model, matrix(2, 3), w)
    assert report is not None
    assert report.op == "bad_square"
    assert report.input_shapes == ((2, 3),) and report.output_shape == (2, 3)
    assert report.position == 4  # matmul, tanh, add, then bad_square
    assert report.nodes > report.position
    assert report.site is None and "creation site unknown" in str(report)


def test_bisection_reports_the_module_scope_and_the_creation_site(monkeypatch) -> None:
    monkeypatch.setattr(STATE, "scope", ("encoder", "block1"))
    with ag.detect_anomaly():
        report = bisect_grads(lambda x: bad_square(x).sum(), x64(0.4, 0.6))
    assert report is not None and report.scope == ("encoder", "block1")
    assert "in module encoder.block1" in str(report)
    assert report.site is not None and "test_checker.py" in report.site


def test_bisection_finds_nothing_in_a_correct_graph() -> None:
    assert bisect_grads(lambda x: ag.softmax(ag.sin(x) * x, axis=0), x64(0.1, 0.2, 0.3)) is None


def test_bisection_reports_a_rule_that_crashes() -> None:
    def f(x: ag.Tensor) -> ag.Tensor:
        return _apply(CRASHING, (ag.exp(x),), np.tanh(np.exp(x.data)))

    report = bisect_grads(f, x64(0.1, 0.2))
    assert report is not None and report.op == "crashing" and "raised" in report.detail


# ------------------------------------------------------------------ float64 replay
def test_float32_arguments_are_replayed_in_float64() -> None:
    x = ag.tensor([[0.3, -0.7], [1.1, 0.2]], requires_grad=True)
    seen = []

    def f(t: ag.Tensor) -> ag.Tensor:
        seen.append(t.dtype)
        return ag.sigmoid(t) * t

    check_grads(f, x, order=2)
    assert set(seen) == {np.dtype(np.float64)}
    assert replay_float64(f, x).dtype == np.float64


def test_a_function_that_hard_codes_float32_is_rejected() -> None:
    x = ag.tensor([0.5, 1.5], requires_grad=True)
    with pytest.raises(TypeError, match="dtype-generic"):
        check_grads(lambda t: t.astype(np.float32) * 2, x)
    with pytest.raises(TypeError, match="dtype-generic"):
        replay_float64(lambda t: t.astype(np.float32), x)


def test_float32_replay_keeps_non_contiguous_layouts() -> None:
    x = ag.tensor(np.arange(6, dtype=np.float32).reshape(2, 3).T / 7, requires_grad=True)
    layouts = []

    def f(t: ag.Tensor) -> ag.Tensor:
        layouts.append(t.numpy().flags.c_contiguous)
        return t.exp()

    check_grads(f, x)
    assert layouts[0] is False  # the analytic pass saw the transposed layout


# ------------------------------------------------------------------ randomness, errors
def test_randomness_is_private_and_seeded() -> None:
    np_state = np.random.get_state()[1].copy()
    ag_state = ag.default_generator().bit_generator.state
    messages = []
    for seed in (0, 0, 1):
        with pytest.raises(GradcheckError) as info:
            check_grads(bad_square, x64(0.2, 0.5, -0.3), seed=seed)
        messages.append(str(info.value).splitlines()[1])
    assert messages[0] == messages[1] != messages[2]
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert ag.default_generator().bit_generator.state == ag_state


def test_check_grads_leaves_no_graph_alive() -> None:
    gc.collect()
    gc.disable()  # so that a reference cycle would still be counted
    try:
        before = ag.live_nodes()
        check_grads(lambda a: ag.tanh(a @ a.T).sum(), matrix(2, 2), order=2, full=True)
        with pytest.raises(GradcheckError):
            check_grads(bad_square, x64(0.5, 1.5))
        assert ag.live_nodes() == before
    finally:
        gc.enable()


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"mode": "fwd"}, ValueError, "reverse-mode"),
    ({"order": 0}, ValueError, "positive int"),
])
def test_bad_options_are_rejected(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        check_grads(ag.exp, x64(1.0), **kwargs)


def test_bad_functions_and_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="no argument of `exp` requires grad"):
        check_grads(ag.exp, ag.tensor([1.0]))
    with pytest.raises(TypeError, match="must return a Tensor"):
        check_grads(lambda t: t.numpy(), x64(1.0))
    with pytest.raises(TypeError, match="only floating-point outputs"):
        check_grads(lambda t: t > 0, x64(1.0))


# ------------------------------------------------------------------ a composed op and its kink
def test_check_a_composed_op_and_report_its_kink() -> None:
    def softplus(x):  # log(1 + e^x), written stably from engine primitives
        return ag.log1p(ag.exp(-ag.abs(x))) + ag.relu(x)

    @settings(max_examples=20)
    @given(tensors(shape=(3, 2), op="abs"))  # the abs/relu kink at 0 stays a margin away
    def test_softplus(x):
        check_grads(softplus, x, order=2)

    test_softplus()
    # at the kink itself the conventions abs'(0) = relu'(0) = 0 give 0 instead of 1/2
    with pytest.raises(GradcheckError, match="kink"):
        check_grads(softplus, x64(0.0))
