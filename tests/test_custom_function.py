"""User-defined ops (issue G): a round trip, higher order, drawing name, a wrong backward caught."""

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.testing import GradcheckError, check_grads


class Log1pExp(ag.Function):
    """log(1 + e^x), stable for large |x|."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.logaddexp(0.0, x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ag.sigmoid(x)


class WrongSquare(ag.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x  # should be 2x


class ScaledMul(ag.Function):
    """x * y * k for a constant k: two tensor inputs and a plain number."""

    @staticmethod
    def forward(ctx, x, y, k):
        ctx.save_for_backward(x, y)
        ctx.k = k
        return x * y * k

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return grad * y * ctx.k, grad * x * ctx.k, None


def test_custom_op_forward_backward_and_stability():
    x = ag.tensor([-800.0, 0.0, 3.0, 800.0], requires_grad=True)
    y = Log1pExp.apply(x)
    assert np.isfinite(y.data).all() and y.op_name == "Log1pExp"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 1 / (1 + np.exp(-x.data.astype(float))), rtol=1e-6)


def test_custom_op_passes_check_grads_first_and_second_order():
    x = ag.Tensor(np.array([-2.0, 0.3, 1.7]), requires_grad=True)
    check_grads(Log1pExp.apply, x, order=2)
    y = ag.Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    check_grads(lambda a, b: ScaledMul.apply(a, b, 3.0), x, y, order=2)


def test_wrong_custom_backward_is_caught_and_named():
    x = ag.Tensor(np.array([0.5, 1.5]), requires_grad=True)
    with pytest.raises(GradcheckError, match="WrongSquare"):
        check_grads(lambda t: WrongSquare.apply(t).sum() * 2, x)


def test_custom_op_in_drawing():
    x = ag.tensor([1.0], requires_grad=True)
    dot = ag.to_dot(Log1pExp.apply(x).sum())
    assert "Log1pExp" in dot


def test_backward_must_return_one_grad_per_input():
    class Bad(ag.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, grad):
            return grad

    a = ag.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Bad.backward returned 1 gradients for 2 inputs"):
        Bad.apply(a, a).sum().backward()
