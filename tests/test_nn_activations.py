"""PyTorch's activation functions and modules: closed-form numpy oracles, gradients, errors."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core.testing import check_grads

erf = np.vectorize(math.erf)
A, S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
C = math.sqrt(2 / math.pi)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softplus(x):
    return np.log1p(np.exp(x))


ORACLES = {
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2)))),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(C * (x + 0.044715 * x**3)))),
    "quick_gelu": (F.quick_gelu, lambda x: x * np_sigmoid(1.702 * x)),
    "silu": (F.silu, lambda x: x * np_sigmoid(x)),
    "mish": (F.mish, lambda x: x * np.tanh(np_softplus(x))),
    "selu": (F.selu, lambda x: S * np.where(x > 0, x, A * (np.exp(x) - 1))),
    "celu": (lambda x: F.celu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x / 0.7) - 1))),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.5), lambda x: np.clip(x, -0.5, 1.5)),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6)),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "logsigmoid": (F.logsigmoid, lambda x: -np_softplus(-x)),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x))),
}
# where the derivative jumps (or, for order 2, the second derivative does)
KINKS = {"selu": (0.0,), "celu": (0.0,), "hardtanh": (-0.5, 1.5), "relu6": (0.0, 6.0),
         "hardsigmoid": (-3.0, 3.0), "hardswish": (-3.0, 3.0)}
SMOOTH = {"gelu", "gelu_tanh", "quick_gelu", "silu", "mish", "logsigmoid"}


def away_from_kinks(name):
    kinks = KINKS.get(name, ())
    return st.floats(-8, 8).filter(lambda v: all(abs(v - k) > 0.05 for k in kinks))


@pytest.mark.parametrize("name", sorted(ORACLES))
@given(data=st.data())
def test_matches_its_closed_form_and_finite_differences(name, data):
    ours, oracle = ORACLES[name]
    x = data.draw(hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=4),
                             elements=away_from_kinks(name)))
    t = ag.tensor(x, requires_grad=True)
    np.testing.assert_allclose(ours(t).numpy(), oracle(x), rtol=1e-12, atol=1e-15)
    check_grads(ours, t, order=2 if name in SMOOTH else 1)


@pytest.mark.parametrize("name", sorted(ORACLES))
def test_float32_in_float32_out(name):
    x = ag.tensor([-4.0, -1.0, 0.3, 2.0, 7.0], requires_grad=True)
    y = ORACLES[name][0](x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_hardtanh_family_passes_the_gradient_only_strictly_inside_as_pytorch():
    x = ag.tensor([-1.0, -0.5, 0.0, 1.0, 2.0], requires_grad=True)
    F.hardtanh(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]
    x = ag.tensor([0.0, 3.0, 6.0, 7.0], requires_grad=True)
    F.relu6(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0, 0.0]


def test_logsigmoid_and_silu_stay_finite_at_the_tails():
    x = ag.tensor([-1000.0, 1000.0], dtype=np.float64, requires_grad=True)
    y = F.logsigmoid(x)
    assert y.tolist() == [-1000.0, 0.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0]
    assert F.silu(x).tolist() == [-0.0, 1000.0]


def test_softmin_is_softmax_of_the_negation_and_normalize_is_unit_length():
    x = ag.tensor(np.random.default_rng(0).standard_normal((3, 4)))
    np.testing.assert_allclose(F.softmin(x, dim=1).numpy(), F.softmax(-x, dim=1).numpy())
    n = F.normalize(x)
    np.testing.assert_allclose(np.linalg.norm(n.numpy(), axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(F.normalize(x, p=1, dim=0).numpy(),
                               x.numpy() / np.abs(x.numpy()).sum(0, keepdims=True), rtol=1e-6)
    assert F.normalize(ag.zeros(2, 3)).tolist() == [[0.0] * 3] * 2  # eps, not 0/0


def test_normalize_gradients():
    x = ag.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    check_grads(lambda t: F.normalize(t, dim=1), x, order=2)
    check_grads(lambda t: F.normalize(t, p=3, dim=0), x)


def test_bad_arguments_name_the_function():
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        F.gelu(ag.ones(2), approximate="fast")
    with pytest.raises(ValueError, match="GELU: approximate"):
        nn.GELU("erf")
    with pytest.raises(ValueError, match="celu: alpha must not be 0"):
        F.celu(ag.ones(2), 0.0)
    with pytest.raises(ValueError, match=r"hardtanh: min_val \(2\) must not exceed"):
        F.hardtanh(ag.ones(2), 2, 1)
    with pytest.raises(ValueError, match="Hardtanh: min_val"):
        nn.Hardtanh(2, 1)


MODULES = [
    (nn.GELU(), F.gelu), (nn.GELU("tanh"), lambda x: F.gelu(x, approximate="tanh")),
    (nn.SiLU(), F.silu), (nn.Mish(), F.mish), (nn.SELU(), F.selu),
    (nn.CELU(0.5), lambda x: F.celu(x, 0.5)), (nn.ReLU6(), F.relu6),
    (nn.Hardtanh(-2, 2), lambda x: F.hardtanh(x, -2, 2)), (nn.Hardsigmoid(), F.hardsigmoid),
    (nn.Hardswish(), F.hardswish), (nn.LogSigmoid(), F.logsigmoid),
    (nn.Softsign(), F.softsign), (nn.Softmin(dim=0), lambda x: F.softmin(x, 0)),
]


@pytest.mark.parametrize(("module", "fn"), MODULES, ids=lambda m: type(m).__name__)
def test_modules_apply_their_function_and_have_no_parameters(module, fn):
    x = ag.tensor([[-3.5, -0.2], [0.4, 5.0]])
    assert module(x).tolist() == fn(x).tolist()
    assert list(module.parameters()) == []
    assert repr(module).startswith(type(module).__name__ + "(")


def test_module_reprs_show_their_options_as_pytorch():
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.CELU()) == "CELU(alpha=1.0)"
    assert repr(nn.Softmin(1)) == "Softmin(dim=1)"
    assert repr(nn.SiLU()) == "SiLU()"
