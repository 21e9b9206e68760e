"""Data utilities: `TensorDataset`, a seeded `DataLoader`, `DistributedSampler`, standardisation
fitted on training data only, and batch image augmentation (random crop, horizontal flip)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from autograd_core import Tensor, default_generator
from autograd_core.distributed import get_communicator

__all__ = [
    "Compose",
    "DataLoader",
    "DistributedSampler",
    "RandomCrop",
    "RandomHorizontalFlip",
    "Standardizer",
    "TensorDataset",
]


def _array(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class TensorDataset:
    """Samples are the rows of equally long arrays (or Tensors): ``ds[i] = (x[i], y[i])``.

    >>> ds = TensorDataset(np.zeros((5, 2)), np.arange(5))
    >>> len(ds), ds[3][1]
    (5, np.int64(3))
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one array")
        self.tensors = tuple(_array(t) for t in tensors)
        lengths = {len(t) for t in self.tensors}
        if len(lengths) != 1:
            raise ValueError(f"TensorDataset: all arrays need the same first dimension, got "
                             f"{[len(t) for t in self.tensors]}")

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: Any) -> tuple[Any, ...]:
        return tuple(t[index] for t in self.tensors)


class DataLoader:
    """Mini-batches of a dataset as tuples of Tensors (inputs, targets, ...).

    ``shuffle`` draws a new permutation every epoch from ``generator`` (default: the
    library generator ``autograd_core.manual_seed`` seeds), so runs are reproducible.
    ``sampler`` (an iterable of indices with a length, e.g. `DistributedSampler`) gives
    the order instead, and excludes ``shuffle`` (as PyTorch).  ``drop_last`` drops a final
    short batch (keyword-only, as everything after ``sampler``).  ``transform`` (not
    PyTorch's per-sample transform) is applied to the first field of each *batch*, as a
    numpy array -- e.g. ``RandomCrop`` and ``RandomHorizontalFlip``, vectorised over the
    batch.  A `TensorDataset` is sliced in one go; any other dataset (``__len__`` and
    ``__getitem__``) is read sample by sample and each field stacked.

    >>> ds = TensorDataset(np.arange(10.0).reshape(5, 2), np.arange(5))
    >>> [tuple(y.tolist()) for _, y in DataLoader(ds, batch_size=2)]
    [(0, 1), (2, 3), (4,)]
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False,
                 sampler: Any = None, *, drop_last: bool = False,
                 generator: np.random.Generator | None = None,
                 transform: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be positive, got {batch_size}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle "
                             "(the sampler decides the order; DistributedSampler shuffles)")
        self.dataset = dataset
        self.sampler = sampler
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.transform = transform

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        n = len(self.dataset)
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
        elif self.shuffle:
            gen = self.generator if self.generator is not None else default_generator()
            order = gen.permutation(n)
        else:
            order = np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            fields = self._fetch(order[start:start + self.batch_size])
            if self.transform is not None:
                fields = [self.transform(fields[0]), *fields[1:]]
            yield tuple(Tensor(f) for f in fields)

    def _fetch(self, indices: np.ndarray) -> list[np.ndarray]:
        if isinstance(self.dataset, TensorDataset):
            return [t[indices] for t in self.dataset.tensors]
        samples = [self.dataset[int(i)] for i in indices]
        return [np.stack([_array(s[k]) for s in samples]) for k in range(len(samples[0]))]


class DistributedSampler:
    """The indices of rank ``rank``'s share of ``dataset``, as
    ``torch.utils.data.DistributedSampler``: pass it as a `DataLoader`'s ``sampler``.

    Every epoch the indices ``0..len(dataset)-1`` are shuffled (``shuffle=True``) by a
    generator seeded with ``seed + epoch`` -- the same order on every rank, so call
    ``set_epoch(epoch)`` before each epoch for a new one -- then made a multiple of
    ``num_replicas``: by repeating indices from the start, or with ``drop_last`` by
    dropping the tail.  Rank ``r`` takes every ``num_replicas``-th index from ``r``, so the
    shares are disjoint (bar the repeats) and equally long: every rank runs the same
    number of steps.  ``num_replicas`` and ``rank`` default to the current communicator's
    (`autograd_core.distributed.get_communicator`).  Difference from PyTorch: the
    permutation is numpy's (``default_rng(seed + epoch)``), not ``torch.randperm``'s.

    >>> [list(DistributedSampler(range(5), num_replicas=2, rank=r, shuffle=False))
    ...  for r in (0, 1)]
    [[0, 2, 4], [1, 3, 0]]
    """

    def __init__(self, dataset: Any, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            comm = get_communicator()
            num_replicas = comm.size if num_replicas is None else num_replicas
            rank = comm.rank if rank is None else rank
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got "
                             f"{num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in "
                             f"the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank = num_replicas, rank
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = np.arange(n)
        if self.drop_last:
            indices = indices[:self.total_size]
        elif self.total_size > n:  # pad with the first indices (repeated if n is tiny)
            indices = np.resize(indices, self.total_size)
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order (call before iterating each epoch)."""
        self.epoch = epoch


