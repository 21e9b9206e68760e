"""autograd_core.buffers: large arrays are reused only once nothing references them, values
never change, and the cache stays within its limit."""

import platform
import subprocess
import sys
import threading

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from autograd_core import buffers

BIG = (256, 256)  # 256 KiB of float32, over MIN_BYTES


@pytest.fixture(autouse=True)
def fresh_cache():
    old = buffers.limit()
    buffers.set_limit(0)
    buffers.set_limit(old)
    yield
    buffers.set_limit(0)
    buffers.set_limit(old)


def test_a_buffer_is_reused_only_when_nothing_references_it():
    a = buffers.empty(BIG, np.float32)
    assert buffers.empty(BIG, np.float32) is not a  # a is held here
    view = a[::2]
    del a
    b = buffers.empty(BIG, np.float32)
    assert b.base is None and view.base is not b  # a view keeps its buffer from reuse
    del view
    c = buffers.empty(BIG, np.float32)
    assert buffers.empty(BIG, np.float32) is not c
    ident = id(c)
    del c
    assert id(buffers.empty(BIG, np.float32)) == ident  # released: handed out again


def test_tensors_and_saved_values_keep_their_buffers():
    """Values a graph saved for backward survive any later forward that reuses buffers."""
    rng = np.random.default_rng(0)
    xs, ws = rng.standard_normal((64, 1024)), rng.standard_normal((1024, 256))

    def grads(interleave: bool) -> tuple[np.ndarray, np.ndarray]:
        x, w = ag.tensor(xs, requires_grad=True), ag.tensor(ws, requires_grad=True)
        loss = (ag.relu(x @ w) * ag.relu(x @ w)).sum()
        if interleave:  # products and ReLUs of the same shapes: buffers are reused
            for _ in range(3):
                ag.relu(x.detach() @ (w.detach() * -2.0)).sum()
        loss.backward()
        return x.grad.numpy(), w.grad.numpy()

    for a, b in zip(grads(True), grads(False), strict=True):
        np.testing.assert_array_equal(a, b)
    x, w = ag.tensor(xs), ag.tensor(ws)
    held = ag.relu(x @ w)
    first = held.data.copy()
    ag.relu(x @ (w * 3.0))
    np.testing.assert_array_equal(held.data, first)


def _cnn_step_weights(limit: int) -> list[np.ndarray]:
    old = buffers.limit()
    buffers.set_limit(limit)
    try:
        ag.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(16 * 7 * 7, 10))
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        rng = np.random.default_rng(0)
        for _ in range(3):
            x = ag.tensor(rng.random((64, 1, 28, 28), dtype=np.float32))
            y = ag.tensor(rng.integers(0, 10, 64))
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        return [p.data.copy() for p in model.parameters()]
    finally:
        buffers.set_limit(old)


def test_a_cnn_trains_bit_for_bit_as_without_the_cache():
    cached, plain = _cnn_step_weights(256 << 20), _cnn_step_weights(0)
    for a, b in zip(cached, plain, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_cache_stays_within_its_limit_and_empties():
    buffers.set_limit(1 << 20)  # 1 MiB: four 256 KiB buffers
    held = [buffers.empty(BIG, np.float32) for _ in range(6)]
    assert buffers.reserved() <= 1 << 20
    del held
    buffers.empty((128, 512), np.float32)  # a new shape: older free buffers make room
    assert buffers.reserved() <= 1 << 20
    buffers.empty_cache()
    assert buffers.reserved() == 0
    buffers.set_limit(0)
    a = buffers.empty(BIG, np.float32)
    ident = id(a)
    del a
    assert buffers.reserved() == 0
    b = buffers.empty(BIG, np.float32)
    assert id(b) != ident or b.base is None  # nothing cached: a fresh array
    with pytest.raises(ValueError, match="set_limit"):
        buffers.set_limit(-1)


def test_small_arrays_bypass_the_cache():
    buffers.empty((4, 4), np.float64)
    buffers.zeros((16, 16), np.float32)
    assert buffers.reserved() == 0
    buffers.empty(BIG, np.float32)
    assert buffers.reserved() == 256 * 256 * 4


def test_each_thread_has_its_own_buffers():
    """A buffer freed in one thread is not handed to another (reuse never races)."""
    main = buffers.empty(BIG, np.float32)
    main_id = id(main)
    del main  # free in this thread's cache
    seen: list[int] = []

    def grab() -> None:
        b = buffers.empty(BIG, np.float32)
        seen.append(id(b))
        del b
        seen.append(id(buffers.empty(BIG, np.float32)))

    t = threading.Thread(target=grab)
    t.start()
    t.join()
    assert seen[0] == seen[1] != main_id
    assert id(buffers.empty(BIG, np.float32)) == main_id


def test_helpers_match_numpy():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((8, 64, 96)).astype(np.float32)
    b = rng.standard_normal((96, 40)).astype(np.float32)
    np.testing.assert_array_equal(buffers.matmul(a, b), np.matmul(a, b))
    np.testing.assert_array_equal(buffers.matmul(b.T[None], a.transpose(0, 2, 1)),
                                  np.matmul(b.T[None], a.transpose(0, 2, 1)))
    t = a.transpose(2, 0, 1)
    np.testing.assert_array_equal(buffers.reshape(t, (96, -1)), np.reshape(t, (96, -1)))
    with pytest.raises(ValueError):
        buffers.reshape(t, (7, -1))
    m = a > 0
    np.testing.assert_array_equal(buffers.mask(a, m), a * m)
    np.testing.assert_array_equal(buffers.zeros((300, 300), np.float64), 0)
    np.testing.assert_array_equal(buffers.copy(t), t)


W5_FAULTS = """
import resource, sys
import numpy as np, autograd_core as ag, nn, optim
from autograd_core import buffers
buffers.set_limit(int(sys.argv[1]))
model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(16 * 7 * 7, 10))
opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x = ag.tensor(np.random.default_rng(0).random((64, 1, 28, 28), dtype=np.float32))
y = ag.tensor(np.arange(64) % 10)
for step in range(8):
    if step == 4:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 4)
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="the faults counted are those of glibc's malloc on Linux")
def test_a_cnn_step_faults_no_pages_in_once_warm():
    """Not a timing: the page faults a warm CNN step takes, counted by the kernel.  Without
    the cache glibc gives the step's memory back and faults it in again each step."""
    def faults(limit: int) -> float:
        return float(subprocess.run([sys.executable, "-c", W5_FAULTS, str(limit)],
                                    capture_output=True, text=True, check=True).stdout)

    cached = faults(256 << 20)
    assert cached < 50, cached
    plain = faults(0)
    assert plain > 10 * max(cached, 10), (plain, cached)  # the cache is what removes them
