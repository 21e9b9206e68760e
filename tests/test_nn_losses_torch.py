"""Losses against PyTorch (values and gradients, float64), numpy oracles, finite differences
to second order, and the errors PyTorch users catch."""

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core.testing import check_grads

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(7)
REDUCTIONS = ["mean", "sum", "none"]


def both(*arrays, grad=True):
    """Each array as a float64 (ours, torch's) pair of leaves."""
    ours = [ag.Tensor(np.array(a, np.float64), requires_grad=grad) for a in arrays]
    theirs = [torch.tensor(np.array(a, np.float64), requires_grad=grad) for a in arrays]
    return ours, theirs


def compare(ours_out, theirs_out, ours_in, theirs_in, rtol=1e-10, atol=1e-12):
    """Values equal, and gradients of a random weighting of the outputs equal."""
    np.testing.assert_allclose(ours_out.data, theirs_out.detach().numpy(), rtol=rtol, atol=atol)
    cot = RNG.standard_normal(ours_out.shape)
    (ours_out * cot).sum().backward()
    (theirs_out * torch.tensor(cot)).sum().backward()
    for a, b in zip(ours_in, theirs_in, strict=True):
        if b.grad is None:
            assert a.grad is None or not np.any(a.grad.data)
            continue
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=rtol * 100, atol=atol)


def probs(*shape):
    return RNG.uniform(0.02, 0.98, shape)


# ------------------------------------------------------------------ binary cross entropy
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", [None, "last", "full"])
@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 4)])
def test_binary_cross_entropy_matches_torch(shape, weight_shape, reduction):
    (x, y), (tx, ty) = both(probs(*shape), RNG.uniform(0, 1, shape))
    w = {None: None, "last": RNG.random(shape[-1:]) + 0.5, "full": RNG.random(shape)}[weight_shape]
    ours = F.binary_cross_entropy(x, y, w, reduction=reduction)
    theirs = TF.binary_cross_entropy(tx, ty, None if w is None else torch.tensor(w),
                                     reduction=reduction)
    compare(ours, theirs, [x, y], [tx, ty])
    module = nn.BCELoss(w, reduction=reduction)(x.detach(), y.detach())
    np.testing.assert_allclose(module.data, theirs.detach().numpy(), rtol=1e-12)


def test_binary_cross_entropy_clamps_the_log_at_minus_100():
    """Probabilities of exactly 0 and 1 give torch's finite loss.  The gradient is the
    clamped forward's: 0 where a log is clamped (torch's hand-written backward gives ±1e12)
    and ±1 where the clamped term has zero weight (torch's (x − y)/max(x(1 − x), 1e-12)
    gives 0 there, though the loss −log(1 − x) has slope 1 at x = 0)."""
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.3])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    x = ag.Tensor(p, requires_grad=True)
    loss = F.binary_cross_entropy(x, y, reduction="none")
    expected = TF.binary_cross_entropy(torch.tensor(p), torch.tensor(y), reduction="none")
    np.testing.assert_allclose(loss.data, expected.numpy())
    np.testing.assert_allclose(loss.data, [100, 100, 0, 0, -np.log(0.3)])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.data, [0, 0, 1, -1, -1 / 0.3])
    assert np.all(np.isfinite(x.grad.data))


def test_binary_cross_entropy_second_order_and_target_gradient():
    x = ag.Tensor(probs(3, 4), requires_grad=True)
    y = ag.Tensor(RNG.uniform(0, 1, (3, 4)), requires_grad=True)
    check_grads(lambda a, b: F.binary_cross_entropy(a, b), x, y, order=2)


def test_binary_cross_entropy_errors():
    with pytest.raises(RuntimeError, match=r"binary_cross_entropy: all elements of input "
                                           r"should be between 0 and 1"):
        F.binary_cross_entropy(ag.tensor([1.5, 0.5]), ag.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"target shape \(2, 1\) differs from input shape"):
        F.binary_cross_entropy(ag.tensor([0.5, 0.5]), ag.tensor([[1.0], [0.0]]))
    with pytest.raises(RuntimeError, match=r"weight of shape \(3,\) does not broadcast"):
        F.binary_cross_entropy(ag.tensor([0.5, 0.5]), ag.tensor([1.0, 0.0]), np.ones(3))
    with pytest.raises(ValueError, match="reduction must be"):
        nn.BCELoss(reduction="avg")


