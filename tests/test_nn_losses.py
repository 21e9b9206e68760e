"""Losses against per-sample numpy loops written from PyTorch's documented definitions."""

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F

RNG = np.random.default_rng(99)


def softmax(x, axis=1):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def value_and_grad(f, x):
    t = ag.Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    out = f(t)
    out.sum().backward()
    return out.data, t.grad.data


# -------------------------------------------------------------------- cross entropy
def test_cross_entropy_value_and_softmax_minus_onehot_gradient():
    """Seed 001 eq. (3.47): the gradient of the mean loss is (softmax − onehot)/N."""
    x, y = RNG.standard_normal((6, 4)) * 3, RNG.integers(0, 4, 6)
    loss, grad = value_and_grad(lambda t: F.cross_entropy(t, y), x)
    p = softmax(x)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(6), y])), rel=1e-12)
    np.testing.assert_allclose(grad, (p - np.eye(4)[y]) / 6, atol=1e-15)


def ce_oracle(x, y, w, ignore_index, eps, reduction):
    """PyTorch's cross_entropy for class indices, one sample at a time (class axis 1)."""
    n_classes = x.shape[1]
    xs = np.moveaxis(x, 1, -1).reshape(-1, n_classes)
    ys = y.reshape(-1)
    w = np.ones(n_classes) if w is None else w
    losses, denominator = [], 0.0
    for row, target in zip(xs, ys, strict=True):
        if target == ignore_index:
            losses.append(0.0)
            continue
        logp = np.log(softmax(row[None])[0])
        nll = -w[target] * logp[target]
        smooth = -(w * logp).sum()
        losses.append((1 - eps) * nll + eps / n_classes * smooth)
        denominator += w[target]
    losses = np.array(losses)
    if reduction == "none":
        return losses.reshape(y.shape)
    return losses.sum() / denominator if reduction == "mean" else losses.sum()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("shape", [(7, 5), (3, 5, 2, 2)])
def test_cross_entropy_indices_weights_ignore_smoothing(shape, eps, weighted, reduction):
    x = RNG.standard_normal(shape) * 2
    y = RNG.integers(0, 5, (shape[0],) + shape[2:])
    y.flat[1] = -100  # ignored sample
    w = RNG.random(5) + 0.5 if weighted else None
    got = F.cross_entropy(ag.Tensor(x), y, w, reduction=reduction, label_smoothing=eps).data
    np.testing.assert_allclose(got, ce_oracle(x, y, w, -100, eps, reduction), rtol=1e-12)


def test_cross_entropy_class_probabilities_and_their_gradient():
    x = RNG.standard_normal((4, 3))
    target = softmax(RNG.standard_normal((4, 3)))
    w = np.array([0.5, 1.0, 2.0])
    loss, grad = value_and_grad(lambda t: F.cross_entropy(t, target, w), x)
    logp = np.log(softmax(x))
    # PyTorch: with probabilities the mean divides by N, not by a sum of weights.
    assert loss == pytest.approx(-(logp * target * w).sum() / 4, rel=1e-12)
    tw = target * w
    np.testing.assert_allclose(grad, (softmax(x) * tw.sum(1, keepdims=True) - tw) / 4)
    # The target may itself require grad (distillation): d/dT of −Σ T·logp is −logp / N.
    t = ag.Tensor(target, requires_grad=True)
    F.cross_entropy(ag.Tensor(x), t).backward()
    np.testing.assert_allclose(t.grad.data, -logp / 4)


def test_cross_entropy_unbatched_and_float_integral_targets():
    x = RNG.standard_normal(5)
    got = F.cross_entropy(ag.Tensor(x), np.array(3)).item()
    assert got == pytest.approx(-np.log(softmax(x[None])[0, 3]))
    batch = RNG.standard_normal((3, 5))
    as_float = F.cross_entropy(ag.Tensor(batch), ag.tensor([0, 4, 2])).item()  # a labels Tensor
    assert as_float == pytest.approx(F.cross_entropy(ag.Tensor(batch), np.array([0, 4, 2])).item())


