"""Fully connected layers and shape helpers: `Linear`, `Identity`, `Flatten`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograd_core import Tensor, get_default_dtype

from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["Flatten", "Identity", "Linear"]


def _empty(shape: tuple[int, ...], dtype: Any) -> Parameter:
    return Parameter(np.empty(shape, dtype=get_default_dtype() if dtype is None else dtype))


def _default_init(weight: Parameter, bias: Parameter | None) -> None:
    """PyTorch's default for Linear and Conv2d: weight U(±1/√fan_in) via kaiming_uniform_
    with a = √5, and bias U(±1/√fan_in)."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in = weight.size // weight.shape[0]
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


class Linear(Module):
    """``y = x Wᵀ + b`` with ``weight`` W of shape (out_features, in_features).

    >>> import autograd_core as ag
    >>> fc = Linear(3, 2)
    >>> fc(ag.ones(4, 3)).shape, fc.weight.shape, fc.bias.shape
    ((4, 2), (2, 3), (2,))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 dtype: Any = None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = _empty((out_features, in_features), dtype)
        self.register_parameter("bias", _empty((out_features,), dtype) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _default_init(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for an optional layer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:  # noqa: A002
        return input


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` (default: all but the batch axis).

    >>> import autograd_core as ag
    >>> Flatten()(ag.zeros(2, 3, 4, 5)).shape
    (2, 60)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
