"""optim.lr_scheduler and EarlyStopping: learning-rate sequences by hand, state, restoring."""

import math

import numpy as np
import pytest

import autograd_core as ag
from optim import SGD, EarlyStopping
from optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    ReduceLROnPlateau,
    StepLR,
)


def make_optimizer(*lrs):
    """SGD with one single-parameter group per lr."""
    groups = [{"params": [ag.Tensor(np.zeros(2), requires_grad=True)], "lr": lr} for lr in lrs]
    return SGD(groups, lr=lrs[0])


def lr_sequence(scheduler, epochs, group=0):
    """lr in force during epochs 0..epochs-1 (read, then step: the usual training loop)."""
    lrs = []
    for _ in range(epochs):
        lrs.append(scheduler.optimizer.param_groups[group]["lr"])
        assert scheduler.get_last_lr()[group] == lrs[-1]
        scheduler.step()
    return lrs


ROOT_HALF = math.sqrt(2) / 2
SCHEDULES = {  # scheduler factory on an optimizer with lr 1, expected lrs by hand
    "StepLR": (lambda opt: StepLR(opt, step_size=3, gamma=0.1),
               [1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01]),
    # Milestone 5 listed twice: γ² there.
    "MultiStepLR": (lambda opt: MultiStepLR(opt, milestones=[5, 2, 5], gamma=0.5),
                    [1, 1, 0.5, 0.5, 0.5, 0.125, 0.125]),
    "ExponentialLR": (lambda opt: ExponentialLR(opt, gamma=0.9),
                      [1, 0.9, 0.81, 0.729, 0.6561]),
    # (1 + cos(πe/4))/2; past T_max = 4 it climbs back along the cosine.
    "CosineAnnealingLR": (lambda opt: CosineAnnealingLR(opt, T_max=4),
                          [1, (1 + ROOT_HALF) / 2, 0.5, (1 - ROOT_HALF) / 2, 0,
                           (1 - ROOT_HALF) / 2, 0.5, (1 + ROOT_HALF) / 2, 1, (1 + ROOT_HALF) / 2]),
    "LinearLR-warmup": (lambda opt: LinearLR(opt, start_factor=0.25, total_iters=3),
                        [0.25, 0.5, 0.75, 1, 1, 1]),
    "LinearLR-decay": (lambda opt: LinearLR(opt, start_factor=1.0, end_factor=0.5,
                                            total_iters=2),
                       [1, 0.75, 0.5, 0.5]),
    "LambdaLR": (lambda opt: LambdaLR(opt, lambda e: 1 / (1 + e)), [1, 1 / 2, 1 / 3, 1 / 4]),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_by_hand(name):
    factory, expected = SCHEDULES[name]
    opt = make_optimizer(1.0, 0.5)
    scheduler = factory(opt)
    np.testing.assert_allclose(lr_sequence(scheduler, len(expected)), expected, rtol=1e-12)
    assert opt.param_groups[0]["initial_lr"] == 1.0


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_scales_every_group(name):
    factory, expected = SCHEDULES[name]
    scheduler = factory(make_optimizer(1.0, 0.5))
    np.testing.assert_allclose(lr_sequence(scheduler, len(expected), group=1),
                               0.5 * np.array(expected), rtol=1e-12)


@pytest.mark.parametrize("name", SCHEDULES)
def test_scheduler_state_dict_resumes_the_sequence(name):
    factory, expected = SCHEDULES[name]
    opt = make_optimizer(1.0, 0.5)
    scheduler = factory(opt)
    lr_sequence(scheduler, 3)
    saved_opt, saved = opt.state_dict(), scheduler.state_dict()
    assert "optimizer" not in saved
    restored_opt = make_optimizer(1.0, 0.5)
    restored = factory(restored_opt)  # construct first: construction writes the lrs
    restored_opt.load_state_dict(saved_opt)
    restored.load_state_dict(saved)
    np.testing.assert_allclose(lr_sequence(restored, len(expected) - 3), expected[3:],
                               rtol=1e-12)


def test_cosine_annealing_towards_eta_min():
    opt = make_optimizer(1.0, 0.5)
    scheduler = CosineAnnealingLR(opt, T_max=4, eta_min=0.1)
    lrs = []
    for _ in range(6):
        lrs.append(scheduler.get_last_lr())
        scheduler.step()
    # η_min + (lr₀ − η_min)·(1 + cos(πe/4))/2 for lr₀ = 1 and 0.5.
    cosine = np.array([1, (1 + ROOT_HALF) / 2, 0.5, (1 - ROOT_HALF) / 2, 0, (1 - ROOT_HALF) / 2])
    np.testing.assert_allclose(lrs, 0.1 + np.outer(cosine, [0.9, 0.4]), rtol=1e-12)


def test_the_optimizer_steps_with_the_scheduled_lr():
    w = ag.Tensor(np.array([1.0]), requires_grad=True)
    opt = SGD([w], lr=1.0)
    scheduler = StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        opt.zero_grad()
        w.sum().backward()  # gradient 1: each step moves w by −lr
        opt.step()
        scheduler.step()
    assert w.item() == 1 - (1 + 0.5 + 0.25)


def test_chained_schedulers_compose_multiplicatively():
    opt = make_optimizer(1.0)
    warmup = LinearLR(opt, start_factor=0.5, total_iters=2)
    decay = ExponentialLR(opt, gamma=0.5)
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        warmup.step()
        decay.step()
    # factor_linear(e)·0.5^e with factor_linear = 0.5, 0.75, 1, 1.
    np.testing.assert_allclose(lrs, [0.5, 0.75 * 0.5, 1 * 0.25, 1 * 0.125], rtol=1e-12)


def test_lambda_lr_takes_one_function_per_group_and_saves_callable_objects():
    class Halving:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, epoch):
            return self.rate**epoch

    opt = make_optimizer(1.0, 2.0)
    halving = Halving()
    scheduler = LambdaLR(opt, [halving, lambda e: e + 1])
    scheduler.step()
    scheduler.step()
    assert scheduler.get_last_lr() == [0.25, 6.0]
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [{"rate": 0.5}, None]
    state["lr_lambdas"][0]["rate"] = 0.1
    scheduler.load_state_dict(state)
    assert halving.rate == 0.1


