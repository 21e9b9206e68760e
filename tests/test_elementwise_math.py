"""The torch-named elementwise math ops beyond the op table's generic checks: conventions."""

import math

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import ops


def test_round_is_half_to_even_as_torch_and_numpy():
    x = ag.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 0.49])
    assert ops.round(x).tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, 0.0]
    assert x.round(decimals=1).tolist() == np.round(x.numpy(), 1).tolist()


def test_round_refuses_a_non_integer_decimals():
    with pytest.raises(TypeError, match="round: decimals must be an int"):
        ops.round(ag.tensor([1.0]), 0.5)


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "round"])
def test_piecewise_constant_ops_send_back_exact_zeros_even_for_an_infinite_gradient(name):
    x = ag.tensor([-1.7, 0.2, 2.6], requires_grad=True)
    y = getattr(ops, name)(x)
    assert y.dtype == np.float32 and y.requires_grad
    y.backward(ag.tensor([math.inf, -math.inf, 1.0]))
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_erf_is_math_erf_per_element_and_keeps_float32():
    values = [-2.0, -0.3, 0.0, 0.7, 3.5]
    y = ops.erf(ag.tensor(values))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), [math.erf(v) for v in values], rtol=1e-7)
    x = ag.tensor(values, dtype=np.float64, requires_grad=True)
    ops.erf(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 / math.sqrt(math.pi) * math.exp(-v * v)
                                               for v in values], rtol=1e-12)


def test_out_of_domain_inputs_give_nan_as_numpy_not_an_error():
    with np.errstate(invalid="ignore", divide="ignore"):
        assert math.isnan(ops.asin(ag.tensor([2.0])).item())
        assert math.isnan(ops.acosh(ag.tensor([0.5])).item())
        assert ops.atanh(ag.tensor([1.0])).item() == math.inf
        assert ops.rsqrt(ag.tensor([0.0])).item() == math.inf


def test_inverse_trig_gradients_at_a_point_against_closed_forms():
    x = ag.tensor([0.3], dtype=np.float64, requires_grad=True)
    for name, d in [("asin", 1 / math.sqrt(1 - 0.09)), ("acos", -1 / math.sqrt(1 - 0.09)),
                    ("atan", 1 / 1.09), ("asinh", 1 / math.sqrt(1.09)),
                    ("atanh", 1 / (1 - 0.09)), ("tan", 1 + math.tan(0.3) ** 2),
                    ("sinh", math.cosh(0.3)), ("cosh", math.sinh(0.3)),
                    ("exp2", math.log(2) * 2 ** 0.3), ("log2", 1 / (0.3 * math.log(2))),
                    ("log10", 1 / (0.3 * math.log(10))), ("rsqrt", -0.5 * 0.3 ** -1.5)]:
        x.grad = None
        getattr(x, name)().backward()
        assert x.grad.item() == pytest.approx(d, rel=1e-12), name


def test_numpy_and_torch_spellings_are_the_same_functions():
    for alias, name in [("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"),
                        ("arcsinh", "asinh"), ("arccosh", "acosh"), ("arctanh", "atanh"),
                        ("fix", "trunc")]:
        assert getattr(ag, alias) is getattr(ag, name)
        x = ag.tensor([1.5 if name == "acosh" else 0.5])
        assert getattr(x, alias)().tolist() == getattr(x, name)().tolist()


@pytest.mark.parametrize("c", [0.0, 1.0, 2.0, 3.0])
def test_pow_gradient_at_zero_is_finite_as_torch(c):
    # d/dx x**c at x = 0: 0 for c = 0 (not 0·0^-1 = NaN) and c > 1, 1 for c = 1
    x = ag.tensor([0.0, 1.5], requires_grad=True)
    (g,) = ag.grad((x ** c).sum(), [x], create_graph=True)
    assert g.tolist() == [float(c == 1.0), c * 1.5 ** (c - 1)]
    (h,) = ag.grad(g.sum(), [x])
    assert np.isfinite(h.numpy()).all()


def test_pow_with_a_zero_base_and_a_tensor_exponent():
    base = ag.tensor([0.0, 0.0, 2.0], requires_grad=True)
    exponent = ag.tensor([0.0, 2.0, 3.0], requires_grad=True)
    out = base ** exponent
    assert out.tolist() == [1.0, 0.0, 8.0]  # 0 ** 0 = 1
    out.sum().backward()
    assert base.grad.tolist() == [0.0, 0.0, 12.0]
    np.testing.assert_allclose(exponent.grad.numpy(), [0.0, 0.0, 8.0 * np.log(2.0)], rtol=1e-6)


def test_remainder_fmod_and_rounding_division_follow_torch():
    a = ag.tensor([-7.5, 5.5, 7.0])
    b = ag.tensor([2.0, -3.0, 3.0])
    assert (a % b).tolist() == [0.5, -0.5, 1.0]  # the sign of b
    assert ops.fmod(a, b).tolist() == [-1.5, 2.5, 1.0]  # the sign of a
    assert (a // b).tolist() == [-4.0, -2.0, 2.0]
    assert a.div(b, rounding_mode="trunc").tolist() == [-3.0, -1.0, 2.0]
    ints = ag.tensor([-7, 7])
    assert ints.div(2, rounding_mode="trunc").tolist() == [-3, 3]
    assert ops.div(ints, 2, rounding_mode="floor").tolist() == [-4, 3]
    assert (ints // 2).dtype == np.int64 and (ints % 3).tolist() == [2, 1]
    with pytest.raises(ValueError, match="div: rounding_mode must be"):
        ops.div(a, b, rounding_mode="round")


def test_integer_tensors_meeting_floats_give_the_default_float_dtype():
    ints = ag.tensor([1, 2])
    assert (ints / 2).dtype == ints.exp().dtype == (ints * 1.5).dtype == np.float32
    assert (ints + ag.tensor([0.5], dtype=np.float64)).dtype == np.float64
    assert ints.astype(np.float64).dtype == np.float64  # an explicit cast is kept
    assert (ints + 1).dtype == np.int64


def test_bitwise_operators_on_integers_and_booleans():
    x, y = ag.tensor([12, 10]), ag.tensor([10, 6])
    assert (x & y).tolist() == [8, 2] and (x | y).tolist() == [14, 14]
    assert (x ^ y).tolist() == [6, 12] and (~x).tolist() == [-13, -11]
    assert (x << 1).tolist() == [24, 20] and (x >> 2).tolist() == [3, 2]
    t, f = ag.tensor([True, False]), ag.tensor([True, True])
    assert (t & f).tolist() == [True, False] and (~t).tolist() == [False, True]
    with pytest.raises(TypeError, match="bitwise_and: needs integer or boolean tensors"):
        ag.tensor([1.0]) & ag.tensor([1.0])
