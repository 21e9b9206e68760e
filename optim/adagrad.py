"""AdaGrad: per-coordinate steps scaled by the root of the summed squared gradients (`Adagrad`)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from autograd_core.backends import updates

from .optimizer import Optimizer, ParamsT, check_range, owned, work_array

__all__ = ["Adagrad", "AdagradState", "adagrad_update"]


class AdagradState(NamedTuple):
    """Adagrad's per-parameter state: step count and the running sum of squared gradients.

    The field is called ``sum`` as in PyTorch's state dicts.
    """

    step: int
    sum: np.ndarray


def adagrad_update(param: np.ndarray, grad: np.ndarray, state: AdagradState | None, *,
                   lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                   initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                   inplace: bool = False, scratch: np.ndarray | None = None
                   ) -> tuple[np.ndarray, AdagradState]:
    """One AdaGrad step (Duchi, Hazan & Singer 2011, diagonal version).

    With θ, g, η = lr, δ = lr_decay, λ = weight_decay, ε = eps::

        t ← t + 1
        g ← g + λ·θ                               (if λ ≠ 0)
        η_t ← η/(1 + (t − 1)·δ)
        G ← G + g²                                (G starts at initial_accumulator_value)
        θ ← θ − η_t·g/(√G + ε)

    PyTorch's conventions (``torch.optim.Adagrad``): ε = 1e-10 is added **outside** the
    square root; G starts at ``initial_accumulator_value`` (0 by default), so the first step
    is ≈ η·sign(g); the optional ``lr_decay`` is PyTorch's extension, not in the paper.
    The effective step only shrinks, as the seeds note.

    ``state`` None means the first step.  Inputs are not modified unless ``inplace=True``:
    then ``param`` and the running sum are updated in place and returned (``param`` must not
    share memory with ``grad``).  ``scratch`` is the caller's work array (see `work_array`).
    ``param``'s dtype is kept.

    >>> p, s = adagrad_update(np.array([1.0]), np.array([3.0]), None, lr=0.5)
    >>> p, s.sum  # G = 9, θ = 1 − 0.5·3/(3 + 1e-10)
    (array([0.5]), array([9.]))
    """
    lr, lr_decay, weight_decay, eps = float(lr), float(lr_decay), float(weight_decay), float(eps)
    scratch = work_array("adagrad_update", scratch, param, grad)
    xp = updates(param)  # numpy, or another library's arrays with out=
    param = owned(param, inplace)
    if state is None:
        # A fresh state is this call's own: from here `inplace` means "may write the state".
        start = xp.full_like(param, float(initial_accumulator_value))
        state, inplace = AdagradState(0, start), True
    step = state.step + 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    clr = lr / (1 + (step - 1) * lr_decay)
    # The formulas' arithmetic in their order, each result written into an owned array.
    scratch = xp.multiply(grad, grad, out=scratch)
    accumulated = owned(state.sum, inplace)
    accumulated += scratch
    xp.sqrt(accumulated, out=scratch)
    scratch += eps
    xp.divide(grad, scratch, out=scratch)
    scratch *= clr
    param -= scratch
    return param, AdagradState(step, accumulated)


class Adagrad(Optimizer):
    """AdaGrad (``torch.optim.Adagrad``); the maths and conventions are in `adagrad_update`.

    Validation as PyTorch (lr, lr_decay, weight_decay, initial_accumulator_value >= 0);
    stricter on eps, which must be > 0 (0 would give 0/0 = NaN for a zero gradient).

    >>> import autograd_core as ag
    >>> w = ag.tensor([2.0], requires_grad=True)
    >>> opt = Adagrad([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> round(w.item(), 4)
    1.5
    """

    _update_fn = staticmethod(adagrad_update)
    _record = AdagradState

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10) -> None:
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay,
                                  "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value,
                                  "eps": eps})

    def _validate(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        for key in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value"):
            check_range(name, key, group[key])
        check_range(name, "eps", group["eps"], 0.0, math.inf, low_open=True)
