"""Layers, activations, normalisation, dropout and losses as functions of Tensors (``F``).

Everything here is a composition of engine ops: there is no backward code, and every
gradient below comes from the primitives' rules.  Shapes follow PyTorch (NCHW images,
class scores on axis 1).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import OpError, OpTypeError, Tensor, backends

from .embedding import embedding, one_hot
from .spatial import (
    _tensor,
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    interpolate,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
    pad,
)

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "celu",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "cross_entropy",
    "dropout",
    "elu",
    "embedding",
    "gelu",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "huber_loss",
    "interpolate",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsigmoid",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "mish",
    "mse_loss",
    "multi_margin_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "quick_gelu",
    "relu",
    "relu6",
    "scaled_dot_product_attention",
    "selu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "soft_margin_loss",
    "softmax",
    "softmin",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]

_REDUCTIONS = ("none", "mean", "sum")


# --------------------------------------------------------------------------- layers
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """``input @ weight.T + bias`` with ``weight`` of shape (out_features, in_features).

    >>> x, w = ag.ones(2, 3), ag.ones(4, 3)
    >>> linear(x, w, ag.zeros(4)).tolist()[0]
    [3.0, 3.0, 3.0, 3.0]
    """
    if type(input.data) is not type(weight.data):
        backends.check_same("linear", (input.data, weight.data))
    if input.dtype != weight.dtype:  # as torch: no silent int or float64 promotion
        raise OpTypeError(f"linear: input of dtype {input.dtype} and weight of dtype "
                          f"{weight.dtype} differ; cast the input (x.float(), "
                          f"x.astype(w.dtype)) or the layer (module.double())")
    if bias is None:
        return ag.matmul(input, weight.mT)
    return ag.addmm(bias, input, weight.mT)  # the bias added into the fresh product


# ---------------------------------------------------------------------- activations
relu = ag.relu
sigmoid = ag.sigmoid
tanh = ag.tanh


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:  # noqa: A002
    """``x`` for x > 0, else ``negative_slope * x``; the derivative at 0 is the slope
    (PyTorch's convention).

    >>> leaky_relu(ag.tensor([-2.0, 3.0]), 0.5).tolist()
    [-1.0, 3.0]
    """
    x = _tensor(input)
    return ag.where(x > 0, x, x * negative_slope)


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    """``x`` for x > 0, else ``alpha * (exp(x) - 1)``.

    exp sees min(x, 0), so the branch that ``where`` discards cannot overflow to inf
    (whose zero gradient would otherwise become 0 * inf = NaN).

    >>> elu(ag.tensor([0.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    x = _tensor(input)
    return ag.where(x > 0, x, alpha * (ag.exp(ag.clip(x, None, 0.0)) - 1))


def _softplus(z: Tensor) -> Tensor:
    """log(1 + e^z), stable at both tails: z + log1p(e^-z) for z > 0, log1p(e^z) elsewhere.

    Each side is a smooth formula exact on its side, so derivatives of every order are
    right, also at z = 0 (σ(0) = 1/2, σ'(0) = 1/4).  The kink-based max(z, 0) +
    log1p(e^-|z|) gets the first derivative at 0 right but the second wrong (0): Newton's
    method on logistic regression usually starts there.  Each side is fed a clamped input,
    so the side ``where`` discards stays finite and passes no NaN into the gradient.
    """
    positive = z > 0
    zp, zn = ag.where(positive, z, 0.0), ag.where(positive, 0.0, z)
    return ag.where(positive, zp + ag.log1p(ag.exp(-zp)), ag.log1p(ag.exp(zn)))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """``log(1 + exp(beta * x)) / beta``; linear where ``beta * x > threshold`` (PyTorch).

    >>> round(softplus(ag.tensor([0.0])).item(), 6)
    0.693147
    """
    x = _tensor(input)
    z = x * beta if beta != 1 else x
    soft = _softplus(z) / beta if beta != 1 else _softplus(z)
    return ag.where(z > threshold, x, soft)


SELU_ALPHA = 1.6732632423543772848170429916717  # Klambauer et al. 2017, as PyTorch
SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """``x·Φ(x)`` with Φ the standard normal CDF, ``0.5·x·(1 + erf(x/√2))``; with
    ``approximate="tanh"``, ``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`` (PyTorch's two).

    >>> round(gelu(ag.tensor([1.0])).item(), 5)
    0.84134
    """
    x = _tensor(input)
    if approximate == "none":
        return x * 0.5 * (ag.erf(x * (1 / math.sqrt(2.0))) + 1)
    if approximate == "tanh":
        return x * 0.5 * (ag.tanh((x + 0.044715 * x * x * x) * _SQRT_2_OVER_PI) + 1)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def quick_gelu(input: Tensor) -> Tensor:  # noqa: A002
    """``x·σ(1.702·x)``, the sigmoid approximation of gelu (CLIP's; not in torch core)."""
    x = _tensor(input)
    return x * ag.sigmoid(x * 1.702)


def silu(input: Tensor) -> Tensor:  # noqa: A002
    """``x·σ(x)`` (also called swish)."""
    x = _tensor(input)
    return x * ag.sigmoid(x)


swish = silu


def mish(input: Tensor) -> Tensor:  # noqa: A002
    """``x·tanh(softplus(x))`` (Misra 2019)."""
    x = _tensor(input)
    return x * ag.tanh(_softplus(x))


def selu(input: Tensor) -> Tensor:  # noqa: A002
    """``scale·elu(x, alpha)`` with PyTorch's constants (self-normalising networks)."""
    return elu(input, SELU_ALPHA) * SELU_SCALE


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    """``x`` for x > 0, else ``alpha·(exp(x/alpha) − 1)``; ``alpha`` must not be 0."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (it divides the input)")
    x = _tensor(input)
    return ag.where(x > 0, x, alpha * (ag.exp(ag.clip(x, None, 0.0) / alpha) - 1))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:  # noqa: A002
    """``x`` clipped to ``[min_val, max_val]``.  Unlike ``clip`` (whose gradient passes on
    the closed interval), the gradient passes only strictly inside, as PyTorch's."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    x = _tensor(input)
    inside = ag.outside(backends.native(lambda a: (a > min_val) & (a < max_val)), x)
    clipped = backends.native(lambda a: backends.namespace(a).clip(a, min_val, max_val))
    return ag.where(inside, x, ag.outside(clipped, x))


def relu6(input: Tensor) -> Tensor:  # noqa: A002
    """``min(max(x, 0), 6)`` = ``hardtanh(x, 0, 6)``."""
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """``relu6(x + 3) / 6``: 0 below −3, 1 above 3, linear between."""
    return relu6(_tensor(input) + 3.0) * (1 / 6)


def hardswish(input: Tensor) -> Tensor:  # noqa: A002
    """``x·relu6(x + 3)/6`` (MobileNetV3).  At exactly x = −3 the gradient is 0 here and
    −0.5 in PyTorch (its rule takes the middle branch there); elsewhere they agree."""
    x = _tensor(input)
    return x * hardsigmoid(x)


def logsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """``log σ(x)`` = ``−softplus(−x)``, stable at both tails."""
    return -_softplus(-_tensor(input))


def softsign(input: Tensor) -> Tensor:  # noqa: A002
    """``x / (1 + |x|)``."""
    x = _tensor(input)
    return x / (ag.abs(x) + 1)


def softmin(input: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """``softmax(−x, dim)``."""
    return softmax(-_tensor(input), dim)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1,  # noqa: A002
              eps: float = 1e-12) -> Tensor:
    """``x / max(‖x‖_p, eps)`` along ``dim`` (PyTorch's default: L2 over dim 1)."""
    x = _tensor(input)
    norm = ag.norm(x, dim, True) if p == 2 else ag.sum(ag.abs(x) ** p, dim, True) ** (1.0 / p)
    return x / ag.maximum(norm, eps)


def softmax(input: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """exp(x) / Σ exp(x) along ``dim`` (default: the last axis; PyTorch's implicit choice
    of axis is deprecated there), with the detached max subtracted first."""
    return ag.softmax(_tensor(input), -1 if dim is None else dim)


def log_softmax(input: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """x − logsumexp(x) along ``dim`` (default: the last axis); finite for logits of ±1e4."""
    return ag.log_softmax(_tensor(input), -1 if dim is None else dim)


# -------------------------------------------------------------------------- dropout
def dropout(input: Tensor, p: float = 0.5, training: bool = True,  # noqa: A002
            generator: np.random.Generator | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` (the *drop* probability,
    as PyTorch; seed 001 uses the keep probability) and scale survivors by 1/(1 − p), so
    evaluation is the identity.  The mask comes from ``generator`` (default: the library
    generator that ``autograd_core.manual_seed`` seeds); uniforms are drawn in float32
    whatever the input dtype, so a float64 replay sees the same mask.

    >>> x = ag.ones(2, 3)
    >>> dropout(x, 0.5, training=False) is x
    True
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p}")
    x = _tensor(input)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    gen = generator if generator is not None else ag.default_generator()
    # Drawn by ag.outside: a compiled step draws a new mask from the same stream each time.
    # numpy's generator draws it on the host for every array library (the same stream).
    mask = ag.outside(functools.partial(_dropout_mask, gen, x.shape, p,
                                        backends.numpy_dtype(x.dtype)))
    return x * mask.to(backends.where_of(x.data))


def _dropout_mask(gen: np.random.Generator, shape: tuple[int, ...], p: float,
                  dtype: np.dtype) -> np.ndarray:
    """Survivors scaled by 1/(1 − p), the dropped zero."""
    keep = gen.random(shape, dtype=np.float32) >= p
    return keep * np.asarray(1.0 / (1.0 - p), dtype=dtype)


# -------------------------------------------------------------------- normalisation
def _standardize(x: Tensor, axes: tuple[int, ...], eps: float, total: Any = None,
                 count: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """(x − μ)/√(σ² + ε) with the biased variance over ``axes``; also returns μ and σ²
    (both keep their axes).  Gradients flow through μ and σ², as they must.  ``total``
    sums a statistic over the ranks (then ``count`` is the global number of values)."""
    if total is None:
        mu = x.mean(axis=axes, keepdims=True)
        centred = x - mu
        var = (centred * centred).mean(axis=axes, keepdims=True)
    else:  # over every rank's share: sums of the shares, by the global count
        mu = total(x.sum(axis=axes, keepdims=True)) / count
        centred = x - mu
        var = total((centred * centred).sum(axis=axes, keepdims=True)) / count
    return centred / ag.sqrt(var + eps), mu, var


def batch_norm(input: Tensor, running_mean: Tensor | None,  # noqa: A002
               running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalisation over every axis but the channel axis 1 (Ioffe & Szegedy 2015).

    Training: normalise with the batch mean and the *biased* batch variance, and update
    the ``running_mean`` / ``running_var`` tensors (``running = (1 − momentum)·running +
    momentum·batch``, a new array in each tensor's ``.data``) with the *unbiased* batch
    variance, as PyTorch.  Evaluation: normalise with the running
    statistics.  Then ``y = γ·x̂ + β`` with ``weight`` γ and ``bias`` β of shape (C,).

    >>> x = ag.tensor([[1.0], [3.0]])
    >>> batch_norm(x, None, None, training=True, eps=0.0).tolist()
    [[-1.0], [1.0]]
    """
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                       eps)


def _batch_norm(input: Tensor, running_mean: Tensor | None,  # noqa: A002
                running_var: Tensor | None, weight: Tensor | None, bias: Tensor | None,
                training: bool, momentum: Any, eps: float, comm: Any = None) -> Tensor:
    """`batch_norm`; with ``comm`` (a communicator) the training statistics are those of
    every rank's input together (`nn.SyncBatchNorm`), summed by the differentiable
    ``ag.distributed.all_reduce``."""
    x = _tensor(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, ...), got {x.shape}")
    axes = (0, *range(2, x.ndim))
    stat_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        count = x.size // x.shape[1]
        total = None
        if comm is not None:
            count = int(comm.allreduce_sum_(np.array([float(count)]))[0])
            total = functools.partial(ag.distributed.all_reduce, comm=comm)
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}")
        xhat, mu, var = _standardize(x, axes, eps, total, count)
        if running_mean is not None and running_var is not None:
            # By ag.outside: a compiled step updates the statistics on every replay.
            ag.outside(functools.partial(_update_running, running_mean, running_var,
                                         momentum, count), mu, var)
        return _affine(xhat, weight, bias, stat_shape)
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are needed when not "
                         "training")
    # Fold the running statistics into one scale and shift: two full-size ops, not four.
    # Tensor ops on the buffers (no gradient), which a compiled step replays.
    inv_std = 1.0 / ag.sqrt(running_var + eps)
    scale: Any = inv_std if weight is None else weight * inv_std.astype(weight.dtype)
    shift: Any = -running_mean * scale
    if bias is not None:
        shift = shift + bias
    return x * ag.reshape(scale, stat_shape) + ag.reshape(shift, stat_shape)


@backends.native  # on any array library's arrays
def _update_running(running_mean: Tensor, running_var: Tensor, momentum: Any, count: int,
                    mu: np.ndarray, var: np.ndarray) -> None:
    """The running statistics' update, with the *unbiased* batch variance.  ``momentum``
    may be a function giving it (BatchNorm's cumulative average reads its batch count)."""
    m = momentum() if callable(momentum) else momentum
    xp = backends.namespace(mu)
    _blend(xp, running_mean, xp.reshape(mu, (-1,)), m)
    _blend(xp, running_var, xp.reshape(var, (-1,)) * (count / (count - 1)), m)


def _blend(xp: Any, running: Tensor, batch: np.ndarray, momentum: float) -> None:
    """Exponential moving average of a statistic; a new array (never an in-place write on
    memory someone else may hold)."""
    running.data = xp.astype((1.0 - momentum) * running.data + momentum * batch,
                             running.data.dtype)


def _affine(xhat: Tensor, weight: Tensor | None, bias: Tensor | None,
            shape: tuple[int, ...]) -> Tensor:
    out = xhat if weight is None else xhat * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)


def layer_norm(input: Tensor, normalized_shape: int | tuple[int, ...],  # noqa: A002
               weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise each sample over its last ``len(normalized_shape)`` axes (Ba et al. 2016);
    same in training and evaluation, no running statistics.

    >>> layer_norm(ag.tensor([[1.0, 3.0]]), 2, eps=0.0).tolist()
    [[-1.0, 1.0]]
    """
    x = _tensor(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: the input's trailing shape must be normalized_shape "
                         f"{shape}, got input of shape {x.shape}")
    xhat, _, _ = _standardize(x, tuple(range(x.ndim - len(shape), x.ndim)), eps)
    return _affine(xhat, weight, bias, shape)


# --------------------------------------------------------------------------- losses
def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _check_reduction(reduction: str, who: str,
                     allowed: tuple[str, ...] = _REDUCTIONS) -> None:
    if reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed[:-1]) + f" or {allowed[-1]!r}"
        raise ValueError(f"{who}: reduction must be {names}, got {reduction!r}")


def _class_axis(x: Tensor, who: str) -> int:
    if x.ndim == 0:
        raise ValueError(f"{who}: input must have a class axis, got a 0-d tensor")
    return 0 if x.ndim == 1 else 1


def _index_targets(x: Tensor, target: Any, weight: Any, ignore_index: int | None,
                   label_smoothing: float, who: str) -> tuple[Tensor, Tensor]:
    """Class-index targets as a dense constant T with loss = −Σ_c log p_c · T_c, and the
    mean's denominator Σ_n w[y_n] over non-ignored samples (PyTorch's weighted mean).

    With label smoothing ε (PyTorch): T = (1 − ε)·w_y·onehot(y) + (ε/C)·w_c, both terms
    zero for ignored samples and sharing that same denominator.  Computed from the
    target's array by `ag.outside`, so a compiled step recomputes them for each batch.
    """
    axis = _class_axis(x, who)
    w = None if weight is None else _weight_array(weight, x.shape[axis], x, who)
    return ag.outside(functools.partial(_index_target_arrays, x.shape,
                                        backends.numpy_dtype(x.dtype), axis, w,
                                        ignore_index, label_smoothing, who), target)


@backends.native  # numpy's or any array library's targets, computed on their own device
def _index_target_arrays(shape: tuple[int, ...], dtype: np.dtype, axis: int,
                         weight: np.ndarray | None, ignore_index: int | None,
                         label_smoothing: float, who: str, target: Any
                         ) -> tuple[np.ndarray, np.ndarray]:
    n_classes = shape[axis]
    xp = backends.namespace(target) if backends.is_foreign(target) else np
    y = target if xp is not np else np.asarray(target)
    expected = shape[:axis] + shape[axis + 1:]
    if tuple(y.shape) != expected:
        # PyTorch's types: a batch-size mismatch is a ValueError, any other a RuntimeError.
        batch_mismatch = axis == 1 and y.ndim == len(expected) and y.shape[0] != expected[0]
        error = ValueError if batch_mismatch else RuntimeError
        raise error(f"{who}: class-index target must have shape {expected} for input of "
                    f"shape {shape}, got {tuple(y.shape)}")
    if not xp.isdtype(y.dtype, "integral"):  # as torch: float targets are probabilities
        raise OpTypeError(f"{who}: a target of shape {tuple(y.shape)} holds class indices "
                          f"and must be integers, got dtype {y.dtype}; class probabilities "
                          f"have the input's shape {shape}")
    dev = backends.device_of(y)
    dtype = backends.dtype_for(y, dtype) if xp is not np else dtype
    valid = xp.ones(y.shape, dtype=xp.bool, device=dev) if ignore_index is None else (
        y != ignore_index)
    bad = valid & ((y < 0) | (y >= n_classes))
    if xp.any(bad):
        first = backends.to_numpy(y)[backends.to_numpy(bad)].flat[0]
        raise IndexError(f"{who}: target {first} is out of bounds for {n_classes} classes")
    y = xp.where(valid, y, 0)
    class_shape = [1] * len(shape)
    class_shape[axis] = n_classes
    classes = xp.reshape(xp.arange(n_classes, device=dev), tuple(class_shape))
    valid_c = xp.expand_dims(valid, axis=axis)
    onehot = (xp.expand_dims(y, axis=axis) == classes) & valid_c
    w = xp.ones(n_classes, dtype=dtype, device=dev) if weight is None else (
        weight if xp is np else xp.asarray(weight, dtype=dtype, device=dev))
    w_c = xp.reshape(w, tuple(class_shape))
    t = xp.where(onehot, w_c, 0.0)
    if label_smoothing:
        t = (1.0 - label_smoothing) * t + (label_smoothing / n_classes) * xp.where(
            valid_c, w_c, 0.0)
    w_y = xp.reshape(xp.take(w, xp.reshape(y, (-1,))), y.shape)
    return xp.astype(t, dtype), xp.asarray(xp.sum(xp.where(valid, w_y, 0.0)))


@backends.native
def _nan_if_zero(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A mean's divisor and offset: (d, 0), or (1, NaN) when d is 0."""
    xp = backends.namespace(d)
    zero = d == 0
    return xp.where(zero, xp.ones_like(d), d), xp.where(zero, xp.full_like(d, math.nan), 0.0)


def _weight_array(weight: Any, n_classes: int, x: Tensor, who: str) -> np.ndarray:
    w = weight.numpy() if isinstance(weight, Tensor) else weight
    w = np.asarray(w, dtype=backends.numpy_dtype(x.dtype))
    if w.shape != (n_classes,):
        raise ValueError(f"{who}: weight must have shape ({n_classes},), one per class, got "
                         f"{w.shape}")
    return w


def _weighted_nll(logp: Tensor, t: Any, denominator: Any, reduction: str, axis: int
                  ) -> Tensor:
    """−Σ_c logp·T, per sample for 'none', summed, or divided by ``denominator``."""
    if reduction == "none":
        return -(logp * t).sum(axis=axis)
    total = -(logp * t).sum()
    if reduction != "mean":
        return total
    if not isinstance(denominator, Tensor):
        return total / denominator
    # Every target ignored: NaN as PyTorch, with its zero gradient (T is all zeros).  No
    # branch on the value, so a compiled step handles any batch.
    divisor, offset = ag.outside(_nan_if_zero, denominator)
    return total / divisor + offset


def cross_entropy(input: Tensor, target: Any, weight: Any = None, *,  # noqa: A002
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits ``input`` (N, C) or (N, C, d1, ...) or (C,).

    ``target`` holds class indices (shape without the class axis; integer arrays, or floats
    with integral values since ``ag.tensor([1, 2])`` is float32) or class probabilities
    (same shape as ``input``, may require grad).  PyTorch semantics: per-class ``weight``;
    with indices the mean divides by Σ w[y_n] over samples whose target is not
    ``ignore_index``, with probabilities by the number of samples; ``label_smoothing`` ε
    mixes the target with the uniform distribution.  Built on ``log_softmax`` (detached max
    subtracted), so the gradient is softmax − onehot and logits of ±1e4 stay finite.
    ``weight`` is treated as a constant.  After ``weight`` the arguments are keyword-only:
    PyTorch's positional slots there hold deprecated arguments.

    >>> logits = ag.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> round(cross_entropy(logits, np.array([0, 1])).item(), 4)
    0.1269
    """
    who = "cross_entropy"
    _check_reduction(reduction, who)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{who}: label_smoothing must be in [0, 1], got {label_smoothing}")
    x = _tensor(input)
    axis = _class_axis(x, who)
    logp = ag.log_softmax(x, axis)
    if np.shape(target) == x.shape and np.asarray(_data(target)).dtype.kind != "f":
        raise OpError(f"{who}: a target of the input's shape {x.shape} holds class "
                      f"probabilities and must be floating point, got dtype "
                      f"{np.asarray(_data(target)).dtype}")
    if np.shape(target) == x.shape:
        n_classes = x.shape[axis]
        t = _as_dtype(target, x)
        if label_smoothing:
            t = t * (1.0 - label_smoothing) + label_smoothing / n_classes
        if weight is not None:
            shape = [1] * x.ndim
            shape[axis] = n_classes
            t = t * _weight_array(weight, n_classes, x, who).reshape(shape)
        return _weighted_nll(logp, t, x.size // n_classes, reduction, axis)
    t, denominator = _index_targets(x, target, weight, ignore_index, label_smoothing, who)
    return _weighted_nll(logp, t, denominator, reduction, axis)


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _as_dtype(target: Any, x: Tensor) -> Tensor | np.ndarray:
    """A target in the input's dtype (a Tensor target through a differentiable cast), so a
    float64 target cannot promote a float32 loss."""
    if isinstance(target, Tensor):
        return target.astype(x.dtype)
    return np.asarray(target, dtype=backends.numpy_dtype(x.dtype))


def nll_loss(input: Tensor, target: Any, weight: Any = None, *,  # noqa: A002
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` at class indices ``target``
    (−input[n, y_n]·w[y_n]; the weighted mean divides by Σ w[y_n], as PyTorch).

    >>> logp = ag.log(ag.tensor([[0.5, 0.5]]))
    >>> round(nll_loss(logp, np.array([1])).item(), 4)
    0.6931
    """
    _check_reduction(reduction, "nll_loss")
    x = _tensor(input)
    t, denominator = _index_targets(x, target, weight, ignore_index, 0.0, "nll_loss")
    return _weighted_nll(x, t, denominator, reduction, _class_axis(x, "nll_loss"))


def _same_shape(x: Tensor, target: Any, who: str) -> Tensor | np.ndarray:
    """Targets must match the input's shape: PyTorch only warns, and the silent broadcast
    of (N, 1) against (N,) into an (N, N) loss is a classic bug."""
    if np.shape(target) != x.shape:
        raise ValueError(f"{who}: target shape {np.shape(target)} differs from input shape "
                         f"{x.shape}; reshape one of them (broadcasting here is almost "
                         f"always a bug)")
    return _as_dtype(target, x)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean (or sum, or elementwise) squared error (x − y)².  Seed 000's "MSE" ½Σ(y − ŷ)²
    is ``0.5 * mse_loss(x, y, reduction="sum")``.

    >>> mse_loss(ag.tensor([1.0, 3.0]), ag.tensor([0.0, 0.0])).item()
    5.0
    """
    _check_reduction(reduction, "mse_loss")
    x = _tensor(input)
    diff = x - _same_shape(x, target, "mse_loss")
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean (or sum, or elementwise) absolute error |x − y| (gradient 0 at x = y).

    >>> l1_loss(ag.tensor([1.0, -3.0]), ag.tensor([0.0, 0.0])).item()
    2.0
    """
    _check_reduction(reduction, "l1_loss")
    x = _tensor(input)
    return _reduce(ag.abs(x - _same_shape(x, target, "l1_loss")), reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any,  # noqa: A002
                                     weight: Any = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """−[p·y·log σ(x) + (1 − y)·log(1 − σ(x))]·w, computed stably as
    (1 − y)·x + (1 + (p − 1)·y)·softplus(−x); ``pos_weight`` p broadcasts over the last
    (class) axis, ``weight`` w over the whole input (PyTorch).

    >>> round(binary_cross_entropy_with_logits(ag.tensor([0.0]), ag.tensor([1.0])).item(), 4)
    0.6931
    """
    who = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, who)
    x = _tensor(input)
    y = _same_shape(x, target, who)
    dt = backends.numpy_dtype(x.dtype)
    log_weight = 1.0 if pos_weight is None else (np.asarray(_data(pos_weight), dt) - 1) * y + 1
    loss = x * (1.0 - y) + _softplus(-x) * log_weight
    if weight is not None:
        loss = loss * np.asarray(_data(weight), dtype=backends.numpy_dtype(x.dtype))
    return _reduce(loss, reduction)


def multi_margin_loss(input: Tensor, target: Any, p: int = 1,  # noqa: A002
                      margin: float = 1.0, weight: Any = None,
                      reduction: str = "mean") -> Tensor:
    """Multiclass SVM (hinge) loss, PyTorch's definition:
    ``loss_n = Σ_{i≠y} w[y]·max(0, margin − x[y] + x[i])^p / C`` (note the division by the
    number of classes C, and that ``weight`` multiplies after the power); the mean is
    over samples, unweighted.  ``p`` is 1 or 2.  The derivative at a zero margin is 0.

    >>> scores = ag.tensor([[3.0, 2.5, 0.0]])
    >>> round(multi_margin_loss(scores, np.array([0])).item(), 4)
    0.1667
    """
    who = "multi_margin_loss"
    _check_reduction(reduction, who)
    if p not in (1, 2):
        raise ValueError(f"{who}: only p = 1 and p = 2 are supported, got {p}")
    x = _tensor(input)
    if x.ndim not in (1, 2):
        raise ValueError(f"{who}: expected input of shape (N, C) or (C,), got {x.shape}")
    t, _ = _index_targets(x, target, None, None, 0.0, who)
    n_classes = x.shape[-1]
    true_score = (x * t).sum(axis=-1, keepdims=True)
    hinge = ag.relu(margin - true_score + x) * (1 - t)
    if p == 2:
        hinge = hinge * hinge
    per_sample: Tensor = hinge.sum(axis=-1) / n_classes
    if weight is not None:
        w = _weight_array(weight, n_classes, x, who)
        per_sample = per_sample * (t * w).sum(axis=-1)
    return _reduce(per_sample, reduction)


def _clamped_log(z: Tensor) -> Tensor:
    """log z clamped below at −100, as PyTorch's ``binary_cross_entropy``, so probabilities
    of exactly 0 or 1 give a finite loss.  The gradient is the clamped forward's: zero where
    the clamp acts (PyTorch's hand-written backward instead divides by max(z(1 − z), 1e-12)).
    The inner ``where`` feeds log a 1 there, so its 1/z cannot turn 0·inf into NaN."""
    live = ag.outside(_above_log_floor, z)
    return ag.where(live, ag.log(ag.where(live, z, 1.0)), -100.0)


def _above_log_floor(z: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(z) > -100.0


def _check_probabilities(x: np.ndarray) -> None:
    if x.size and not (np.all(x >= 0) and np.all(x <= 1)):
        raise OpError(f"binary_cross_entropy: all elements of input should be between 0 "
                      f"and 1, got values in [{np.nanmin(x)}, {np.nanmax(x)}] (shape "
                      f"{x.shape})")


def _elementwise_weight(weight: Any, x: Tensor, who: str) -> np.ndarray:
    w = np.asarray(_data(weight), dtype=backends.numpy_dtype(x.dtype))
    try:
        fits = np.broadcast_shapes(w.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise OpError(f"{who}: weight of shape {w.shape} does not broadcast to the input "
                      f"shape {x.shape}")
    return w


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None, *,  # noqa: A002
                         reduction: str = "mean") -> Tensor:
    """−w·[y·log x + (1 − y)·log(1 − x)] of probabilities ``input`` x, each log clamped
    at −100 as PyTorch (so x = 0 or 1 gives a finite loss; there the gradient is 0).  Prefer
    ``binary_cross_entropy_with_logits`` on logits.  ``weight`` broadcasts to the input;
    the target may require grad.  After ``weight`` the arguments are keyword-only.

    >>> round(binary_cross_entropy(ag.tensor([0.5, 1.0]), ag.tensor([1.0, 0.0])).item(), 4)
    50.3466
    """
    who = "binary_cross_entropy"
    _check_reduction(reduction, who)
    x = _tensor(input)
    y = _same_shape(x, target, who)
    ag.outside(_check_probabilities, x)  # by ag.outside: a compiled step checks too
    loss = -(_clamped_log(x) * y + _clamped_log(1.0 - x) * (1.0 - y))
    if weight is not None:
        loss = loss * _elementwise_weight(weight, x, who)
    return _reduce(loss, reduction)


def _xlogx(t: Tensor) -> Tensor:
    """t·log t with 0·log 0 = 0 (PyTorch's xlogy(t, t)); the gradient there is 0, not NaN."""
    zero = t == 0
    return ag.where(zero, 0.0, t * ag.log(ag.where(zero, 1.0, t)))


_KL_REDUCTIONS = ("none", "batchmean", "mean", "sum")


def kl_div(input: Tensor, target: Any, *, reduction: str = "mean",  # noqa: A002
           log_target: bool = False) -> Tensor:
    """Pointwise KL divergence y·(log y − x) of log-probabilities ``input`` x from target
    probabilities y (log-probabilities when ``log_target``: e^y·(y − x)), 0 where y = 0.
    ``"batchmean"`` divides the sum by the batch size and gives the true KL divergence;
    ``"mean"`` (the default, as PyTorch) averages over every element, without PyTorch's
    warning.  The arguments after ``target`` are keyword-only (PyTorch has deprecated ones
    there).

    >>> logq = ag.log(ag.tensor([[0.5, 0.5]]))
    >>> round(kl_div(logq, ag.tensor([[1.0, 0.0]]), reduction="batchmean").item(), 4)
    0.6931
    """
    who = "kl_div"
    _check_reduction(reduction, who, _KL_REDUCTIONS)
    x = _tensor(input)
    t = _tensor(_same_shape(x, target, who))
    loss = ag.exp(t) * (t - x) if log_target else _xlogx(t) - t * x
    if reduction == "batchmean":
        total = loss.sum()
        return total / x.shape[0] if x.ndim else total
    return _reduce(loss, reduction)


def huber_loss(input: Tensor, target: Any, reduction: str = "mean",  # noqa: A002
               delta: float = 1.0, weight: Any = None) -> Tensor:
    """½d² where |d| < δ, else δ·(|d| − ½δ), for d = x − y (PyTorch's argument order;
    ``weight``, of the input's shape, multiplies before the reduction).

    >>> huber_loss(ag.tensor([0.5, 3.0]), ag.tensor([0.0, 0.0]), reduction="none").tolist()
    [0.125, 2.5]
    """
    who = "huber_loss"
    _check_reduction(reduction, who)
    if delta <= 0:
        raise OpError(f"{who}: delta must be positive, got {delta}")
    x = _tensor(input)
    d = x - _same_shape(x, target, who)
    size = ag.abs(d)
    loss = ag.where(size < delta, 0.5 * d * d, delta * (size - 0.5 * delta))
    if weight is not None:
        if np.shape(weight) != x.shape:
            raise ValueError(f"{who}: weight shape {np.shape(weight)} differs from input "
                             f"shape {x.shape}")
        loss = loss * np.asarray(_data(weight), dtype=backends.numpy_dtype(x.dtype))
    return _reduce(loss, reduction)


def smooth_l1_loss(input: Tensor, target: Any, *, reduction: str = "mean",  # noqa: A002
                   beta: float = 1.0) -> Tensor:
    """½d²/β where |d| < β, else |d| − ½β (Huber loss divided by β; β = 0 is the L1 loss).
    The arguments after ``target`` are keyword-only (PyTorch has deprecated ones there).

    >>> smooth_l1_loss(ag.tensor([0.5, 3.0]), ag.tensor([0.0, 0.0]), reduction="none").tolist()
    [0.125, 2.5]
    """
    who = "smooth_l1_loss"
    _check_reduction(reduction, who)
    if beta < 0:
        raise OpError(f"{who}: beta must be non-negative, got {beta}")
    x = _tensor(input)
    d = x - _same_shape(x, target, who)
    size = ag.abs(d)
    if beta == 0:
        return _reduce(size, reduction)
    return _reduce(ag.where(size < beta, (0.5 / beta) * d * d, size - 0.5 * beta),
                   reduction)


def soft_margin_loss(input: Tensor, target: Any, *, reduction: str = "mean"  # noqa: A002
                     ) -> Tensor:
    """Two-class logistic loss log(1 + e^(−y·x)) for targets y = ±1, averaged over every
    element (PyTorch).  Keyword-only ``reduction`` as in ``smooth_l1_loss``.

    >>> round(soft_margin_loss(ag.tensor([0.0]), ag.tensor([1.0])).item(), 4)
    0.6931
    """
    who = "soft_margin_loss"
    _check_reduction(reduction, who)
    x = _tensor(input)
    return _reduce(_softplus(-(x * _same_shape(x, target, who))), reduction)


# Attention composes dropout and linear from above, so it is imported last (a cycle).
from .attention import scaled_dot_product_attention  # noqa: E402
