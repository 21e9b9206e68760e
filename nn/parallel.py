"""`DistributedDataParallel`: one model per process, gradients averaged after each backward."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from autograd_core import Tensor
from autograd_core.distributed import Communicator, get_communicator
from autograd_core.engine import STATE, bump_version, is_grad_enabled, queue_callback
from nn.module import Module, Parameter

__all__ = ["DistributedDataParallel"]


class _FlatGroup:
    """The parameters of one dtype and their preallocated flat buffer: every gradient, one
    after the other, then one has-a-gradient flag per parameter (so the same allreduce
    also tells each rank which parameters had a gradient on any rank)."""

    def __init__(self, params: list[Parameter]) -> None:
        self.params = params
        sizes = [p.data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).tolist()
        total = self.offsets[-1]
        self.buffer = np.empty(total + len(params), dtype=params[0].data.dtype)
        self.flags = self.buffer[total:]


class DistributedDataParallel(Module):
    """Data parallelism over processes, as ``torch.nn.parallel.DistributedDataParallel``:
    each process (rank) holds a replica of ``module`` and trains it on its own share of
    every batch; the gradients are averaged over the ranks, so every replica takes the same
    optimizer step and the replicas stay identical.

    - At construction, every parameter and buffer is broadcast from rank 0 (so the
      replicas start identical whatever each process's seed), after checking that every
      rank has the same parameter names, shapes and dtypes (a ValueError on every rank
      names the first difference).
    - ``ddp(x)`` runs ``module(x)``.  When grad mode is on, the ``backward()`` that reaches
      its output averages all the gradients once it has finished (an end-of-backward
      callback, as PyTorch): the ``.grad``s are packed into one preallocated flat buffer,
      averaged in **one** allreduce per dtype (one in all for a float32 model), and
      unpacked into fresh ``.grad`` tensors.  A parameter without a gradient on a rank
      counts as zeros there; one with no gradient on any rank keeps ``.grad = None``.
      `sync_gradients` does the same by hand (e.g. after ``ag.grad``-based code).
    - ``with ddp.no_sync():`` forwards whose backward does not average: gradients accumulate
      locally, and the first backward after the block averages the sum (as PyTorch).
    - The optimizer is an ordinary one over ``ddp.parameters()`` (the module's own).

    Differences from PyTorch: ``comm`` (a `autograd_core.distributed.Communicator`,
    default `get_communicator()`) replaces the process group; buffers (batch norm's running
    statistics) are broadcast only at construction and then stay local to each rank
    unless ``broadcast_buffers=True``, which broadcasts rank 0's before every training
    forward (PyTorch's default); batch-norm batch statistics are always per rank (no
    SyncBatchNorm); no buckets or overlap of communication with backward; averaged
    gradients are plain tensors even after ``backward(create_graph=True)``.  Under
    ``ag.compile`` the averaging is recorded as a call after the step's ``backward()``
    (which must then be inside the compiled function).

    >>> import autograd_core as ag, nn
    >>> ddp = DistributedDataParallel(nn.Linear(2, 1))   # one process: rank 0 of 1
    >>> ddp(ag.ones(3, 2)).sum().backward()
    >>> ddp.module.bias.grad.tolist()
    [3.0]
    """

    def __init__(self, module: Module, comm: Communicator | None = None, *,
                 broadcast_buffers: bool = False) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an nn.Module, got "
                            f"{type(module).__name__}")
        self.module = module
        self.comm = get_communicator() if comm is None else comm
        self.broadcast_buffers = broadcast_buffers
        self._require_backward_sync = True
        named = list(module.named_parameters())
        self._check_same_everywhere(named)
        self._broadcast(p for _, p in named)
        self._broadcast(module.buffers())
        by_dtype: dict[np.dtype, list[Parameter]] = {}
        for _, p in named:
            by_dtype.setdefault(p.data.dtype, []).append(p)
        self._groups = [_FlatGroup(params) for params in by_dtype.values()]

    def _check_same_everywhere(self, named: list[tuple[str, Parameter]]) -> None:
        layout = [(name, p.data.shape, p.data.dtype.name) for name, p in named]
        layouts = self.comm.allgather_object(layout)
        for rank, other in enumerate(layouts):
            if other == layouts[0]:
                continue
            diff = next(((a, b) for a, b in zip(layouts[0], other, strict=False) if a != b),
                        None)
            what = (f"rank {rank}'s {diff[1][0]!r} has shape {diff[1][1]} ({diff[1][2]}), "
                    f"rank 0's {diff[0][0]!r} {diff[0][1]} ({diff[0][2]})"
                    if diff is not None else
                    f"rank {rank} has {len(other)} parameters, rank 0 {len(layouts[0])}")
            raise ValueError(f"DistributedDataParallel: the ranks' models differ: {what}")

    def _broadcast(self, tensors: Any) -> None:
        for t in tensors:
            data = t.data
            if data.flags.c_contiguous and data.flags.writeable:
                self.comm.broadcast_(data, root=0)
            else:
                t.data = self.comm.broadcast_(np.ascontiguousarray(data).copy(), root=0)
            bump_version(t)  # a graph that saved the old values must not backward

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.broadcast_buffers and self.training:
            self._broadcast(self.module.buffers())
        out = self.module(*args, **kwargs)
        if self._require_backward_sync and is_grad_enabled():
            if STATE.tracer is not None:  # ag.compile: the averaging is a call of the plan
                STATE.tracer.after_backward(self.sync_gradients)
                return out
            for t in _tensors(out):
                if t.requires_grad:
                    t.register_hook(self._queue_sync)
        return out

    def _queue_sync(self, grad: Tensor) -> None:
        queue_callback(self.sync_gradients)  # bound methods compare equal: queued once

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Forwards inside the block record no gradient averaging (gradient accumulation
        without communication)."""
        prev, self._require_backward_sync = self._require_backward_sync, False
        try:
            yield
        finally:
            self._require_backward_sync = prev

    def sync_gradients(self) -> None:
        """Average every parameter's ``.grad`` over the ranks now (one flat allreduce per
        dtype); what the end of backward does by itself."""
        for group in self._groups:
            buf, offsets, flags = group.buffer, group.offsets, group.flags
            for k, p in enumerate(group.params):
                lo, hi = offsets[k], offsets[k + 1]
                if p.grad is None:
                    buf[lo:hi] = 0
                    flags[k] = 0
                else:
                    buf[lo:hi] = p.grad.data.reshape(-1)
                    flags[k] = 1
            self.comm.allreduce_mean_(buf)
            for k, p in enumerate(group.params):
                if flags[k] != 0:  # some rank had a gradient: all ranks take the mean
                    p.grad = Tensor(buf[offsets[k]:offsets[k + 1]].reshape(p.data.shape))

    def extra_repr(self) -> str:
        return f"rank={self.comm.rank}, size={self.comm.size}"


def _tensors(out: Any) -> Iterator[Tensor]:
    """The Tensors in a forward's output (a Tensor, or tuples, lists and dicts of them)."""
    stack = [out]
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            yield item
        elif isinstance(item, (tuple, list)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
