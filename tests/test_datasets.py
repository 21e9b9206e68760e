"""Bundled digits and the IDX reader (issue F)."""

import gzip
import struct

import numpy as np
import pytest

from agc_train.datasets import load_digits, load_idx


def test_digits_split_is_complete_stratified_and_reproducible():
    s = load_digits(seed=3)
    assert len(s.y_train) + len(s.y_test) == 1797
    assert s.x_train.min() >= 0 and s.x_train.max() <= 1
    counts = np.bincount(s.y_test, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 37  # 20 % of each class of ~180
    again = load_digits(seed=3)
    np.testing.assert_array_equal(s.x_train, again.x_train)
    other = load_digits(seed=4)
    assert not np.array_equal(s.y_train, other.y_train)
    # no image is in both parts
    train = {x.tobytes() + bytes([y]) for x, y in zip(s.x_train, s.y_train, strict=True)}
    assert not any(x.tobytes() + bytes([y]) in train
                   for x, y in zip(s.x_test, s.y_test, strict=True))


def write_idx(path, array, code, compress):
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    with open(path, "wb") as f:
        f.write(gzip.compress(payload) if compress else payload)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype, code", [(np.uint8, 0x08), (np.int32, 0x0C),
                                         (np.float32, 0x0D)])
def test_load_idx_round_trip(tmp_path, compress, dtype, code):
    arr = (np.arange(2 * 3 * 4) * 7 % 251).astype(dtype).reshape(2, 3, 4)
    path = tmp_path / ("x.idx.gz" if compress else "x.idx")
    write_idx(path, arr, code, compress)
    out = load_idx(path)
    assert out.shape == (2, 3, 4) and out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, arr)


def test_load_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01")
    with pytest.raises(ValueError, match="bad magic number"):
        load_idx(bad)
    short = tmp_path / "short"
    write_idx(short, np.zeros((2, 2), np.uint8), 0x08, False)
    short.write_bytes(short.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"promises shape \(2, 2\)"):
        load_idx(short)