# ------------------------------------------------------- cross entropy and nll, torch's way
SHAPES = [(6,), (5, 6), (3, 6, 4), (2, 6, 3, 2)]


def index_target(shape, ignore_index):
    y = RNG.integers(0, shape[0] if len(shape) == 1 else shape[1],
                     () if len(shape) == 1 else (shape[0],) + shape[2:])
    if y.ndim and ignore_index is not None:
        y.flat[0] = ignore_index
    return y


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_class_indices_match_torch(shape, ignore_index, weighted, smoothing,
                                                 reduction):
    y = index_target(shape, ignore_index)
    w = RNG.random(6) + 0.5 if weighted else None
    (x,), (tx,) = both(RNG.standard_normal(shape) * 2)
    ours = F.cross_entropy(x, y, w, ignore_index=ignore_index, reduction=reduction,
                           label_smoothing=smoothing)
    theirs = TF.cross_entropy(tx, torch.tensor(y), None if w is None else torch.tensor(w),
                              ignore_index=ignore_index, reduction=reduction,
                              label_smoothing=smoothing)
    compare(ours, theirs, [x], [tx])
    module = nn.CrossEntropyLoss(w, ignore_index=ignore_index, reduction=reduction,
                                 label_smoothing=smoothing)(x.detach(), y)
    np.testing.assert_allclose(module.data, theirs.detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_class_probabilities_match_torch(shape, weighted, smoothing, reduction):
    axis = 0 if len(shape) == 1 else 1
    target = RNG.random(shape)
    target /= target.sum(axis, keepdims=True)
    w = RNG.random(6) + 0.5 if weighted else None
    (x, t), (tx, tt) = both(RNG.standard_normal(shape), target)
    ours = F.cross_entropy(x, t, w, reduction=reduction, label_smoothing=smoothing)
    theirs = TF.cross_entropy(tx, tt, None if w is None else torch.tensor(w),
                              reduction=reduction, label_smoothing=smoothing)
    compare(ours, theirs, [x, t], [tx, tt])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 0])
@pytest.mark.parametrize("shape", SHAPES)
def test_nll_loss_matches_torch(shape, ignore_index, weighted, reduction):
    y = index_target(shape, ignore_index)
    w = RNG.random(6) + 0.5 if weighted else None
    (x,), (tx,) = both(RNG.standard_normal(shape))
    ours = F.nll_loss(x, y, w, ignore_index=ignore_index, reduction=reduction)
    theirs = TF.nll_loss(tx, torch.tensor(y), None if w is None else torch.tensor(w),
                         ignore_index=ignore_index, reduction=reduction)
    compare(ours, theirs, [x], [tx])
    module = nn.NLLLoss(w, ignore_index=ignore_index, reduction=reduction)(x.detach(), y)
    np.testing.assert_allclose(module.data, theirs.detach().numpy(), rtol=1e-10)


def test_cross_entropy_with_every_target_ignored_is_nan_as_torch():
    x = ag.Tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    y = np.full(3, -100)
    loss = F.cross_entropy(x, y, label_smoothing=0.1)
    assert np.isnan(loss.item())
    assert np.isnan(TF.cross_entropy(torch.tensor(x.data), torch.tensor(y)).item())
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, 0.0)  # torch's gradient, no NaN
    assert F.cross_entropy(x, y, reduction="sum").item() == 0.0


def test_cross_entropy_second_order():
    x = ag.Tensor(RNG.standard_normal((2, 4, 3)), requires_grad=True)
    y = RNG.integers(0, 4, (2, 3))
    y[0, 0] = -100
    w = RNG.random(4) + 0.5
    check_grads(lambda t: F.cross_entropy(t, y, w, label_smoothing=0.1), x, order=2)
    target = ag.Tensor(RNG.dirichlet(np.ones(4), (2, 3)).transpose(0, 2, 1),
                       requires_grad=True)
    check_grads(lambda t, p: F.cross_entropy(t, p, label_smoothing=0.2), x, target, order=2)


