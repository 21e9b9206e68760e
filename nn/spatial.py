"""Convolution, pooling, padding and interpolation (NCHW) composed from engine ops."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import OpError, OpTypeError, Tensor, backends

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "interpolate",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "pad",
]

Pads = list[tuple[int, int]]


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else ag.tensor(x)


def _ntuple(value: Any, n: int, name: str, who: str) -> tuple[int, ...]:
    vals = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    if len(vals) == 1 and n > 1:
        vals = vals * n  # torch accepts a one-element list for every axis
    if len(vals) != n or not all(isinstance(v, (int, np.integer)) for v in vals):
        raise ValueError(f"{who}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(int(v) for v in vals)


def _pair(value: Any, name: str, who: str) -> tuple[int, int]:
    return _ntuple(value, 2, name, who)  # type: ignore[return-value]


def _positive(values: tuple[int, ...], name: str, who: str) -> None:
    if min(values) <= 0:
        raise ValueError(f"{who}: {name} must be positive, got {values}")


def _unbatched(x: Tensor, n: int, who: str) -> bool:
    """True for an unbatched (C, *spatial) input; raises unless the rank fits."""
    if x.ndim not in (n + 1, n + 2):
        raise OpError(f"{who}: expected a {n + 1}-D (unbatched) or {n + 2}-D "
                      f"(batched) input, got shape {x.shape}")
    return x.ndim == n + 1


# -------------------------------------------------------------------------- padding
_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",  # noqa: A002
        value: float | None = None) -> Tensor:
    """PyTorch's ``F.pad``: ``pad`` lists (before, after) widths from the last axis
    backwards, e.g. ``(left, right, top, bottom)``; negative widths crop.

    ``mode`` is ``"constant"`` (with ``value``, default 0), ``"reflect"`` (mirror without
    repeating the edge), ``"replicate"`` (repeat the edge) or ``"circular"`` (wrap).  The
    non-constant modes gather with an integer index per axis, whose gradient accumulates.

    >>> pad(ag.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect").tolist()
    [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    """
    x = _tensor(input)
    widths = tuple(int(p) for p in pad)
    if len(widths) % 2 or len(widths) // 2 > x.ndim:
        raise ValueError(f"pad: pad {tuple(pad)} must have an even length of at most twice "
                         f"the input's {x.ndim} dimensions (shape {x.shape})")
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"pad: mode must be one of {', '.join(_PAD_MODES)}, got "
                                  f"{mode!r}")
    if mode != "constant" and value not in (None, 0):
        raise ValueError(f"pad: mode {mode!r} takes no value, got value={value!r}")
    per_axis = {x.ndim - 1 - i: (widths[2 * i], widths[2 * i + 1])
                for i in range(len(widths) // 2)}
    for axis, (before, after) in per_axis.items():
        if x.shape[axis] + before + after < 0:
            raise ValueError(f"pad: widths {(before, after)} leave a negative size on axis "
                             f"{axis} of the input of shape {x.shape}")
    if mode == "constant":
        return _pad_constant(x, per_axis, 0.0 if value is None else value)
    if mode == "circular":  # PyTorch crops first and wraps what is left
        x = _pad_constant(x, {a: (min(b, 0), min(e, 0)) for a, (b, e) in per_axis.items()},
                          0.0)
        per_axis = {a: (max(b, 0), max(e, 0)) for a, (b, e) in per_axis.items()}
    for axis, (before, after) in per_axis.items():
        if before or after:
            index = _pad_index(x.shape[axis], before, after, mode, x.shape)
            x = x[(slice(None),) * axis + (index,)]
    return x


def _pad_constant(x: Tensor, per_axis: dict[int, tuple[int, int]], value: float) -> Tensor:
    """Crop the negative widths with a basic slice, then pad the positive ones."""
    crop = [slice(None)] * x.ndim
    widths = [(0, 0)] * x.ndim
    for axis, (before, after) in per_axis.items():
        if before < 0 or after < 0:  # an untouched axis keeps slice(None): no getitem at all
            crop[axis] = slice(max(-before, 0), x.shape[axis] - max(-after, 0))
        widths[axis] = (max(before, 0), max(after, 0))
    if any(s != slice(None) for s in crop):
        x = x[tuple(crop)]
    if any(a or b for a, b in widths):
        x = ag.pad(x, tuple(widths), value)
    return x


def _pad_index(n: int, before: int, after: int, mode: str, shape: tuple[int, ...]
               ) -> np.ndarray:
    j = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    if mode == "circular":
        if before > n or after > n:
            raise ValueError(f"pad: circular widths {(before, after)} wrap around more than "
                             f"once an axis of size {n} (input of shape {shape})")
        return j % n
    if max(before, after) >= n:
        raise ValueError(f"pad: reflect widths {(before, after)} must be less than the size "
                         f"{n} of the padded axis (input of shape {shape})")
    if n == 1:
        return j
    m = j % (2 * (n - 1))  # reflection about 0 and n - 1 has period 2(n - 1)
    return np.where(m < n, m, 2 * (n - 1) - m)


def _torch_pads(pads: Pads) -> tuple[int, ...]:
    """Per-axis (before, after) pairs, first spatial axis first, as F.pad's flat tuple."""
    return tuple(w for pair in reversed(pads) for w in pair)


# ---------------------------------------------------------------------- convolution
def _conv_padding(padding: Any, kernel: tuple[int, ...], dilation: tuple[int, ...],
                  stride: tuple[int, ...], who: str) -> Pads:
    """(before, after) per spatial axis; ``"same"`` pads any odd extra on the far side (as
    PyTorch) and needs stride 1."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{who}: padding='same' needs stride 1, got stride {stride}")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
            return [(t // 2, t - t // 2) for t in totals]
        raise ValueError(f"{who}: padding must be 'valid', 'same', an int or a tuple of {n} "
                         f"ints, got {padding!r}")
    p = _ntuple(padding, n, "padding", who)
    if min(p) < 0:
        raise ValueError(f"{who}: padding must be non-negative, got {padding!r}")
    return [(v, v) for v in p]


def _conv_geometry(who: str, x: Tensor, weight: Tensor, bias: Tensor | None, n: int,
                   stride: Any, padding: Any, dilation: Any, groups: int
                   ) -> tuple[tuple[int, ...], tuple[int, ...], Pads]:
    """Check shapes and arguments of an n-D convolution; returns stride, dilation, pads."""
    if x.ndim != n + 2 or weight.ndim != n + 2:
        raise OpError(f"{who}: expected input (N, C, *{n} spatial) and weight "
                      f"(O, C/groups, *{n} kernel), got shapes {x.shape} and "
                      f"{weight.shape}")
    if not isinstance(groups, (int, np.integer)) or groups <= 0:
        raise ValueError(f"{who}: groups must be a positive int, got {groups!r}")
    c, o, wc = x.shape[1], weight.shape[0], weight.shape[1]
    if c != wc * groups:
        raise OpError(f"{who}: input has {c} channels but weight of shape "
                      f"{weight.shape} with groups={groups} expects {wc * groups}")
    if o % groups:
        raise OpError(f"{who}: weight of shape {weight.shape} has {o} output "
                      f"channels, not divisible by groups={groups}")
    if type(x.data) is not type(weight.data):
        backends.check_same("conv", (x.data, weight.data))
    if x.dtype != weight.dtype:  # as torch: no silent int or float64 promotion
        raise OpTypeError(f"{who}: input of dtype {x.dtype} and weight of dtype "
                          f"{weight.dtype} differ; cast the input or the layer")
    if bias is not None and tuple(bias.shape) != (o,):
        raise OpError(f"{who}: bias must have shape ({o},), got {bias.shape}")
    kernel = tuple(weight.shape[2:])
    s = _ntuple(stride, n, "stride", who)
    d = _ntuple(dilation, n, "dilation", who)
    _positive(s, "stride", who)
    _positive(d, "dilation", who)
    pads = _conv_padding(padding, kernel, d, s, who)
    padded = tuple(size + a + b for size, (a, b) in zip(x.shape[2:], pads, strict=True))
    extent = tuple(di * (k - 1) + 1 for k, di in zip(kernel, d, strict=True))
    if any(e > size for e, size in zip(extent, padded, strict=True)):
        raise OpError(f"{who}: kernel {kernel} (dilation {d}) is larger than the "
                      f"(padded) input, whose spatial size is {padded} (input "
                      f"shape {x.shape})")
    return s, d, pads


def _conv2d(x: Tensor, weight: Tensor, bias: Tensor | None, s: tuple[int, ...],
            d: tuple[int, ...], pads: Pads, groups: int) -> Tensor:
    """im2col convolution of a checked (N, C, H, W) input, any dilation and groups.

    Pad, take the zero-copy window view (its gradient is the col2im accumulation), copy it
    once into columns, and multiply by the weight matrix.  With dilation the windows span
    the dilated extent and a strided slice keeps every d-th element; with groups the
    channels split into (G, C/G) and one batched matmul does all groups.
    """
    if any(a or b for a, b in pads):
        x = ag.pad(x, ((0, 0), (0, 0), *pads))
    n, c = x.shape[:2]
    o, cg, kh, kw = weight.shape
    extent = (d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1)
    windows = ag.sliding_windows(x, extent, (s[0], s[1]))
    if d != (1, 1):
        windows = windows[..., ::d[0], ::d[1]]
    oh, ow = windows.shape[2:4]
    if groups == 1:  # the benchmarks' fast path: the product is already in NCHW order
        cols = windows.permute(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)
        kernels = weight.reshape(o, c * kh * kw)
        if bias is None:
            return ag.matmul(kernels, cols).reshape(n, o, oh, ow)
        return ag.addmm(bias.reshape(o, 1), kernels, cols).reshape(n, o, oh, ow)
    g = groups
    cols = windows.reshape(n, g, cg, oh, ow, kh, kw).permute(0, 1, 2, 5, 6, 3, 4).reshape(
        n, g, cg * kh * kw, oh * ow)
    out = ag.matmul(weight.reshape(g, o // g, cg * kh * kw), cols).reshape(n, o, oh, ow)
    return out if bias is None else out + bias.reshape(1, o, 1, 1)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None,  # noqa: A002
           stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation of (N, C, L) with weight (O, C/groups, K): ``conv2d`` on H = 1.

    >>> conv1d(ag.ones(1, 2, 5), ag.ones(4, 2, 3), padding="same").shape
    (1, 4, 5)
    """
    who = "conv1d"
    x = _tensor(input)
    if _unbatched(x, 1, who):
        return conv1d(x.unsqueeze(0), weight, bias, stride, padding, dilation, groups)[0]
    s, d, pads = _conv_geometry(who, x, weight, bias, 1, stride, padding, dilation, groups)
    out = _conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, *s), (1, *d),
                  [(0, 0), *pads], groups)
    return out[:, :, 0]


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,  # noqa: A002
           stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation (no kernel flip) of NCHW ``input`` with ``weight``
    (O, C/groups, KH, KW), as ``torch.nn.functional.conv2d``.

    Output size per axis is ⌊(H + 2P − D·(K − 1) − 1)/S⌋ + 1.  ``padding`` is an int, a
    pair, or ``"valid"``/``"same"``; pad asymmetrically with ``pad`` first.  ``groups``
    splits the channels (``groups == C`` is depthwise).  A 3-D input is one unbatched image.

    >>> x = ag.ones(1, 1, 4, 4)
    >>> conv2d(x, ag.ones(1, 1, 3, 3), padding=1).shape
    (1, 1, 4, 4)
    """
    who = "conv2d"
    x = _tensor(input)
    if _unbatched(x, 2, who):
        return conv2d(x.unsqueeze(0), weight, bias, stride, padding, dilation, groups)[0]
    s, d, pads = _conv_geometry(who, x, weight, bias, 2, stride, padding, dilation, groups)
    return _conv2d(x, weight, bias, s, d, pads, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None,  # noqa: A002
           stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """3-D cross-correlation of (N, C, D, H, W) with weight (O, C/groups, KD, KH, KW): the
    sum over the KD depth offsets of a 2-D convolution of the matching depth planes (the
    output depths folded into the batch).

    >>> conv3d(ag.ones(1, 2, 4, 4, 4), ag.ones(3, 2, 3, 3, 3)).shape
    (1, 3, 2, 2, 2)
    """
    who = "conv3d"
    x = _tensor(input)
    if _unbatched(x, 3, who):
        return conv3d(x.unsqueeze(0), weight, bias, stride, padding, dilation, groups)[0]
    s, d, pads = _conv_geometry(who, x, weight, bias, 3, stride, padding, dilation, groups)
    if any(a or b for a, b in pads):
        x = ag.pad(x, ((0, 0), (0, 0), *pads))
    n, c, depth, h, w = x.shape
    o, kd = weight.shape[0], weight.shape[2]
    od = (depth - d[0] * (kd - 1) - 1) // s[0] + 1
    out: Tensor | None = None
    for i in range(kd):
        start = i * d[0]
        planes = x[:, :, start:start + (od - 1) * s[0] + 1:s[0]]
        planes = planes.permute(0, 2, 1, 3, 4).reshape(n * od, c, h, w)
        term = _conv2d(planes, weight[:, :, i], None, s[1:], d[1:], [(0, 0), (0, 0)], groups)
        out = term if out is None else out + term
    assert out is not None
    oh, ow = out.shape[-2:]
    out = out.reshape(n, od, o, oh, ow).permute(0, 2, 1, 3, 4)
    return out if bias is None else out + bias.reshape(1, o, 1, 1, 1)


_CONVS = {1: conv1d, 2: conv2d, 3: conv3d}


def _conv_transpose(who: str, n: int, input: Any, weight: Tensor,  # noqa: A002
                    bias: Tensor | None, stride: Any, padding: Any, output_padding: Any,
                    groups: int, dilation: Any) -> Tensor:
    """The adjoint of the n-D convolution: insert S − 1 zeros between input elements, pad
    each side with D·(K − 1) − P (negative: crop) plus ``output_padding`` on the far side,
    and convolve with the spatially flipped kernel, its in/out channels swapped per group.

    Output size per axis: (L − 1)·S − 2P + D·(K − 1) + output_padding + 1.
    """
    x = _tensor(input)
    if _unbatched(x, n, who):
        return _conv_transpose(who, n, x.unsqueeze(0), weight, bias, stride, padding,
                               output_padding, groups, dilation)[0]
    if weight.ndim != n + 2:
        raise OpError(f"{who}: expected weight (C_in, C_out/groups, *{n} kernel), "
                      f"got shape {weight.shape} for input of shape {x.shape}")
    if not isinstance(groups, (int, np.integer)) or groups <= 0:
        raise ValueError(f"{who}: groups must be a positive int, got {groups!r}")
    c, cin, cog = x.shape[1], weight.shape[0], weight.shape[1]
    if c != cin or c % groups:
        raise OpError(f"{who}: input has {c} channels but weight of shape "
                      f"{weight.shape} expects {cin}, divisible by groups={groups}")
    kernel = tuple(weight.shape[2:])
    s = _ntuple(stride, n, "stride", who)
    p = _ntuple(padding, n, "padding", who)
    op = _ntuple(output_padding, n, "output_padding", who)
    d = _ntuple(dilation, n, "dilation", who)
    _positive(s, "stride", who)
    _positive(d, "dilation", who)
    if min(p) < 0 or min(op) < 0:
        raise ValueError(f"{who}: padding {p} and output_padding {op} must be non-negative")
    if any(o >= max(si, di) for o, si, di in zip(op, s, d, strict=True)):
        raise ValueError(f"{who}: output_padding {op} must be smaller than either stride {s} "
                         f"or dilation {d}")
    sizes = tuple((L - 1) * si - 2 * pi + di * (k - 1) + oi + 1 for L, si, pi, di, k, oi
                  in zip(x.shape[2:], s, p, d, kernel, op, strict=True))
    if min(sizes) <= 0:
        raise OpError(f"{who}: output size {sizes} is not positive (input shape "
                      f"{x.shape}, kernel {kernel}, stride {s}, padding {p})")
    x = _insert_zeros(x, s)
    edges = [(di * (k - 1) - pi, di * (k - 1) - pi + oi)
             for k, pi, di, oi in zip(kernel, p, d, op, strict=True)]
    x = pad(x, _torch_pads(edges))
    g = groups
    spatial = tuple(range(2, n + 2))
    flipped = weight.reshape(g, cin // g, cog, *kernel).swapaxes(1, 2).reshape(
        g * cog, cin // g, *kernel).flip(spatial)
    return _CONVS[n](x, flipped, bias, 1, 0, d, g)


def _insert_zeros(x: Tensor, stride: tuple[int, ...]) -> Tensor:
    """S − 1 zeros between neighbours on each spatial axis: give every element a trailing
    axis of size S (itself, then zeros), merge, and drop the zeros after the last one."""
    if all(si == 1 for si in stride):
        return x
    n, c, *sizes = x.shape
    x = x.reshape(n, c, *(v for size in sizes for v in (size, 1)))
    x = ag.pad(x, ((0, 0), (0, 0), *(w for si in stride for w in ((0, 0), (0, si - 1)))))
    x = x.reshape(n, c, *(size * si for size, si in zip(sizes, stride, strict=True)))
    return x[(slice(None), slice(None),
              *(slice(0, (size - 1) * si + 1) for size, si in zip(sizes, stride, strict=True)))]


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None,  # noqa: A002
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 1-D convolution, weight (C_in, C_out/groups, K) (see ``conv_transpose2d``).

    >>> conv_transpose1d(ag.ones(1, 2, 4), ag.ones(2, 3, 3), stride=2).shape
    (1, 3, 9)
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,  # noqa: A002
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 2-D convolution (the gradient of ``conv2d`` with respect to its input),
    weight (C_in, C_out/groups, KH, KW); output size per axis
    (H − 1)·S − 2P + D·(K − 1) + output_padding + 1, as PyTorch.

    >>> conv_transpose2d(ag.ones(1, 2, 3, 3), ag.ones(2, 4, 3, 3), stride=2, padding=1,
    ...                  output_padding=1).shape
    (1, 4, 6, 6)
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None,  # noqa: A002
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 3-D convolution, weight (C_in, C_out/groups, KD, KH, KW).

    >>> conv_transpose3d(ag.ones(1, 1, 2, 2, 2), ag.ones(1, 2, 2, 2, 2), stride=2).shape
    (1, 2, 4, 4, 4)
    """
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


