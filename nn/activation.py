"""Activation layers: thin modules around the functions in ``nn.functional``."""

from __future__ import annotations

from typing import Any

from autograd_core import Tensor

from . import functional as F
from .module import Module

__all__ = ["CELU", "ELU", "GELU", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU",
           "LogSigmoid", "LogSoftmax", "Mish", "ReLU", "ReLU6", "SELU", "SiLU", "Sigmoid",
           "Softmax", "Softmin", "Softplus", "Softsign", "Tanh"]


class ReLU(Module):
    """max(x, 0), derivative 0 at 0."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.relu(input)


class Sigmoid(Module):
    """1/(1 + e^−x), stable at both tails."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.sigmoid(input)


class Tanh(Module):
    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.tanh(input)


class LeakyReLU(Module):
    """x for x > 0, else ``negative_slope``·x."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x for x > 0, else ``alpha``·(e^x − 1)."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Softplus(Module):
    """log(1 + e^(βx))/β, linear above ``threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class _AlongDim(Module):
    """An activation that normalises along one axis ``dim`` (default: the last)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """Softmax along ``dim`` (default: the last axis)."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.softmax(input, self.dim)


class LogSoftmax(_AlongDim):
    """Log-softmax along ``dim`` (default: the last axis)."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.log_softmax(input, self.dim)


def _stateless(name: str, fn: Any, doc: str) -> type:
    """A module with no parameters and no options whose forward is ``fn``."""
    def forward(self: Module, input: Tensor) -> Tensor:  # noqa: A002
        return fn(input)
    return type(name, (Module,), {"forward": forward, "__doc__": doc,
                                  "__module__": __name__})


SiLU = _stateless("SiLU", F.silu, "x·σ(x) (swish).")
Mish = _stateless("Mish", F.mish, "x·tanh(softplus(x)).")
SELU = _stateless("SELU", F.selu, "scale·elu(x, alpha) with PyTorch's constants.")
ReLU6 = _stateless("ReLU6", F.relu6, "min(max(x, 0), 6).")
Hardsigmoid = _stateless("Hardsigmoid", F.hardsigmoid, "relu6(x + 3) / 6.")
Hardswish = _stateless("Hardswish", F.hardswish, "x·relu6(x + 3) / 6.")
LogSigmoid = _stateless("LogSigmoid", F.logsigmoid, "log σ(x), stable at both tails.")
Softsign = _stateless("Softsign", F.softsign, "x / (1 + |x|).")


class GELU(Module):
    """x·Φ(x); ``approximate="tanh"`` for the tanh form."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class CELU(Module):
    """x for x > 0, else alpha·(exp(x/alpha) − 1)."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.celu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Hardtanh(Module):
    """x clipped to [min_val, max_val]; the gradient passes strictly inside."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0) -> None:
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must not exceed max_val "
                             f"({max_val})")
        self.min_val, self.max_val = min_val, max_val

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class Softmin(Module):
    """softmax(−x) along ``dim``."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.softmin(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