@pytest.mark.parametrize(("target", "error", "match"), [
    (np.zeros((4, 1), np.int64), RuntimeError, r"must have shape \(4,\).*got \(4, 1\)"),
    (np.zeros(3, np.int64), ValueError, r"must have shape \(4,\).*got \(3,\)"),
    (np.array([0, 1, 2, 5]), IndexError, "target 5 is out of bounds for 5 classes"),
    (np.array([0, 1, 2, -1]), IndexError, "target -1 is out of bounds"),
    (np.zeros((4, 5), np.int64), RuntimeError, "class probabilities and must be floating"),
])
def test_cross_entropy_error_types_are_torchs(target, error, match):
    x = ag.zeros(4, 5)
    with pytest.raises(error, match="cross_entropy: .*" + match):
        F.cross_entropy(x, target)
    with pytest.raises(error):
        TF.cross_entropy(torch.zeros(4, 5), torch.tensor(target))


def test_spatial_target_errors_are_torchs():
    x = ag.zeros(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"nll_loss: class-index target must have shape "
                                           r"\(2, 4\) for input of shape \(2, 3, 4\)"):
        F.nll_loss(x, np.zeros((2, 5), np.int64))
    with pytest.raises(ValueError, match=r"got \(3, 4\)"):
        F.nll_loss(x, np.zeros((3, 4), np.int64))


# -------------------------------------------------------------------------- kl divergence
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")  # torch's own
@pytest.mark.parametrize("reduction", ["batchmean", *REDUCTIONS])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 2)])
def test_kl_div_matches_torch(shape, log_target, reduction):
    x_np = np.log(probs(*shape))
    t_np = np.log(probs(*shape)) if log_target else probs(*shape)
    (x, t), (tx, tt) = both(x_np, t_np)
    ours = F.kl_div(x, t, reduction=reduction, log_target=log_target)
    theirs = TF.kl_div(tx, tt, reduction=reduction, log_target=log_target)
    compare(ours, theirs, [x, t], [tx, tt])
    module = nn.KLDivLoss(reduction=reduction, log_target=log_target)(x.detach(), t.detach())
    np.testing.assert_allclose(module.data, theirs.detach().numpy(), rtol=1e-12)


def test_kl_div_batchmean_is_the_kl_divergence_and_zero_targets_contribute_nothing():
    p = np.array([[0.5, 0.5, 0.0], [0.2, 0.0, 0.8]])
    q = np.array([[0.25, 0.25, 0.5], [0.4, 0.4, 0.2]])
    t = ag.Tensor(p, requires_grad=True)
    loss = F.kl_div(ag.Tensor(np.log(q)), t, reduction="batchmean")
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(p > 0, p * np.log(p / q), 0.0).sum(1).mean()
    assert loss.item() == pytest.approx(kl, rel=1e-12)
    loss.backward()
    assert np.all(np.isfinite(t.grad.data))  # torch: NaN at the zero targets


def test_kl_div_second_order():
    x = ag.Tensor(np.log(probs(3, 4)), requires_grad=True)
    t = ag.Tensor(probs(3, 4), requires_grad=True)
    check_grads(lambda a, b: F.kl_div(a, b, reduction="batchmean"), x, t, order=2)
    check_grads(lambda a, b: F.kl_div(a, b, log_target=True), x, ag.log(t.detach())
                .requires_grad_(), order=2)


def test_kl_div_errors():
    with pytest.raises(ValueError, match="kl_div: reduction must be 'none', 'batchmean', "
                                         "'mean' or 'sum', got 'avg'"):
        F.kl_div(ag.zeros(2), ag.ones(2), reduction="avg")
    with pytest.raises(ValueError, match="KLDivLoss: reduction must be"):
        nn.KLDivLoss(reduction="avg")


