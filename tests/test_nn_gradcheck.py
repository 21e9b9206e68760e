"""Finite-difference gradient checks (``autograd_core.testing.check_grads``) of every nn layer
and loss in float64: with respect to inputs and to every parameter."""

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core.testing import check_grads

RNG = np.random.default_rng(2024)


def leaf(*shape, offset=0.0):
    return ag.Tensor(RNG.standard_normal(shape) + offset, requires_grad=True)


def with_parameters_as_arguments(module):
    """``f(x, *params)`` that runs ``module`` with its parameters replaced by the arguments,
    so the checker differentiates with respect to each of them."""
    slots = [(owner, name) for owner in module.modules()
             for name, p in owner._parameters.items() if p is not None]

    def f(x, *params):
        saved = [owner._parameters[name] for owner, name in slots]
        for (owner, name), p in zip(slots, params, strict=True):
            owner._parameters[name] = p
        try:
            return module(x)
        finally:
            for (owner, name), p in zip(slots, saved, strict=True):
                owner._parameters[name] = p

    params = [ag.Tensor(owner._parameters[name].data, requires_grad=True)
              for owner, name in slots]
    return f, params


class SelfAttention(nn.Module):
    """``MultiheadAttention(x, x, x)``'s output, so it fits the one-input table below."""

    def __init__(self, **kwargs):
        super().__init__()
        self.attn = nn.MultiheadAttention(**kwargs)

    def forward(self, x):
        return self.attn(x, x, x, key_padding_mask=np.array([[False, False, True]] * 2))[0]


MODULES = {
    "linear": (lambda: nn.Linear(4, 3), (5, 4)),
    "conv_s1_p1": (lambda: nn.Conv2d(2, 3, 3, padding=1), (2, 2, 5, 5)),
    "conv_s2_p0": (lambda: nn.Conv2d(2, 2, (3, 2), stride=2), (2, 2, 6, 5)),
    "max_pool": (lambda: nn.MaxPool2d(2), (2, 2, 4, 4)),
    "max_pool_overlap_pad": (lambda: nn.MaxPool2d(3, 2, 1), (1, 2, 5, 5)),
    "avg_pool": (lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False), (1, 2, 5, 5)),
    "conv1d_dilated": (lambda: nn.Conv1d(2, 2, 3, 2, 1, 2), (2, 2, 7)),
    "conv_groups_reflect": (lambda: nn.Conv2d(4, 2, 3, 1, 1, 1, 2, True, "reflect"),
                            (1, 4, 4, 4)),
    "conv3d": (lambda: nn.Conv3d(1, 2, 2, padding=1), (1, 1, 2, 3, 2)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(2, 2, 3, 2, 1, 1), (1, 2, 3, 3)),
    "max_pool1d_ceil": (lambda: nn.MaxPool1d(2, ceil_mode=True), (2, 2, 5)),
    "max_pool3d": (lambda: nn.MaxPool3d(2, 1), (1, 1, 3, 3, 3)),
    "avg_pool1d_ceil": (lambda: nn.AvgPool1d(3, 2, 1, True, False), (2, 2, 6)),
    "adaptive_avg_pool": (lambda: nn.AdaptiveAvgPool2d((2, 3)), (1, 2, 5, 4)),
    "upsample_bilinear": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), (1, 1, 2, 3)),
    "flatten": (lambda: nn.Flatten(), (2, 3, 2)),
    "batch_norm_1d_train": (lambda: nn.BatchNorm1d(3), (6, 3)),
    "batch_norm_1d_nlc_train": (lambda: nn.BatchNorm1d(3), (4, 3, 2)),
    "batch_norm_2d_train": (lambda: nn.BatchNorm2d(2), (3, 2, 2, 3)),
    "batch_norm_2d_eval": (lambda: nn.BatchNorm2d(2).eval(), (3, 2, 2, 3)),
    "layer_norm": (lambda: nn.LayerNorm((2, 3)), (4, 2, 3)),
    "relu": (lambda: nn.ReLU(), (3, 4)),
    "sigmoid": (lambda: nn.Sigmoid(), (3, 4)),
    "tanh": (lambda: nn.Tanh(), (3, 4)),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), (3, 4)),
    "elu": (lambda: nn.ELU(), (3, 4)),
    "softplus": (lambda: nn.Softplus(1.5), (3, 4)),
    "softmax": (lambda: nn.Softmax(dim=1), (3, 4)),
    "log_softmax": (lambda: nn.LogSoftmax(dim=0), (3, 4)),
    "multihead_attention": (lambda: SelfAttention(embed_dim=4, num_heads=2), (3, 2, 4)),
    "multihead_attention_kv_bias": (
        lambda: SelfAttention(embed_dim=4, num_heads=2, batch_first=True, add_bias_kv=True,
                              add_zero_attn=True), (2, 3, 4)),
    "cnn": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(),
                                  nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3)), (3, 1, 4, 4)),
}


