"""Convolution layers: `Conv1d/2d/3d` and `ConvTranspose1d/2d/3d` (NCHW, PyTorch's order)."""

from __future__ import annotations

from typing import Any

from autograd_core import Tensor

from . import spatial as S
from .linear import _default_init, _empty
from .module import Module
from .pooling import AvgPool2d, MaxPool2d  # their home before pooling.py; still importable

__all__ = ["AvgPool2d", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d", "MaxPool2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Parameters and argument checks shared by the convolution layers; ``n`` spatial axes."""

    n = 2
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", *, output_padding: Any = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        who = type(self).__name__
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{who}: in_channels {in_channels} and out_channels "
                             f"{out_channels} must be divisible by groups={groups}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{who}: padding_mode must be one of {', '.join(_PADDING_MODES)}, "
                             f"got {padding_mode!r}")
        n = self.n
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = S._ntuple(kernel_size, n, "kernel_size", who)
        self.stride = S._ntuple(stride, n, "stride", who)
        self.dilation = S._ntuple(dilation, n, "dilation", who)
        self.output_padding = S._ntuple(output_padding, n, "output_padding", who)
        if isinstance(padding, str):
            if self.transposed:
                raise ValueError(f"{who}: padding must be an int or a tuple, got {padding!r}")
            S._conv_padding(padding, self.kernel_size, self.dilation, self.stride, who)
            self.padding: Any = padding
        else:
            self.padding = S._ntuple(padding, n, "padding", who)
        if padding_mode != "zeros" and self.transposed:
            raise ValueError(f"{who}: only padding_mode='zeros' is supported, as PyTorch")
        self.padding_mode = padding_mode
        shape = ((in_channels, out_channels // groups) if self.transposed
                 else (out_channels, in_channels // groups))
        self.weight = _empty((*shape, *self.kernel_size), dtype)
        self.register_parameter("bias", _empty((out_channels,), dtype) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _default_init(self.weight, self.bias)

    def extra_repr(self) -> str:
        n = self.n
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * n:
            text += f", padding={self.padding!r}"
        if self.dilation != (1,) * n:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode!r}"
        return text


class _Conv(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", *, device: Any = None, dtype: Any = None
                 ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device=device, dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        conv = S._CONVS[self.n]
        if self.padding_mode == "zeros":
            return conv(input, self.weight, self.bias, self.stride, self.padding,
                        self.dilation, self.groups)
        # as PyTorch: pad with the mode first, then convolve without padding
        pads = S._conv_padding(self.padding, self.kernel_size, self.dilation, self.stride,
                               type(self).__name__)
        padded = S.pad(input, S._torch_pads(pads), mode=self.padding_mode)
        return conv(padded, self.weight, self.bias, self.stride, 0, self.dilation,
                    self.groups)


class Conv1d(_Conv):
    """1-D convolution over (N, C, L), weight (out_channels, in_channels/groups, K).

    >>> import autograd_core as ag
    >>> Conv1d(2, 4, 3, padding="same", padding_mode="circular")(ag.zeros(1, 2, 7)).shape
    (1, 4, 7)
    """

    n = 1


class Conv2d(_Conv):
    """2-D cross-correlation layer, weight (out_channels, in_channels/groups, KH, KW), one
    bias per output channel; PyTorch's arguments and order (stride, padding -- int, pair,
    ``"same"``/``"valid"`` --, dilation, groups, bias, padding_mode ``"zeros"``,
    ``"reflect"``, ``"replicate"`` or ``"circular"``; see ``F.conv2d``).

    >>> import autograd_core as ag
    >>> conv = Conv2d(3, 8, 3, padding=1)
    >>> conv(ag.zeros(2, 3, 5, 5)).shape, conv.weight.shape
    ((2, 8, 5, 5), (8, 3, 3, 3))
    >>> Conv2d(4, 4, 3, groups=4, dilation=2).weight.shape   # depthwise
    (4, 1, 3, 3)
    """

    n = 2


class Conv3d(_Conv):
    """3-D convolution over (N, C, D, H, W), weight (out, in/groups, KD, KH, KW).

    >>> import autograd_core as ag
    >>> Conv3d(1, 2, 3, padding=1)(ag.zeros(1, 1, 4, 4, 4)).shape
    (1, 2, 4, 4, 4)
    """

    n = 3


class _ConvTranspose(_ConvNd):
    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", *, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding=output_padding,
                         device=device, dtype=dtype)

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:  # noqa: A002
        """``output_size`` (optional, may include N and C) picks the output padding that
        gives that size, as PyTorch."""
        output_padding = self.output_padding
        if output_size is not None:
            want = tuple(output_size)[-self.n:]
            smallest = tuple((L - 1) * s - 2 * p + d * (k - 1) + 1 for L, s, p, d, k in zip(
                input.shape[-self.n:], self.stride, self.padding, self.dilation,
                self.kernel_size, strict=True))
            output_padding = tuple(w - m for w, m in zip(want, smallest, strict=True))
        fn = {1: S.conv_transpose1d, 2: S.conv_transpose2d, 3: S.conv_transpose3d}[self.n]
        return fn(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                  self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """Transposed 1-D convolution, weight (in_channels, out_channels/groups, K).

    >>> import autograd_core as ag
    >>> ConvTranspose1d(2, 3, 4, stride=2, padding=1)(ag.zeros(1, 2, 5)).shape
    (1, 3, 10)
    """

    n = 1


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-D convolution (``F.conv_transpose2d``), weight (in, out/groups, KH, KW);
    PyTorch's order: stride, padding, output_padding, groups, bias, dilation.

    >>> import autograd_core as ag
    >>> ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)(
    ...     ag.zeros(1, 4, 5, 5)).shape
    (1, 2, 10, 10)
    """

    n = 2


class ConvTranspose3d(_ConvTranspose):
    """Transposed 3-D convolution, weight (in, out/groups, KD, KH, KW)."""

    n = 3