def test_cross_entropy_errors_name_the_problem():
    x = ag.zeros(3, 4)
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        F.cross_entropy(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="must have shape"):
        F.cross_entropy(x, np.array([0, 1]))
    for floats in ([0.5, 1.0, 2.0], [0.0, 1.0, 2.0]):  # float (N,) targets: an error, as torch
        with pytest.raises(RuntimeError, match=r"must be integers, got dtype float64; class "
                                               r"probabilities have the input's shape \(3, 4\)"):
            F.cross_entropy(x, np.array(floats))
    with pytest.raises(ValueError, match="reduction must be"):
        F.cross_entropy(x, np.array([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match="one per class"):
        F.cross_entropy(x, np.array([0, 1, 2]), np.ones(3))


def test_cross_entropy_finite_at_huge_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    loss, grad = value_and_grad(lambda t: F.cross_entropy(t, np.array([1, 2])), x)
    assert loss == pytest.approx((2e4 + np.log(3)) / 2)
    np.testing.assert_allclose(grad, (softmax(x) - np.eye(3)[[1, 2]]) / 2, atol=1e-15)


def test_nll_loss_matches_cross_entropy_of_log_softmax():
    x, y = RNG.standard_normal((5, 4)), RNG.integers(0, 4, 5)
    w = RNG.random(4) + 0.1
    logp = F.log_softmax(ag.Tensor(x), dim=1)
    direct = -(w[y] * np.log(softmax(x))[np.arange(5), y]).sum() / w[y].sum()
    assert F.nll_loss(logp, y, w).item() == pytest.approx(direct, rel=1e-12)
    assert nn.NLLLoss(w)(logp, y).item() == pytest.approx(direct, rel=1e-12)
    assert nn.CrossEntropyLoss(w)(ag.Tensor(x), y).item() == pytest.approx(direct, rel=1e-12)


# ------------------------------------------------------------------- regression losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_and_l1_values_and_gradients(reduction):
    x, y = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    scale = {"mean": 1 / 12, "sum": 1.0, "none": 1.0}[reduction]
    reduce = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction]
    loss, grad = value_and_grad(lambda t: F.mse_loss(t, y, reduction), x)
    np.testing.assert_allclose(loss, reduce((x - y) ** 2))
    np.testing.assert_allclose(grad, 2 * (x - y) * scale)
    loss, grad = value_and_grad(lambda t: nn.L1Loss(reduction)(t, ag.Tensor(y)), x)
    np.testing.assert_allclose(loss, reduce(np.abs(x - y)))
    np.testing.assert_allclose(grad, np.sign(x - y) * scale)


def test_regression_losses_refuse_silent_broadcasting():
    with pytest.raises(ValueError, match="differs from input shape"):
        F.mse_loss(ag.zeros(4, 1), ag.zeros(4))
    with pytest.raises(ValueError, match="differs from input shape"):
        nn.BCEWithLogitsLoss()(ag.zeros(4), np.zeros((4, 1)))


# ------------------------------------------------------------------------------ BCE
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_against_log_sigmoid_formula(reduction):
    x = np.concatenate([RNG.standard_normal((5, 3)) * 4, [[0.0, 30.0, -30.0]]])
    y = RNG.random(x.shape)
    w, pos = RNG.random(3) + 0.5, RNG.random(3) + 0.5
    sig = 1 / (1 + np.exp(-x))
    log_sig, log_one_minus_sig = -np.logaddexp(0, -x), -np.logaddexp(0, x)
    per = -w * (pos * y * log_sig + (1 - y) * log_one_minus_sig)
    reduce = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction]
    f = nn.BCEWithLogitsLoss(w, reduction, pos)
    loss, grad = value_and_grad(lambda t: f(t, ag.Tensor(y)), x)
    np.testing.assert_allclose(loss, reduce(per), rtol=1e-10)
    dper = w * ((pos * y + 1 - y) * sig - pos * y)  # d/dx of the per-element loss
    np.testing.assert_allclose(grad, dper / (x.size if reduction == "mean" else 1), atol=1e-14)


def test_bce_with_logits_unweighted_gradient_is_sigmoid_minus_target_and_finite():
    x = np.array([-1e4, 0.0, 1e4])
    y = np.array([1.0, 0.5, 0.0])
    loss, grad = value_and_grad(
        lambda t: F.binary_cross_entropy_with_logits(t, y, reduction="sum"), x)
    assert loss == pytest.approx(2e4 + np.log(2))
    np.testing.assert_allclose(grad, [-1.0, 0.0, 1.0])


# ----------------------------------------------------------------- multi margin (SVM)
def svm_oracle(x, y, p, margin, w):
    """PyTorch's MultiMarginLoss, by its loops: Σ_{i≠y} w[y]·max(0, margin − x_y + x_i)^p / C."""
    n, c = x.shape
    losses = np.zeros(n)
    grads = np.zeros_like(x)
    for k in range(n):
        for i in range(c):
            if i == y[k]:
                continue
            z = margin - x[k, y[k]] + x[k, i]
            if z > 0:
                wy = 1.0 if w is None else w[y[k]]
                losses[k] += wy * z ** p / c
                d = wy * p * z ** (p - 1) / c
                grads[k, i] += d
                grads[k, y[k]] -= d
    return losses, grads


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_loss_matches_pytorch_definition(p, weighted):
    x, y = RNG.standard_normal((6, 4)), RNG.integers(0, 4, 6)
    w = RNG.random(4) + 0.5 if weighted else None
    losses, grads = svm_oracle(x, y, p, 0.7, w)
    loss, grad = value_and_grad(lambda t: F.multi_margin_loss(t, y, p, 0.7, w), x)
    assert loss == pytest.approx(losses.mean(), rel=1e-12)  # unweighted mean over samples
    np.testing.assert_allclose(grad, grads / 6, atol=1e-15)
    module = nn.MultiMarginLoss(p, 0.7, w, reduction="none")
    np.testing.assert_allclose(module(ag.Tensor(x), y).data, losses, rtol=1e-12)
    with pytest.raises(ValueError, match="p = 1 and p = 2"):
        F.multi_margin_loss(ag.Tensor(x), y, p=3)


def test_multi_margin_loss_zero_margin_has_zero_gradient():
    x = np.array([[2.0, 1.0, -5.0]])  # margin − x_y + x_1 = 1 − 2 + 1 = 0 exactly
    loss, grad = value_and_grad(lambda t: F.multi_margin_loss(t, np.array([0])), x)
    assert loss == 0.0
    np.testing.assert_array_equal(grad, np.zeros_like(x))


def test_loss_module_options_and_weight_buffer():
    loss = nn.CrossEntropyLoss(weight=[1.0, 2.0], label_smoothing=0.1, reduction="sum")
    assert "weight" in loss.state_dict() and list(loss.parameters()) == []
    assert repr(nn.MSELoss()) == "MSELoss(reduction='mean')"
    with pytest.raises(ValueError, match="reduction must be"):
        nn.L1Loss("average")
