"""AdamW: Adam with decoupled weight decay (`AdamW`), sharing Adam's maths."""

from __future__ import annotations

import numpy as np

from .adam import Adam, AdamState, adam_update
from .optimizer import ParamsT

__all__ = ["AdamW", "adamw_update"]


def adamw_update(param: np.ndarray, grad: np.ndarray, state: AdamState | None, *,
                 lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 inplace: bool = False, scratch: np.ndarray | None = None
                 ) -> tuple[np.ndarray, AdamState]:
    """One AdamW step (Loshchilov & Hutter 2019, Algorithm 2): `adam_update` with the decay
    taken out of the gradient and applied to the parameter directly::

        t ← t + 1
        θ ← θ·(1 − η·λ)                           (decoupled: never enters m or v)
        m, v, m̂, v̂ as in Adam with the raw gradient g
        θ ← θ − η·m̂/(√v̂ + ε)

    PyTorch's conventions (``torch.optim.AdamW``): the decay is multiplied by the learning
    rate η (the paper's schedule multiplier is folded into η) and applied *before* the Adam
    step; default λ = 1e-2.  Everything else, ``inplace`` and ``scratch`` too, is Adam's
    (see `adam_update`).

    >>> p, s = adamw_update(np.array([2.0]), np.array([0.0]), None, lr=0.1, weight_decay=0.5)
    >>> p  # a zero gradient: only the decay acts, 2·(1 − 0.05)
    array([1.9])
    """
    return adam_update(param, grad, state, lr=lr, betas=betas, eps=eps,
                       weight_decay=weight_decay, amsgrad=amsgrad, decoupled_weight_decay=True,
                       inplace=inplace, scratch=scratch)


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``); maths in `adamw_update`.

    >>> import autograd_core as ag
    >>> w = ag.tensor([3.0], requires_grad=True)
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> round(w.item(), 4)  # 3·(1 − 0.05) − 0.1·sign(g)
    2.75
    """

    _update_fn = staticmethod(adamw_update)  # type: ignore[assignment]  # same maths, fewer knobs

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)
