"""Lookup tables: `F.embedding`, `F.one_hot` and the `Embedding` layer."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import OpError, Tensor, backends, get_default_dtype

from . import init
from .module import Module, Parameter

__all__ = ["Embedding", "embedding", "one_hot"]


def _indices(x: Any, who: str) -> np.ndarray:
    idx = x.data if isinstance(x, Tensor) else np.asarray(x)
    if backends.is_foreign(idx):  # another library's indices stay on their device
        if not backends.namespace(idx).isdtype(idx.dtype, "integral"):
            raise OpError(f"{who}: indices must be integers, got dtype {idx.dtype} "
                          f"(shape {tuple(idx.shape)})")
        return idx
    if idx.dtype.kind not in "iu":
        raise OpError(f"{who}: indices must be integers, got dtype {idx.dtype} "
                      f"(shape {idx.shape})")
    return idx


def _padding_index(padding_idx: int | None, num_embeddings: int, who: str) -> int | None:
    """A negative ``padding_idx`` counts from the end, as PyTorch."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{who}: padding_idx must be within num_embeddings "
                         f"({num_embeddings}), got {padding_idx}")
    return padding_idx % num_embeddings


def _renorm_(weight: Tensor, idx: np.ndarray, max_norm: float, norm_type: float) -> None:
    """PyTorch's ``embedding_renorm_``: rows looked up whose norm exceeds ``max_norm`` are
    rescaled in place to norm ``max_norm`` (the 1e-7 is PyTorch's)."""
    if backends.is_foreign(weight.data):
        raise backends.BackendError(f"embedding: max_norm renormalises rows in place with "
                                    f"numpy; not for {backends.describe(weight.data)}")
    rows = np.unique(idx)
    norms = np.linalg.norm(weight.data[rows], ord=norm_type, axis=1)
    over = norms > max_norm
    if over.any():
        scale = (max_norm / (norms[over] + 1e-7)).astype(weight.dtype)[:, None]
        with ag.no_grad():
            weight[rows[over]] = weight.data[rows[over]] * scale


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None,  # noqa: A002
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) at integer ``input`` (any shape): output
    ``input.shape + (dim,)``.  Repeated indices accumulate their gradients (getitem's
    rule).  The row at ``padding_idx`` gets no gradient; ``scale_grad_by_freq`` divides each
    row's gradient by its count in ``input``; ``max_norm`` renormalises the looked-up rows
    of ``weight`` in place first, as PyTorch.

    >>> w = ag.tensor([[0.0, 1.0], [2.0, 3.0]])
    >>> embedding(np.array([[1, 0, 1]]), w).shape
    (1, 3, 2)
    """
    who = "embedding"
    if sparse:
        raise NotImplementedError(f"{who}: sparse gradients are not supported")
    if weight.ndim != 2:
        raise OpError(f"{who}: weight must be 2-D (num_embeddings, embedding_dim), got "
                      f"shape {weight.shape}")
    idx = _indices(input, who)
    n = weight.shape[0]
    xp = backends.namespace(idx)
    if math.prod(idx.shape) and (int(xp.min(idx)) < 0 or int(xp.max(idx)) >= n):
        host = backends.to_numpy(idx)
        bad = host[(host < 0) | (host >= n)].flat[0]
        raise IndexError(f"{who}: index {bad} out of range for weight of shape {weight.shape}")
    pad = _padding_index(padding_idx, n, who)
    if max_norm is not None:
        _renorm_(weight, idx, max_norm, norm_type)
    rows = weight[idx]
    if pad is None and not scale_grad_by_freq:
        return rows
    # Same value as ``rows`` (the difference is exactly 0), gradient scaled per lookup;
    # the scale by ag.outside, so a compiled step computes it for each batch.
    scale = ag.outside(functools.partial(_lookup_scale, pad, scale_grad_by_freq,
                                         backends.numpy_dtype(weight.dtype)), idx)
    scale = scale.to(backends.where_of(weight.data))  # the indices are numpy's (_indices)
    frozen = rows.detach()
    return frozen + (rows - frozen) * scale


def _lookup_scale(pad: int | None, by_freq: bool, dtype: np.dtype, idx: np.ndarray
                  ) -> np.ndarray:
    """Each lookup's gradient factor: 1/count with ``scale_grad_by_freq``, 0 at ``pad``."""
    scale = np.ones(idx.shape, dtype)
    if by_freq:
        _, inverse, counts = np.unique(idx, return_inverse=True, return_counts=True)
        scale = scale / counts[inverse.reshape(idx.shape)]
    if pad is not None:
        scale = scale * (idx != pad)
    return scale[..., None].astype(dtype)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding of integer ``tensor``: shape ``tensor.shape + (num_classes,)``;
    ``num_classes=-1`` takes max + 1.  Not differentiable (as PyTorch).

    >>> one_hot(np.array([0, 2])).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    who = "one_hot"
    idx = _indices(tensor, who)
    if num_classes == -1:
        if idx.size == 0:
            raise OpError(f"{who}: cannot infer the number of classes from an empty "
                          f"tensor of shape {idx.shape}; pass num_classes")
        num_classes = int(idx.max()) + 1
    if idx.size and idx.min() < 0:
        raise OpError(f"{who}: class values must be non-negative, got {idx.min()}")
    if idx.size and idx.max() >= num_classes:
        raise OpError(f"{who}: class values must be smaller than num_classes "
                      f"({num_classes}), got {idx.max()}")
    return Tensor((idx[..., None] == np.arange(num_classes)).astype(np.int64))


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, initialised from
    N(0, 1) with the ``padding_idx`` row zeroed (PyTorch); see ``embedding``.

    >>> emb = Embedding(10, 3, padding_idx=0)
    >>> emb(np.array([[0, 4], [9, 9]])).shape, emb.weight.data[0].tolist()
    ((2, 2, 3), [0.0, 0.0, 0.0])
    """

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Any = None, _freeze: bool = False, *,
                 dtype: Any = None) -> None:
        super().__init__()
        if sparse:
            raise NotImplementedError("Embedding: sparse gradients are not supported")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings, "Embedding")
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        shape = (num_embeddings, embedding_dim)
        if _weight is None:
            dtype = get_default_dtype() if dtype is None else dtype
            self.weight = Parameter(np.empty(shape, dtype=dtype), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            data = np.array(_weight.data if isinstance(_weight, Tensor) else _weight)
            if data.shape != shape:
                raise ValueError(f"Embedding: _weight must have shape {shape}, got "
                                 f"{data.shape}")
            self.weight = Parameter(data, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with ag.no_grad():
                self.weight.data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding holding a copy of the 2-D ``embeddings``, frozen by default."""
        data = np.asarray(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
        if data.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{data.shape}")
        return cls(data.shape[0], data.shape[1], padding_idx, max_norm, norm_type,
                   scale_grad_by_freq, sparse, _weight=data, _freeze=freeze)

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        return s