def test_resuming_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        StepLR(make_optimizer(1.0), step_size=2, last_epoch=4)


def test_resuming_with_last_epoch_trusts_the_loaded_lr():
    opt = make_optimizer(0.5)  # as if loaded: lr₀ = 1 annealed to 0.5 at epoch 2
    opt.param_groups[0]["initial_lr"] = 1.0
    scheduler = CosineAnnealingLR(opt, T_max=4, last_epoch=1)
    assert scheduler.last_epoch == 2 and scheduler.get_last_lr() == [0.5]  # kept (PyTorch)
    scheduler.step()
    assert scheduler.get_last_lr() == pytest.approx([(1 - ROOT_HALF) / 2])


@pytest.mark.parametrize("factory, message", [
    (lambda opt: StepLR(opt, step_size=0), "StepLR: step_size must be a positive int"),
    (lambda opt: CosineAnnealingLR(opt, T_max=0), "CosineAnnealingLR: T_max must be >= 1"),
    (lambda opt: LinearLR(opt, start_factor=0.0), r"start_factor must lie in \(0, 1\]"),
    (lambda opt: LinearLR(opt, end_factor=1.5), r"end_factor must lie in \[0, 1\]"),
    (lambda opt: LambdaLR(opt, [lambda e: 1.0] * 2), "expected 1 lr_lambdas"),
    (lambda opt: ReduceLROnPlateau(opt, factor=1.0), "factor must be < 1"),
    (lambda opt: ReduceLROnPlateau(opt, mode="avg"), "mode must be 'min' or 'max'"),
    (lambda opt: ReduceLROnPlateau(opt, threshold_mode="pct"), "threshold_mode must be"),
    (lambda opt: ReduceLROnPlateau(opt, min_lr=[0.0, 0.0]), "expected 1 min_lrs"),
])
def test_invalid_scheduler_arguments(factory, message):
    with pytest.raises(ValueError, match=message):
        factory(make_optimizer(1.0))


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="StepLR: expected an optim.Optimizer, got list"):
        StepLR([], step_size=1)
    with pytest.raises(TypeError, match="ReduceLROnPlateau: expected an optim.Optimizer"):
        ReduceLROnPlateau(None)


def test_base_scheduler_needs_get_lr():
    with pytest.raises(NotImplementedError):
        LRScheduler(make_optimizer(1.0))


# ---------------------------------------------------------------- ReduceLROnPlateau
def plateau_lrs(scheduler, metrics):
    lrs = []
    for metric in metrics:
        scheduler.step(metric)
        lrs.append(scheduler.get_last_lr()[0])
    return lrs


def test_reduce_on_plateau_min_rel():
    scheduler = ReduceLROnPlateau(make_optimizer(1.0), patience=2, factor=0.5, threshold=0.1)
    # 10 sets best; 9.5 is not 10% better (bad 1); 9.2 bad 2; 9.1 bad 3 > 2: halve, reset;
    # 8.0 < 0.9·10 is better; then three more bad epochs halve again.
    lrs = plateau_lrs(scheduler, [10, 9.5, 9.2, 9.1, 8.0, 8.0, 8.0, 8.0])
    assert lrs == [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25]
    assert scheduler.best == 8.0


