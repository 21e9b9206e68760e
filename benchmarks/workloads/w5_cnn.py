"""W5: one CNN training step on (64,1,28,28): two 3x3 conv+ReLU+maxpool blocks, linear, SGD."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np

from ..common import (
    Bench,
    Data,
    SGDMomentumNumpy,
    Workload,
    batch_cycle,
    compiled_step,
    engine_step,
    load_param,
    loss_bench,
    need,
    need_nn,
    optimizer_step,
    softmax_ce_numpy,
    uniform,
)

BATCH, CHANNELS, FEATURES, CLASSES = 64, (1, 8, 16), 16 * 7 * 7, 10
LR, MOMENTUM = 0.01, 0.9
BATCHES = 16  # cycled (see common.batch_cycle)
NAMES = ("K1", "c1", "K2", "c2", "W", "b")


def make_data(rng: np.random.Generator) -> Data:
    """Conv kernels (out, in, 3, 3) as in PyTorch; the linear weight (in, out)."""
    data = {"x": rng.random((BATCHES, BATCH, 1, 28, 28), dtype=np.float32),
            "y": rng.integers(0, CLASSES, size=(BATCHES, BATCH))}
    for k, (cin, cout) in enumerate(pairwise(CHANNELS), start=1):
        data[f"K{k}"] = uniform(rng, (cout, cin, 3, 3), cin * 9)
        data[f"c{k}"] = uniform(rng, (cout,), cin * 9)
    data["W"] = uniform(rng, (FEATURES, CLASSES), FEATURES)
    data["b"] = uniform(rng, (CLASSES,), FEATURES)
    return data


# ------------------------------------------------------------------ numpy + im2col floor
# Channels-last inside (each im2col copy and col2im add then moves runs of C contiguous
# floats); the parameters keep PyTorch's layout, converted per step (a few KiB).
def _conv_forward(x: np.ndarray, K: np.ndarray, c: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """3x3 'same' convolution of NHWC ``x`` as one matmul over im2col rows (kh, kw, C)."""
    n, h, w, cin = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = np.empty((n, h, w, 3, 3, cin), dtype=x.dtype)
    for i in range(3):
        for j in range(3):
            cols[:, :, :, i, j, :] = xp[:, i:i + h, j:j + w, :]
    cols = cols.reshape(n * h * w, 9 * cin)
    out = cols @ K.transpose(2, 3, 1, 0).reshape(9 * cin, len(K))
    out += c
    return out.reshape(n, h, w, len(K)), cols


def _conv_backward(dout: np.ndarray, cols: np.ndarray, K: np.ndarray, need_dx: bool
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Kernel, bias and (optionally) input gradients; col2im as a loop over the 9 offsets."""
    n, h, w, cout = dout.shape
    cin = K.shape[1]
    d2 = dout.reshape(n * h * w, cout)
    dK = (cols.T @ d2).reshape(3, 3, cin, cout).transpose(3, 2, 0, 1)
    dc = d2.sum(0)
    if not need_dx:
        return dK, dc, None
    dcols = (d2 @ K.transpose(0, 2, 3, 1).reshape(cout, 9 * cin)).reshape(n, h, w, 3, 3, cin)
    dxp = np.zeros((n, h + 2, w + 2, cin), dtype=dout.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, i:i + h, j:j + w, :] += dcols[:, :, :, i, j, :]
    return dK, dc, dxp[:, 1:-1, 1:-1, :]