# --------------------------------------------------------------- huber, smooth l1, margin
def offsets(shape, kink):
    """x − y spread over both sides of the kink, never within 1e-3 of ±kink."""
    d = RNG.uniform(0.05, 3.0, shape) * RNG.choice([-1, 1], shape)
    return np.where(np.abs(np.abs(d) - kink) < 1e-3, d + 0.01, d)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_loss_matches_torch(delta, weighted, reduction):
    y_np = RNG.standard_normal((4, 5))
    (x, y), (tx, ty) = both(y_np + offsets((4, 5), delta), y_np)
    w = RNG.random((4, 5)) if weighted else None
    ours = F.huber_loss(x, y, reduction, delta, w)
    theirs = TF.huber_loss(tx, ty, reduction, delta, None if w is None else torch.tensor(w))
    compare(ours, theirs, [x, y], [tx, ty])
    if w is None:
        module = nn.HuberLoss(reduction, delta)(x.detach(), y.detach())
        np.testing.assert_allclose(module.data, theirs.detach().numpy(), rtol=1e-12)
    check_grads(lambda a, b: F.huber_loss(a, b, reduction, delta, w), x.detach()
                .requires_grad_(), y.detach().requires_grad_(), order=2)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.0])
def test_smooth_l1_loss_matches_torch(beta, reduction):
    y_np = RNG.standard_normal((3, 6))
    (x, y), (tx, ty) = both(y_np + offsets((3, 6), beta), y_np)
    ours = F.smooth_l1_loss(x, y, reduction=reduction, beta=beta)
    theirs = TF.smooth_l1_loss(tx, ty, reduction=reduction, beta=beta)
    compare(ours, theirs, [x, y], [tx, ty])
    module = nn.SmoothL1Loss(reduction=reduction, beta=beta)(x.detach(), y.detach())
    np.testing.assert_allclose(module.data, theirs.detach().numpy(), rtol=1e-12)
    check_grads(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
                x.detach().requires_grad_(), y.detach().requires_grad_(), order=2)


def test_huber_is_smooth_l1_times_delta():
    """PyTorch's identity huber(δ) = δ·smooth_l1(β = δ), on a closed form too."""
    x, y = ag.tensor([0.2, -0.7, 3.0, -5.0]), ag.zeros(4)
    for delta in (0.5, 2.0):
        h = F.huber_loss(x, y, "none", delta).data
        s = F.smooth_l1_loss(x, y, reduction="none", beta=delta).data
        np.testing.assert_allclose(h, delta * s, rtol=1e-6)
        d = np.abs(x.data)
        np.testing.assert_allclose(h, np.where(d < delta, 0.5 * d**2, delta * (d - delta / 2)),
                                   rtol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss_matches_torch(reduction):
    y = RNG.choice([-1.0, 1.0], (4, 3))  # torch: not differentiable in the target
    (x,), (tx,) = both(RNG.standard_normal((4, 3)) * 3)
    ours = F.soft_margin_loss(x, y, reduction=reduction)
    theirs = TF.soft_margin_loss(tx, torch.tensor(y), reduction=reduction)
    compare(ours, theirs, [x], [tx])
    module = nn.SoftMarginLoss(reduction=reduction)(x.detach(), y)
    np.testing.assert_allclose(module.data, theirs.detach().numpy(), rtol=1e-12)
    check_grads(lambda a: F.soft_margin_loss(a, y, reduction=reduction),
                x.detach().requires_grad_(), order=2)


def test_regression_loss_errors_name_the_op():
    x = ag.zeros(3)
    with pytest.raises(RuntimeError, match="huber_loss: delta must be positive, got 0"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match=r"huber_loss: weight shape \(2,\) differs"):
        F.huber_loss(x, x, weight=np.ones(2))
    with pytest.raises(RuntimeError, match="smooth_l1_loss: beta must be non-negative"):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(ValueError, match=r"soft_margin_loss: target shape \(3, 1\) differs"):
        F.soft_margin_loss(x, ag.zeros(3, 1))
    with pytest.raises(ValueError, match="HuberLoss: reduction must be"):
        nn.HuberLoss("avg")


def test_float32_losses_stay_float32():
    x, y = ag.rand(3, 4), ag.rand(3, 4)
    for loss in (F.binary_cross_entropy(x, y), F.kl_div(ag.log(x), y),
                 F.huber_loss(x, y), F.smooth_l1_loss(x, y), F.soft_margin_loss(x, y)):
        assert loss.dtype == np.float32
