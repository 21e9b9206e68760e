"""`Momentum`: the seeds' name for SGD with (heavy-ball or Nesterov) momentum, a preset of `SGD`."""

from __future__ import annotations

from .optimizer import ParamsT
from .sgd import SGD

__all__ = ["Momentum"]


class Momentum(SGD):
    """SGD with momentum 0.9 by default: ``SGD(params, lr, momentum, nesterov=nesterov)``.

    Same maths, state and conventions as `SGD` (see `sgd_update`): the velocity is
    PyTorch's b ← μ·b + g, θ ← θ − η·b, equal to the seeds' v ← μ·v − η·g, θ ← θ + v
    (Polyak 1964) while η is constant; ``nesterov=True`` gives Sutskever et al. 2013.

    >>> import autograd_core as ag
    >>> w = ag.tensor([1.0], requires_grad=True)
    >>> opt = Momentum([w], lr=0.1)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    >>> round(w.item(), 4)  # b1 = 2, w1 = 0.8; b2 = 0.9·2 + 1.6 = 3.4, w2 = 0.8 − 0.34
    0.46
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.9,
                 nesterov: bool = False) -> None:
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov)
