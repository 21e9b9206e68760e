"""optim: convergence on test functions, exact iterates against reference loops, and properties."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_core as ag
from optim import SGD, Adagrad, Adam, AdamW, Momentum, RMSprop, adam_update, sgd_update

# ---------------------------------------------------------------- convergence table
CURVATURE = np.array([1.0, 10.0])


def bowl(w):
    """½(x² + 10·y²): minimum 0 at the origin, condition number 10."""
    return 0.5 * (w * w * ag.Tensor(CURVATURE)).sum()


def rosenbrock(w):
    """(1 − x)² + 100·(y − x²)²: minimum 0 at (1, 1), at the end of a curved valley."""
    x, y = w[0], w[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


PROBLEMS = {  # loss, minimiser, distance counted as converged
    "bowl": (bowl, np.array([0.0, 0.0]), 1e-2),
    "rosenbrock": (rosenbrock, np.array([1.0, 1.0]), 1e-1),
}

CONVERGENCE = {  # optimizer, kwargs, step budget (about twice what each row needs)
    "SGD": (SGD, {"lr": 2e-3}, 6000),
    "SGD-momentum": (SGD, {"lr": 1e-3, "momentum": 0.9}, 1500),
    "SGD-dampening": (SGD, {"lr": 1e-3, "momentum": 0.9, "dampening": 0.5}, 3000),
    "SGD-nesterov": (SGD, {"lr": 1e-3, "momentum": 0.95, "nesterov": True}, 1000),
    "Momentum": (Momentum, {"lr": 1e-3}, 1500),
    "RMSprop": (RMSprop, {"lr": 1e-2}, 4500),
    "RMSprop-centered-momentum": (RMSprop, {"lr": 1e-2, "centered": True, "momentum": 0.9},
                                  1000),
    "Adam": (Adam, {"lr": 0.1}, 1500),
    "Adam-amsgrad": (Adam, {"lr": 0.1, "amsgrad": True}, 1500),
    "AdamW": (AdamW, {"lr": 0.1, "weight_decay": 1e-4}, 1500),
    "Adagrad": (Adagrad, {"lr": 1.0}, 5000),
}


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("name", CONVERGENCE)
def test_converges(name, problem):
    cls, kwargs, budget = CONVERGENCE[name]
    loss_fn, minimiser, tolerance = PROBLEMS[problem]
    w = ag.Tensor(np.array([-1.2, 1.0]), requires_grad=True)
    opt = cls([w], **kwargs)
    for _ in range(budget):
        opt.zero_grad()
        loss_fn(w).backward()
        opt.step()
        if np.linalg.norm(w.data - minimiser) < tolerance:
            break
    assert np.linalg.norm(w.data - minimiser) < tolerance, (
        f"{name} did not converge on {problem} in {budget} steps: w = {w.data}")


# ---------------------------------------------------------------- exact-iterate oracles
A = np.array([[3.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 2.0]])
B = np.array([1.0, -2.0, 0.5])
W0 = np.array([0.3, -0.7, 1.1])
STEPS = 30


def gradient(w):
    return A @ w - B


def quadratic(w):
    return 0.5 * (w @ (ag.Tensor(A) @ w)) - (ag.Tensor(B) * w).sum()


def polyak_momentum(lr, mu):
    """Heavy ball as in the seeds: v ← μv − ηg, θ ← θ + v, v₀ = 0."""
    w, v = W0.copy(), np.zeros(3)
    for _ in range(STEPS):
        v = mu * v - lr * gradient(w)
        w = w + v
        yield w


def dampened_momentum(lr, mu, tau):
    """PyTorch's documented rule: b₁ = g₁, then b ← μb + (1 − τ)g; θ ← θ − ηb."""
    w, b = W0.copy(), None
    for _ in range(STEPS):
        g = gradient(w)
        b = g if b is None else mu * b + (1 - tau) * g
        w = w - lr * b
        yield w


def sutskever_nesterov(lr, mu):
    """Sutskever et al. 2013: v ← μv − η∇f(θ + μv), θ ← θ + v.  PyTorch's iterate is the
    look-ahead point θ + μv (Nesterov's defining identity), which is what we yield."""
    theta, v = W0.copy(), np.zeros(3)
    for _ in range(STEPS):
        v = mu * v - lr * gradient(theta + mu * v)
        theta = theta + v
        yield theta + mu * v