def _pool_forward(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2/2 max-pool of NHWC ``a`` via a reshape; returns (out, the argmax mask)."""
    n, h, w, c = a.shape
    r = a.reshape(n, h // 2, 2, w // 2, 2, c)
    out = r.max(axis=(2, 4))
    return out, r == out[:, :, None, :, None, :]


def _pool_backward(dout: np.ndarray, mask: np.ndarray) -> np.ndarray:
    # Ties (windows of ReLU zeros) get the gradient everywhere; the ReLU mask zeroes it.
    n, h2, _, w2, _, c = mask.shape
    return (mask * dout[:, :, None, :, None, :]).reshape(n, h2 * 2, w2 * 2, c)


def numpy_floor(data: Data) -> Bench:
    """The CNN step by hand with im2col, as a competent engineer would write it."""
    params = [data[k].copy() for k in NAMES]
    next_batch = batch_cycle(data["x"], data["y"])
    sgd = SGDMomentumNumpy(params, lr=LR, momentum=MOMENTUM)

    def step() -> float:
        K1, c1, K2, c2, W, b = params
        x, y = next_batch()
        a1, cols1 = _conv_forward(x.transpose(0, 2, 3, 1), K1, c1)
        np.maximum(a1, 0, out=a1)
        p1, m1 = _pool_forward(a1)
        a2, cols2 = _conv_forward(p1, K2, c2)
        np.maximum(a2, 0, out=a2)
        p2, m2 = _pool_forward(a2)
        flat = p2.transpose(0, 3, 1, 2).reshape(BATCH, FEATURES)  # PyTorch's (C, H, W) order
        z = flat @ W
        z += b
        loss, dz = softmax_ce_numpy(z, y)
        dW, db = flat.T @ dz, dz.sum(0)
        _, ph, pw, pc = p2.shape
        dp2 = (dz @ W.T).reshape(BATCH, pc, ph, pw).transpose(0, 2, 3, 1)
        da2 = _pool_backward(dp2, m2)
        da2 *= a2 > 0
        dK2, dc2, dp1 = _conv_backward(da2, cols2, K2, need_dx=True)
        da1 = _pool_backward(dp1, m1)
        da1 *= a1 > 0
        dK1, dc1, _ = _conv_backward(da1, cols1, K1, need_dx=False)
        sgd.step([dK1, dc1, dK2, dc2, dW, db])
        return loss

    return loss_bench(step)


# ------------------------------------------------------------------ ours, raw engine
def ours(data: Data) -> Bench:
    """The raw engine: pad + sliding_windows im2col into (N, C·9, H·W) columns, one batched
    matmul with the bias added in (``addmm``) that lands in NCHW; max-pool with the
    ``window_max`` primitive; SGD by hand."""
    ag = need("autograd_core")
    params = [ag.Tensor(data[k], requires_grad=True) for k in NAMES]
    next_batch = batch_cycle([ag.as_tensor(x) for x in data["x"]], data["y"])
    rows = np.arange(BATCH)

    def conv(t: Any, K: Any, c: Any) -> Any:
        n, cin, h, w = t.shape
        cout = K.shape[0]
        windows = ag.sliding_windows(ag.pad(t, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3))
        cols = windows.permute(0, 1, 4, 5, 2, 3).reshape(n, cin * 9, h * w)
        return ag.addmm(c.reshape(cout, 1), K.reshape(cout, cin * 9), cols).reshape(
            n, cout, h, w)

    def pool(t: Any) -> Any:
        return ag.window_max(t, (2, 2), (2, 2))

    def loss() -> Any:
        K1, c1, K2, c2, W, b = params
        x, y = next_batch()
        h = pool(ag.relu(conv(x, K1, c1)))
        h = pool(ag.relu(conv(h, K2, c2)))
        z = h.reshape(BATCH, FEATURES) @ W + b
        return -ag.log_softmax(z, axis=1)[rows, y].mean()

    sgd = SGDMomentumNumpy([p.data for p in params], lr=LR, momentum=MOMENTUM)
    return loss_bench(engine_step(ag, params, loss, sgd))


def ours_nn(data: Data, compiled: bool = False) -> Bench:
    """The project's nn.Conv2d / nn.MaxPool2d / nn.Linear, cross_entropy and optim.SGD."""
    ag = need("autograd_core")
    nn, optim = need_nn()
    conv1, conv2 = nn.Conv2d(1, 8, 3, padding=1), nn.Conv2d(8, 16, 3, padding=1)
    pool, fc = nn.MaxPool2d(2), nn.Linear(FEATURES, CLASSES)
    for layer, (wk, bk) in ((conv1, ("K1", "c1")), (conv2, ("K2", "c2")), (fc, ("W", "b"))):
        load_param(layer.weight, data[wk])
        load_param(layer.bias, data[bk])
    params = [p for layer in (conv1, conv2, fc) for p in layer.parameters()]
    next_batch = batch_cycle([ag.as_tensor(x) for x in data["x"]],
                             [ag.as_tensor(y) for y in data["y"]])
    cross_entropy = nn.functional.cross_entropy

    def loss_of(x: Any, target: Any) -> Any:
        h = pool(ag.relu(conv1(x)))
        h = pool(ag.relu(conv2(h)))
        return cross_entropy(fc(h.reshape(BATCH, FEATURES)), target)

    opt = optim.SGD(params, lr=LR, momentum=MOMENTUM)
    if compiled:
        return loss_bench(compiled_step(ag, opt, loss_of, next_batch))
    return loss_bench(optimizer_step(opt, lambda: loss_of(*next_batch())))


def ours_compiled(data: Data) -> Bench:
    """The same nn + optim step, the whole of it under ``ag.compile``."""
    return ours_nn(data, compiled=True)


def torch(data: Data) -> Bench:
    """PyTorch eager: nn.Conv2d, nn.MaxPool2d, nn.Linear, F.cross_entropy, optim.SGD."""
    th = need("torch")
    conv1, conv2 = th.nn.Conv2d(1, 8, 3, padding=1), th.nn.Conv2d(8, 16, 3, padding=1)
    fc = th.nn.Linear(FEATURES, CLASSES)
    with th.no_grad():
        for layer, wk, bk in ((conv1, "K1", "c1"), (conv2, "K2", "c2")):
            layer.weight.copy_(th.from_numpy(data[wk]))
            layer.bias.copy_(th.from_numpy(data[bk]))
        fc.weight.copy_(th.from_numpy(data["W"].T.copy()))
        fc.bias.copy_(th.from_numpy(data["b"]))
    relu, pool = th.nn.ReLU(), th.nn.MaxPool2d(2)
    model = th.nn.Sequential(conv1, relu, pool, conv2, relu, pool, th.nn.Flatten(), fc)
    next_batch = batch_cycle(list(th.from_numpy(data["x"])), list(th.from_numpy(data["y"])))

    def loss() -> Any:
        x, y = next_batch()
        return th.nn.functional.cross_entropy(model(x), y)

    opt = th.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    return loss_bench(optimizer_step(opt, loss))


WORKLOAD = Workload(
    id="W5", title="W5 CNN step (64,1,28,28), 2x conv3x3+ReLU+pool, linear, SGD",
    make_data=make_data,
    systems={"numpy": numpy_floor, "ours": ours, "ours-nn": ours_nn,
             "ours-compiled": ours_compiled, "torch": torch},
    schedule={"full": (5, 40), "quick": (3, 10)}, check_steps=2,
    rtol=1e-4, atol=1e-5,
    targets=[("ours", "numpy", 1.15, "H"), ("ours-nn", "numpy", 1.15, "H"),
             ("ours", "torch", 1.3, "H stretch"), ("ours-nn", "torch", 1.3, "H stretch"),
             ("ours-compiled", "torch", 0.9, "K")],
)