def test_reduce_on_plateau_max_abs_with_cooldown_and_min_lr():
    scheduler = ReduceLROnPlateau(make_optimizer(1.0), mode="max", patience=0, factor=0.1,
                                  threshold=0.5, threshold_mode="abs", cooldown=1, min_lr=0.05)
    # 1 best; 1.2 is not > 1 + 0.5: bad 1 > 0: lr 0.1, cooldown 1; 1.2 bad but cooled down;
    # 1.3 bad: lr max(0.01, 0.05) = 0.05; 2.0 > 1.5 improves; 2.0 bad: 0.05 − 0.005 clipped
    # to min_lr 0.05 is no change.
    lrs = plateau_lrs(scheduler, [1.0, 1.2, 1.2, 1.3, 2.0, 2.0])
    np.testing.assert_allclose(lrs, [1, 0.1, 0.1, 0.05, 0.05, 0.05], rtol=1e-12)


def test_reduce_on_plateau_ignores_reductions_smaller_than_eps():
    scheduler = ReduceLROnPlateau(make_optimizer(1e-9), patience=0, factor=0.5, eps=1e-8)
    assert plateau_lrs(scheduler, [1.0, 1.0]) == [1e-9, 1e-9]


def test_reduce_on_plateau_state_dict():
    opt = make_optimizer(1.0)
    scheduler = ReduceLROnPlateau(opt, patience=1, factor=0.5)
    plateau_lrs(scheduler, [3.0, 3.0])
    restored = ReduceLROnPlateau(make_optimizer(1.0), patience=5)
    restored.load_state_dict(scheduler.state_dict())
    assert (restored.best, restored.num_bad_epochs, restored.patience) == (3.0, 1, 1)


# ---------------------------------------------------------------- early stopping
def test_early_stopping_waits_patience_epochs():
    stopper = EarlyStopping(patience=3)
    decisions = [stopper.step(m) for m in [5.0, 4.0, 4.5, 4.2, 3.9, 4.0, 4.0, 4.0]]
    assert decisions == [False] * 7 + [True]
    assert (stopper.best, stopper.best_epoch, stopper.should_stop) == (3.9, 4, True)


def test_early_stopping_min_delta_and_mode_max():
    stopper = EarlyStopping(patience=2, min_delta=0.1, mode="max")
    # 0.5 best; 0.55 is not > 0.6: bad; 0.65 improves; 0.7 and 0.74 are not > 0.75: stop.
    assert [stopper.step(m) for m in [0.5, 0.55, 0.65, 0.7, 0.74]] == [False] * 4 + [True]
    assert stopper.best == 0.65


@pytest.mark.parametrize("metrics", [[1.0, float("nan")], [1.0, 1.0]])
def test_early_stopping_nan_or_equal_is_no_improvement(metrics):
    stopper = EarlyStopping(patience=1)
    assert [stopper.step(m) for m in metrics] == [False, True]


class TinyModel:
    """Duck-typed module: state_dict() returns its live parameters, as nn.Module does."""

    def __init__(self):
        self.weight = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)

    def state_dict(self):
        return {"weight": self.weight, "steps": [0]}

    def load_state_dict(self, state):
        self.weight.data[...] = state["weight"].data


def test_early_stopping_restores_the_best_weights():
    model = TinyModel()
    opt = SGD([model.weight], lr=0.5)
    stopper = EarlyStopping(patience=2)
    weights = []
    for metric in [1.0, 0.5, 0.7, 0.9, 0.1]:
        weights.append(model.weight.data.copy())
        if stopper.step(metric, model):
            break
        opt.zero_grad()
        model.weight.sum().backward()
        opt.step()  # in place: a snapshot sharing the array would move with it
    assert stopper.should_stop and stopper.best_epoch == 1 and stopper.epoch == 3
    np.testing.assert_array_equal(model.weight.data, weights[1])
    np.testing.assert_array_equal(weights[1], [0.5, 1.5])


def test_early_stopping_snapshot_is_independent_of_the_model():
    model = TinyModel()
    stopper = EarlyStopping(patience=2)
    stopper.step(1.0, model)
    model.weight.data[...] = [7.0, 7.0]
    stopper.step(2.0, model)
    assert stopper.step(3.0, model)
    np.testing.assert_array_equal(model.weight.data, [1.0, 2.0])
    model.weight.data[...] = [9.0, 9.0]
    stopper.restore(model)  # restoring twice works: the snapshot itself was not handed out
    np.testing.assert_array_equal(model.weight.data, [1.0, 2.0])


def test_early_stopping_without_restoring():
    model = TinyModel()
    stopper = EarlyStopping(patience=1, restore_best_weights=False)
    stopper.step(1.0, model)
    model.weight.data[...] = [7.0, 7.0]
    assert stopper.step(2.0, model)
    np.testing.assert_array_equal(model.weight.data, [7.0, 7.0])
    with pytest.raises(RuntimeError, match="no snapshot was taken"):
        stopper.restore(model)


@pytest.mark.parametrize("kwargs, message", [
    ({"patience": 0}, "patience must be an int >= 1"),
    ({"patience": 2.5}, "patience must be an int >= 1"),
    ({"min_delta": -0.1}, "min_delta must be >= 0"),
    ({"mode": "up"}, "mode must be 'min' or 'max'"),
])
def test_early_stopping_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EarlyStopping(**kwargs)
