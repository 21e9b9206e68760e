"""Engine core (issue A): graph shapes, repeated backward, hooks, grad modes, higher order."""

import math
import operator

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import Scalar, Tensor


# ------------------------------------------------------------ diamonds and reuse (TRAPS 2)
def test_reused_node_scalar_diamond():
    a = Scalar(1.0)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad == 4.0


def test_reused_node_tensor_diamond():
    a = ag.tensor([1.0, -2.0], requires_grad=True)
    b = a + a
    c = b * b  # c = 4a^2, dc/da = 8a
    c.sum().backward()
    np.testing.assert_array_equal(a.grad.data, [8.0, -16.0])


def test_diamond_with_different_paths():
    x = Scalar(3.0)
    y = x * x          # 9
    z = y + x * 2.0    # x^2 + 2x
    w = z * y          # (x^2 + 2x) x^2 = x^4 + 2x^3
    w.backward()
    assert w.data == 135.0
    assert x.grad == 4 * 27 + 6 * 9


# ------------------------------------------------------- repeated backward (TRAPS 3)
@pytest.mark.parametrize("make", [lambda: Scalar(2.0),
                                  lambda: ag.tensor(2.0, requires_grad=True)])
def test_second_backward_on_freed_graph_raises(make):
    x = make()
    y = x * x
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*mul"):
        y.backward()


def test_retain_graph_accumulates_exactly_twice():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 8.0])
    s = Scalar(3.0)
    t = s * s
    t.backward(retain_graph=True)
    t.backward()
    assert s.grad == 12.0


def test_leaf_grad_accumulates_across_graphs():
    x = ag.tensor([1.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 4).sum().backward()
    assert x.grad.tolist() == [7.0]


def test_released_shared_subgraph_raises():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    (y * 2).sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (y * 3).sum().backward()


def test_intermediate_grads_not_kept_unless_retained():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    k = (x * 2).retain_grad()
    (h * k).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(k.grad.data, h.data)
    assert not h.is_leaf and x.is_leaf


# ------------------------------------------------------------------------- grad()
def test_grad_does_not_touch_dot_grad():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    w = ag.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    gx, gw = ag.grad(y, [x, w])
    assert x.grad is None and w.grad is None
    np.testing.assert_array_equal(gx.data, [3.0, 4.0])
    np.testing.assert_array_equal(gw.data, [1.0, 2.0])


def test_grad_unused_input():
    x = ag.tensor([1.0], requires_grad=True)
    z = ag.tensor([1.0], requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="input 1 .* was not used"):
        ag.grad(y, [x, z], retain_graph=True)
    gx, gz = ag.grad(y, [x, z], allow_unused=True)
    assert gz is None and gx.tolist() == [2.0]


def test_grad_with_grad_outputs_and_interior_input():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    y = h * 3
    (gh,) = ag.grad(y, h, grad_outputs=ag.tensor([1.0, 10.0]))
    np.testing.assert_array_equal(gh.data, [3.0, 30.0])


def test_grad_runs_only_needed_rules():
    calls = []
    x = ag.tensor([1.0], requires_grad=True)
    w = ag.tensor([2.0], requires_grad=True)
    a = x * 2
    b = w.exp()
    b.register_hook(lambda g: calls.append("b"))
    y = (a + b).sum()
    ag.grad(y, x)
    assert calls == []  # nothing on the w branch was run


# ------------------------------------------------------------------------ hooks
def test_hook_sees_and_replaces_grad():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    h = x.register_hook(lambda g: g * 10)
    (y * y).sum().backward()
    assert seen == [[4.0, 8.0]]
    np.testing.assert_array_equal(x.grad.data, [80.0, 160.0])
    h.remove()
    x.grad = None
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_hook_wrong_shape_raises():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: ag.tensor([1.0]))
    with pytest.raises(RuntimeError, match="hook: returned a gradient of shape"):
        (x * 1).sum().backward()