@pytest.mark.parametrize("name", MODULES)
def test_module_gradients_match_finite_differences(name):
    make, shape = MODULES[name]
    module = make().double()
    f, params = with_parameters_as_arguments(module)
    x = leaf(*shape)
    check_grads(f, x, *params, full=True)
    f(x, *params).sum().backward()  # the arguments really are the ones used
    assert all(p.grad is not None for p in params)


def test_dropout_with_a_fixed_mask():
    def f(x):
        return F.dropout(x, 0.4, generator=np.random.default_rng(11))

    check_grads(f, leaf(4, 5), full=True)
    layer = nn.Dropout(0.4)

    def g(x):
        layer.generator = np.random.default_rng(11)
        return layer(x)

    check_grads(g, leaf(4, 5), full=True)


def test_batch_norm_functional_second_order():
    check_grads(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                leaf(5, 3), leaf(3, offset=1.0), leaf(3), order=2)


LOSSES = {
    "cross_entropy": lambda x: F.cross_entropy(x, np.array([0, 2, 1, 2])),
    "cross_entropy_weighted_smooth_ignore": lambda x: F.cross_entropy(
        x, np.array([0, -100, 1, 2]), np.array([0.3, 1.0, 2.0]), label_smoothing=0.1),
    "cross_entropy_probabilities": lambda x: F.cross_entropy(
        x, np.full((4, 3), 1 / 3), reduction="sum"),
    "nll": lambda x: F.nll_loss(x, np.array([0, 2, 1, 2]), reduction="none"),
    "mse": lambda x: F.mse_loss(x, np.ones((4, 3))),
    "l1": lambda x: F.l1_loss(x, np.full((4, 3), 5.0)),
    "bce_with_logits": lambda x: F.binary_cross_entropy_with_logits(
        x, np.full((4, 3), 0.3), np.array([1.0, 2.0, 0.5]), pos_weight=np.array([2.0, 1, 1])),
    "bce": lambda x: F.binary_cross_entropy(ag.sigmoid(x), np.full((4, 3), 0.3),
                                            np.array([1.0, 2.0, 0.5])),
    "kl_div_batchmean": lambda x: F.kl_div(x, np.full((4, 3), 1 / 3), reduction="batchmean"),
    "huber": lambda x: F.huber_loss(x, np.full((4, 3), 0.5), delta=0.7),
    "smooth_l1": lambda x: F.smooth_l1_loss(x, np.full((4, 3), 0.5), beta=0.7),
    "soft_margin": lambda x: F.soft_margin_loss(x, np.ones((4, 3))),
    "multi_margin_p1": lambda x: F.multi_margin_loss(x, np.array([0, 2, 1, 2]), margin=5.0),
    "multi_margin_p2": lambda x: F.multi_margin_loss(x, np.array([0, 2, 1, 2]), p=2,
                                                     weight=np.array([1.0, 2.0, 3.0])),
}


@pytest.mark.parametrize("name", LOSSES)
def test_loss_gradients_match_finite_differences(name):
    check_grads(LOSSES[name], leaf(4, 3), full=True)


def test_l2_penalty_gradient_is_lambda_w():
    check_grads(lambda w: nn.utils.l2_penalty([w], 0.3), leaf(2, 3), full=True)
    model = nn.Linear(3, 2).double()
    nn.utils.l2_penalty(model, 0.3).backward()
    np.testing.assert_allclose(model.weight.grad.data, 0.3 * model.weight.data)
    assert model.bias.grad is None  # biases are not penalised
