"""optim: hand-computed steps of every update rule, and the Optimizer shell's behaviour."""

import tracemalloc

import numpy as np
import pytest

import autograd_core as ag
from optim import (
    SGD,
    Adagrad,
    Adam,
    AdamState,
    AdamW,
    Momentum,
    Optimizer,
    RMSprop,
    SGDState,
    adagrad_update,
    adam_update,
    adamw_update,
    rmsprop_update,
    sgd_update,
)

THETA0 = [1.0, -2.0]


def two_steps_on_half_squared_norm(update, **hyper):
    """Two steps on L(θ) = ½‖θ‖² (so the gradient is θ itself) from θ₀ = [1, −2]."""
    theta, state, iterates, states = np.array(THETA0), None, [], []
    for _ in range(2):
        theta, state = update(theta, theta, state, **hyper)
        iterates.append(theta)
        states.append(state)
    return iterates, states


# ---------------------------------------------------------------- hand-computed steps
def test_sgd_two_steps_by_hand():
    # θ ← θ − 0.1·θ = 0.9·θ twice.
    (t1, t2), _ = two_steps_on_half_squared_norm(sgd_update, lr=0.1)
    np.testing.assert_allclose(t1, [0.9, -1.8], rtol=1e-14)
    np.testing.assert_allclose(t2, [0.81, -1.62], rtol=1e-14)


def test_sgd_weight_decay_two_steps_by_hand():
    # g + λθ = 1.1·θ, so θ ← (1 − 0.11)·θ = 0.89·θ each step.
    (t1, t2), _ = two_steps_on_half_squared_norm(sgd_update, lr=0.1, weight_decay=0.1)
    np.testing.assert_allclose(t1, [0.89, -1.78], rtol=1e-14)
    np.testing.assert_allclose(t2, [0.7921, -1.5842], rtol=1e-14)