def tieleman_hinton_rmsprop(lr, alpha, eps, momentum=0.0, centered=False):
    """RMSProp, Graves 2013's centred variant and momentum on the normalised step."""
    w, s, a, buf = W0.copy(), np.zeros(3), np.zeros(3), np.zeros(3)
    for _ in range(STEPS):
        g = gradient(w)
        s = alpha * s + (1 - alpha) * g**2
        a = alpha * a + (1 - alpha) * g
        rms = np.sqrt(s - a**2) if centered else np.sqrt(s)
        buf = momentum * buf + g / (rms + eps)
        w = w - lr * buf
        yield w


def kingma_ba_adam(lr, beta1, beta2, eps, amsgrad=False):
    """Kingma & Ba 2015, Algorithm 1 (AMSGrad: the max of v, bias-corrected as PyTorch)."""
    w, m, v, v_max = W0.copy(), np.zeros(3), np.zeros(3), np.zeros(3)
    for t in range(1, STEPS + 1):
        g = gradient(w)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - beta1**t)
        v_hat = (v_max if amsgrad else v) / (1 - beta2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        yield w


def loshchilov_hutter_adamw(lr, beta1, beta2, eps, decay):
    """Loshchilov & Hutter 2019, Algorithm 2 with schedule multiplier η_t = lr and α = 1:
    θ ← θ − η_t·(α·m̂/(√v̂ + ε) + λθ), everything evaluated at the old θ."""
    w, m, v = W0.copy(), np.zeros(3), np.zeros(3)
    for t in range(1, STEPS + 1):
        g = gradient(w)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        w = w - lr * (m_hat / (np.sqrt(v_hat) + eps) + decay * w)
        yield w


def duchi_adagrad(lr, lr_decay, eps, initial):
    """Diagonal AdaGrad, Duchi et al. 2011, with PyTorch's lr decay η/(1 + (t − 1)·δ)."""
    w, total = W0.copy(), np.full(3, initial)
    for t in range(1, STEPS + 1):
        g = gradient(w)
        total = total + g**2
        w = w - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(total) + eps)
        yield w


ORACLES = {
    "SGD-momentum": (SGD, {"lr": 0.05, "momentum": 0.9}, lambda: polyak_momentum(0.05, 0.9)),
    "Momentum": (Momentum, {"lr": 0.05}, lambda: polyak_momentum(0.05, 0.9)),
    "SGD-dampening": (SGD, {"lr": 0.05, "momentum": 0.8, "dampening": 0.3},
                      lambda: dampened_momentum(0.05, 0.8, 0.3)),
    "SGD-nesterov": (SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True},
                     lambda: sutskever_nesterov(0.05, 0.9)),
    "RMSprop": (RMSprop, {"lr": 0.01, "alpha": 0.9}, lambda: tieleman_hinton_rmsprop(
        0.01, 0.9, 1e-8)),
    "RMSprop-centered-momentum": (
        RMSprop, {"lr": 0.01, "alpha": 0.9, "centered": True, "momentum": 0.5},
        lambda: tieleman_hinton_rmsprop(0.01, 0.9, 1e-8, momentum=0.5, centered=True)),
    "Adam": (Adam, {"lr": 0.05}, lambda: kingma_ba_adam(0.05, 0.9, 0.999, 1e-8)),
    "Adam-amsgrad": (Adam, {"lr": 0.05, "betas": (0.5, 0.6), "amsgrad": True},
                     lambda: kingma_ba_adam(0.05, 0.5, 0.6, 1e-8, amsgrad=True)),
    "AdamW": (AdamW, {"lr": 0.05, "weight_decay": 0.2},
              lambda: loshchilov_hutter_adamw(0.05, 0.9, 0.999, 1e-8, 0.2)),
    "Adagrad": (Adagrad, {"lr": 0.3, "lr_decay": 0.1, "initial_accumulator_value": 0.5},
                lambda: duchi_adagrad(0.3, 0.1, 1e-10, 0.5)),
}


@pytest.mark.parametrize("name", ORACLES)
def test_iterates_equal_the_reference_loop(name):
    cls, kwargs, reference = ORACLES[name]
    w = ag.Tensor(W0.copy(), requires_grad=True)
    opt = cls([w], **kwargs)
    for t, expected in enumerate(reference(), start=1):
        opt.zero_grad()
        quadratic(w).backward()
        opt.step()
        np.testing.assert_allclose(w.data, expected, rtol=1e-10, atol=1e-12,
                                   err_msg=f"{name}, step {t}")


def test_amsgrad_oracle_exercises_the_running_max():
    """The AMSGrad row above is only meaningful if v shrinks somewhere on its trajectory."""
    w, state, previous, shrank = W0.copy(), None, np.zeros(3), False
    for _ in range(STEPS):
        w, state = adam_update(w, gradient(w), state, lr=0.05, betas=(0.5, 0.6), amsgrad=True)
        shrank |= bool(np.any(state.exp_avg_sq < previous))
        previous = state.exp_avg_sq
    assert shrank


