"""RMSProp: divide the gradient by a running root-mean-square of recent gradients (`RMSprop`)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from autograd_core.backends import updates

from .optimizer import Optimizer, ParamsT, check_range, copy_of, owned, work_array

__all__ = ["RMSprop", "RMSpropState", "rmsprop_update"]


class RMSpropState(NamedTuple):
    """RMSprop's per-parameter state; the optional buffers are None until first needed."""

    step: int
    square_avg: np.ndarray
    momentum_buffer: np.ndarray | None = None
    grad_avg: np.ndarray | None = None


def rmsprop_update(param: np.ndarray, grad: np.ndarray, state: RMSpropState | None, *,
                   lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                   weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                   inplace: bool = False, scratch: np.ndarray | None = None
                   ) -> tuple[np.ndarray, RMSpropState]:
    """One RMSProp step (Tieleman & Hinton 2012, Coursera lecture 6.5; centered: Graves 2013).

    With θ, g, η = lr, α = alpha, ε = eps, λ = weight_decay, μ = momentum::

        g ← g + λ·θ                               (if λ ≠ 0)
        s ← α·s + (1 − α)·g²                      (s starts at 0)
        if centered:  a ← α·a + (1 − α)·g;  d ← √(s − a²) + ε
        else:         d ← √s + ε
        if μ > 0:     b ← μ·b + g/d;  θ ← θ − η·b  (b starts at 0)
        else:         θ ← θ − η·g/d

    PyTorch's conventions (``torch.optim.RMSprop``), which differ between libraries:

    - the square average s starts at **zeros**, not ones (TRAPS 14), and is not
      bias-corrected, so early steps are large (|Δθ| ≈ η/√(1 − α) on step 1);
    - ε is added **outside** the square root;
    - α = 0.99 and η = 1e-2 by default (Hinton's lecture used 0.9 and 1e-3);
    - momentum accumulates the already normalised step g/d.

    ``state`` None means the first step.  Inputs are not modified unless ``inplace=True``:
    then ``param`` and the state's arrays are updated in place and returned (``param`` must not
    share memory with ``grad``).  ``scratch`` is the caller's work array (see `work_array`).
    ``param``'s dtype is kept.

    >>> p, s = rmsprop_update(np.array([1.0]), np.array([2.0]), None, lr=0.1, alpha=0.75)
    >>> p, s.square_avg  # s = 0.25·4 = 1, θ = 1 − 0.1·2/(1 + 1e-8)
    (array([0.8]), array([1.]))
    """
    lr, alpha, eps = float(lr), float(alpha), float(eps)
    weight_decay, momentum = float(weight_decay), float(momentum)
    scratch = work_array("rmsprop_update", scratch, param, grad)
    xp = updates(param)  # numpy, or another library's arrays with out=
    param = owned(param, inplace)
    if state is None:
        # A fresh state is this call's own: from here `inplace` means "may write the state".
        state, inplace = RMSpropState(0, xp.zeros_like(param)), True
    if weight_decay != 0:
        grad = grad + weight_decay * param
    # The formulas' arithmetic in their order, each result written into an owned array.
    scratch = xp.multiply(grad, grad, out=scratch)
    scratch *= 1 - alpha
    square_avg = owned(state.square_avg, inplace)
    square_avg *= alpha
    square_avg += scratch
    grad_avg = state.grad_avg
    if centered:
        if grad_avg is None:
            grad_avg = (1 - alpha) * grad
        else:
            grad_avg = owned(grad_avg, inplace)
            grad_avg *= alpha
            grad_avg += xp.multiply(grad, 1 - alpha, out=scratch)
        xp.multiply(grad_avg, grad_avg, out=scratch)
        xp.subtract(square_avg, scratch, out=scratch)
        xp.sqrt(scratch, out=scratch)
    else:
        xp.sqrt(square_avg, out=scratch)
    scratch += eps
    xp.divide(grad, scratch, out=scratch)  # g/d
    buf = state.momentum_buffer
    if momentum > 0:
        if buf is None:
            buf = copy_of(scratch)  # the state must not alias the work array
        else:
            buf = owned(buf, inplace)
            buf *= momentum
            buf += scratch
        param -= xp.multiply(buf, lr, out=scratch)
    else:
        scratch *= lr
        param -= scratch
    return param, RMSpropState(state.step + 1, square_avg, buf, grad_avg)


class RMSprop(Optimizer):
    """RMSProp (``torch.optim.RMSprop``); the maths and conventions are in `rmsprop_update`.

    Validation: lr, momentum, weight_decay >= 0 (as PyTorch); stricter than PyTorch, alpha
    must lie in [0, 1] and eps > 0 (eps = 0 would give 0/0 = NaN for a zero gradient).

    >>> import autograd_core as ag
    >>> w = ag.tensor([1.0], requires_grad=True)
    >>> opt = RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> round(w.item(), 4)  # 1 − 0.01·2/√(0.01·4) = 1 − 0.1
    0.9
    """

    _update_fn = staticmethod(rmsprop_update)
    _record = RMSpropState

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps,
                                  "weight_decay": weight_decay, "momentum": momentum,
                                  "centered": centered})

    def _validate(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        for key in ("lr", "momentum", "weight_decay"):
            check_range(name, key, group[key])
        check_range(name, "alpha", group["alpha"], 0.0, 1.0, high_open=False)
        check_range(name, "eps", group["eps"], 0.0, math.inf, low_open=True)