def test_a_hook_or_seed_of_another_dtype_is_cast_to_the_tensors_own():
    # The driver skips unbroadcast after elementwise ops, so every gradient entering the
    # graph must already have its node's dtype (PyTorch casts these too).
    x = ag.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()
    y.register_hook(lambda g: ag.Tensor(g.data.astype(np.float64)))
    y.tanh().sigmoid().backward(ag.Tensor(np.ones(2)))  # a float64 seed
    assert x.grad.dtype == np.float32
    t = np.tanh(np.exp(np.float64([0.5, 1.0])))
    s = 1 / (1 + np.exp(-t))
    np.testing.assert_allclose(x.grad.data, s * (1 - s) * (1 - t**2) * np.exp([0.5, 1.0]),
                               rtol=1e-5)


def test_an_error_mid_backward_leaves_no_partial_gradient_behind():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    a = x * 3
    s = a.sin()
    y = a.exp() + s * a  # a waits for three gradients; the hook on s fails after the first
    fail = [True]

    def hook(g):
        if fail[0]:
            raise ValueError("boom")

    h = s.register_hook(hook)
    with pytest.raises(ValueError, match="boom"):
        (y * 1).sum().backward(retain_graph=True)
    fail[0] = False
    y.sum().backward()
    h.remove()
    a3 = 3 * np.array([1.0, 2.0])
    np.testing.assert_allclose(x.grad.data, 3 * (np.exp(a3) + np.cos(a3) * a3 + np.sin(a3)),
                               rtol=1e-5)


def test_register_hook_needs_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ag.tensor([1.0]).register_hook(print)


# -------------------------------------------------------------- grad modes, detach
def test_no_grad_context_and_decorator():
    x = ag.tensor([1.0], requires_grad=True)
    with ag.no_grad():
        y = x * 2
        with ag.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad

    @ag.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad
    assert ag.is_grad_enabled()


def test_detach_and_requires_grad_():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    y = (x * d).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])
    t = ag.tensor([1.0]).requires_grad_()
    assert t.requires_grad
    with pytest.raises(RuntimeError, match="only leaves"):
        (t * 2).requires_grad_(False)


def test_scalar_detach():
    x = Scalar(2.0)
    y = x * x.detach()
    y.backward()
    assert x.grad == 2.0


# -------------------------------------------------------- broadcasting (TRAPS 4)
@pytest.mark.parametrize("sa, sb", [((3, 4), (4,)), ((3, 4), (1, 4)), ((3, 1), (1, 4)),
                                    ((1,), (2, 3)), ((2, 1, 3), (4, 1)), ((), (2, 2))])
def test_broadcast_grads_sum_back_to_input_shape(sa, sb):
    a = ag.Tensor(np.random.rand(*sa) + 1, requires_grad=True)
    b = ag.Tensor(np.random.rand(*sb) + 1, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == sa and b.grad.shape == sb
    full = np.broadcast_shapes(sa, sb)
    bb = np.broadcast_to(b.data, full)
    lead = len(full) - len(sa)
    expect = bb.sum(axis=tuple(range(lead)))
    expect = expect.sum(axis=tuple(i for i, s in enumerate(sa) if s == 1), keepdims=True)
    np.testing.assert_allclose(a.grad.data, expect.reshape(sa), rtol=1e-6)


BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
          "div": operator.truediv, "pow": operator.pow, "maximum": ag.maximum,
          "minimum": ag.minimum}
OPERANDS = {  # (a, b): numbers, same shapes, broadcasting, and mixed float dtypes
    "tensor, number": (((3,), np.float32), 1.5), "number, tensor": (1.5, ((3,), np.float32)),
    "same": (((2, 3), np.float32), ((2, 3), np.float32)),
    "broadcast": (((2, 3), np.float32), ((3,), np.float32)),
    "both broadcast": (((2, 1), np.float32), ((1, 3), np.float32)),
    "mixed dtypes": (((3,), np.float32), ((3,), np.float64)),
    "mixed, broadcast": (((1, 3), np.float64), ((2, 1), np.float32)),
}


