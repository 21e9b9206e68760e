"""optim against torch.optim: same trajectories and lr sequences (skipped without torch)."""

import numpy as np
import pytest

import autograd_core as ag
import optim
from optim import lr_scheduler

torch = pytest.importorskip("torch")

STEPS = 20
A = np.array([[3.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 2.0]])
B = np.array([1.0, -2.0, 0.5])
W0 = np.array([0.3, -0.7, 1.1])

# Both sides take the same class name and keyword arguments (Momentum has no torch twin).
CONFIGS = {
    "SGD": ("SGD", {"lr": 0.1}),
    "SGD-momentum": ("SGD", {"lr": 0.1, "momentum": 0.9}),
    "SGD-dampening-decay": ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3,
                                    "weight_decay": 0.05}),
    "SGD-nesterov": ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True,
                             "weight_decay": 0.1}),
    "RMSprop": ("RMSprop", {"lr": 0.01}),
    "RMSprop-momentum": ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.5}),
    "RMSprop-centered": ("RMSprop", {"lr": 0.01, "centered": True, "weight_decay": 0.1}),
    "RMSprop-centered-momentum": ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.9}),
    "Adam": ("Adam", {"lr": 0.1}),
    "Adam-betas-eps": ("Adam", {"lr": 0.05, "betas": (0.8, 0.9), "eps": 1e-3}),
    "Adam-l2": ("Adam", {"lr": 0.1, "weight_decay": 0.2}),
    "Adam-amsgrad": ("Adam", {"lr": 0.1, "betas": (0.5, 0.6), "amsgrad": True}),
    "AdamW": ("AdamW", {"lr": 0.1}),
    "AdamW-amsgrad": ("AdamW", {"lr": 0.1, "weight_decay": 0.3, "amsgrad": True}),
    "Adagrad": ("Adagrad", {"lr": 0.1}),
    "Adagrad-all": ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1,
                                "initial_accumulator_value": 0.2, "eps": 1e-6}),
}


def ours_loss(w):
    return 0.5 * (w @ (ag.Tensor(A) @ w)) - (ag.Tensor(B) * w).sum()


def torch_loss(w):
    return 0.5 * (w @ (torch.tensor(A) @ w)) - (torch.tensor(B) * w).sum()


def pair(cls_name, kwargs):
    """Our optimizer and torch's on their own copies of W0."""
    w = ag.Tensor(W0.copy(), requires_grad=True)
    tw = torch.tensor(W0.copy(), requires_grad=True)
    return w, getattr(optim, cls_name)([w], **kwargs), tw, getattr(torch.optim, cls_name)(
        [tw], **kwargs)


def step_both(w, opt, tw, topt):
    opt.zero_grad()
    ours_loss(w).backward()
    opt.step()
    topt.zero_grad()
    torch_loss(tw).backward()
    topt.step()


@pytest.mark.parametrize("name", CONFIGS)
def test_trajectory_equals_torch(name):
    w, opt, tw, topt = pair(*CONFIGS[name])
    for t in range(1, STEPS + 1):
        step_both(w, opt, tw, topt)
        np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-6,
                                   err_msg=f"{name}, step {t}")


def test_param_groups_equal_torch():
    w1, w2 = (ag.Tensor(W0.copy(), requires_grad=True) for _ in range(2))
    t1, t2 = (torch.tensor(W0.copy(), requires_grad=True) for _ in range(2))
    opt = optim.Adam([{"params": [w1]}, {"params": [w2], "lr": 0.3, "betas": (0.5, 0.9)}],
                     lr=0.05)
    topt = torch.optim.Adam([{"params": [t1]}, {"params": [t2], "lr": 0.3,
                                                 "betas": (0.5, 0.9)}], lr=0.05)
    for _ in range(STEPS):
        opt.zero_grad()
        (ours_loss(w1) + ours_loss(w2)).backward()
        opt.step()
        topt.zero_grad()
        (torch_loss(t1) + torch_loss(t2)).backward()
        topt.step()
    np.testing.assert_allclose(w1.data, t1.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(w2.data, t2.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("cls_name, kwargs", [
    ("Adam", {"lr": 0.1, "amsgrad": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
])
def test_a_torch_state_dict_loads_and_continues(cls_name, kwargs):
    """Our state dict layout is PyTorch's: a converted torch checkpoint resumes exactly."""
    w, opt, tw, topt = pair(cls_name, kwargs)
    for _ in range(5):
        step_both(w, opt, tw, topt)
    saved = topt.state_dict()
    saved["state"] = {i: {k: v if v is None else np.asarray(v) for k, v in s.items()}
                      for i, s in saved["state"].items()}
    w.data[...] = W0  # a different point and a fresh optimizer: all comes from the checkpoint
    opt = getattr(optim, cls_name)([w], lr=123.0)
    opt.load_state_dict(saved)
    w.data[...] = tw.detach().numpy()
    for _ in range(5):
        step_both(w, opt, tw, topt)
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-6)


SCHEDULERS = {
    "StepLR": ("StepLR", {"step_size": 3, "gamma": 0.5}),
    "MultiStepLR": ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.5}),
    "ExponentialLR": ("ExponentialLR", {"gamma": 0.9}),
    "CosineAnnealingLR": ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.01}),
    "LinearLR": ("LinearLR", {"start_factor": 0.1, "total_iters": 6}),
    "LinearLR-decay": ("LinearLR", {"start_factor": 1.0, "end_factor": 0.2, "total_iters": 4}),
}


@pytest.mark.parametrize("name", SCHEDULERS)
def test_scheduler_sequence_and_trajectory_equal_torch(name):
    cls_name, kwargs = SCHEDULERS[name]
    w, opt, tw, topt = pair("SGD", {"lr": 0.1, "momentum": 0.5})
    ours = getattr(lr_scheduler, cls_name)(opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, cls_name)(topt, **kwargs)
    for epoch in range(25):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12), epoch
        step_both(w, opt, tw, topt)
        ours.step()
        theirs.step()
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-6)


def test_lambda_lr_equals_torch():
    def schedule(epoch):
        return 0.95**epoch if epoch > 2 else (epoch + 1) / 3

    opt = optim.SGD([ag.Tensor(W0.copy(), requires_grad=True)], lr=0.2)
    topt = torch.optim.SGD([torch.tensor(W0.copy(), requires_grad=True)], lr=0.2)
    ours = lr_scheduler.LambdaLR(opt, schedule)
    theirs = torch.optim.lr_scheduler.LambdaLR(topt, schedule)
    for _ in range(10):
        topt.step()
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)


@pytest.mark.parametrize("kwargs", [
    {"patience": 2, "factor": 0.5},
    {"mode": "max", "patience": 1, "threshold": 0.05, "threshold_mode": "abs", "cooldown": 2,
     "min_lr": 0.01},
])
def test_reduce_on_plateau_equals_torch(kwargs):
    opt = optim.SGD([ag.Tensor(W0.copy(), requires_grad=True)], lr=0.2)
    topt = torch.optim.SGD([torch.tensor(W0.copy(), requires_grad=True)], lr=0.2)
    ours = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    metrics = np.random.default_rng(0).normal(size=40).cumsum() * 0.1 + 5
    for metric in metrics:
        ours.step(metric)
        theirs.step(metric)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    assert ours.get_last_lr() != [0.2], "the metric sequence never triggered a reduction"
