"""Pooling, unpooling and resizing layers: `MaxPool*d`, `AvgPool*d`, `Adaptive*`, `Upsample`."""

from __future__ import annotations

from typing import Any

from autograd_core import Tensor

from . import spatial as S
from .module import Module

__all__ = ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
           "AdaptiveMaxPool2d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "MaxPool1d",
           "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "Upsample",
           "UpsamplingBilinear2d", "UpsamplingNearest2d"]


class _MaxPoolNd(Module):
    """PyTorch's order: kernel_size, stride (default: the kernel), padding, dilation,
    return_indices, ceil_mode."""

    n = 2

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False, ceil_mode: bool = False
                 ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor) -> Any:  # noqa: A002
        return S._max_pool(f"max_pool{self.n}d", self.n, input, self.kernel_size,
                           self.stride, self.padding, self.dilation, self.ceil_mode,
                           self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
                f", dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over windows of (N, C, L) (``F.max_pool1d``)."""

    n = 1


class MaxPool2d(_MaxPoolNd):
    """Max over KxK windows (stride defaults to the kernel size; see ``F.max_pool2d``).

    >>> import autograd_core as ag
    >>> MaxPool2d(2)(ag.zeros(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    n = 2


class MaxPool3d(_MaxPoolNd):
    """Max over KxKxK windows of (N, C, D, H, W) (``F.max_pool3d``)."""

    n = 3


class _AvgPoolNd(Module):
    """PyTorch's order: kernel_size, stride, padding, ceil_mode, count_include_pad,
    divisor_override (not for 1-D)."""

    n = 2

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return S._avg_pool(f"avg_pool{self.n}d", self.n, input, self.kernel_size, self.stride,
                           self.padding, self.ceil_mode, self.count_include_pad,
                           self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """Mean over windows of (N, C, L) (``F.avg_pool1d``)."""

    n = 1

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Mean over KxK windows (see ``F.avg_pool2d``).

    >>> import autograd_core as ag
    >>> AvgPool2d(3, 2, 1, ceil_mode=True)(ag.zeros(1, 1, 6, 6)).shape
    (1, 1, 4, 4)
    """

    n = 2


class AvgPool3d(_AvgPoolNd):
    """Mean over KxKxK windows of (N, C, D, H, W) (``F.avg_pool3d``)."""

    n = 3


class _MaxUnpoolNd(Module):
    n = 2

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, input: Tensor, indices: Any, output_size: Any = None  # noqa: A002
                ) -> Tensor:
        return S._max_unpool(f"max_unpool{self.n}d", self.n, input, indices, self.kernel_size,
                             self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Inverse of ``MaxPool1d(..., return_indices=True)``."""

    n = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Inverse of ``MaxPool2d(..., return_indices=True)``: ``unpool(*pool(x))``."""

    n = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """Inverse of ``MaxPool3d(..., return_indices=True)``."""

    n = 3


class _AdaptiveAvgPoolNd(Module):
    n = 2

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return S._adaptive_avg(f"adaptive_avg_pool{self.n}d", self.n, input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Mean over windows giving ``output_size`` outputs on the last axis."""

    n = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Mean over windows giving an ``output_size`` output (``F.adaptive_avg_pool2d``);
    ``AdaptiveAvgPool2d(1)`` is global average pooling.

    >>> import autograd_core as ag
    >>> AdaptiveAvgPool2d((1, 1))(ag.zeros(2, 5, 7, 3)).shape
    (2, 5, 1, 1)
    """

    n = 2


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Adaptive mean over the last three axes."""

    n = 3


class _AdaptiveMaxPoolNd(Module):
    n = 2

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor) -> Any:  # noqa: A002
        return S._adaptive_max(f"adaptive_max_pool{self.n}d", self.n, input, self.output_size,
                               self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max over adaptive windows of the last axis."""

    n = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max over the windows of ``AdaptiveAvgPool2d`` (``F.adaptive_max_pool2d``)."""

    n = 2


class Upsample(Module):
    """Resize by ``size`` or ``scale_factor`` with ``F.interpolate``'s modes.

    >>> import autograd_core as ag
    >>> Upsample(scale_factor=2, mode="bilinear")(ag.zeros(1, 3, 4, 5)).shape
    (1, 3, 8, 10)
    """

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return S.interpolate(input, self.size, self.scale_factor, self.mode,
                             self.align_corners, self.recompute_scale_factor)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else \
            f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode="nearest")`` on 4-D input."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode="bilinear", align_corners=True)``, as PyTorch."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