@pytest.mark.parametrize("case", sorted(OPERANDS))
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradients_fit_their_inputs_whatever_the_operands(name, case):
    # A binary node recorded as fitting (a number or same-shape, same-dtype operands) skips
    # unbroadcast in backward; every other one must still sum and cast.
    rng = np.random.default_rng(0)
    a, b = (x if isinstance(x, float) else
            ag.Tensor(rng.uniform(0.5, 2.0, x[0]).astype(x[1]), requires_grad=True)
            for x in OPERANDS[case])
    y = BINARY[name](a, b)
    y.exp().sum().backward()
    for x in (a, b):
        if isinstance(x, ag.Tensor):
            assert (x.grad.shape, x.grad.dtype) == (x.shape, x.dtype)
            x64 = ag.Tensor(x.data.astype(np.float64), requires_grad=True)
            args = [x64 if t is x else (t.data.astype(np.float64) if isinstance(t, ag.Tensor)
                                         else t) for t in (a, b)]
            BINARY[name](*args).exp().sum().backward()
            np.testing.assert_allclose(x.grad.data, x64.grad.data, rtol=1e-5)


def test_one_element_tensor_grad_keeps_its_shape():
    b = ag.tensor([2.0], requires_grad=True)
    x = ag.ones(1, 1)
    (x * b).sum().backward()
    assert b.grad.shape == (1,)


# ------------------------------------------------------------------- indexing
def test_repeated_integer_indices_accumulate():
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 1.0])


@pytest.mark.parametrize("index", [
    (slice(1, None), 0), (Ellipsis, None, 1), (np.array([1, 0, 1]),),
    (np.array([True, False, True]),), (slice(None), [2, 2]), (-1,)])
def test_getitem_gradient_matches_scatter(index):
    data = np.arange(12.0).reshape(3, 4)
    x = ag.Tensor(data, requires_grad=True)
    y = x[index]
    g = np.random.rand(*y.shape)
    y.backward(g)
    expect = np.zeros_like(data)
    np.add.at(expect, index, g)
    np.testing.assert_allclose(x.grad.data, expect)


# ---------------------------------------------------------------------- dtypes (TRAPS 7)
def test_default_dtype_and_preservation():
    assert ag.tensor([1.0, 2]).dtype == np.float32
    assert ag.tensor([1, 2]).dtype == np.int64  # as torch.tensor([1, 2])
    assert ag.tensor(np.array([1.0])).dtype == np.float64
    assert ag.tensor([True]).dtype == np.bool_
    ag.set_default_dtype("float64")
    assert ag.tensor([1.0]).dtype == np.float64


OPS32 = {
    "add": lambda x: x + 1.5, "rsub": lambda x: 2 - x, "mul_array": lambda x: x * np.ones(3),
    "div": lambda x: x / 3, "pow": lambda x: x ** 2, "rpow": lambda x: 2.0 ** x,
    "exp": ag.exp, "log": lambda x: ag.log(x + 2), "sqrt": lambda x: ag.sqrt(x + 2),
    "tanh": ag.tanh, "sigmoid": ag.sigmoid, "relu": ag.relu, "abs": ag.abs, "sin": ag.sin,
    "mean": lambda x: x.mean(), "var": lambda x: x.var(), "max": lambda x: x.max(),
    "softmax": ag.softmax, "logsumexp": ag.logsumexp, "matmul": lambda x: x @ np.ones((3, 2)),
    "where": lambda x: ag.where(x > 0, x, 0.5), "clip": lambda x: ag.clip(x, -0.1, 0.1),
    "maximum": lambda x: ag.maximum(x, np.zeros(3)), "cat": lambda x: ag.cat([x, x]),
    "float64 operand": lambda x: x * np.float64(2.0), "astype": lambda x: x.double(),
}


@pytest.mark.parametrize("name", sorted(OPS32))
def test_float32_stays_float32(name):
    x = ag.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = OPS32[name](x)
    if name != "astype":
        assert y.dtype == np.float32, name
    y.sum().backward()
    assert x.grad.dtype == np.float32, name


def test_int_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point tensors can require grad"):
        ag.Tensor(np.array([1, 2]), requires_grad=True)
    with pytest.raises(TypeError, match="only floating-point"):
        ag.Tensor(np.array([1, 2])).requires_grad_()


# ----------------------------------------------------- comparisons (TRAPS 12) and operands
def test_comparisons_are_non_differentiable_masks():
    x = ag.tensor([-1.0, 2.0, 3.0], requires_grad=True)
    m = x > 0
    assert m.dtype == np.bool_ and not m.requires_grad
    (x * (x < 0)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0, 0.0])
    assert ((x > 0) & (x < 3)).tolist() == [False, True, False]


