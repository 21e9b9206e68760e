"""Bundled real data (the 8x8 handwritten digits) and a reader for MNIST-format IDX files.

**Digits.**  ``digits.npz`` holds the 1,797 8x8 grey-level images (values 0..16, uint8) and
labels 0..9 of the test part of the UCI "Optical Recognition of Handwritten Digits" data set
(E. Alpaydin and C. Kaynak, 1998; https://doi.org/10.24432/C50P49), licensed CC BY 4.0.  The
file was made at development time from scikit-learn's bundled copy; nothing is downloaded at
run time.

**IDX.**  ``load_idx`` reads the IDX format of the MNIST files (raw or ``.gz``) for users who
have MNIST on disk.
"""

from __future__ import annotations

import gzip
import os
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Split", "load_digits", "load_idx"]

_HERE = os.path.dirname(os.path.abspath(__file__))


class Split(NamedTuple):
    """Train and test arrays: images (N, 1, 8, 8) float32 in [0, 1], labels (N,) int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> Split:
    """The digits, shuffled with ``seed`` and split into train/test, stratified by class.

    >>> s = load_digits()
    >>> s.x_train.shape, s.x_test.shape, s.x_train.dtype
    ((1438, 1, 8, 8), (359, 1, 8, 8), dtype('float32'))
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"load_digits: test_fraction must be in (0, 1), got {test_fraction}")
    with np.load(os.path.join(_HERE, "digits.npz")) as f:
        images, labels = f["images"], f["labels"]
    rng = np.random.default_rng(seed)
    test_idx = []
    for c in range(10):  # stratified: the same share of every class in the test set
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        test_idx.append(idx[:round(len(idx) * test_fraction)])
    test = np.sort(np.concatenate(test_idx))
    train = np.setdiff1d(np.arange(len(labels)), test)
    train = train[rng.permutation(len(train))]
    x = (images.astype(np.float32) / 16.0)[:, None, :, :]
    y = labels.astype(np.int64)
    return Split(x[train], y[train], x[test], y[test])


_IDX_TYPES: dict[int, Any] = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
              0x0E: ">f8"}


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (MNIST's format; gzip-compressed when the file starts with the gzip
    magic bytes) into an array of its stored shape and type (big-endian types converted).

    Format: two zero bytes, a type code, the number of dimensions, one big-endian uint32 per
    dimension, then the data in C order.
    """
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"load_idx: {os.fspath(path)!r} is not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"load_idx: {os.fspath(path)!r} has unknown data type code {code:#x}")
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    dtype = np.dtype(_IDX_TYPES[code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"load_idx: {os.fspath(path)!r} holds {len(raw) - header} data bytes "
                         f"but its header promises shape {shape} ({expected} bytes)")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))