class Standardizer:
    """``(x − mean) / std`` with statistics fitted on the training data only, then applied
    unchanged to validation and test data (seed 001 §6.5: subtract the *training* mean).

    Statistics are taken over ``axis`` (default 0: one mean and std per feature, i.e. a
    mean image; use ``(0, 2, 3)`` for per-channel image statistics).  ``with_std=False``
    only subtracts the mean.  Features that are constant in training get std 1, so they
    map to 0 instead of dividing by zero.

    >>> s = Standardizer().fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
    >>> s.transform(np.array([[1.0, 6.0]])).tolist()
    [[0.0, 1.0]]
    """

    def __init__(self, axis: int | tuple[int, ...] = 0, with_std: bool = True) -> None:
        self.axis = axis
        self.with_std = with_std
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, x: Any) -> Standardizer:
        data = _array(x)
        self.mean = data.mean(axis=self.axis, keepdims=True)
        std = data.std(axis=self.axis, keepdims=True)
        self.std = np.where(std > 0, std, 1).astype(std.dtype)
        return self

    def transform(self, x: Any) -> Any:
        """Apply the fitted statistics; returns the same kind of object it was given."""
        if self.mean is None or self.std is None:
            raise RuntimeError("Standardizer: call fit(train_data) before transform()")
        data = _array(x)
        out = data - self.mean.astype(data.dtype)
        if self.with_std:
            out = out / self.std.astype(data.dtype)
        return Tensor(out) if isinstance(x, Tensor) else out

    def fit_transform(self, x: Any) -> Any:
        return self.fit(x).transform(x)


class RandomCrop:
    """Zero-pad each image of an (N, C, H, W) batch by ``padding`` and cut a random
    ``size`` crop at an independent position per image (seed 001 §6.7; the classic
    CIFAR recipe is padding 4 with size 32).  ``size`` defaults to the input size.

    >>> crop = RandomCrop(padding=1, generator=np.random.default_rng(0))
    >>> crop(np.ones((3, 1, 4, 4))).shape
    (3, 1, 4, 4)
    """

    def __init__(self, size: int | tuple[int, int] | None = None, padding: int = 0,
                 generator: np.random.Generator | None = None) -> None:
        self.size = (size, size) if isinstance(size, int) else size
        self.padding = padding
        self.generator = generator

    def __call__(self, images: np.ndarray) -> np.ndarray:
        if images.ndim != 4:
            raise ValueError(f"RandomCrop: expected a batch (N, C, H, W), got shape "
                             f"{images.shape}")
        n, _, h, w = images.shape
        ch, cw = (h, w) if self.size is None else self.size
        p = self.padding
        padded = np.pad(images, ((0, 0), (0, 0), (p, p), (p, p))) if p else images
        if ch > h + 2 * p or cw > w + 2 * p:
            raise ValueError(f"RandomCrop: crop {(ch, cw)} is larger than the padded image "
                             f"{(h + 2 * p, w + 2 * p)}")
        gen = self.generator if self.generator is not None else default_generator()
        top = gen.integers(0, h + 2 * p - ch + 1, size=n)
        left = gen.integers(0, w + 2 * p - cw + 1, size=n)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (ch, cw), axis=(2, 3))
        return windows[np.arange(n), :, top, left]


class RandomHorizontalFlip:
    """Mirror each image of an (N, ..., W) batch left-right with probability ``p``.

    >>> flip = RandomHorizontalFlip(p=1.0)
    >>> flip(np.array([[[1, 2, 3]]])).tolist()
    [[[3, 2, 1]]]
    """

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None) -> None:
        self.p = p
        self.generator = generator

    def __call__(self, images: np.ndarray) -> np.ndarray:
        gen = self.generator if self.generator is not None else default_generator()
        flip = gen.random(len(images)) < self.p
        mask = flip.reshape((-1,) + (1,) * (images.ndim - 1))
        return np.where(mask, images[..., ::-1], images)


class Compose:
    """Apply transforms one after the other: ``Compose([RandomCrop(padding=1),
    RandomHorizontalFlip()])``."""

    def __init__(self, transforms: Sequence[Callable[[np.ndarray], np.ndarray]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        for transform in self.transforms:
            images = transform(images)
        return images