def test_numbers_and_arrays_on_either_side():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (2 * x + np.array([1.0, 1.0]) - x / 2 + 1 / x + np.ones(2) * x + 3 - x ** 2)
    y.sum().backward()
    # d/dx of 2x + 1 - x/2 + 1/x + x + 3 - x^2 = 2.5 - 1/x^2 - 2x
    np.testing.assert_allclose(x.grad.data, 2.5 - 1 / x.data ** 2 - 2 * x.data, rtol=1e-6)
    z = np.array([3.0, 4.0]) * x
    assert isinstance(z, Tensor) and z.requires_grad


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64])
@pytest.mark.parametrize("number", [1.1, -0.0, 0.0, 3, True, float("nan"), -1e300, 2**70])
def test_python_numbers_give_numpys_own_result(dtype, number):
    # Python numbers become 0-d arrays of a float tensor's dtype (a faster numpy path);
    # the values, signs of zero and overflow must be exactly what numpy gives for the number
    # (an integer tensor meeting a float gives the default float dtype, as in torch).
    data = np.array([0.5, -2.0, 0.0]).astype(dtype)
    for op in (operator.mul, operator.add, operator.sub, operator.truediv):
        with np.errstate(all="ignore"):
            try:
                expected = np.asarray(op(data, number))
            except OverflowError:  # numpy refuses 2**70 next to int64; so must we
                with pytest.raises(OverflowError):
                    op(ag.Tensor(data), number)
                continue
            if data.dtype.kind == "i" and expected.dtype.kind == "f":  # torch's rule, not
                expected = expected.astype(ag.get_default_dtype())  # numpy's float64
            for got in (op(ag.Tensor(data), number), op(ag.Tensor(data), number)):  # cached
                assert got.dtype == expected.dtype
                np.testing.assert_array_equal(got.data, expected)
                assert (np.signbit(got.data) == np.signbit(expected)).all()


def test_number_constants_are_shared_safely_between_graphs():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    a, b = x * 1.25, x * 1.25
    assert a.grad_fn._parents[1] is b.grad_fn._parents[1]  # one immutable constant for both
    assert not a.grad_fn._parents[1].data.flags.writeable
    (a.sum() + (b * b).sum()).backward()
    np.testing.assert_allclose(x.grad.data, 1.25 + 2 * 1.25**2 * x.data)
    x.grad = None
    (x * 1.25).sum().backward()  # the first graph's release did not touch the constant
    np.testing.assert_array_equal(x.grad.data, [1.25, 1.25])


def test_scalar_and_tensor_do_not_mix():
    with pytest.raises(TypeError, match="Scalar and Tensor graphs do not mix"):
        ag.tensor([1.0]) * Scalar(2.0)
    with pytest.raises(TypeError, match="cannot combine a Scalar with a Tensor"):
        Scalar(2.0) * ag.tensor([1.0])


# -------------------------------------------------------------- second derivatives
@pytest.mark.parametrize("f, d2", [
    (lambda x: x ** 3, lambda x: 6 * x),
    (ag.exp, np.exp),
    (ag.tanh, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    (ag.sin, lambda x: -np.sin(x)),
    (lambda x: ag.log(x), lambda x: -1 / x ** 2),
    (ag.sigmoid, lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s)),
    (lambda x: 1 / x, lambda x: 2 / x ** 3),
    (ag.sqrt, lambda x: -0.25 * x ** -1.5),
])
def test_second_derivative_tensor(f, d2):
    x = ag.Tensor(np.array([0.5, 1.3, 2.0]), requires_grad=True)
    (g,) = ag.grad(f(x).sum(), x, create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, d2(x.data), rtol=1e-10)


def test_second_derivative_scalar_and_third_order():
    x = Scalar(1.5)
    y = x * x * x * x  # x^4
    (g1,) = ag.grad(y, x, create_graph=True)
    (g2,) = ag.grad(g1, x, create_graph=True)
    (g3,) = ag.grad(g2, x)
    assert math.isclose(g1.data, 4 * 1.5 ** 3)
    assert math.isclose(g2.data, 12 * 1.5 ** 2)
    assert math.isclose(g3, 24 * 1.5)