# -------------------------------------------------------------------------- pooling
def _pool_geometry(who: str, n: int, kernel_size: Any, stride: Any, padding: Any,
                   dilation: Any = 1) -> tuple[tuple[int, ...], ...]:
    k = _ntuple(kernel_size, n, "kernel_size", who)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        _ntuple(stride, n, "stride", who)
    p = _ntuple(padding, n, "padding", who)
    d = _ntuple(dilation, n, "dilation", who)
    for values, name in ((k, "kernel_size"), (s, "stride"), (d, "dilation")):
        _positive(values, name, who)
    if min(p) < 0 or any(2 * pi > k_ for pi, k_ in zip(p, k, strict=True)):
        raise ValueError(f"{who}: padding {p} must be non-negative and at most half the "
                         f"kernel size {k}")
    return k, s, p, d


def _pool_sizes(who: str, x: Tensor, k: tuple[int, ...], s: tuple[int, ...],
                p: tuple[int, ...], d: tuple[int, ...], ceil_mode: bool) -> tuple[int, ...]:
    """Output size per axis, ⌊ or ⌈(L + 2P − D·(K − 1) − 1)/S⌉ + 1 as PyTorch; in ceil mode
    a last window that would start in the far padding is dropped."""
    sizes = []
    for size, ki, si, pi, di in zip(x.shape[2:], k, s, p, d, strict=True):
        span = size + 2 * pi - di * (ki - 1) - 1
        if span < 0:
            padded = tuple(v + 2 * q for v, q in zip(x.shape[2:], p, strict=True))
            raise OpError(f"{who}: kernel {k} (dilation {d}) is larger than the "
                          f"(padded) input, whose spatial size is {padded}")
        out = (-(-span // si) if ceil_mode else span // si) + 1
        if ceil_mode and (out - 1) * si >= size + pi:
            out -= 1
        sizes.append(out)
    return tuple(sizes)


def _window_edges(x: Tensor, outs: tuple[int, ...], k: tuple[int, ...], s: tuple[int, ...],
                  p: tuple[int, ...], d: tuple[int, ...]) -> Pads:
    """(before, after) padding giving exactly ``outs`` windows (ceil mode pads further on
    the far side; floor mode's unused tail is cropped)."""
    return [(pi, (o - 1) * si + di * (ki - 1) + 1 - size - pi)
            for size, o, ki, si, pi, di in zip(x.shape[2:], outs, k, s, p, d, strict=True)]


def _window_positions(axes: list[tuple[np.ndarray, np.ndarray]], sizes: tuple[int, ...]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Flat positions (row-major over ``sizes``) and validity of every window element,
    shape (*out, K) with K the window's element count, from each axis' (out_i, k_i)
    position and validity arrays."""
    n = len(axes)
    flat: Any = 0
    valid: Any = True
    for i, (pos, ok) in enumerate(axes):
        shape = [1] * (2 * n)
        shape[i], shape[n + i] = pos.shape
        flat = flat * sizes[i] + pos.reshape(shape)
        valid = valid & ok.reshape(shape)
    outs = tuple(pos.shape[0] for pos, _ in axes)
    flat, valid = np.broadcast_arrays(flat, valid)
    return flat.reshape(*outs, -1), valid.reshape(*outs, -1)


def _argmax_pool(x: Tensor, flat: np.ndarray, valid: np.ndarray) -> tuple[Tensor, Tensor]:
    """Max over the windows given by ``_window_positions`` and the flat spatial index of
    each window's first maximum (a NaN counts as the maximum), as PyTorch; the values are
    a ``gather`` at those indices, so the gradient goes to that one element."""
    n, c = x.shape[:2]
    outs = flat.shape[:-1]
    data = x.data.reshape(n, c, -1)[:, :, np.where(valid, flat, 0)]
    nan = np.isnan(data) & valid
    with np.errstate(invalid="ignore"):
        scored = np.where(valid & ~nan, data, -np.inf)
        top = scored.max(axis=-1, keepdims=True)
        hit = np.where(nan.any(axis=-1, keepdims=True), nan, valid & (scored == top))
    choice = hit.argmax(axis=-1)
    index = np.take_along_axis(np.broadcast_to(flat, data.shape), choice[..., None], -1)[..., 0]
    values = ag.gather(x.reshape(n, c, -1), 2, index.reshape(n, c, -1)).reshape(n, c, *outs)
    return values, ag.tensor(index.astype(np.int64))


def _regular_axes(x: Tensor, outs: tuple[int, ...], k: tuple[int, ...], s: tuple[int, ...],
                  p: tuple[int, ...], d: tuple[int, ...]
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    axes = []
    for size, o, ki, si, pi, di in zip(x.shape[2:], outs, k, s, p, d, strict=True):
        pos = np.arange(o)[:, None] * si - pi + np.arange(ki)[None, :] * di
        axes.append((pos, (pos >= 0) & (pos < size)))
    return axes


def _max_pool(who: str, n: int, input: Any, kernel_size: Any, stride: Any,  # noqa: A002
              padding: Any, dilation: Any, ceil_mode: bool, return_indices: bool) -> Any:
    x = _tensor(input)
    if _unbatched(x, n, who):
        out = _max_pool(who, n, x.unsqueeze(0), kernel_size, stride, padding, dilation,
                        ceil_mode, return_indices)
        return (out[0][0], out[1][0]) if return_indices else out[0]
    k, s, p, d = _pool_geometry(who, n, kernel_size, stride, padding, dilation)
    if any(2 * pi > di * (ki - 1) + 1 for pi, ki, di in zip(p, k, d, strict=True)):
        raise ValueError(f"{who}: padding {p} must be at most half the kernel size {k}")
    outs = _pool_sizes(who, x, k, s, p, d, ceil_mode)
    if n <= 2 and all(di == 1 for di in d) and not return_indices:
        # window_max needs no copy of the window layout; tied maxima share the gradient
        x2 = x.unsqueeze(2) if n == 1 else x
        k2, s2 = ((1, *k), (1, *s)) if n == 1 else (k, s)
        edges = _window_edges(x, outs, k, s, p, d)
        lowest = (-math.inf if backends.is_floating(x.dtype)
                  else np.iinfo(backends.numpy_dtype(x.dtype)).min)
        xp = pad(x2, _torch_pads(edges), value=lowest)
        out = ag.window_max(xp, k2, s2)  # type: ignore[arg-type]
        return out[:, :, 0] if n == 1 else out
    flat, valid = _window_positions(_regular_axes(x, outs, k, s, p, d), x.shape[2:])
    values, indices = _argmax_pool(x, flat, valid)
    return (values, indices) if return_indices else values


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None,  # noqa: A002
               padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """Max over windows of the last axis of (N, C, L) (see ``max_pool2d``).

    >>> max_pool1d(ag.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]]), 2, ceil_mode=True).tolist()
    [[[3.0, 5.0, 4.0]]]
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None,  # noqa: A002
               padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """Maximum over each KHxKW window (stride defaults to the kernel), as PyTorch.

    Padding never wins.  ``return_indices=True`` also returns each maximum's index into
    the flattened H·W input (for ``max_unpool2d``).  Without dilation or indices the
    ``window_max`` primitive is used and tied maxima share the gradient equally (the
    engine's ``max`` convention); otherwise the values are gathered at the first maximum,
    which gets all of it (PyTorch's choice) -- the same subgradient away from ties.

    >>> x = ag.arange(16.0).reshape(1, 1, 4, 4)
    >>> max_pool2d(x, 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = None,  # noqa: A002
               padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """Max over KDxKHxKW windows of (N, C, D, H, W) (see ``max_pool2d``).

    >>> max_pool3d(ag.ones(1, 1, 4, 4, 4), 2).shape
    (1, 1, 2, 2, 2)
    """
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def _window_sums(x: Tensor, k: tuple[int, ...], s: tuple[int, ...]) -> Tensor:
    """Sum over each window of the last len(k) ∈ {2, 3} axes of an already padded input.

    The window elements are stacked on a new leading axis and summed there, an elementwise
    sum of whole arrays: reducing the strided window view over its two tiny trailing axes
    is ~20x slower in numpy, more than the one copy costs.  A depth axis is a sum over its
    offsets of the 2-D sums of the matching planes.
    """
    if len(k) == 3:
        od = (x.shape[2] - k[0]) // s[0] + 1
        total: Tensor | None = None
        for i in range(k[0]):
            term = _window_sums(x[:, :, i:i + (od - 1) * s[0] + 1:s[0]], k[1:], s[1:])
            total = term if total is None else total + term
        assert total is not None
        return total
    windows = ag.sliding_windows(x, k, s)  # type: ignore[arg-type]
    nd = windows.ndim
    return windows.permute(nd - 2, nd - 1, *range(nd - 2)).reshape(
        k[0] * k[1], *windows.shape[:-2]).sum(axis=0)


def _avg_pool(who: str, n: int, input: Any, kernel_size: Any, stride: Any,  # noqa: A002
              padding: Any, ceil_mode: bool, count_include_pad: bool,
              divisor_override: int | None) -> Tensor:
    x = _tensor(input)
    if _unbatched(x, n, who):
        return _avg_pool(who, n, x.unsqueeze(0), kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override)[0]
    k, s, p, d = _pool_geometry(who, n, kernel_size, stride, padding)
    outs = _pool_sizes(who, x, k, s, p, d, ceil_mode)
    xp = pad(x, _torch_pads(_window_edges(x, outs, k, s, p, d)))
    if n == 1:
        sums = _window_sums(xp.unsqueeze(2), (1, *k), (1, *s))[:, :, 0]
    else:
        sums = _window_sums(xp, k, s)
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError(f"{who}: divisor_override must be non-zero")
        return sums / divisor_override
    # PyTorch's divisor: the window's elements inside the input, or (count_include_pad)
    # inside the zero-padded input -- never the far overhang that ceil mode adds.
    dt = backends.numpy_dtype(x.dtype)  # host-side counts, numpy's dtype of x's name
    counts = np.ones((), dtype=dt)
    for i, (size, o, ki, si, pi) in enumerate(zip(x.shape[2:], outs, k, s, p, strict=True)):
        lo, hi = (-pi, size + pi) if count_include_pad else (0, size)
        start = np.arange(o) * si - pi
        axis = np.clip(np.minimum(start + ki, hi) - np.maximum(start, lo), 1, None)
        counts = counts * axis.astype(dt).reshape((-1,) + (1,) * (n - 1 - i))
    return sums / counts


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None,  # noqa: A002
               padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over windows of the last axis of (N, C, L) (see ``avg_pool2d``).

    >>> avg_pool1d(ag.tensor([[[1.0, 3.0, 2.0, 6.0]]]), 2).tolist()
    [[[2.0, 4.0]]]
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None,  # noqa: A002
               padding: Any = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over each KHxKW window, as PyTorch: zero padding is counted in the mean unless
    ``count_include_pad=False``; ceil mode's extra windows divide by what they cover.

    >>> avg_pool2d(ag.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(input: Tensor, kernel_size: Any, stride: Any = None,  # noqa: A002
               padding: Any = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over KDxKHxKW windows of (N, C, D, H, W) (see ``avg_pool2d``).

    >>> avg_pool3d(ag.ones(1, 1, 4, 4, 4), 2, padding=1).shape
    (1, 1, 3, 3, 3)
    """
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _max_unpool(who: str, n: int, input: Any, indices: Any, kernel_size: Any,  # noqa: A002
                stride: Any, padding: Any, output_size: Any) -> Tensor:
    x = _tensor(input)
    index = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if _unbatched(x, n, who):
        return _max_unpool(who, n, x.unsqueeze(0), index[None], kernel_size, stride,
                           padding, output_size)[0]
    k, s, p, _ = _pool_geometry(who, n, kernel_size, stride, padding)
    if index.shape != x.shape or not np.issubdtype(index.dtype, np.integer):
        raise OpError(f"{who}: indices of shape {index.shape} (dtype "
                      f"{index.dtype}) must be integers shaped as the input "
                      f"{x.shape}")
    if output_size is None:
        sizes = tuple((L - 1) * si - 2 * pi + ki
                      for L, si, pi, ki in zip(x.shape[2:], s, p, k, strict=True))
    else:
        sizes = tuple(int(v) for v in tuple(output_size)[-n:])
        if len(sizes) != n:
            raise ValueError(f"{who}: output_size {output_size!r} needs {n} spatial sizes")
    b, c = x.shape[:2]
    total = math.prod(sizes)
    if index.size and (index.min() < 0 or index.max() >= total):
        raise OpError(f"{who}: indices must lie in [0, {total}) for output size "
                      f"{sizes}, got [{index.min()}, {index.max()}]")
    zeros = ag.zeros(b, c, total, dtype=backends.numpy_dtype(x.dtype)).to(
        backends.where_of(x.data))
    out = ag.scatter(zeros, 2, index.reshape(b, c, -1),
                     x.reshape(b, c, -1))
    return out.reshape(b, c, *sizes)


