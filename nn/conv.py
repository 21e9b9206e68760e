"""Convolution and pooling layers: `Conv2d`, `MaxPool2d`, `AvgPool2d` (NCHW)."""

from __future__ import annotations

from typing import Any

from autograd_core import Tensor

from . import functional as F
from .linear import _default_init, _empty
from .module import Module

__all__ = ["AvgPool2d", "Conv2d", "MaxPool2d"]


class Conv2d(Module):
    """2-D cross-correlation layer, weight (out_channels, in_channels, KH, KW), one bias per
    output channel; output size ⌊(H + 2P − K)/S⌋ + 1 (see ``F.conv2d``).

    ``bias`` and ``dtype`` are keyword-only: PyTorch's positional slots after ``padding``
    are ``dilation`` and ``groups``, which are not supported here, so a positional call
    written for PyTorch fails loudly instead of being misread.

    >>> import autograd_core as ag
    >>> conv = Conv2d(3, 8, 3, padding=1)
    >>> conv(ag.zeros(2, 3, 5, 5)).shape, conv.weight.shape
    ((2, 8, 5, 5), (8, 3, 3, 3))
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: Any = 0, *, bias: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = F._pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = F._pair(stride, "stride", "Conv2d")
        self.padding = padding if isinstance(padding, str) else F._pair(padding, "padding",
                                                                         "Conv2d")
        self.weight = _empty((out_channels, in_channels, *self.kernel_size), dtype)
        self.register_parameter("bias", _empty((out_channels,), dtype) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _default_init(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class _Pool2d(Module):
    """Window geometry shared by the pooling layers."""

    def __init__(self, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max over KxK windows (stride defaults to the kernel size; see ``F.max_pool2d``).

    >>> import autograd_core as ag
    >>> MaxPool2d(2)(ag.zeros(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Mean over KxK windows (see ``F.avg_pool2d``)."""

    def __init__(self, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0, count_include_pad: bool = True) -> None:
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding,
                            self.count_include_pad)