def test_sgd_momentum_two_steps_by_hand():
    # Step 1: b = g = [1, −2], θ = [0.9, −1.8].
    # Step 2: b = 0.9·[1, −2] + [0.9, −1.8] = [1.8, −3.6], θ = [0.9 − 0.18, −1.8 + 0.36].
    (t1, t2), (s1, s2) = two_steps_on_half_squared_norm(sgd_update, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(t1, [0.9, -1.8], rtol=1e-14)
    np.testing.assert_allclose(s1.momentum_buffer, [1.0, -2.0], rtol=1e-14)
    np.testing.assert_allclose(s2.momentum_buffer, [1.8, -3.6], rtol=1e-14)
    np.testing.assert_allclose(t2, [0.72, -1.44], rtol=1e-14)


def test_sgd_dampening_skips_the_first_step_by_hand():
    # Step 1 (PyTorch): b = g, undampened.  Step 2: b = 0.9·[1, −2] + 0.5·[0.9, −1.8].
    (_, t2), (s1, s2) = two_steps_on_half_squared_norm(
        sgd_update, lr=0.1, momentum=0.9, dampening=0.5)
    np.testing.assert_allclose(s1.momentum_buffer, [1.0, -2.0], rtol=1e-14)
    np.testing.assert_allclose(s2.momentum_buffer, [1.35, -2.7], rtol=1e-14)
    np.testing.assert_allclose(t2, [0.765, -1.53], rtol=1e-14)


def test_sgd_nesterov_two_steps_by_hand():
    # Step 1: b = [1, −2]; step direction g + 0.9·b = [1.9, −3.8]; θ = [0.81, −1.62].
    # Step 2: b = 0.9·[1, −2] + [0.81, −1.62] = [1.71, −3.42];
    #         direction [0.81 + 1.539, −1.62 − 3.078] = [2.349, −4.698].
    (t1, t2), (_, s2) = two_steps_on_half_squared_norm(
        sgd_update, lr=0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(t1, [0.81, -1.62], rtol=1e-14)
    np.testing.assert_allclose(s2.momentum_buffer, [1.71, -3.42], rtol=1e-14)
    np.testing.assert_allclose(t2, [0.5751, -1.1502], rtol=1e-14)


def test_rmsprop_two_steps_by_hand():
    # α = 0.75, η = 0.25.  Step 1: s = 0.25·[1, 4] = [0.25, 1], g/√s = [2, −2], θ = [0.5, −1.5].
    # Step 2: s = 0.75·[0.25, 1] + 0.25·[0.25, 2.25] = [0.25, 1.3125].
    (t1, t2), (s1, s2) = two_steps_on_half_squared_norm(rmsprop_update, lr=0.25, alpha=0.75)
    np.testing.assert_allclose(s1.square_avg, [0.25, 1.0], rtol=1e-14)
    np.testing.assert_allclose(t1, [0.5, -1.5], rtol=1e-7)  # ε = 1e-8 outside the root
    np.testing.assert_allclose(s2.square_avg, [0.25, 1.3125], rtol=1e-7)
    np.testing.assert_allclose(t2, [0.25, -1.5 + 0.25 * 1.5 / np.sqrt(1.3125)], rtol=1e-7)
    assert s2.step == 2 and s2.momentum_buffer is None and s2.grad_avg is None


def test_rmsprop_momentum_two_steps_by_hand():
    # b₁ = g/d = [2, −2]; b₂ = 0.5·b₁ + [1, −1.5/√1.3125]; θ₂ = θ₁ − 0.25·b₂.
    (_, t2), (s1, _) = two_steps_on_half_squared_norm(
        rmsprop_update, lr=0.25, alpha=0.75, momentum=0.5)
    np.testing.assert_allclose(s1.momentum_buffer, [2.0, -2.0], rtol=1e-7)
    np.testing.assert_allclose(t2, [0.0, -1.25 + 0.375 / np.sqrt(1.3125)], atol=1e-7)


def test_rmsprop_centered_first_step_by_hand():
    # s = [0.25, 1], a = 0.25·g = [0.25, −0.5], s − a² = [0.1875, 0.75];
    # g/√(s − a²) = [1/√0.1875, −2/√0.75] = ±4/√3, so θ = θ₀ ∓ 1/√3.
    (t1, _), (s1, _) = two_steps_on_half_squared_norm(
        rmsprop_update, lr=0.25, alpha=0.75, centered=True)
    np.testing.assert_allclose(s1.grad_avg, [0.25, -0.5], rtol=1e-14)
    np.testing.assert_allclose(t1, [1 - 1 / np.sqrt(3), -2 + 1 / np.sqrt(3)], rtol=1e-7)


def test_adam_two_steps_by_hand():
    # β = (0.5, 0.75), η = 0.1.  Step 1: m = [0.5, −1], v = [0.25, 1]; m̂ = g, v̂ = g², so
    # θ = θ₀ − 0.1·sign(g) = [0.9, −1.9].  Step 2 (g = θ₁): m = [0.7, −1.45],
    # v = 0.75·[0.25, 1] + 0.25·[0.81, 3.61] = [0.39, 1.6525]; 1 − β₁² = 0.75, 1 − β₂² = 0.4375.
    (t1, t2), (s1, s2) = two_steps_on_half_squared_norm(adam_update, lr=0.1, betas=(0.5, 0.75))
    np.testing.assert_allclose(s1.exp_avg, [0.5, -1.0], rtol=1e-14)
    np.testing.assert_allclose(s1.exp_avg_sq, [0.25, 1.0], rtol=1e-14)
    np.testing.assert_allclose(t1, [0.9, -1.9], rtol=1e-8)
    np.testing.assert_allclose(s2.exp_avg, [0.7, -1.45], rtol=1e-8)
    np.testing.assert_allclose(s2.exp_avg_sq, [0.39, 1.6525], rtol=1e-8)
    expected = [0.9 - 0.1 * (0.7 / 0.75) / np.sqrt(0.39 / 0.4375),
                -1.9 + 0.1 * (1.45 / 0.75) / np.sqrt(1.6525 / 0.4375)]
    np.testing.assert_allclose(t2, expected, rtol=1e-8)
    assert s2.step == 2 and s2.max_exp_avg_sq is None


def test_amsgrad_two_steps_by_hand():
    # β = (0.5, 0.5), η = 1: step 1 moves to θ₁ ≈ [0, −1].  Step 2: v = 0.5·[0.5, 2] +
    # 0.5·[0, 1] = [0.25, 1.5] shrinks, so AMSGrad keeps v_max = v₁ = [0.5, 2];
    # m̂ = [1/3, −4/3], v̂ = v_max/0.75 = [2/3, 8/3] (plain Adam: v/0.75 = [1/3, 2]).
    (_, t2), (_, s2) = two_steps_on_half_squared_norm(
        adam_update, lr=1.0, betas=(0.5, 0.5), amsgrad=True)
    np.testing.assert_allclose(s2.max_exp_avg_sq, [0.5, 2.0], atol=1e-7)
    np.testing.assert_allclose(t2, [-(1 / 3) / np.sqrt(2 / 3), -1 + (4 / 3) / np.sqrt(8 / 3)],
                               atol=1e-7)
    (_, plain), _ = two_steps_on_half_squared_norm(adam_update, lr=1.0, betas=(0.5, 0.5))
    np.testing.assert_allclose(plain, [-(1 / 3) / np.sqrt(1 / 3), -1 + (4 / 3) / np.sqrt(2)],
                               atol=1e-7)


def test_adamw_two_steps_by_hand():
    # λ = 0.5, η = 0.1: each step first multiplies θ by 1 − 0.05 = 0.95.
    # Step 1: [0.95, −1.9] − 0.1·sign(g) = [0.85, −1.8].  Step 2 (g = θ₁, m and v from the
    # raw gradients): θ·0.95 = [0.8075, −1.71]; m = [0.675, −1.4]; v = [0.368125, 1.56].
    (t1, t2), _ = two_steps_on_half_squared_norm(
        adamw_update, lr=0.1, betas=(0.5, 0.75), weight_decay=0.5)
    np.testing.assert_allclose(t1, [0.85, -1.8], rtol=1e-8)
    expected = [0.8075 - 0.1 * (0.675 / 0.75) / np.sqrt(0.368125 / 0.4375),
                -1.71 + 0.1 * (1.4 / 0.75) / np.sqrt(1.56 / 0.4375)]
    np.testing.assert_allclose(t2, expected, rtol=1e-8)


def test_adam_l2_and_adamw_decoupled_decay_differ_by_hand():
    # θ = 1, g = −0.2, λ = 0.5, η = 0.1.  Adam (L2): g + λθ = 0.3 > 0, step −η: θ = 0.9.
    # AdamW: θ·(1 − ηλ) = 0.95, then the raw g < 0 steps +η: θ = 1.05.
    param, grad = np.array([1.0]), np.array([-0.2])
    l2, _ = adam_update(param, grad, None, lr=0.1, weight_decay=0.5)
    decoupled, _ = adamw_update(param, grad, None, lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(l2, [0.9], rtol=1e-7)
    np.testing.assert_allclose(decoupled, [1.05], rtol=1e-7)


def test_adagrad_two_steps_by_hand():
    # η = 0.5.  Step 1: G = [1, 4], θ = θ₀ − 0.5·[1, −1] = [0.5, −1.5].
    # Step 2: G = [1.25, 6.25], θ = [0.5 − 0.25/√1.25, −1.5 + 0.75/2.5].
    (t1, t2), (s1, s2) = two_steps_on_half_squared_norm(adagrad_update, lr=0.5)
    np.testing.assert_allclose(s1.sum, [1.0, 4.0], rtol=1e-14)
    np.testing.assert_allclose(t1, [0.5, -1.5], rtol=1e-9)
    np.testing.assert_allclose(s2.sum, [1.25, 6.25], rtol=1e-9)
    np.testing.assert_allclose(t2, [0.5 - 0.25 / np.sqrt(1.25), -1.2], rtol=1e-9)


def test_adagrad_lr_decay_and_initial_accumulator_by_hand():
    # G₀ = 1.  Step 1: η₁ = 0.5, G = [2, 5], θ₁ = [1 − 0.5/√2, −2 + 1/√5].
    # Step 2: η₂ = 0.5/(1 + 1·1) = 0.25, G = G₁ + θ₁², θ₂ = θ₁ − 0.25·θ₁/√G.
    (t1, t2), _ = two_steps_on_half_squared_norm(
        adagrad_update, lr=0.5, lr_decay=1.0, initial_accumulator_value=1.0)
    theta1 = np.array([1 - 0.5 / np.sqrt(2), -2 + 1 / np.sqrt(5)])
    np.testing.assert_allclose(t1, theta1, rtol=1e-9)
    np.testing.assert_allclose(
        t2, theta1 - 0.25 * theta1 / np.sqrt(np.array([2.0, 5.0]) + theta1**2), rtol=1e-9)


@pytest.mark.parametrize("update, hyper", [
    (sgd_update, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}),
    (rmsprop_update, {"momentum": 0.5, "centered": True, "weight_decay": 0.1}),
    (adam_update, {"amsgrad": True, "weight_decay": 0.1}),
    (adamw_update, {"amsgrad": True}),
    (adagrad_update, {"weight_decay": 0.1}),
], ids=lambda v: getattr(v, "__name__", ""))
def test_updates_are_pure(update, hyper):
    param, grad = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    _, state = update(param.copy(), grad.copy(), None, **hyper)
    saved = {k: np.copy(v) for k, v in state._asdict().items() if isinstance(v, np.ndarray)}
    update(param, grad, state, **hyper)
    np.testing.assert_array_equal(param, [1.0, -2.0])
    np.testing.assert_array_equal(grad, [0.5, 0.25])
    for k, v in saved.items():
        np.testing.assert_array_equal(getattr(state, k), v, err_msg=k)


@pytest.mark.parametrize("update, hyper", [
    (sgd_update, {"lr": 0.1, "momentum": 0.9, "dampening": 0.25, "weight_decay": 0.1}),
    (sgd_update, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    (rmsprop_update, {"momentum": 0.5, "centered": True, "weight_decay": 0.1}),
    (rmsprop_update, {}),
    (adam_update, {"amsgrad": True, "weight_decay": 0.1}),
    (adamw_update, {"amsgrad": True}),
    (adagrad_update, {"weight_decay": 0.1, "lr_decay": 0.5}),
], ids=lambda v: getattr(v, "__name__", ""))
def test_inplace_updates_match_the_pure_ones_bit_for_bit(update, hyper):
    rng = np.random.default_rng(0)
    grads = rng.standard_normal((4, 3)).astype(np.float32)
    param = rng.standard_normal(3).astype(np.float32)
    pure, pure_state = param.copy(), None
    live, live_state, scratch = param.copy(), None, np.empty_like(param)
    for g in grads:
        pure, pure_state = update(pure, g, pure_state, **hyper)
        before = [v for v in (live_state or ()) if isinstance(v, np.ndarray)]
        scratch.fill(np.nan)  # the work array's old contents must never leak into a result
        out, live_state = update(live, g, live_state, inplace=True, scratch=scratch, **hyper)
        assert out is live, "the parameter is updated in place"
        after = [v for v in live_state if isinstance(v, np.ndarray)]
        assert all(a is b for a, b in zip(before, after, strict=False)), "state arrays reused"
        owned = [*after, scratch]
        assert not any(np.shares_memory(a, b) for k, a in enumerate(owned)
                       for b in owned[k + 1:]), "no two state arrays (or the work array) alias"
        np.testing.assert_array_equal(live, pure)
        assert live.dtype == np.float32
        for a, b in zip(live_state, pure_state, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("update", [sgd_update, rmsprop_update, adam_update, adamw_update,
                                    adagrad_update], ids=lambda f: f.__name__)
def test_a_work_array_of_another_shape_or_dtype_is_refused(update):
    param, grad = np.zeros(3, np.float32), np.ones(3, np.float32)
    for scratch in (np.empty(2, np.float32), np.empty(3, np.float64)):
        with pytest.raises(ValueError, match=r"scratch must match the parameter \(shape \(3,\)"):
            update(param, grad, None, inplace=True, scratch=scratch)
        np.testing.assert_array_equal(param, 0.0)  # refused before anything was written
    for shared in (param, grad):
        with pytest.raises(ValueError, match="scratch must not share memory with the param"):
            update(param, grad, None, inplace=True, scratch=shared)
    np.testing.assert_array_equal(param, 0.0)
    np.testing.assert_array_equal(grad, 1.0)


def test_sgd_first_momentum_buffer_does_not_alias_the_gradient():
    grad = np.array([1.0, 2.0])
    _, state = sgd_update(np.zeros(2), grad, None, lr=0.1, momentum=0.9)
    grad[0] = 100.0
    np.testing.assert_array_equal(state.momentum_buffer, [1.0, 2.0])


# ---------------------------------------------------------------- the Optimizer shell
CONFIGS = {
    "SGD": (SGD, {"lr": 0.1}),
    "SGD-momentum": (SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    "SGD-nesterov": (SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    "Momentum": (Momentum, {"lr": 0.1}),
    "RMSprop": (RMSprop, {"lr": 0.01}),
    "RMSprop-centered": (RMSprop, {"lr": 0.01, "momentum": 0.5, "centered": True,
                                   "weight_decay": 0.1}),
    "Adam": (Adam, {"lr": 0.1}),
    "Adam-amsgrad": (Adam, {"lr": 0.1, "amsgrad": True, "weight_decay": 0.1}),
    "AdamW": (AdamW, {"lr": 0.1}),
    "AdamW-amsgrad": (AdamW, {"lr": 0.1, "amsgrad": True, "weight_decay": 0.3}),
    "Adagrad": (Adagrad, {"lr": 0.1}),
    "Adagrad-decay": (Adagrad, {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1,
                                "initial_accumulator_value": 0.2}),
}

A = np.array([[3.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 2.0]])
B = np.array([1.0, -2.0, 0.5])


def quadratic(w):
    """½ wᵀAw − bᵀw with the engine (the minimiser is A⁻¹b)."""
    a, b = ag.Tensor(A.astype(w.dtype)), ag.Tensor(B.astype(w.dtype))
    return 0.5 * (w @ (a @ w)) - (b * w).sum()


def train(opt, params, steps, loss_fn=quadratic):
    for _ in range(steps):
        opt.zero_grad()
        sum(loss_fn(p) for p in params).backward()
        opt.step()


def fresh_param(dtype=np.float64, value=(0.3, -0.7, 1.1)):
    return ag.Tensor(np.array(value, dtype=dtype), requires_grad=True)


@pytest.mark.parametrize("name", CONFIGS)
def test_step_writes_in_place(name):
    cls, kwargs = CONFIGS[name]
    w = fresh_param()
    array = w.data
    train(cls([w], **kwargs), [w], 3)
    assert w.data is array, "the parameter's array must be updated in place"
    assert not np.allclose(array, [0.3, -0.7, 1.1])
    assert w.is_leaf and w.requires_grad


# Steps of these configurations allocate nothing parameter-sized; L2 weight decay in Adam,
# RMSprop and Adagrad, and Nesterov's look-ahead each need one more temporary (documented).
ALLOCATION_FREE = {
    "SGD": {}, "SGD-momentum": {}, "Momentum": {}, "RMSprop": {"momentum": 0.5},
    "RMSprop-centered": {"weight_decay": 0.0}, "Adam": {}, "AdamW": {}, "AdamW-amsgrad": {},
    "Adagrad": {},
}


@pytest.mark.parametrize("name", ALLOCATION_FREE)
def test_steps_after_the_first_allocate_no_parameter_sized_array(name):
    cls, kwargs = CONFIGS[name]
    kwargs = {**kwargs, **ALLOCATION_FREE[name]}
    size = 1 << 16  # 256 KiB of float32: far above anything else a step allocates
    w = ag.Tensor(np.linspace(-1, 1, size, dtype=np.float32), requires_grad=True)
    w.grad = ag.Tensor(np.full(size, 0.5, np.float32))
    opt = cls([w], **kwargs)
    opt.step()  # the first step creates the state and the work array
    tracemalloc.start()  # numpy reports its array buffers to tracemalloc
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < w.data.nbytes // 4, f"{name}: a step allocated {peak} bytes"


def test_the_work_array_follows_a_replaced_parameter_array_and_is_not_state():
    w = fresh_param(np.float32)
    opt = SGD([w], lr=0.1, momentum=0.9)
    train(opt, [w], 2)
    w.data = np.zeros(5, np.float64)  # another shape and dtype
    w.grad = ag.Tensor(np.ones(5))
    opt.state[w] = SGDState(np.ones(5))
    opt.step()
    np.testing.assert_allclose(w.data, -0.1 * 1.9)
    assert set(opt.state_dict()["state"][0]) == {"momentum_buffer"}


def test_step_records_no_graph():
    params = [fresh_param() for _ in CONFIGS]
    optimizers = [cls([w], **kwargs) for w, (cls, kwargs) in zip(params, CONFIGS.values(),
                                                                 strict=True)]
    for w in params:
        quadratic(w).backward()
    live = ag.live_nodes()
    for opt in optimizers:
        opt.step()
    assert ag.live_nodes() == live
    assert all(w.is_leaf for w in params)


def test_step_bumps_the_version_so_a_stale_graph_refuses_backward():
    w = fresh_param()
    opt = SGD([w], lr=0.1)
    quadratic(w).backward()
    stale = (w * w).sum()  # saves w for its backward
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        stale.backward()


@pytest.mark.parametrize("name", CONFIGS)
def test_float32_parameters_and_state_stay_float32(name):
    cls, kwargs = CONFIGS[name]
    # numpy float64 hyper-parameters must not promote float32 arithmetic either.
    kwargs = {k: np.float64(v) if type(v) is float else v for k, v in kwargs.items()}
    w = fresh_param(np.float32)
    opt = cls([w], **kwargs)
    train(opt, [w], 3)
    assert w.dtype == np.float32
    arrays = [v for v in opt.state[w] if isinstance(v, np.ndarray)]
    assert all(a.dtype == np.float32 for a in arrays)
    # The pure function itself (whose result the shell would silently cast) keeps float32.
    new_param, _ = cls._update_fn(w.data, w.grad.data, opt.state[w], **opt.defaults)
    assert new_param.dtype == np.float32


def test_a_float64_gradient_does_not_promote_float32_state():
    w = fresh_param(np.float32)
    opt = Adam([w], lr=0.1)
    w.grad = ag.Tensor(np.array([0.5, -1.0, 2.0]))  # assigned by hand, float64
    opt.step()
    assert w.dtype == np.float32 and opt.state[w].exp_avg.dtype == np.float32


@pytest.mark.parametrize("name", CONFIGS)
def test_lr_zero_is_a_no_op(name):
    cls, kwargs = CONFIGS[name]
    w = fresh_param()
    train(cls([w], **{**kwargs, "lr": 0.0}), [w], 5)
    np.testing.assert_array_equal(w.data, [0.3, -0.7, 1.1])


@pytest.mark.parametrize("name", CONFIGS)
def test_state_dict_round_trip_resumes_identically(name):
    cls, kwargs = CONFIGS[name]
    w = fresh_param()
    opt = cls([w], **kwargs)
    train(opt, [w], 4)
    saved, saved_w = opt.state_dict(), w.data.copy()
    train(opt, [w], 6)
    # Saved arrays are copies: the six further steps did not change them.
    again = fresh_param(value=saved_w)
    resumed = cls([again], **{**kwargs, "lr": 123.0})  # the loaded groups restore lr
    resumed.load_state_dict(saved)
    train(resumed, [again], 6)
    np.testing.assert_array_equal(again.data, w.data)


def test_state_dict_layout_is_pytorch_like():
    w1, w2, frozen = fresh_param(), fresh_param(), fresh_param()
    opt = Adam([{"params": [w1, frozen]}, {"params": [w2], "lr": 0.5}])
    train(opt, [w1, w2], 1)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert [g["lr"] for g in sd["param_groups"]] == [1e-3, 0.5]
    assert sorted(sd["state"]) == [0, 2]  # no grad, no state
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][0]["step"] == 1
    assert sd["state"][0]["exp_avg"] is not opt.state[w1].exp_avg


def test_load_state_dict_rejects_mismatches():
    w = fresh_param()
    opt = SGD([w], lr=0.1, momentum=0.9)
    train(opt, [w], 1)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="param groups"):
        SGD([{"params": [fresh_param()]}, {"params": [fresh_param()]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="param group 0 has 1 parameters"):
        SGD([fresh_param(), fresh_param()], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\)"):
        SGD([ag.Tensor(np.zeros(2), requires_grad=True)], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="fields"):
        Adam([fresh_param()]).load_state_dict(sd)


def test_load_state_dict_casts_state_to_the_parameter_dtype():
    w = fresh_param()
    opt = Adam([w], lr=0.1)
    train(opt, [w], 2)
    w32 = fresh_param(np.float32)
    opt32 = Adam([w32], lr=0.1)
    opt32.load_state_dict(opt.state_dict())
    assert opt32.state[w32].exp_avg.dtype == np.float32 and opt32.state[w32].step == 2


def test_param_groups_use_their_own_hyper_parameters():
    slow, fast = fresh_param(), fresh_param()
    opt = SGD([{"params": [slow]}, {"params": fast, "lr": 0.5, "momentum": 0.5}], lr=0.1)
    (only,) = opt.param_groups[1]["params"]  # a bare Tensor becomes a one-element list
    assert only is fast
    train(opt, [slow, fast], 2)
    w0 = np.array([0.3, -0.7, 1.1])
    g0 = A @ w0 - B
    # Hand-derived two steps with an independent loop per group.
    s1 = w0 - 0.1 * g0
    np.testing.assert_allclose(slow.data, s1 - 0.1 * (A @ s1 - B), rtol=1e-12)
    f1 = w0 - 0.5 * g0
    np.testing.assert_allclose(fast.data, f1 - 0.5 * (0.5 * g0 + (A @ f1 - B)), rtol=1e-12)


def test_repr_lists_each_group_hyper_parameters():
    opt = SGD([{"params": [fresh_param()]}, {"params": [fresh_param()], "lr": 0.5}], lr=0.1)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 1" in text
    assert text.index("lr: 0.1") < text.index("Parameter Group 1") < text.index("lr: 0.5")


def test_add_param_group_fills_defaults_and_validates():
    opt = Adam([fresh_param()], lr=0.01, betas=(0.8, 0.9))
    opt.add_param_group({"params": [fresh_param()], "lr": 0.5})
    assert opt.param_groups[1]["betas"] == (0.8, 0.9) and opt.param_groups[1]["lr"] == 0.5
    with pytest.raises(ValueError, match=r"Adam: invalid betas\[1\] 1.0"):
        opt.add_param_group({"params": [fresh_param()], "betas": (0.9, 1.0)})
    assert len(opt.param_groups) == 2


def test_parameters_without_grad_are_skipped():
    used, unused = fresh_param(), fresh_param()
    opt = Adam([used, unused], lr=0.1)
    train(opt, [used], 2)
    np.testing.assert_array_equal(unused.data, [0.3, -0.7, 1.1])
    assert unused not in opt.state and opt.state[used].step == 2


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    w = fresh_param()
    opt = SGD([w], lr=0.1)
    quadratic(w).backward()
    held = w.grad
    opt.zero_grad(set_to_none=set_to_none)
    if set_to_none:
        assert w.grad is None
    else:
        assert w.grad is not held and w.grad.dtype == w.dtype
        np.testing.assert_array_equal(w.grad.data, np.zeros(3))
    assert np.any(held.data != 0), "a gradient someone holds is not modified"
    quadratic(w).backward()
    np.testing.assert_allclose(w.grad.data, A @ w.data - B, rtol=1e-12)


def test_step_with_closure_returns_the_loss_and_runs_it_with_grad_enabled():
    w = fresh_param()
    opt = SGD([w], lr=0.1)
    calls = []

    def closure():
        calls.append(ag.is_grad_enabled())
        opt.zero_grad()
        loss = quadratic(w)
        loss.backward()
        return loss

    with ag.no_grad():
        loss = opt.step(closure)
    assert calls == [True]
    w0 = np.array([0.3, -0.7, 1.1])
    assert loss.item() == pytest.approx(0.5 * w0 @ A @ w0 - B @ w0)
    np.testing.assert_allclose(w.data, w0 - 0.1 * (A @ w0 - B), rtol=1e-12)


def test_momentum_is_a_preset_of_sgd():
    assert issubclass(Momentum, SGD) and Momentum._update_fn is SGD._update_fn
    a, b = fresh_param(), fresh_param()
    preset, plain = Momentum([a], lr=0.05), SGD([b], lr=0.05, momentum=0.9)
    assert preset.defaults == plain.defaults
    train(preset, [a], 5)
    train(plain, [b], 5)
    np.testing.assert_array_equal(a.data, b.data)


def test_adamw_is_adam_with_decoupled_decay():
    assert issubclass(AdamW, Adam) and AdamW._record is AdamState
    assert AdamW([fresh_param()]).defaults["weight_decay"] == 1e-2
    param, grad = np.array([1.0, -2.0]), np.array([0.3, 0.1])
    no_decay, _ = adamw_update(param, grad, None, lr=0.1, weight_decay=0.0)
    np.testing.assert_array_equal(no_decay, adam_update(param, grad, None, lr=0.1)[0])


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("cls, kwargs, message", [
    (SGD, {"lr": -0.1}, r"SGD: invalid lr -0.1; it must lie in \[0, inf\)"),
    (SGD, {"lr": float("nan")}, "SGD: invalid lr nan"),
    (SGD, {"lr": 0.1, "momentum": -0.5}, "SGD: invalid momentum -0.5"),
    (SGD, {"lr": 0.1, "weight_decay": -1}, "SGD: invalid weight_decay -1"),
    (SGD, {"lr": 0.1, "dampening": 1.5}, r"SGD: invalid dampening 1.5; it must lie in \[0, 1\]"),
    # PyTorch's rule: Nesterov needs momentum > 0 and zero dampening.
    (SGD, {"lr": 0.1, "nesterov": True}, "Nesterov momentum requires a momentum > 0"),
    (SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True},
     "zero dampening, got momentum=0.9 and dampening=0.1"),
    (Momentum, {"lr": 0.1, "momentum": -0.9}, "Momentum: invalid momentum -0.9"),
    (RMSprop, {"alpha": 1.5}, r"RMSprop: invalid alpha 1.5; it must lie in \[0, 1\]"),
    (RMSprop, {"eps": 0.0}, r"RMSprop: invalid eps 0.0; it must lie in \(0, inf\)"),
    (RMSprop, {"momentum": -1.0}, "RMSprop: invalid momentum"),
    (Adam, {"betas": (1.0, 0.999)}, r"Adam: invalid betas\[0\] 1.0; it must lie in \[0, 1\)"),
    (Adam, {"betas": (0.9, -0.1)}, r"Adam: invalid betas\[1\] -0.1"),
    (Adam, {"betas": 0.9}, "Adam: betas must be a pair"),
    (Adam, {"eps": -1e-8}, "Adam: invalid eps"),
    (Adam, {"lr": -1e-3}, "Adam: invalid lr"),
    (AdamW, {"weight_decay": -0.01}, "AdamW: invalid weight_decay"),
    (Adagrad, {"lr_decay": -1.0}, "Adagrad: invalid lr_decay"),
    (Adagrad, {"initial_accumulator_value": -1.0}, "Adagrad: invalid initial_accumulator_va"),
    (Adagrad, {"eps": 0.0}, "Adagrad: invalid eps"),
])
def test_invalid_hyper_parameters_raise(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls([fresh_param()], **kwargs)


def test_invalid_hyper_parameter_in_a_group_raises():
    with pytest.raises(ValueError, match="SGD: invalid lr -1"):
        SGD([{"params": [fresh_param()], "lr": -1}], lr=0.1)


def test_non_numeric_hyper_parameter_raises_type_error():
    with pytest.raises(TypeError, match="SGD: lr must be a real number, got str"):
        SGD([fresh_param()], lr="0.1")


def test_invalid_params_raise():
    w = fresh_param()
    with pytest.raises(TypeError, match="got a single Tensor"):
        SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors.*parameter 1.*ndarray"):
        SGD([w, np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf tensor"):
        SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="more than one param group"):
        SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        SGD({w}, lr=0.1)
    with pytest.raises(ValueError, match="needs a 'params' entry"):
        SGD([{"lr": 0.1}], lr=0.1)


def test_base_optimizer_requires_validation_hook():
    with pytest.raises(NotImplementedError):
        Optimizer([fresh_param()], {"lr": 0.1})


def test_state_record_fields_match_pytorch_state_keys():
    assert SGDState._fields == ("momentum_buffer",)
    assert AdamState._fields == ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
