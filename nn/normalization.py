"""Normalisation layers: `BatchNorm1d`, `BatchNorm2d`, `LayerNorm`."""

from __future__ import annotations

from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor, get_default_dtype

from . import functional as F
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "SyncBatchNorm"]


def _affine_parameters(module: Module, enabled: bool, shape: tuple[int, ...],
                       dtype: np.dtype) -> None:
    """The learned scale γ (``weight``, init 1) and shift β (``bias``, init 0), or None."""
    module.register_parameter("weight", Parameter(np.ones(shape, dtype)) if enabled else None)
    module.register_parameter("bias", Parameter(np.zeros(shape, dtype)) if enabled else None)


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d; subclasses only say which input ranks they accept.

    γ (``weight``, init 1) and β (``bias``, init 0) are learned; ``running_mean`` (init 0),
    ``running_var`` (init 1) and ``num_batches_tracked`` are buffers: saved in the state
    dict, never returned by ``parameters()``.  ``momentum=None`` gives the cumulative
    average of all batches seen (PyTorch).
    """

    _ranks: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, *,
                 dtype: Any = None) -> None:
        super().__init__()
        dt = get_default_dtype() if dtype is None else np.dtype(dtype)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine_parameters(self, affine, (num_features,), dt)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        if input.ndim not in self._ranks:
            raise ValueError(f"{type(self).__name__}: expected "
                             f"{' or '.join(f'{r}D' for r in self._ranks)} input, got "
                             f"{input.ndim}D input of shape {input.shape}")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected {self.num_features} channels "
                             f"on axis 1, got input of shape {input.shape}")
        momentum: Any = self.momentum
        if self.training and self.track_running_stats:
            ag.outside(self._count_batch)  # by ag.outside: a compiled step counts it too
            if momentum is None:
                momentum = self._cumulative_momentum
        return F._batch_norm(input, self.running_mean, self.running_var, self.weight,
                             self.bias, self.training or not self.track_running_stats,
                             0.0 if momentum is None else momentum, self.eps,
                             self._communicator())

    def _communicator(self) -> Any:
        return None  # statistics of this process's batch (SyncBatchNorm: of every rank's)

    def _count_batch(self) -> None:
        tracked = self.num_batches_tracked
        tracked.data = tracked.data + 1

    def _cumulative_momentum(self) -> float:
        """momentum=None: the running statistics are the plain average of every batch."""
        return 1.0 / float(self.num_batches_tracked.data)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) input, statistics per channel C over the rest.

    >>> import autograd_core as ag
    >>> bn = BatchNorm1d(2)
    >>> y = bn(ag.tensor([[1.0, 10.0], [3.0, 30.0]]))
    >>> np.round(y.data, 4).tolist(), np.round(bn.running_mean.data, 4).tolist()
    ([[-1.0, -1.0], [1.0, 1.0]], [0.2, 2.0])
    """

    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) input, statistics per channel over (N, H, W)."""

    _ranks = (4,)


class SyncBatchNorm(_BatchNorm):
    """Batch norm whose training statistics are those of the whole global batch: every
    rank's share together (``torch.nn.SyncBatchNorm``), for data parallelism with small
    per-rank batches.  The sums behind the mean and variance go through the
    differentiable ``ag.distributed.all_reduce``, so the gradient also flows through the
    other ranks' statistics; the running statistics come out the same on every rank.
    ``process_group``: a communicator (default: ``ag.distributed.get_communicator()``).
    With one process it computes what `BatchNorm1d` / `BatchNorm2d` compute.  Evaluation
    uses the running statistics, as BatchNorm.  Input of shape (N, C, ...).

    >>> import autograd_core as ag
    >>> sbn = SyncBatchNorm(2, process_group=ag.distributed.SingleProcessCommunicator())
    >>> np.round(sbn(ag.tensor([[1.0, 10.0], [3.0, 30.0]])).data, 4).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    """

    _ranks = (2, 3, 4, 5)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group: Any = None, *, dtype: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype=dtype)
        self.process_group = process_group

    def _communicator(self) -> Any:
        return (ag.distributed.get_communicator() if self.process_group is None
                else self.process_group)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """``module`` with every BatchNorm1d/2d inside it replaced by a SyncBatchNorm that
        takes over its parameters, buffers and mode (as torch's; ``module`` itself when it
        holds none)."""
        if isinstance(module, _BatchNorm) and not isinstance(module, cls):
            sync = cls(module.num_features, module.eps, module.momentum, module.affine,
                       module.track_running_stats, process_group)
            for registry in ("_parameters", "_buffers"):
                getattr(sync, registry).update(getattr(module, registry))
            sync.train(module.training)
            return sync
        for name, child in list(module._modules.items()):
            if child is not None:
                module._modules[name] = cls.convert_sync_batchnorm(child, process_group)
        return module


class LayerNorm(Module):
    """Normalise each sample over its trailing ``normalized_shape`` axes, then an
    elementwise affine map (``weight`` 1, ``bias`` 0) if ``elementwise_affine``.

    >>> import autograd_core as ag
    >>> LayerNorm(3)(ag.tensor([[1.0, 2.0, 3.0]])).shape
    (1, 3)
    """

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True, *, dtype: Any = None) -> None:
        super().__init__()
        shape = ((normalized_shape,) if isinstance(normalized_shape, int)
                 else tuple(normalized_shape))
        dt = get_default_dtype() if dtype is None else np.dtype(dtype)
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, elementwise_affine, shape, dt)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
