"""Function transforms (issue G) against closed forms and finite differences of grad."""

import math

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import func
from autograd_core.testing import check_grads

RNG = np.random.default_rng(7)
A = RNG.standard_normal((3, 3))
SYM = A + A.T


# name -> (f, gradient, hessian) closed forms on a 3-vector
TABLE = {
    "quadratic": (lambda x: (x * (ag.Tensor(SYM) @ x)).sum() / 2,
                  lambda x: SYM @ x, lambda x: SYM),
    "cubic": (lambda x: (x ** 3).sum(), lambda x: 3 * x ** 2, lambda x: np.diag(6 * x)),
    "logsumexp": (ag.logsumexp,
                  lambda x: np.exp(x) / np.exp(x).sum(),
                  lambda x: np.diag(p := np.exp(x) / np.exp(x).sum()) - np.outer(p, p)),
    "sin_dot": (lambda x: ag.sin(x).sum() * x[0],
                lambda x: np.cos(x) * x[0] + np.eye(3)[0] * np.sin(x).sum(),
                lambda x: (np.diag(-np.sin(x)) * x[0] + np.outer(np.eye(3)[0], np.cos(x))
                           + np.outer(np.cos(x), np.eye(3)[0]))),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_grad_hessian_hvp_against_closed_forms(name):
    f, g, h = TABLE[name]
    x = ag.Tensor(RNG.standard_normal(3))
    np.testing.assert_allclose(func.grad(f)(x).data, g(x.data), rtol=1e-9, atol=1e-12)
    H = func.hessian(f)(x).data
    np.testing.assert_allclose(H, h(x.data), rtol=1e-9, atol=1e-12)
    v = RNG.standard_normal(3)
    value, (hv,) = func.hvp(f, (x,), (ag.Tensor(v),))
    np.testing.assert_allclose(hv.data, h(x.data) @ v, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(value.data, f(x).data)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_second_order_against_finite_differences(name):
    f = TABLE[name][0]
    x = ag.Tensor(RNG.standard_normal(3), requires_grad=True)
    check_grads(f, x, order=2)


def test_jacobian_rev_and_fwd_agree_with_closed_form():
    def f(x):
        return ag.tanh(ag.Tensor(A) @ x) * x[1]

    x = ag.Tensor(RNG.standard_normal(3))
    t = np.tanh(A @ x.data)
    expect = (np.diag(1 - t ** 2) @ A) * x.data[1] + np.outer(t, np.eye(3)[1])
    for mode in ("rev", "fwd"):
        np.testing.assert_allclose(func.jacobian(f, mode=mode)(x).data, expect, rtol=1e-9)


def test_jvp_and_vjp():
    def f(x):
        return ag.exp(x) * x

    x = ag.Tensor(np.array([0.5, -1.0]))
    t = ag.Tensor(np.array([1.0, 2.0]))
    out, jt = func.jvp(f, (x,), (t,))
    d = np.exp(x.data) * (1 + x.data)
    np.testing.assert_allclose(jt.data, d * t.data)
    out2, vjp_fn = func.vjp(f, x)
    for v in ([1.0, 0.0], [3.0, -1.0]):  # reusable
        (gx,) = vjp_fn(ag.Tensor(np.array(v)))
        np.testing.assert_allclose(gx.data, d * np.array(v))
    np.testing.assert_allclose(out.data, out2.data)


def test_argnums_has_aux_and_value_and_grad():
    def f(x, y):
        loss = (x * y * y).sum()
        return loss, {"loss": loss.item()}

    x, y = ag.tensor([1.0, 2.0]), ag.tensor([3.0, 4.0])
    (gx, gy), aux = func.grad(f, argnums=(0, 1), has_aux=True)(x, y)
    np.testing.assert_allclose(gx.data, y.data ** 2)
    np.testing.assert_allclose(gy.data, 2 * x.data * y.data)
    assert aux == {"loss": 41.0}
    (value, aux2), gy2 = func.value_and_grad(f, argnums=1, has_aux=True)(x, y)
    assert value.item() == 41.0 and aux2 == aux
    np.testing.assert_allclose(gy2.data, gy.data)


def test_grad_of_grad_composes_for_scalars_and_tensors():
    f = func.grad(func.grad(lambda x: x * x * x))
    assert f(2.0) == 12.0
    assert math.isclose(func.grad(func.grad(lambda s: s.sin()))(0.3), -math.sin(0.3))
    third = func.grad(func.grad(func.grad(lambda x: (x ** 4).sum())))
    with pytest.raises(TypeError, match="one-element"):
        third(ag.tensor([1.0, 2.0]))  # the inner grad is a vector: not a scalar function
    g2 = func.grad(lambda x: func.grad(lambda y: (y ** 4).sum())(x).sum())
    np.testing.assert_allclose(g2(ag.tensor([1.0, 2.0])).data, 12 * np.array([1.0, 4.0]))


def test_transform_leaves_inputs_untouched_and_results_plain():
    x = ag.tensor([1.0, 2.0])
    g = func.grad(lambda t: (t * t).sum())(x)
    assert not x.requires_grad and x.grad is None
    assert not g.requires_grad and g.is_leaf


def test_grad_needs_scalar_output():
    with pytest.raises(TypeError, match=r"one-element Tensor or a Scalar.*\(2,\)"):
        func.grad(lambda x: x * 2)(ag.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="argnums 3 is out of range"):
        func.grad(lambda x: x.sum(), argnums=3)(ag.tensor([1.0]))


def test_newton_method_with_hvp_converges_quadratically():
    # f(x) = sum(exp(x) - 2x): minimum at log 2; Newton on the diagonal Hessian via hvp.
    def f(x):
        return (ag.exp(x) - 2 * x).sum()

    x = ag.Tensor(np.array([1.5, -0.5]))
    for _ in range(8):
        g = func.grad(f)(x)
        _, (hd,) = func.hvp(f, (x,), (ag.Tensor(np.ones(2)),))  # diag H @ 1 = diag H
        x = ag.Tensor(x.data - g.data / hd.data)
    np.testing.assert_allclose(x.data, np.log(2.0), rtol=1e-12)


def test_softplus_and_bce_second_derivative_at_zero_logit():
    # Newton's method on logistic regression starts at w = 0, where every logit is 0:
    # sigma'(0) = 1/4 must hold there (a max(z, 0)-based softplus gives 0).
    import nn

    def bce(z):
        return nn.functional.binary_cross_entropy_with_logits(z, ag.Tensor(np.ones(1)))

    z = ag.Tensor(np.zeros(1))
    np.testing.assert_allclose(func.hessian(bce)(z).data, [[0.25]])
    np.testing.assert_allclose(func.hessian(lambda t: nn.functional.softplus(t).sum())(z).data,
                               [[0.25]])