def max_unpool1d(input: Tensor, indices: Any, kernel_size: Any,  # noqa: A002
                 stride: Any = None, padding: Any = 0, output_size: Any = None) -> Tensor:
    """Inverse of ``max_pool1d(..., return_indices=True)`` (see ``max_unpool2d``)."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool2d(input: Tensor, indices: Any, kernel_size: Any,  # noqa: A002
                 stride: Any = None, padding: Any = 0, output_size: Any = None) -> Tensor:
    """Zeros of the pooled-from size with each value put back at its index (a ``scatter``
    into the flattened H·W), as PyTorch; ``output_size`` may include N and C, ignored.

    >>> v, i = max_pool2d(ag.arange(16.0).reshape(1, 1, 4, 4), 2, return_indices=True)
    >>> max_unpool2d(v, i, 2)[0, 0, 1].tolist()
    [0.0, 5.0, 0.0, 7.0]
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool3d(input: Tensor, indices: Any, kernel_size: Any,  # noqa: A002
                 stride: Any = None, padding: Any = 0, output_size: Any = None) -> Tensor:
    """Inverse of ``max_pool3d(..., return_indices=True)`` (see ``max_unpool2d``)."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding,
                       output_size)


# ------------------------------------------------------------------ adaptive pooling
def _adaptive_sizes(x: Tensor, output_size: Any, n: int, who: str) -> tuple[int, ...]:
    """Output sizes; ``None`` in ``output_size`` keeps that axis' input size."""
    raw = (output_size,) * n if output_size is None or isinstance(output_size, int) \
        else tuple(output_size)
    if len(raw) != n:
        raise ValueError(f"{who}: output_size must be an int or {n} sizes, got "
                         f"{output_size!r}")
    sizes = tuple(x.shape[-n + i] if v is None else int(v) for i, v in enumerate(raw))
    if min(sizes) <= 0:
        raise ValueError(f"{who}: output_size must be positive, got {output_size!r}")
    return sizes


