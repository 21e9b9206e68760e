"""The documented conventions at kinks and ties (primitives.py table; TRAPS 5 and 6)."""

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import Scalar


def grad_of(f, values):
    x = ag.Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)
    f(x).sum().backward()
    return x.grad.data


def test_relu_and_abs_have_zero_gradient_at_zero():
    assert grad_of(ag.relu, [0.0, -1.0, 2.0]).tolist() == [0.0, 0.0, 1.0]
    assert grad_of(ag.abs, [0.0, -1.0, 2.0]).tolist() == [0.0, -1.0, 1.0]
    for op in ("relu", "abs"):
        s = Scalar(0.0)
        getattr(s, op)().backward()
        assert s.grad == 0.0


def test_maximum_minimum_ties_split_equally():
    a = ag.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = ag.Tensor(np.array([1.0, 5.0, 0.0]), requires_grad=True)
    (ag.maximum(a, b) + ag.minimum(a, b) * 10).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [5.5, 10.0, 1.0])
    np.testing.assert_array_equal(b.grad.data, [5.5, 1.0, 10.0])
    x, y = Scalar(2.0), Scalar(2.0)
    x.maximum(y).backward()
    assert (x.grad, y.grad) == (0.5, 0.5)


def test_max_reduction_ties_share_gradient():
    x = ag.Tensor(np.array([[3.0, 1.0, 3.0], [0.0, 2.0, 2.0]]), requires_grad=True)
    x.amax(1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0.5, 0, 0.5], [0, 0.5, 0.5]])
    x.grad = None
    x.min().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 0, 0], [1, 0, 0]])


def test_window_max_ties_share_each_windows_gradient():
    # Overlapping 2x2 windows, stride 1: the middle 3 is the max of both windows it is in.
    x = ag.Tensor(np.array([[3.0, 3.0, 1.0], [0.0, 2.0, 3.0]]), requires_grad=True)
    ag.window_max(x, (2, 2)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0.5, 1.0, 0.0], [0.0, 0.0, 0.5]])
    # A window whose max is NaN gets NaN gradients, as the max reduction does.
    y = ag.Tensor(np.array([[np.nan, 1.0, 2.0, 0.0]]), requires_grad=True)
    ag.window_max(y, (1, 2), (1, 2)).sum().backward()
    assert np.isnan(y.grad.data[0, :2]).all() and y.grad.data[0, 2:].tolist() == [1.0, 0.0]


@pytest.mark.parametrize("kernel", [(15, 17), (16, 16)])
def test_window_max_counts_many_ties_without_overflow(kernel):
    """255 ties, the most a one-byte count holds, and 256, counted as floats."""
    x = ag.Tensor(np.zeros((1, *kernel), np.float32), requires_grad=True)
    y = ag.window_max(x, kernel, kernel)
    (y * 2.0).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, np.float32(2.0) / (kernel[0] * kernel[1]))
    # Second order: the recorded backward's adjoint gathers each window's shares back.
    v = ag.Tensor(np.ones((1, 1, 1), np.float32), requires_grad=True)
    y = ag.window_max(x, kernel, kernel)
    (gx,) = ag.grad(y, x, grad_outputs=v, create_graph=True)
    (gv,) = ag.grad((gx * 3.0).sum(), v)
    assert gv.dtype == np.float32
    np.testing.assert_allclose(gv.data, [[[3.0]]], rtol=1e-4)  # a sum of 255 float32 shares


def test_clip_passes_gradient_on_closed_interval():
    g = grad_of(lambda x: ag.clip(x, -1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0])
    assert g.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    s = Scalar(1.0)
    s.clip(-1.0, 1.0).backward()
    assert s.grad == 1.0


def test_sqrt_and_norm_at_zero_are_not_nan():
    assert grad_of(ag.sqrt, [0.0, 4.0]).tolist() == [0.0, 0.25]
    assert grad_of(lambda x: ag.sqrt(x * x), [0.0, -3.0]).tolist() == [0.0, -1.0]
    assert grad_of(ag.norm, [0.0, 0.0]).tolist() == [0.0, 0.0]
    x = ag.Tensor(np.zeros(2), requires_grad=True)
    (g,) = ag.grad(ag.sqrt(x * x + x).sum(), x, create_graph=True)
    g.sum().backward()
    assert np.isfinite(x.grad.data).all()


def test_relu_maximum_where_agree_away_from_zero_and_differ_only_at_the_tie():
    pts = [-2.0, -0.5, 0.5, 3.0]
    r = grad_of(ag.relu, pts)
    m = grad_of(lambda x: ag.maximum(x, 0.0), pts)
    w = grad_of(lambda x: ag.where(x > 0, x, 0.0), pts)
    np.testing.assert_array_equal(r, m)
    np.testing.assert_array_equal(r, w)
    # At exactly 0 maximum(x, 0) is a tie (documented): 1/2, a valid subgradient.
    assert grad_of(ag.relu, [0.0])[0] == 0.0
    assert grad_of(lambda x: ag.where(x > 0, x, 0.0), [0.0])[0] == 0.0
    assert grad_of(lambda x: ag.maximum(x, 0.0), [0.0])[0] == 0.5


@pytest.mark.parametrize("logit", [1e4, -1e4])
def test_stable_softmax_family_at_extreme_logits(logit):
    x = ag.Tensor(np.array([[logit, 0.0, -logit]], dtype=np.float32), requires_grad=True)
    ls = ag.log_softmax(x, axis=1)
    assert np.isfinite(ls.data).all()
    (ls[0, 0] + ag.softmax(x, 1).sum() + ag.logsumexp(x)).backward()
    assert np.isfinite(x.grad.data).all()


def test_sigmoid_is_stable_at_both_tails():
    g = grad_of(ag.sigmoid, [-1000.0, 1000.0, 0.0])
    assert np.isfinite(g).all() and g[2] == 0.25
    assert ag.sigmoid(ag.tensor([-1000.0, 1000.0])).tolist() == [0.0, 1.0]
