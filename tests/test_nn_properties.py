"""Properties of nn (hypothesis): invariances of cross-entropy and batch norm, dropout's
expectation, and float32 in -> float32 out for every layer and loss."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core.testing.strategies import tensors

logits = tensors(shape=st.tuples(st.integers(1, 6), st.integers(2, 5)),
                 elements=st.floats(-50, 50))


@given(logits, st.floats(-1e3, 1e3), st.data())
def test_cross_entropy_unchanged_by_adding_a_constant_to_every_logit(x, c, data):
    y = data.draw(st.lists(st.integers(0, x.shape[1] - 1), min_size=x.shape[0],
                           max_size=x.shape[0]))
    shifted = ag.Tensor(x.data + c, requires_grad=True)
    base, moved = F.cross_entropy(x, np.array(y)), F.cross_entropy(shifted, np.array(y))
    assert abs(base.item() - moved.item()) <= 1e-9 * (1 + abs(c))
    base.backward()
    moved.backward()
    np.testing.assert_allclose(x.grad.data, shifted.grad.data, atol=1e-9 * (1 + abs(c)))


@given(tensors(shape=st.tuples(st.integers(1, 5), st.integers(2, 5)),
               elements=st.sampled_from([-1e4, 0.0, 1e4, 3.0]),
               dtype=st.sampled_from([np.float32, np.float64])), st.data())
def test_cross_entropy_and_log_softmax_are_finite_at_huge_logits(x, data):
    y = np.array(data.draw(st.lists(st.integers(0, x.shape[1] - 1), min_size=x.shape[0],
                                    max_size=x.shape[0])))
    loss = F.cross_entropy(x, y, label_smoothing=0.1)
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad.data))
    assert np.all(np.isfinite(F.log_softmax(x, dim=1).data))
    np.testing.assert_allclose(F.softmax(x, dim=1).data.sum(1), 1, rtol=1e-6)


batches = tensors(shape=st.tuples(st.integers(2, 6), st.integers(1, 3), st.integers(1, 3)),
                  elements=st.floats(-10, 10))


@given(batches, st.floats(0.1, 100), st.floats(-100, 100))
def test_batch_norm_training_output_is_invariant_to_affine_rescaling_of_its_input(x, a, b):
    spread = x.data.std(axis=(0, 2))
    assume(np.all(spread > 0.1))
    y = F.batch_norm(x, None, None, training=True, eps=0.0)
    z = F.batch_norm(a * x + b, None, None, training=True, eps=0.0)
    np.testing.assert_allclose(z.data, y.data, atol=1e-7)


@given(batches, st.data())
def test_batch_norm_input_gradient_sums_to_zero_over_the_batch(x, data):
    bn = nn.BatchNorm1d(x.shape[1], dtype=np.float64)
    g = data.draw(tensors(shape=x.shape, elements=st.floats(-10, 10), requires_grad=False))
    bn(x).backward(g)
    scale = 1 + np.abs(g.data).sum() / np.sqrt(x.data.var() + 1e-5)
    np.testing.assert_allclose(x.grad.data.sum(axis=(0, 2)), 0, atol=1e-9 * scale)


@given(tensors(shape=st.tuples(st.integers(1, 4), st.integers(1, 4)), requires_grad=False,
               elements=st.floats(-100, 100)), st.floats(0, 1))
def test_dropout_in_eval_is_the_identity(x, p):
    layer = nn.Dropout(p).eval()
    assert layer(x) is x
    assert F.dropout(x, p, training=False) is x


@given(tensors(shape=st.tuples(st.integers(1, 6)), requires_grad=False,
               elements=st.floats(-10, 10)), st.floats(0.05, 0.9), st.integers(0, 2**32 - 1))
def test_dropout_in_training_keeps_the_expectation(x, p, seed):
    """The mean of S = 20000 masked copies is within 6 standard errors of x, where the
    standard error is |x|·√(p/(1−p))/√S.  Each example has a fixed seed, so the test is
    deterministic (and a correct dropout leaves 6σ with probability ~2e-9 per element);
    forgetting the 1/(1−p) scale moves the mean by p·|x| = √(S·p·(1−p)) ≥ 30 standard
    errors for p in [0.05, 0.9]."""
    samples = 20000
    batch = ag.Tensor(np.broadcast_to(x.data, (samples, x.shape[0])))
    out = F.dropout(batch, p, generator=np.random.default_rng(seed)).data
    stderr = np.abs(x.data) * np.sqrt(p / (1 - p)) / np.sqrt(samples)
    assert np.all(np.abs(out.mean(axis=0) - x.data) <= 6 * stderr + 1e-12)
    kept = out != 0
    np.testing.assert_allclose(out[kept], np.broadcast_to(x.data, out.shape)[kept] / (1 - p))


FLOAT32_LAYERS = {
    "linear": (lambda: nn.Linear(4, 3), (2, 4)),
    "conv": (lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 5, 5)),
    "max_pool": (lambda: nn.MaxPool2d(2, padding=1), (1, 2, 4, 4)),
    "avg_pool": (lambda: nn.AvgPool2d(2), (1, 2, 4, 4)),
    "batch_norm_train": (lambda: nn.BatchNorm2d(2), (3, 2, 2, 2)),
    "batch_norm_eval": (lambda: nn.BatchNorm1d(2).eval(), (3, 2)),
    "layer_norm": (lambda: nn.LayerNorm(4), (3, 4)),
    "dropout": (lambda: nn.Dropout(0.5), (3, 4)),
    "flatten": (lambda: nn.Flatten(), (2, 3, 2)),
    "relu": (nn.ReLU, (3, 4)), "sigmoid": (nn.Sigmoid, (3, 4)), "tanh": (nn.Tanh, (3, 4)),
    "leaky_relu": (nn.LeakyReLU, (3, 4)), "elu": (nn.ELU, (3, 4)),
    "softplus": (nn.Softplus, (3, 4)),
    "softmax": (lambda: nn.Softmax(1), (3, 4)), "log_softmax": (lambda: nn.LogSoftmax(1), (3, 4)),
    "cross_entropy": (lambda: _Loss(nn.CrossEntropyLoss(label_smoothing=0.1), [0, 1, 2]), (3, 4)),
    "cross_entropy_probabilities": (
        lambda: _Loss(nn.CrossEntropyLoss([1.0, 2, 3, 4]), np.full((3, 4), 0.25)), (3, 4)),
    "nll": (lambda: _Loss(nn.NLLLoss(), [0, 1, 2]), (3, 4)),
    "mse": (lambda: _Loss(nn.MSELoss(), np.ones((3, 4))), (3, 4)),
    "mse_float64_tensor_target": (
        lambda: _Loss(nn.MSELoss(), ag.Tensor(np.ones((3, 4)), requires_grad=True)), (3, 4)),
    "cross_entropy_float64_tensor_probabilities": (
        lambda: _Loss(nn.CrossEntropyLoss(), ag.Tensor(np.full((3, 4), 0.25))), (3, 4)),
    "l1": (lambda: _Loss(nn.L1Loss(), np.ones((3, 4))), (3, 4)),
    "bce_with_logits": (lambda: _Loss(nn.BCEWithLogitsLoss(pos_weight=[2.0, 1, 1, 1]),
                                      np.ones((3, 4))), (3, 4)),
    "multi_margin": (lambda: _Loss(nn.MultiMarginLoss(2, weight=[1.0, 2, 3, 4]), [0, 1, 2]),
                     (3, 4)),
}


class _Loss(nn.Module):
    """A loss with its target bound, so it can be called like a layer."""

    def __init__(self, loss, target):
        super().__init__()
        self.loss, self.target = loss, target

    def forward(self, x):
        return self.loss(x, self.target)


@pytest.mark.parametrize("name", FLOAT32_LAYERS)
def test_layers_and_losses_preserve_float32(name):
    make, shape = FLOAT32_LAYERS[name]
    module = make()
    x = ag.Tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32),
                  requires_grad=True)
    out = module(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in module.parameters())
    assert all(b.dtype in (np.float32, np.int64) for b in module.buffers())
