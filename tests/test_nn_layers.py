"""nn layers against closed-form numpy oracles written here: forward values and gradients."""

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F

RNG = np.random.default_rng(1234)


def run(f, *arrays, grad_out=None):
    """Value of ``f`` at float64 leaves and their gradients for upstream ``grad_out``."""
    leaves = [ag.Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = f(*leaves)
    g = RNG.standard_normal(out.shape) if grad_out is None else grad_out
    out.backward(g)
    return out.data, g, [leaf.grad.data for leaf in leaves]


# ------------------------------------------------------------------------- Linear
def test_linear_forward_and_gradients():
    x, w, b = RNG.standard_normal((5, 3)), RNG.standard_normal((4, 3)), RNG.standard_normal(4)
    y, g, (gx, gw, gb) = run(F.linear, x, w, b)
    np.testing.assert_allclose(y, x @ w.T + b)
    np.testing.assert_allclose(gx, g @ w)
    np.testing.assert_allclose(gw, g.T @ x)
    np.testing.assert_allclose(gb, g.sum(0))


def test_linear_module_shapes_and_no_bias():
    fc = nn.Linear(3, 2, bias=False)
    assert fc.bias is None and [n for n, _ in fc.named_parameters()] == ["weight"]
    assert fc(ag.ones(7, 3)).shape == (7, 2)
    assert repr(fc) == "Linear(in_features=3, out_features=2, bias=False)"


# --------------------------------------------------------------------------- Conv2d
def conv_oracle(x, w, b, stride, pad):
    """Direct nested-sum cross-correlation, seed 001 eq. (5.13) with zero padding."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad))
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, o, oh, ow))
    for ni in range(n):
        for oi in range(o):
            for p in range(oh):
                for q in range(ow):
                    total = b[oi]
                    for ci in range(c):
                        for i in range(kh):
                            for j in range(kw):
                                pixel = xp[ni, ci, p * stride + i, q * stride + j]
                                total += pixel * w[oi, ci, i, j]
                    out[ni, oi, p, q] = total
    return out


def conv_grad_oracle(x, w, g, stride, pad):
    """Seed 001 §5 item 9, strided and padded: dW and dX by scattering each output's
    gradient over its receptive field; db sums G."""
    n, c, h, wd = x.shape
    _, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad))
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for p in range(g.shape[2]):
        for q in range(g.shape[3]):
            rows, cols = slice(p * stride, p * stride + kh), slice(q * stride, q * stride + kw)
            gq = g[:, :, p, q]  # (n, o)
            gw += np.einsum("no,nchw->ochw", gq, xp[:, :, rows, cols])
            gxp[:, :, rows, cols] += np.einsum("no,ochw->nchw", gq, w)
    return gxp[:, :, pad:pad + h, pad:pad + wd], gw, g.sum(axis=(0, 2, 3))


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("pad", [0, 1])
@pytest.mark.parametrize("shape", [(2, 3, 5, 5), (1, 2, 6, 4)])
def test_conv2d_matches_nested_sum_forward_and_gradients(shape, stride, pad):
    x = RNG.standard_normal(shape)
    w, b = RNG.standard_normal((4, shape[1], 3, 2)), RNG.standard_normal(4)
    y, g, (gx, gw, gb) = run(lambda x, w, b: F.conv2d(x, w, b, stride, pad), x, w, b)
    np.testing.assert_allclose(y, conv_oracle(x, w, b, stride, pad), atol=1e-12)
    ogx, ogw, ogb = conv_grad_oracle(x, w, g, stride, pad)
    np.testing.assert_allclose(gx, ogx, atol=1e-12)
    np.testing.assert_allclose(gw, ogw, atol=1e-12)
    np.testing.assert_allclose(gb, ogb, atol=1e-12)


def test_conv2d_output_size_is_floor_formula():
    # (H + 2P - F) / S + 1 with floor: (7 + 2 - 3) // 2 + 1 = 4; (6 + 2 - 3) // 2 + 1 = 3.
    out = F.conv2d(ag.zeros(1, 1, 7, 6), ag.zeros(1, 1, 3, 3), stride=2, padding=1)
    assert out.shape == (1, 1, 4, 3)


def test_conv2d_same_padding_keeps_size_even_kernel_pads_far_side():
    x = RNG.standard_normal((1, 1, 5, 5))
    w = RNG.standard_normal((1, 1, 2, 2))
    got = F.conv2d(ag.Tensor(x), ag.Tensor(w), padding="same").data
    padded = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)))  # PyTorch: extra on the far side
    np.testing.assert_allclose(got, conv_oracle(padded, w, np.zeros(1), 1, 0))
    with pytest.raises(ValueError, match="stride 1"):
        F.conv2d(ag.Tensor(x), ag.Tensor(w), stride=2, padding="same")


def test_conv2d_unbatched_input_and_clear_errors():
    conv = nn.Conv2d(2, 3, 3)
    x = RNG.standard_normal((2, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(conv(ag.Tensor(x)).data, conv(ag.Tensor(x[None])).data[0])
    with pytest.raises(ValueError, match="input has 4 channels"):
        conv(ag.zeros(1, 4, 5, 5))
    with pytest.raises(ValueError, match="larger than the"):
        conv(ag.zeros(1, 2, 2, 2))
    conv = nn.Conv2d(2, 4, 3, 1, 0, 2, 2, False)  # PyTorch's positional order
    assert (conv.dilation, conv.groups, conv.bias) == ((2, 2), 2, None)


def test_conv2d_is_cross_correlation_not_convolution():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 0, 0] = 1.0
    w = np.arange(9.0).reshape(1, 1, 3, 3)
    # A flipped kernel (true convolution) would give w[2, 2] = 8 here.
    assert F.conv2d(ag.Tensor(x), ag.Tensor(w)).item() == w[0, 0, 0, 0]


# -------------------------------------------------------------------------- pooling
def pool_oracle(x, k, s, pad, reduce):
    n, c, h, w = x.shape
    fill = -np.inf if reduce is np.max else 0.0
    xp = np.full((n, c, h + 2 * pad, w + 2 * pad), fill)
    xp[:, :, pad:pad + h, pad:pad + w] = x
    oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    out = np.zeros((n, c, oh, ow))
    for p in range(oh):
        for q in range(ow):
            out[:, :, p, q] = reduce(xp[:, :, p * s:p * s + k, q * s:q * s + k], axis=(2, 3))
    return out


@pytest.mark.parametrize(("k", "s", "pad"), [(2, 2, 0), (3, 2, 1), (3, 1, 0), (2, 1, 1)])
def test_max_pool_forward_and_routing_to_argmax(k, s, pad):
    x = RNG.permutation(2 * 3 * 6 * 5).reshape(2, 3, 6, 5).astype(np.float64)  # no ties
    y, g, (gx,) = run(lambda t: F.max_pool2d(t, k, s, pad), x)
    np.testing.assert_array_equal(y, pool_oracle(x, k, s, pad, np.max))
    expected = np.zeros_like(x)
    for ni, ci, p, q in np.ndindex(*y.shape):
        r0, c0 = p * s - pad, q * s - pad
        rows = range(max(r0, 0), min(r0 + k, x.shape[2]))
        cols = range(max(c0, 0), min(c0 + k, x.shape[3]))
        best = max(((r, c) for r in rows for c in cols), key=lambda rc: x[ni, ci, rc[0], rc[1]])
        expected[ni, ci, best[0], best[1]] += g[ni, ci, p, q]  # overlapping windows add
    np.testing.assert_allclose(gx, expected)


def test_max_pool_ties_share_the_gradient_equally():
    x = np.ones((1, 1, 2, 2))
    _, _, (gx,) = run(lambda t: F.max_pool2d(t, 2), x, grad_out=np.ones((1, 1, 1, 1)))
    np.testing.assert_allclose(gx, np.full((1, 1, 2, 2), 0.25))


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize(("k", "s", "pad"), [(2, 2, 0), (3, 2, 1)])
def test_avg_pool_forward_and_even_spread(k, s, pad, count_include_pad):
    x = RNG.standard_normal((2, 2, 5, 6))
    y, g, (gx,) = run(lambda t: F.avg_pool2d(t, k, s, pad,
                                             count_include_pad=count_include_pad), x)
    ones = np.ones_like(x)
    counts = (pool_oracle(ones, k, s, pad, np.sum) if not count_include_pad
              else np.full(y.shape, k * k))
    np.testing.assert_allclose(y, pool_oracle(x, k, s, pad, np.sum) / counts)
    expected = np.zeros((2, 2, 5 + 2 * pad, 6 + 2 * pad))
    for p, q in np.ndindex(*y.shape[2:]):
        expected[:, :, p * s:p * s + k, q * s:q * s + k] += (g / counts)[:, :, p, q, None, None]
    np.testing.assert_allclose(gx, expected[:, :, pad:pad + 5, pad:pad + 6])


def test_pool_modules_and_flatten():
    x = ag.Tensor(RNG.standard_normal((2, 3, 4, 4)))
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).data, F.max_pool2d(x, 2).data)
    np.testing.assert_array_equal(nn.AvgPool2d(2, 1)(x).data, F.avg_pool2d(x, 2, 1).data)
    assert nn.Flatten()(x).shape == (2, 48)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 4)
    with pytest.raises(ValueError, match="at most half"):
        F.max_pool2d(x, 2, padding=2)


# ---------------------------------------------------------------------- batch norm
def bn_oracle(x, gamma, beta, g, eps):
    """Forward and the closed-form backward (Ioffe & Szegedy; seeds-000-003 §4 item 5):
    dx = (1/m)·γ/σ·(m·g − Σg − x̂·Σ(g·x̂)) per channel, with axes all but axis 1."""
    axes = (0, *range(2, x.ndim))
    m = x.size // x.shape[1]
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mu = x.mean(axis=axes, keepdims=True)
    sigma = np.sqrt(((x - mu) ** 2).mean(axis=axes, keepdims=True) + eps)
    xhat = (x - mu) / sigma
    y = gamma.reshape(shape) * xhat + beta.reshape(shape)
    gy = g * gamma.reshape(shape)
    dx = (gy * m - gy.sum(axes, keepdims=True)
          - xhat * (gy * xhat).sum(axes, keepdims=True)) / (m * sigma)
    return y, dx, (g * xhat).sum(axes), g.sum(axes)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 3, 4, 2)])
def test_batch_norm_training_matches_closed_form(shape):
    x = RNG.standard_normal(shape) * 3 + 1
    gamma, beta = RNG.standard_normal(3), RNG.standard_normal(3)
    y, g, (gx, ggamma, gbeta) = run(
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x, gamma, beta)
    oy, odx, ogamma, obeta = bn_oracle(x, gamma, beta, g, 1e-5)
    np.testing.assert_allclose(y, oy, atol=1e-12)
    np.testing.assert_allclose(gx, odx, atol=1e-12)
    np.testing.assert_allclose(ggamma, ogamma, atol=1e-12)
    np.testing.assert_allclose(gbeta, obeta, atol=1e-12)


def test_trap13_batch_norm_running_stats_use_unbiased_variance_and_eval_uses_them():
    """TRAPS 13 (tinygrad#141, PR#807, PR#753)."""
    bn = nn.BatchNorm2d(2, momentum=0.1, dtype=np.float64)
    batches = [RNG.standard_normal((4, 2, 3, 3)) * (k + 1) + k for k in range(3)]
    mean, var = np.zeros(2), np.ones(2)
    for x in batches:
        bn(ag.Tensor(x))
        mean = 0.9 * mean + 0.1 * x.mean(axis=(0, 2, 3))
        var = 0.9 * var + 0.1 * x.var(axis=(0, 2, 3), ddof=1)  # unbiased, m/(m-1)
    np.testing.assert_allclose(bn.running_mean.data, mean)
    np.testing.assert_allclose(bn.running_var.data, var)
    assert bn.num_batches_tracked.item() == 3
    bn.eval()
    x = RNG.standard_normal((1, 2, 3, 3))  # a single sample: no batch statistics at all
    expected = (x - mean.reshape(1, 2, 1, 1)) / np.sqrt(var.reshape(1, 2, 1, 1) + 1e-5)
    np.testing.assert_allclose(bn(ag.Tensor(x)).data, expected)
    np.testing.assert_allclose(bn.running_mean.data, mean)  # eval does not update


def test_batch_norm_eval_gradients_are_affine():
    rm, rv = RNG.standard_normal(3), RNG.random(3) + 0.5
    x, gamma, beta = RNG.standard_normal((5, 3)), RNG.standard_normal(3), RNG.standard_normal(3)
    y, g, (gx, ggamma, gbeta) = run(
        lambda x, w, b: F.batch_norm(x, ag.Tensor(rm), ag.Tensor(rv), w, b), x, gamma, beta)
    inv = 1 / np.sqrt(rv + 1e-5)
    np.testing.assert_allclose(y, (x - rm) * inv * gamma + beta)
    np.testing.assert_allclose(gx, g * inv * gamma)
    np.testing.assert_allclose(ggamma, (g * (x - rm) * inv).sum(0))
    np.testing.assert_allclose(gbeta, g.sum(0))


def test_batch_norm_momentum_none_is_cumulative_average_and_no_tracking():
    bn = nn.BatchNorm1d(2, momentum=None, dtype=np.float64)
    xs = [RNG.standard_normal((5, 2)) + k for k in range(4)]
    for x in xs:
        bn(ag.Tensor(x))
    np.testing.assert_allclose(bn.running_mean.data, np.mean([x.mean(0) for x in xs], axis=0))
    plain = nn.BatchNorm1d(2, affine=False, track_running_stats=False).eval()
    assert list(plain.parameters()) == [] and plain.state_dict() == {}
    x = RNG.standard_normal((5, 2)).astype(np.float32)
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(plain(ag.Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(ag.zeros(1, 3))
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(ag.zeros(2, 3))
    with pytest.raises(ValueError, match="expected 3 channels"):
        nn.BatchNorm1d(3)(ag.zeros(2, 4))


# ---------------------------------------------------------------------- layer norm
def test_layer_norm_matches_closed_form():
    x = RNG.standard_normal((4, 2, 5)) * 2
    gamma, beta = RNG.standard_normal((2, 5)), RNG.standard_normal((2, 5))
    y, g, (gx, ggamma, gbeta) = run(lambda x, w, b: F.layer_norm(x, (2, 5), w, b), x, gamma,
                                    beta)
    flat, gflat = x.reshape(4, 10), (g * gamma).reshape(4, 10)
    mu, sigma = flat.mean(1, keepdims=True), np.sqrt(flat.var(1, keepdims=True) + 1e-5)
    xhat = (flat - mu) / sigma
    dx = (10 * gflat - gflat.sum(1, keepdims=True)
          - xhat * (gflat * xhat).sum(1, keepdims=True)) / (10 * sigma)
    np.testing.assert_allclose(y, xhat.reshape(x.shape) * gamma + beta, atol=1e-12)
    np.testing.assert_allclose(gx, dx.reshape(x.shape), atol=1e-12)
    np.testing.assert_allclose(ggamma, (g * xhat.reshape(x.shape)).sum(0), atol=1e-12)
    np.testing.assert_allclose(gbeta, g.sum(0))
    ln = nn.LayerNorm(5)
    assert [p.shape for p in ln.parameters()] == [(5,), (5,)]
    with pytest.raises(ValueError, match="trailing shape"):
        ln(ag.zeros(2, 4))


# ------------------------------------------------------------------------- dropout
def test_trap13_dropout_scales_by_inverse_keep_in_training_and_is_identity_in_eval():
    """TRAPS 13 (tinygrad PR#4351): active only in training, scaled by 1/(1 - p)."""
    x = RNG.standard_normal((50, 40)) + 3
    layer = nn.Dropout(0.3, generator=np.random.default_rng(5))
    out, g, (gx,) = run(layer, x)
    keep = np.random.default_rng(5).random(x.shape, dtype=np.float32) >= 0.3
    np.testing.assert_allclose(out, np.where(keep, x / 0.7, 0.0))
    np.testing.assert_allclose(gx, np.where(keep, g / 0.7, 0.0))  # same mask backward
    layer.eval()
    t = ag.Tensor(x)
    assert layer(t) is t
    layer.train()
    assert F.dropout(t, 0.0) is t
    np.testing.assert_array_equal(F.dropout(t, 1.0).data, np.zeros_like(x))
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout(1.5)


def test_dropout_masks_are_fresh_each_call_and_reproducible_from_the_seed():
    x = ag.ones(100)
    ag.manual_seed(3)
    a, b = F.dropout(x).data, F.dropout(x).data
    ag.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x).data, a)
    assert not np.array_equal(a, b)


# --------------------------------------------------------------------- activations
ACTIVATIONS = {
    "relu": (nn.ReLU(), lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
    "sigmoid": (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x)),
                lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    "tanh": (nn.Tanh(), np.tanh, lambda x: 1 / np.cosh(x) ** 2),
    "leaky_relu": (nn.LeakyReLU(0.1), lambda x: np.where(x > 0, x, 0.1 * x),
                   lambda x: np.where(x > 0, 1.0, 0.1)),
    "elu": (nn.ELU(0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)),
            lambda x: np.where(x > 0, 1.0, 0.7 * np.exp(x))),
    "softplus": (nn.Softplus(2.0, 4.0),
                 lambda x: np.where(2 * x > 4, x, np.log1p(np.exp(2 * x)) / 2),
                 lambda x: np.where(2 * x > 4, 1.0, 1 / (1 + np.exp(-2 * x)))),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_values_and_derivatives(name):
    module, f, df = ACTIVATIONS[name]
    x = np.concatenate([RNG.standard_normal(20) * 3, [-50.0, 50.0, 0.5, -0.5]])
    y, g, (gx,) = run(module, x)
    np.testing.assert_allclose(y, f(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gx, g * df(x), rtol=1e-12, atol=1e-12)


def test_activation_conventions_at_zero_and_no_nan_far_out():
    x = np.array([0.0, 800.0, -800.0])
    g = np.ones(3)
    for fn, d0 in [(F.relu, 0.0), (lambda t: F.leaky_relu(t, 0.1), 0.1), (F.elu, 1.0),
                   (F.softplus, 0.5)]:
        y, _, (gx,) = run(fn, x, grad_out=g)
        assert np.all(np.isfinite(y)) and np.all(np.isfinite(gx))
        assert gx[0] == d0


@pytest.mark.parametrize("module_class", [nn.Softmax, nn.LogSoftmax])
def test_softmax_modules_along_dim(module_class):
    x = RNG.standard_normal((3, 4, 5))
    y, g, (gx,) = run(module_class(dim=1), x)
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    if module_class is nn.Softmax:
        np.testing.assert_allclose(y, p)
        np.testing.assert_allclose(gx, p * (g - (g * p).sum(1, keepdims=True)))
    else:
        np.testing.assert_allclose(y, np.log(p))
        np.testing.assert_allclose(gx, g - p * g.sum(1, keepdims=True))
    assert repr(module_class(dim=1)) == f"{module_class.__name__}(dim=1)"