def _adaptive_bounds(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Window i covers [⌊i·L/out⌋, ⌈(i + 1)·L/out⌉), PyTorch's adaptive windows."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _adaptive_avg_axis(x: Tensor, axis: int, out: int) -> Tensor:
    """Adaptive mean along one axis: a product with the (L, out) averaging matrix (the
    windows of a rectangle average separably, one axis at a time)."""
    size = x.shape[axis]
    start, end = _adaptive_bounds(size, out)
    j = np.arange(size)[:, None]
    inside = (j >= start) & (j < end)
    matrix = ag.tensor((inside / (end - start)).astype(backends.numpy_dtype(x.dtype)),
                       device=backends.where_of(x.data))
    if axis == x.ndim - 1:
        return ag.matmul(x, matrix)
    return ag.matmul(x.swapaxes(axis, -1), matrix).swapaxes(axis, -1)


def _adaptive_avg(who: str, n: int, input: Any, output_size: Any) -> Tensor:  # noqa: A002
    x = _tensor(input)
    _unbatched(x, n, who)
    for i, out in enumerate(_adaptive_sizes(x, output_size, n, who)):
        if out != x.shape[x.ndim - n + i]:
            x = _adaptive_avg_axis(x, x.ndim - n + i, out)
    return x


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """Mean over ``output_size`` near-equal windows of the last axis, as PyTorch.

    >>> adaptive_avg_pool1d(ag.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), 2).tolist()
    [[[2.0, 4.0]]]
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """Mean over windows chosen to give an ``output_size`` (int, pair, ``None`` keeps an
    axis) output; ``output_size=1`` is global average pooling.

    >>> adaptive_avg_pool2d(ag.ones(2, 3, 7, 5), (2, None)).shape
    (2, 3, 2, 5)
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """Adaptive mean over the last three axes (see ``adaptive_avg_pool2d``)."""
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_max(who: str, n: int, input: Any, output_size: Any,  # noqa: A002
                  return_indices: bool) -> Any:
    x = _tensor(input)
    if _unbatched(x, n, who):
        out = _adaptive_max(who, n, x.unsqueeze(0), output_size, return_indices)
        return (out[0][0], out[1][0]) if return_indices else out[0]
    axes = []
    for size, out in zip(x.shape[2:], _adaptive_sizes(x, output_size, n, who), strict=True):
        start, end = _adaptive_bounds(size, out)
        pos = start[:, None] + np.arange(int((end - start).max()))[None, :]
        axes.append((pos, pos < end[:, None]))
    values, indices = _argmax_pool(x, *_window_positions(axes, x.shape[2:]))
    return (values, indices) if return_indices else values


def adaptive_max_pool1d(input: Tensor, output_size: Any,  # noqa: A002
                        return_indices: bool = False) -> Any:
    """Max over adaptive windows of the last axis (see ``adaptive_max_pool2d``)."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size: Any,  # noqa: A002
                        return_indices: bool = False) -> Any:
    """Max over the windows of ``adaptive_avg_pool2d``; the gradient goes to each window's
    first maximum and ``return_indices`` gives its flat H·W index, as PyTorch.

    >>> adaptive_max_pool2d(ag.arange(16.0).reshape(1, 1, 4, 4), 1).tolist()
    [[[[15.0]]]]
    """
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


# -------------------------------------------------------------------- interpolation
_LINEAR_DIMS = {"linear": 1, "bilinear": 2, "trilinear": 3}
_INTERP_MODES = ("nearest", "nearest-exact", "area", *_LINEAR_DIMS)


def _interp_sizes(x: Tensor, n: int, size: Any, scale_factor: Any,
                  recompute_scale_factor: bool | None, who: str
                  ) -> tuple[tuple[int, ...], tuple[float | None, ...]]:
    """Output sizes and the scale factors PyTorch maps coordinates with (``None``: use
    input/output size)."""
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{who}: give exactly one of size and scale_factor, got size={size!r}"
                         f" and scale_factor={scale_factor!r}")
    if size is not None:
        sizes = _ntuple(size, n, "size", who)
        _positive(sizes, "size", who)
        return sizes, (None,) * n
    raw = (scale_factor,) * n if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    if len(raw) != n or min(raw) <= 0:
        raise ValueError(f"{who}: scale_factor must be a positive number or {n} of them, got "
                         f"{scale_factor!r}")
    sizes = tuple(math.floor(L * float(f)) for L, f in zip(x.shape[2:], raw, strict=True))
    scales = (None,) * n if recompute_scale_factor else tuple(float(f) for f in raw)
    return sizes, scales


def _nearest_index(size: int, out: int, scale: float | None, exact: bool) -> np.ndarray:
    """Source index per output index, in float32 like PyTorch's kernel (so ties round the
    same way): ⌊i·s⌋, or ⌊(i + ½)·s⌋ for nearest-exact, with s = in/out or 1/scale."""
    ratio = np.float32(size / out if scale is None else 1.0 / scale)
    i = np.arange(out, dtype=np.float32) + np.float32(0.5 if exact else 0.0)
    return np.minimum(np.floor(i * ratio).astype(np.int64), size - 1)


def _linear_source(size: int, out: int, scale: float | None, align_corners: bool
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two source indices and the weight of the second for each output index:
    align_corners maps the corner pixels' centres onto each other, otherwise pixel
    centres are scaled ((i + ½)·s − ½, clamped at 0), as PyTorch."""
    i = np.arange(out, dtype=np.float64)
    if align_corners:
        src = i * ((size - 1) / (out - 1) if out > 1 else 0.0)
    else:
        ratio = size / out if scale is None else 1.0 / scale
        src = np.maximum((i + 0.5) * ratio - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), size - 1)
    hi = np.minimum(lo + 1, size - 1)
    return lo, hi, src - lo


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None,  # noqa: A002
                mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False
                ) -> Tensor:
    """Resize the spatial axes of a 3-D, 4-D or 5-D input, as ``torch.nn.functional
    .interpolate``: ``mode`` is ``"nearest"``, ``"nearest-exact"``, ``"area"`` (adaptive
    average pooling) or ``"linear"``/``"bilinear"``/``"trilinear"`` (for 3-/4-/5-D input).

    Separable, one axis at a time: nearest gathers source rows with an integer index,
    linear blends two gathered rows; the gathers' gradients accumulate.  An integer input
    stays integer (linear modes round, as PyTorch).

    >>> interpolate(ag.tensor([[[1.0, 2.0]]]), scale_factor=2).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    >>> interpolate(ag.tensor([[[1.0, 2.0]]]), size=3, mode="linear", align_corners=True).tolist()
    [[[1.0, 1.5, 2.0]]]
    """
    who = "interpolate"
    x = _tensor(input)
    n = x.ndim - 2
    if mode not in _INTERP_MODES:
        raise NotImplementedError(f"{who}: mode must be one of {', '.join(_INTERP_MODES)}, "
                                  f"got {mode!r}")
    if not 1 <= n <= 3:
        raise ValueError(f"{who}: expected a 3-D, 4-D or 5-D input (N, C, *spatial), got "
                         f"shape {x.shape}")
    if mode in _LINEAR_DIMS and _LINEAR_DIMS[mode] != n:
        raise ValueError(f"{who}: mode {mode!r} needs a {_LINEAR_DIMS[mode] + 2}-D input, got "
                         f"shape {x.shape}")
    if align_corners is not None and mode not in _LINEAR_DIMS:
        raise ValueError(f"{who}: align_corners can only be set with the linear modes, got "
                         f"mode {mode!r}")
    if antialias:
        raise NotImplementedError(f"{who}: antialias=True is not supported")
    sizes, scales = _interp_sizes(x, n, size, scale_factor, recompute_scale_factor, who)
    if mode == "area":
        return adaptive_avg_pool3d(x, sizes) if n == 3 else _adaptive_avg(who, n, x, sizes)
    integer = not backends.is_floating(x.dtype)
    if integer and mode in _LINEAR_DIMS:
        x = x.astype(ag.get_default_dtype())
    for i, (out, scale) in enumerate(zip(sizes, scales, strict=True)):
        axis = 2 + i
        head = (slice(None),) * axis
        if mode in _LINEAR_DIMS:
            lo, hi, w = _linear_source(x.shape[axis], out, scale, bool(align_corners))
            w_hi = ag.tensor(w.astype(backends.numpy_dtype(x.dtype)).reshape(
                (-1,) + (1,) * (n - 1 - i)), device=backends.where_of(x.data))
            x = x[head + (lo,)] * (1 - w_hi) + x[head + (hi,)] * w_hi
        elif out != x.shape[axis]:
            x = x[head + (_nearest_index(x.shape[axis], out, scale, mode == "nearest-exact"),)]
    if integer and mode in _LINEAR_DIMS:
        return x.round().astype(_tensor(input).dtype)
    return x