# ---------------------------------------------------------------- properties
vectors = hnp.arrays(np.float64, 3, elements=st.floats(-2, 2))


def run(opt, w, loss_fn, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(w).backward()
        opt.step()
    return w.data.copy()


@given(w0=vectors, lr=st.floats(0, 0.3), dampening=st.floats(0, 1),
       weight_decay=st.floats(0, 1))
def test_momentum_zero_is_plain_sgd(w0, lr, dampening, weight_decay):
    w = ag.Tensor(w0.copy(), requires_grad=True)
    opt = SGD([w], lr=lr, momentum=0, dampening=dampening, weight_decay=weight_decay)
    expected = w0.copy()
    for _ in range(5):
        expected = expected - lr * (gradient(expected) + weight_decay * expected)
    np.testing.assert_allclose(run(opt, w, quadratic, 5), expected, rtol=1e-12, atol=1e-12)


@given(param=vectors, grad=vectors, lr=st.floats(0, 1))
def test_nesterov_with_zero_momentum_is_plain_sgd_in_the_pure_update(param, grad, lr):
    """The update rule reduces to SGD; the SGD class, like PyTorch, refuses this combination
    (nesterov=True needs momentum > 0: see test_optim's validation table)."""
    new, state = sgd_update(param, grad, None, lr=lr, momentum=0.0, nesterov=True)
    np.testing.assert_array_equal(new, param - lr * grad)
    assert state.momentum_buffer is None
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum > 0"):
        SGD([ag.Tensor(param, requires_grad=True)], lr=lr, momentum=0.0, nesterov=True)


@given(scale=st.floats(1e-2, 1e2), amsgrad=st.booleans())
def test_adam_is_invariant_to_scaling_the_loss(scale, amsgrad):
    base = ag.Tensor(W0.copy(), requires_grad=True)
    scaled = ag.Tensor(W0.copy(), requires_grad=True)
    kwargs = {"lr": 0.05, "amsgrad": amsgrad}
    expected = run(Adam([base], **kwargs), base, quadratic, 10)
    got = run(Adam([scaled], **kwargs), scaled, lambda w: scale * quadratic(w), 10)
    # Only ε breaks the invariance: |Δ| ≲ steps·lr·ε/|g·scale| ≈ 10·0.05·1e-8/1e-2.
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@given(grad=hnp.arrays(np.float64, 4, elements=st.floats(1e-3, 1e3) | st.floats(-1e3, -1e-3)),
       lr=st.floats(1e-4, 1))
def test_adam_first_step_is_lr_times_sign(grad, lr):
    new, _ = adam_update(np.zeros(4), grad, None, lr=lr)
    np.testing.assert_allclose(new, -lr * np.sign(grad), rtol=1e-4)


@given(w0=vectors, decay=st.floats(0, 1), momentum=st.sampled_from([0.0, 0.9]))
def test_sgd_weight_decay_equals_an_l2_penalty_in_the_loss(w0, decay, momentum):
    decayed = ag.Tensor(w0.copy(), requires_grad=True)
    penalised = ag.Tensor(w0.copy(), requires_grad=True)
    expected = run(SGD([decayed], lr=0.05, momentum=momentum, weight_decay=decay),
                   decayed, quadratic, 8)
    got = run(SGD([penalised], lr=0.05, momentum=momentum), penalised,
              lambda w: quadratic(w) + (decay / 2) * (w * w).sum(), 8)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@given(split=st.integers(0, 6))
def test_state_dict_round_trip_at_any_step(split):
    w = ag.Tensor(W0.copy(), requires_grad=True)
    opt = Adam([w], lr=0.05, amsgrad=True)
    run(opt, w, quadratic, split)
    saved, saved_w = opt.state_dict(), w.data.copy()
    expected = run(opt, w, quadratic, 6 - split)
    again = ag.Tensor(saved_w, requires_grad=True)
    resumed = Adam([again], lr=0.05, amsgrad=True)
    resumed.load_state_dict(saved)
    np.testing.assert_array_equal(run(resumed, again, quadratic, 6 - split), expected)


def test_adagrad_effective_step_only_shrinks():
    """The seeds' remark: AdaGrad's per-coordinate step size η/(√G + ε) never grows."""
    w = ag.Tensor(W0.copy(), requires_grad=True)
    opt = Adagrad([w], lr=0.3)
    sizes = []
    for _ in range(20):
        run(opt, w, quadratic, 1)
        sizes.append(0.3 / (np.sqrt(opt.state[w].sum) + 1e-10))
    assert np.all(np.diff(np.array(sizes), axis=0) <= 0)
