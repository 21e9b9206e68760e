"""Weight initialisation, in place on ``tensor.data`` (PyTorch's ``torch.nn.init`` formulas).

Every random initialiser takes ``generator=`` (default: the library generator that
``autograd_core.manual_seed`` seeds).  Samples are drawn in float64 and then cast, so a
float32 and a float64 model built from the same seed start from the same values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograd_core import Tensor, default_generator, no_grad

__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "small_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain PyTorch recommends for a nonlinearity (std multiplier keeping variance).

    >>> calculate_gain("relu") == math.sqrt(2), calculate_gain("tanh")
    (True, 1.6666666666666667)
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fan_in_and_fan_out(tensor: Tensor, who: str) -> tuple[int, int]:
    """fan_in = in_features·receptive field, fan_out = out_features·receptive field, for a
    weight of shape (out, in, *kernel)."""
    if tensor.ndim < 2:
        raise ValueError(f"{who}: fan in and fan out need a tensor with at least 2 "
                         f"dimensions, got shape {tensor.shape}")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str, who: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{who}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fan_in_and_fan_out(tensor, who)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, values: Any) -> Tensor:
    with no_grad():
        tensor.data[...] = values
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: np.random.Generator | None = None) -> Tensor:
    """Fill with samples from U(a, b).

    >>> t = uniform_(Tensor(np.zeros(1000)), -2.0, 2.0)
    >>> bool(t.data.min() >= -2.0 and t.data.max() < 2.0)
    True
    """
    gen = generator if generator is not None else default_generator()
    return _fill(tensor, gen.uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: np.random.Generator | None = None) -> Tensor:
    """Fill with samples from N(mean, std²)."""
    gen = generator if generator is not None else default_generator()
    return _fill(tensor, mean + std * gen.standard_normal(tensor.shape))


def small_normal_(tensor: Tensor, std: float = 0.01,
                  generator: np.random.Generator | None = None) -> Tensor:
    """The seeds' initialisation W ~ N(0, 0.01²) (seed 001 §6.6, Algorithms 1 and 2):
    ``normal_(tensor, 0, 0.01)``.  Fine for shallow nets; in deep ones a fixed std makes
    activations shrink layer by layer -- prefer ``kaiming_*`` / ``xavier_*`` there."""
    return normal_(tensor, 0.0, std, generator)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0 (biases; never all the weights of a hidden layer: symmetry)."""
    return _fill(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return _fill(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    generator: np.random.Generator | None = None) -> Tensor:
    """Glorot & Bengio (2010): U(−a, a), a = gain·√(6/(fan_in + fan_out))."""
    fan_in, fan_out = _fan_in_and_fan_out(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0,
                   generator: np.random.Generator | None = None) -> Tensor:
    """Glorot & Bengio (2010): N(0, std²), std = gain·√(2/(fan_in + fan_out))."""
    fan_in, fan_out = _fan_in_and_fan_out(tensor, "xavier_normal_")
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: np.random.Generator | None = None) -> Tensor:
    """He et al. (2015): U(−b, b), b = gain·√(3/fan), gain = ``calculate_gain(nonlinearity,
    a)``.  With ``a=√5`` (what Linear and Conv2d use) b = 1/√fan_in."""
    fan = _fan(tensor, mode, "kaiming_uniform_")
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: np.random.Generator | None = None) -> Tensor:
    """He et al. (2015): N(0, std²), std = gain/√fan; for ReLU, Var = 2/fan_in."""
    fan = _fan(tensor, mode, "kaiming_normal_")
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)
