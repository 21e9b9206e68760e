"""Issue M: what a newcomer's misuse probes found (copies, threads, dtypes, clip, weight files)."""

import threading

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F
import optim


def test_tensor_copies_the_callers_array_and_as_tensor_shares_it():
    a = np.array([1.0, 2.0, 3.0])
    x = ag.tensor(a, requires_grad=True)
    y = (x * x).sum()
    a[:] = 10.0  # after the forward: must not reach the graph
    y.backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    assert ag.Tensor(a).numpy() is not a and not np.shares_memory(ag.Tensor(a).numpy(), a)
    shared, strict = ag.as_tensor(a), ag.from_numpy(a)
    a[0] = -1.0
    assert shared[0].item() == strict[0].item() == -1.0  # torch.as_tensor / from_numpy share
    assert ag.as_tensor(a, dtype=np.float32).dtype == np.float32  # a cast is a copy
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray"):
        ag.from_numpy([1.0])
    t = ag.tensor([1.0, 2.0])
    p = nn.Parameter(t)  # as torch.nn.Parameter: shares the tensor's data
    assert np.shares_memory(p.numpy(), t.numpy())


def test_an_array_operand_is_read_when_the_op_runs():
    w = np.array([1.0, 2.0], dtype=np.float32)
    x = ag.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    w[:] = 0.0
    y.backward()
    assert x.grad.tolist() == [1.0, 2.0]


def _train(seed, steps=150):  # long enough for the two threads to interleave
    """A small regression model trained from ``seed``; its final weights."""
    rng = np.random.default_rng(seed)
    x = ag.tensor(rng.standard_normal((32, 4)).astype(np.float32))
    y = ag.tensor(rng.standard_normal((32, 1)).astype(np.float32))
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    for p, v in zip(model.parameters(), rng.standard_normal(4), strict=True):
        p.data[...] = v * 0.1 + 0.05
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        with ag.no_grad():  # a no_grad block in this thread must not pause the other one
            model(x)
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [p.numpy().copy() for p in model.parameters()]


def test_grad_mode_is_per_thread_and_two_threads_train_bit_identically():
    sequential = [_train(1), _train(2)]
    results = [None, None]

    def run(k):
        results[k] = _train(k + 1)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, sequential, strict=True):
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def test_no_grad_in_one_thread_leaves_another_recording():
    entered, done = threading.Event(), threading.Event()

    def pause():
        with ag.no_grad():
            entered.set()
            done.wait(5)

    t = threading.Thread(target=pause)
    t.start()
    entered.wait(5)
    try:
        assert ag.is_grad_enabled()
        x = ag.tensor([1.0], requires_grad=True)
        assert (x * 2).requires_grad
    finally:
        done.set()
        t.join()


def test_layers_refuse_an_input_of_another_dtype_as_torch():
    layer = nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match=r"linear: input of dtype int64 and weight of dtype "
                                           r"float32 differ"):
        layer(ag.tensor([[1, 2, 3]]))
    with pytest.raises(TypeError, match="linear: input of dtype float64"):  # no silent float64
        layer(ag.tensor(np.ones((1, 3))))
    conv = nn.Conv2d(1, 1, 3)
    with pytest.raises(RuntimeError, match="conv2d: input of dtype float64 and weight of dtype "
                                           "float32 differ"):
        conv(ag.tensor(np.ones((1, 1, 4, 4))))


def test_clip_with_min_above_max_gives_max_everywhere_and_no_gradient_as_torch():
    x = ag.tensor([-1.0, 1.0, 5.0], requires_grad=True)
    y = ag.clip(x, 3.0, 0.0)
    assert y.tolist() == [0.0, 0.0, 0.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    assert ag.Scalar(1.0).clip(3.0, 0.0).data == 0.0


def test_load_state_dict_can_refuse_non_finite_values_and_names_them():
    model = nn.Linear(2, 2)
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    state["bias"][1] = np.nan
    before = model.bias.numpy().copy()
    with pytest.raises(RuntimeError, match=r"non-finite values in bias: 1 of 2 are NaN or inf"):
        model.load_state_dict(state, strict_finite=True)
    assert np.array_equal(model.bias.numpy(), before)  # nothing loaded
    model.load_state_dict(state)  # off by default, as PyTorch
    assert np.isnan(model.bias.numpy()[1])


def test_the_shared_count_of_threads_with_grad_off_follows_every_switch():
    # Recorded ops test ``COUNTS.grad_off`` before the thread-local flag: it must count
    # exactly the threads whose grad mode is off, through nesting, backward and a thread
    # that ends with grad mode off (which stays counted: the flag is then read, still right).
    from autograd_core.engine import COUNTS

    base = COUNTS.grad_off
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    with ag.no_grad():
        assert COUNTS.grad_off == base + 1
        assert not (x * 2).requires_grad
        with ag.enable_grad():
            assert COUNTS.grad_off == base and (x * 2).requires_grad
        with ag.no_grad():
            assert COUNTS.grad_off == base + 1
    assert COUNTS.grad_off == base
    (x * x).sum().backward(create_graph=False)  # backward turns grad mode off and back
    assert COUNTS.grad_off == base and x.grad.tolist() == [2.0, 4.0]

    t = threading.Thread(target=lambda: ag.no_grad().__enter__())
    t.start()
    t.join()
    try:
        assert COUNTS.grad_off == base + 1
        y = x * 3
        assert y.requires_grad and y.grad_fn is not None
        with ag.no_grad():
            assert not (x * 3).requires_grad
    finally:
        COUNTS.grad_off -= 1  # the ended thread's count (it cannot switch back itself)