@pytest.mark.parametrize("op", ["matmul", "addmm"])
def test_matmul_gradient_of_a_transposed_operand_comes_in_its_own_layout(op):
    # x @ W.T (nn.Linear): W's gradient must be row-major like W, not a transposed view,
    # so an optimizer's elementwise update does not stride across mismatched layouts.
    rng = np.random.default_rng(0)
    x = ag.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    w = ag.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    g = rng.standard_normal((5, 4))
    y = x @ w.mT if op == "matmul" else ag.addmm(ag.zeros(4), x, w.mT)
    y.backward(g)
    assert w.grad.data.flags.c_contiguous
    np.testing.assert_allclose(w.grad.data, g.T @ x.data)
    v, g2 = rng.standard_normal((5, 2)), rng.standard_normal((3, 2))
    z = x.mT @ v if op == "matmul" else ag.addmm(ag.zeros(2), x.mT, v)  # column-major left
    (gx,) = ag.grad(z, [x], g2)
    assert gx.data.flags.c_contiguous
    np.testing.assert_allclose(gx.data, v @ g2.T)


def test_second_derivative_matmul_and_broadcast():
    rng = np.random.default_rng(1)
    A = ag.Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    x = ag.Tensor(rng.standard_normal(3), requires_grad=True)
    f = ((A @ x) ** 2).sum()  # f = |Ax|^2, d2f/dx2 = 2 A^T A
    (gx,) = ag.grad(f, x, create_graph=True)
    H = np.stack([ag.grad(gx[i], x, retain_graph=True)[0].data for i in range(3)])
    np.testing.assert_allclose(H, 2 * A.data.T @ A.data, rtol=1e-10)


def test_backward_create_graph_makes_grad_differentiable():
    x = ag.Tensor(np.array([2.0]), requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, [12.0])


# -------------------------------------------------------------------- errors
def test_error_messages_name_op_and_shapes():
    a, b = ag.ones(3, 4), ag.ones(5, 2)
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 2\) are not aligned"):
        a @ b
    with pytest.raises(ValueError, match=r"add: shapes \(3, 4\) and \(5, 2\) cannot be broadcast"):
        a + b
    with pytest.raises(ValueError, match=r"addmm: shapes \(3, 4\) and \(5, 2\) are not aligned"):
        ag.addmm(ag.ones(2), a, b)
    with pytest.raises(ValueError, match=r"addmm: input of shape \(2, 1, 1\) cannot be "
                                         r"broadcast to the product's shape \(3, 4\)"):
        ag.addmm(ag.ones(2, 1, 1), a, ag.ones(4, 4))
    with pytest.raises(ValueError, match=r"addmm: input of shape \(5,\) cannot be "
                                         r"broadcast to the product's shape \(3, 2\)"):
        ag.addmm(ag.ones(5), a, ag.ones(4, 2))
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(3, 4\)"):
        a.reshape(5, 5)
    with pytest.raises(ValueError, match=r"cat: shapes \(3, 4\), \(5, 2\) do not match"):
        ag.cat([a, b])
    with pytest.raises(IndexError, match="dimension 2 is out of range"):  # as torch
        a.sum(axis=2)
    with pytest.raises(IndexError, match=r"getitem: .*\(3, 4\)"):
        a[5]


def test_backward_needs_grad_for_non_scalar_outputs():
    x = ag.ones(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for one-element outputs.*\(2, 2\).*pass grad="):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match=r"grad has shape \(3,\) but the output has shape"):
        (x * 2).backward(np.ones(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        ag.ones(2).sum().backward()


def test_non_numeric_tensor_rejected():
    with pytest.raises(TypeError, match="cannot make a numeric tensor"):
        ag.tensor(["a"])


def test_var_without_degrees_of_freedom_is_nan_and_pad_errors():
    with np.errstate(invalid="ignore"):
        assert np.isnan(ag.tensor([3.0]).var().item())
    assert ag.tensor([3.0]).var(correction=0).item() == 0.0
    with pytest.raises(ValueError, match="pad: a 0-d tensor"):
        ag.pad(ag.tensor(1.0), 1)
    with pytest.raises(ValueError, match=r"pad: pad_width .* shape \(2, 2\)"):
        ag.pad(ag.ones(2, 2), ((1, 1), (1, 1), (1, 1)))
