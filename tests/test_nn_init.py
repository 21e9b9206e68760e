"""nn.init: PyTorch's formulas for gains, fans, bounds and standard deviations."""

import math

import numpy as np
import pytest

import autograd_core as ag
import nn
from nn import init


@pytest.mark.parametrize(("name", "param", "gain"), [
    ("linear", None, 1.0), ("conv2d", None, 1.0), ("sigmoid", None, 1.0),
    ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)), ("selu", None, 0.75),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01 ** 2))),
    ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)),
])
def test_calculate_gain(name, param, gain):
    assert init.calculate_gain(name, param) == pytest.approx(gain, rel=1e-15)


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


def empty(*shape, dtype=np.float64):
    return ag.Tensor(np.zeros(shape, dtype=dtype))


def sample_std_ok(values, std):
    """Sample std within 5 standard errors (SE of a std ≈ std/√(2n)); seeds are fixed."""
    return abs(values.std() - std) <= 5 * std / math.sqrt(2 * values.size)


def test_uniform_and_normal_fill_in_place_and_return_the_tensor():
    t = empty(200, 300)
    array = t.data
    assert init.uniform_(t, -2.0, 3.0) is t and t.data is array
    assert t.data.min() >= -2.0 and t.data.max() < 3.0
    assert sample_std_ok(t.data, 5 / math.sqrt(12))
    init.normal_(t, 1.0, 0.5)
    assert abs(t.data.mean() - 1.0) < 5 * 0.5 / math.sqrt(t.size) and sample_std_ok(t.data, 0.5)
    init.small_normal_(t)
    assert sample_std_ok(t.data, 0.01)  # the seeds' N(0, 0.01²)
    assert np.all(init.constant_(t, 2.5).data == 2.5)
    assert np.all(init.zeros_(t).data == 0) and np.all(init.ones_(t).data == 1)


@pytest.mark.parametrize("shape", [(300, 200), (64, 16, 3, 3)])
def test_xavier_bounds_and_std(shape):
    fan_in = shape[1] * math.prod(shape[2:])
    fan_out = shape[0] * math.prod(shape[2:])
    t = init.xavier_uniform_(empty(*shape), gain=2.0)
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.99 * bound
    init.xavier_normal_(t, gain=2.0)
    assert sample_std_ok(t.data, 2.0 * math.sqrt(2 / (fan_in + fan_out)))


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_bounds_and_std(mode):
    t = empty(100, 50, 3, 3)
    fan = 50 * 9 if mode == "fan_in" else 100 * 9
    init.kaiming_normal_(t, mode=mode, nonlinearity="relu")
    assert sample_std_ok(t.data, math.sqrt(2 / fan))  # He et al.: Var = 2 / fan
    init.kaiming_uniform_(t, a=0.2, mode=mode)
    bound = math.sqrt(2 / (1 + 0.04)) * math.sqrt(3 / fan)
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.99 * bound


def test_fan_errors():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(empty(5))
    with pytest.raises(ValueError, match="mode must be"):
        init.kaiming_normal_(empty(2, 2), mode="fan_avg")


def test_generator_and_dtype_independence():
    a = init.normal_(empty(50, dtype=np.float32), generator=np.random.default_rng(7))
    b = init.normal_(empty(50, dtype=np.float64), generator=np.random.default_rng(7))
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a.data, b.data.astype(np.float32))
    ag.manual_seed(1)
    c = init.uniform_(empty(5)).data.copy()
    ag.manual_seed(1)
    np.testing.assert_array_equal(init.uniform_(empty(5)).data, c)


def test_default_initialisation_of_linear_and_conv_is_pytorchs():
    fc = nn.Linear(400, 500)
    bound = 1 / math.sqrt(400)
    for p in (fc.weight, fc.bias):
        assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.95 * bound
    assert sample_std_ok(fc.weight.data, bound / math.sqrt(3))
    conv = nn.Conv2d(8, 300, 3)
    bound = 1 / math.sqrt(8 * 9)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.weight.data).max() > 0.99 * bound
    assert conv.weight.dtype == np.float32
    assert nn.Linear(2, 2, dtype=np.float64).weight.dtype == np.float64
