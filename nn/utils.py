"""Training utilities: gradient clipping, flat parameter vectors, the L2 penalty, and checks
for parameters that received no gradient (and why)."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import numpy as np

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.engine import STATE

from .module import Module

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "l2_penalty",
    "parameters_to_vector",
    "unused_parameters",
    "vector_to_parameters",
    "why_unused",
]


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    """One tensor, or any iterable of them -- ``model.parameters()`` is a generator, so it
    is read exactly once, here."""
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Rescale all gradients together so their joint ``norm_type``-norm is at most
    ``max_norm``; returns the norm before clipping (PyTorch's semantics, including the
    1e-6 in ``max_norm / (norm + 1e-6)``).

    Each clipped gradient is a new Tensor: gradient arrays may be shared (a leaf's grad can
    be the very array the backward pass handed to another leaf), so none is written in place.

    >>> p = ag.tensor([0.0, 0.0], requires_grad=True)
    >>> p.grad = ag.tensor([3.0, 4.0])
    >>> clip_grad_norm_([p], 1.0).item(), [round(v, 4) for v in p.grad.tolist()]
    (5.0, [0.6, 0.8])
    """
    if STATE.tracer is not None:  # ag.compile: the replay clips its own gradients
        return STATE.tracer.run(functools.partial(
            clip_grad_norm_, _as_list(parameters), max_norm, norm_type, error_if_nonfinite))
    params = [p for p in _as_list(parameters) if p.grad is not None]
    grads = [p.grad.data for p in params]  # type: ignore[union-attr]
    if not grads:
        return ag.tensor(0.0)
    norms = np.array([np.linalg.norm(g.ravel(), norm_type) for g in grads], np.float64)
    total = float(np.linalg.norm(norms, norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {total}; pass error_if_nonfinite=False to clip anyway")
    coef = min(max_norm / (total + 1e-6), 1.0)
    for p, g in zip(params, grads, strict=True):
        p.grad = Tensor(g * coef)
    return ag.tensor(total)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient element to [−clip_value, clip_value] (new Tensors, see above).

    >>> p = ag.tensor([0.0, 0.0], requires_grad=True)
    >>> p.grad = ag.tensor([-3.0, 0.5])
    >>> clip_grad_value_(p, 1.0); p.grad.tolist()
    [-1.0, 0.5]
    """
    if STATE.tracer is not None:  # ag.compile: the replay clips its own gradients
        return STATE.tracer.run(functools.partial(clip_grad_value_, _as_list(parameters),
                                                  clip_value))
    for p in _as_list(parameters):
        if p.grad is not None:
            p.grad = Tensor(np.clip(p.grad.data, -clip_value, clip_value))


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated (differentiable: built from engine ops).

    >>> parameters_to_vector([ag.ones(2, 2), ag.zeros(1)]).tolist()
    [1.0, 1.0, 1.0, 1.0, 0.0]
    """
    return ag.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters (each keeps its dtype)."""
    params = list(parameters)
    total = sum(p.size for p in params)
    if vec.ndim != 1 or vec.size != total:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector of {total} elements, "
                         f"got shape {vec.shape}")
    start = 0
    for p in params:
        chunk = vec.data[start:start + p.size].reshape(p.shape)
        p.data = np.array(chunk, dtype=p.data.dtype)
        start += p.size


def unused_parameters(module: Module) -> list[str]:
    """Names of parameters whose ``.grad`` is still None after a backward pass.

    A parameter that silently never trains (frozen by mistake, or not on the path from the
    loss) is a common failure; call this after the first ``loss.backward()``.

    >>> from nn import Linear
    >>> class TwoHeads(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.used, self.forgotten = Linear(2, 1), Linear(2, 1)
    ...     def forward(self, x):
    ...         return self.used(x)
    >>> model = TwoHeads()
    >>> model(ag.ones(1, 2)).sum().backward()
    >>> unused_parameters(model)
    ['forgotten.weight', 'forgotten.bias']
    """
    return [name for name, p in module.named_parameters() if p.grad is None]


def why_unused(module: Module, loss: Tensor) -> dict[str, ag.NoGradReason]:
    """For each parameter of ``module`` that gets no gradient, or an exactly zero one,
    from ``loss``: why (``ag.why_no_grad``); parameters that train are left out.

    >>> from nn import Linear
    >>> model = Linear(2, 1)
    >>> _ = model.weight.requires_grad_(False)  # frozen by mistake
    >>> {n: r.cause for n, r in why_unused(model, model(ag.ones(1, 2)).sum()).items()}
    {'weight': 'requires_grad_false'}
    """
    reasons = {name: ag.why_no_grad(p, loss, name=name) for name, p in module.named_parameters()}
    return {name: r for name, r in reasons.items() if r.cause != "has_grad"}


def l2_penalty(params: Module | Iterable[Tensor], lam: float) -> Tensor:
    """(λ/2)·Σ‖W‖² (seed 001 §3.3.2, eq. 3.23; §4.3): its gradient adds λ·W.

    Given a module, only its weights are penalised: parameters with at least two axes
    (Linear and Conv2d weights) -- never biases, nor the scale/shift of normalisation
    layers.  Given an iterable, every tensor in it is.  It is not divided by the batch size.

    >>> from nn import Linear
    >>> fc = Linear(2, 1)
    >>> _ = fc.weight.data.fill(1.0)
    >>> l2_penalty(fc, 0.1).item()
    0.1
    """
    weights: list[Tensor]
    if isinstance(params, Module):
        weights = [p for p in params.parameters() if p.ndim >= 2]
    else:
        weights = list(params)
    if not weights:
        return ag.tensor(0.0)
    total = (weights[0] * weights[0]).sum()
    for w in weights[1:]:
        total = total + (w * w).sum()
    return total * (lam / 2)
