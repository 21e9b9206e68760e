"""Adam: bias-corrected moment estimates of the gradient and its square (`Adam`, also AMSGrad)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from autograd_core.backends import updates

from .optimizer import Optimizer, ParamsT, check_range, copy_of, owned, work_array

__all__ = ["Adam", "AdamState", "adam_update"]


class AdamState(NamedTuple):
    """Adam's per-parameter state: step count t, moments m and v, AMSGrad's running max of v."""

    step: int
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    max_exp_avg_sq: np.ndarray | None = None


def adam_update(param: np.ndarray, grad: np.ndarray, state: AdamState | None, *,
                lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                decoupled_weight_decay: bool = False, inplace: bool = False,
                scratch: np.ndarray | None = None) -> tuple[np.ndarray, AdamState]:
    """One Adam step (Kingma & Ba 2015, Algorithm 1; AMSGrad: Reddi et al. 2018).

    With θ, g, η = lr, (β₁, β₂) = betas, ε = eps, λ = weight_decay::

        t ← t + 1                                 (t = 1 on the first step)
        θ ← θ·(1 − η·λ)                           (if decoupled: AdamW, see `adamw_update`)
        g ← g + λ·θ                               (otherwise, if λ ≠ 0: L2 in the loss)
        m ← β₁·m + (1 − β₁)·g                     (m, v start at 0)
        v ← β₂·v + (1 − β₂)·g²
        v_max ← max(v_max, v)                     (amsgrad only; v_max starts at 0)
        m̂ ← m/(1 − β₁ᵗ);  v̂ ← (v_max if amsgrad else v)/(1 − β₂ᵗ)
        θ ← θ − η·m̂/(√v̂ + ε)

    PyTorch's conventions (``torch.optim.Adam``):

    - bias correction from step 1, so the first step is η·g/(|g| + ε) ≈ η·sign(g);
    - ε is added **outside** the square root, to √v̂ (the bias-corrected root);
    - AMSGrad keeps the max of the *uncorrected* v and bias-corrects that max;
    - weight decay without ``decoupled_weight_decay`` is L2 in the loss, so it passes
      through the adaptive scaling (not equivalent to decay; use AdamW for that).

    ``state`` None means the first step.  Inputs are not modified unless ``inplace=True``:
    then ``param`` and the state's arrays are updated in place and returned (``param`` must not
    share memory with ``grad``).  ``scratch`` is the caller's work array (see `work_array`).
    ``param``'s dtype is kept.

    >>> p, s = adam_update(np.array([1.0]), np.array([4.0]), None, lr=0.1)
    >>> p, s.exp_avg, s.exp_avg_sq  # m̂ = 4, v̂ = 16: θ = 1 − 0.1·4/(4 + 1e-8)
    (array([0.9]), array([0.4]), array([0.016]))
    """
    lr, eps, weight_decay = float(lr), float(eps), float(weight_decay)
    beta1, beta2 = float(betas[0]), float(betas[1])
    scratch = work_array("adam_update", scratch, param, grad)
    xp = updates(param)  # numpy, or another library's arrays with out=
    param = owned(param, inplace)
    if state is None:
        # A fresh state is this call's own: from here `inplace` means "may write the state".
        state, inplace = AdamState(0, xp.zeros_like(param), xp.zeros_like(param)), True
    step = state.step + 1
    exp_avg, exp_avg_sq = owned(state.exp_avg, inplace), owned(state.exp_avg_sq, inplace)
    if weight_decay != 0:
        if decoupled_weight_decay:
            param *= 1 - lr * weight_decay
        else:
            grad = grad + weight_decay * param
    # The pseudo-code's arithmetic in its order, each result written into an owned array.
    scratch = xp.multiply(grad, 1 - beta1, out=scratch)
    exp_avg *= beta1
    exp_avg += scratch
    xp.multiply(grad, grad, out=scratch)
    scratch *= 1 - beta2
    exp_avg_sq *= beta2
    exp_avg_sq += scratch
    max_exp_avg_sq = state.max_exp_avg_sq
    if amsgrad:
        # max(0, v) = v, so a missing running max starts at (a copy of) v itself.
        max_exp_avg_sq = copy_of(exp_avg_sq) if max_exp_avg_sq is None else xp.maximum(
            max_exp_avg_sq, exp_avg_sq, out=owned(max_exp_avg_sq, inplace))
    xp.sqrt(exp_avg_sq if max_exp_avg_sq is None else max_exp_avg_sq, out=scratch)
    scratch /= math.sqrt(1 - beta2 ** step)
    scratch += eps
    xp.divide(exp_avg, scratch, out=scratch)  # m̂·(1 − β₁ᵗ) / (√v̂ + ε)
    scratch *= lr / (1 - beta1 ** step)
    param -= scratch
    return param, AdamState(step, exp_avg, exp_avg_sq, max_exp_avg_sq)


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``); the maths and conventions are in `adam_update`.

    ``weight_decay`` here is L2 regularisation (added to the gradient); for decoupled weight
    decay use `AdamW` (PyTorch's ``decoupled_weight_decay=True`` flag is that class).
    Validation as PyTorch (lr, weight_decay >= 0; each beta in [0, 1)), but stricter on
    eps, which must be > 0: eps = 0 gives 0/0 = NaN for a zero gradient.

    >>> import autograd_core as ag
    >>> w = ag.tensor([3.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> round(w.item(), 4)  # the first step is lr·sign(g)
    2.9
    """

    _update_fn = staticmethod(adam_update)
    _record = AdamState

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay, "amsgrad": amsgrad})

    def _validate(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        for key in ("lr", "weight_decay"):
            check_range(name, key, group[key])
        check_range(name, "eps", group["eps"], 0.0, math.inf, low_open=True)
        betas = group["betas"]
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for k, beta in enumerate(betas):
            check_range(name, f"betas[{k}]", beta, 0.0, 1.0)
