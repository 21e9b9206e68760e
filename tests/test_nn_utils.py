"""nn.utils: gradient clipping, flat parameter vectors, the L2 penalty, unused parameters."""

import math

import numpy as np
import pytest

import autograd_core as ag
import nn
from nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    l2_penalty,
    parameters_to_vector,
    unused_parameters,
    vector_to_parameters,
)


def with_grads(*grads):
    params = []
    for g in grads:
        p = nn.Parameter(np.zeros_like(g))
        p.grad = ag.Tensor(g)
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_scales_all_gradients_together(norm_type):
    g1, g2 = np.array([3.0, -4.0]), np.array([[12.0]])
    params = with_grads(g1, g2)
    flat = np.concatenate([g1, g2.ravel()])
    total = np.linalg.norm(flat, norm_type)
    assert clip_grad_norm_(params, 2.0, norm_type).item() == pytest.approx(total)
    coef = 2.0 / (total + 1e-6)
    np.testing.assert_allclose(params[0].grad.data, g1 * coef)
    np.testing.assert_allclose(params[1].grad.data, g2 * coef)
    assert clip_grad_norm_(params, 100.0, norm_type).item() == pytest.approx(2.0, rel=1e-5)
    np.testing.assert_allclose(params[0].grad.data, g1 * coef)  # below max_norm: untouched


@pytest.mark.parametrize("form", ["generator", "list", "single tensor"])
def test_clipping_takes_a_generator_a_list_or_one_tensor(form):
    """``clip_grad_norm_(model.parameters(), ...)`` is how everyone calls it: the generator
    must be read once, not once for the norm and again (empty) for the scaling."""
    model = nn.Linear(3, 2)
    if form == "single tensor":
        model.bias.requires_grad_(False)
    for p in model.parameters():
        p.grad = ag.Tensor(np.full(p.shape, 10.0, np.float32))
    chosen = [p for p in model.parameters() if p.requires_grad]
    arg = {"generator": (p for p in chosen), "list": chosen,
           "single tensor": model.weight}[form]
    total = clip_grad_norm_(arg, 1.0).item()
    assert total == pytest.approx(10.0 * math.sqrt(sum(p.data.size for p in chosen)))
    norm = math.sqrt(sum(float(np.sum(p.grad.data.astype(np.float64) ** 2)) for p in chosen))
    assert norm == pytest.approx(1.0, rel=1e-5)
    arg = {"generator": (p for p in chosen), "list": chosen,
           "single tensor": model.weight}[form]
    clip_grad_value_(arg, 0.01)
    for p in chosen:
        assert np.abs(p.grad.data).max() <= 0.01 + 1e-9


def test_clipping_never_writes_into_a_shared_gradient_array():
    shared = np.array([30.0, 40.0])
    a, b = with_grads(shared, shared)
    b.grad = a.grad  # one gradient tensor held by two parameters
    clip_grad_norm_([a], 1.0)
    clip_grad_value_([b], 0.5)
    np.testing.assert_array_equal(shared, [30.0, 40.0])
    np.testing.assert_allclose(a.grad.data, [0.6, 0.8], rtol=1e-5)
    np.testing.assert_array_equal(b.grad.data, [0.5, 0.5])


def test_clip_grad_norm_nonfinite_and_no_grads():
    params = with_grads(np.array([np.inf, 1.0]))
    with pytest.raises(RuntimeError, match="inf"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_([nn.Parameter(np.zeros(2))], 1.0).item() == 0.0


def test_clip_grad_value_keeps_dtype():
    (p,) = with_grads(np.array([-3.0, 0.2, 9.0], dtype=np.float32))
    clip_grad_value_(p, 1.0)
    assert p.grad.dtype == np.float32
    np.testing.assert_allclose(p.grad.data, [-1.0, 0.2, 1.0])


def test_vector_round_trip_and_differentiability():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (3 * 2 + 2 + 2 + 1,)
    (vec * vec).sum().backward()
    np.testing.assert_allclose(model[0].weight.grad.data, 2 * model[0].weight.data)
    target = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vector_to_parameters(vec, target.parameters())
    x = ag.randn(4, 3)
    np.testing.assert_array_equal(target(x).data, model(x).data)
    with pytest.raises(ValueError, match="11 elements"):
        vector_to_parameters(ag.zeros(5), target.parameters())


def test_l2_penalty_covers_weights_only():
    """Seed 001 §3.3.2: (λ/2)·Σ‖W‖², biases (and normalisation parameters) excluded."""
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Conv2d(1, 2, 2))
    weights = [model[0].weight.data, model[2].weight.data]
    expected = 0.05 * sum((w.astype(np.float64) ** 2).sum() for w in weights)
    assert l2_penalty(model, 0.1).item() == pytest.approx(expected, rel=1e-6)
    b = model[0].bias
    assert l2_penalty([b], 2.0).item() == pytest.approx((b.data.astype(np.float64) ** 2).sum(),
                                                        rel=1e-6)
    assert l2_penalty(nn.ReLU(), 1.0).item() == 0.0


def test_unused_parameters_after_backward():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model[0](ag.ones(1, 2)).sum().backward()
    assert unused_parameters(model) == ["1.weight", "1.bias"]
