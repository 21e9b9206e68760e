"""Stochastic gradient descent with momentum, dampening, weight decay and Nesterov (`SGD`)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from autograd_core.backends import updates

from .optimizer import Optimizer, ParamsT, check_range, copy_of, owned, work_array

__all__ = ["SGD", "SGDState", "sgd_update"]


class SGDState(NamedTuple):
    """SGD's per-parameter state: the momentum buffer, None until the first momentum step."""

    momentum_buffer: np.ndarray | None = None


def sgd_update(param: np.ndarray, grad: np.ndarray, state: SGDState | None, *,
               lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
               weight_decay: float = 0.0, nesterov: bool = False, inplace: bool = False,
               scratch: np.ndarray | None = None) -> tuple[np.ndarray, SGDState]:
    """One SGD step: heavy-ball momentum (Polyak 1964), Nesterov as in Sutskever et al. 2013.

    With θ the parameter, g its gradient, b the momentum buffer, η = lr, μ = momentum,
    τ = dampening and λ = weight_decay::

        g ← g + λ·θ                               (if λ ≠ 0: L2 penalty (λ/2)‖θ‖² in the loss)
        if μ ≠ 0:
            b ← g                                 (first step: a copy of g, not dampened)
            b ← μ·b + (1 − τ)·g                   (later steps)
            g ← g + μ·b   if nesterov,  else  g ← b
        θ ← θ − η·g

    PyTorch's conventions (``torch.optim.SGD``), which differ from some textbooks:

    - momentum is a *sum* of gradients, not an EMA: b ← μ·b + g (with τ = 0), and η is
      applied when the buffer is used.  This equals Polyak's v ← μ·v − η·g, θ ← θ + v (the
      seeds' form, v = −η·b) as long as η is constant; after an η change PyTorch's form
      applies the new η to the whole velocity.
    - the first step sets b = g (no dampening), which equals starting from b = 0 when τ = 0.
    - Nesterov is Sutskever et al.'s look-ahead rewritten in the current parameters:
      θ ← θ − η·(g + μ·b); it needs μ > 0 and τ = 0 (checked by `SGD`).
    - weight decay adds λ·θ to the gradient (it therefore also enters the momentum).

    ``state`` None means the first step.  Inputs are not modified unless ``inplace=True``:
    then ``param`` and the momentum buffer are updated in place and returned (``param`` must
    not share memory with ``grad``).  ``scratch`` is the caller's work array (see `work_array`).
    The dtype of ``param`` is kept (hyper-parameters are Python floats, which never promote
    float32).

    >>> p, s = sgd_update(np.array([1.0]), np.array([0.5]), None, lr=0.1, momentum=0.9)
    >>> p, s.momentum_buffer
    (array([0.95]), array([0.5]))
    """
    lr, momentum, dampening = float(lr), float(momentum), float(dampening)
    weight_decay = float(weight_decay)
    buf = None if state is None else state.momentum_buffer
    scratch = work_array("sgd_update", scratch, param, grad)
    xp = updates(param)  # numpy, or another library's arrays with out=
    param = owned(param, inplace)
    if weight_decay != 0:
        # λ·θ + g: the same sum as g + λ·θ (addition commutes), built in the work array.
        decayed = xp.multiply(param, weight_decay, out=scratch)
        decayed += grad
        grad = decayed
    if momentum != 0:
        if buf is None:
            buf = copy_of(grad)
        else:
            buf = owned(buf, inplace)
            buf *= momentum
            if dampening == 0:
                buf += grad
            else:  # (1 − τ)·g, not over the g that Nesterov's look-ahead reads below
                buf += xp.multiply(grad, 1 - dampening, out=None if nesterov else scratch)
        grad = grad + momentum * buf if nesterov else buf
    param -= xp.multiply(grad, lr, out=scratch)
    return param, SGDState(buf)


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (``torch.optim.SGD``).

    The update is `sgd_update` (its docstring states the maths and conventions).
    Validation follows PyTorch: lr, momentum, weight_decay >= 0; Nesterov needs momentum > 0
    and zero dampening.  Stricter than PyTorch: dampening must lie in [0, 1].

    >>> import autograd_core as ag
    >>> w = ag.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.tolist()
    [0.8, -1.6]
    """

    _update_fn = staticmethod(sgd_update)
    _record = SGDState

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov})

    def _validate(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        for key in ("lr", "momentum", "weight_decay"):
            check_range(name, key, group[key])
        check_range(name, "dampening", group["dampening"], 0.0, 1.0, high_open=False)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{name}: Nesterov momentum requires a momentum > 0 and zero "
                             f"dampening, got momentum={group['momentum']!r} and "
                             f"dampening={group['dampening']!r}")
