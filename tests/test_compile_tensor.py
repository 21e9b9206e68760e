"""ag.compile on Tensor graphs (issue K): a replayed training step equals eager bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
import nn
import optim
from autograd_core import primitives as P

F = nn.functional


def _batches(rng: np.random.Generator, n: int, shape: tuple[int, ...], classes: int,
             dtype: type) -> list[tuple[ag.Tensor, ag.Tensor]]:
    return [(ag.tensor(rng.standard_normal(shape).astype(dtype)),
             ag.tensor(rng.integers(0, classes, shape[0]))) for _ in range(n)]


def _train(make, batches, compiled: bool):
    """Run the PyTorch-shaped step over ``batches``; return the losses, the parameters,
    the buffers and the optimizer's state afterwards."""
    model, opt = make()

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    run = ag.compile(step) if compiled else step
    losses = [run(x, y).data.copy() for x, y in batches]
    state = [np.copy(v) for s in opt.state.values() for v in s if isinstance(v, np.ndarray)]
    return (losses, [p.data.copy() for p in model.parameters()],
            [b.data.copy() for b in model.buffers()], state, run)


def _same_arrays(a, b) -> bool:
    return len(a) == len(b) and all(x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True)
                                    for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_mlp_step_with_adam_replays_bit_for_bit(dtype):
    def make():
        ag.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4)).to(dtype)
        return model, optim.Adam(model.parameters(), lr=1e-2)

    batches = _batches(np.random.default_rng(1), 7, (5, 6), 4, dtype)
    eager = _train(make, batches, compiled=False)
    compiled = _train(make, batches, compiled=True)
    for a, b in zip(eager[:4], compiled[:4], strict=True):
        assert _same_arrays(a, b)
    run = compiled[4]
    assert len(run._tensors.plans) == 1 and run._tensors.plans.popitem()[1][0].verified


def test_a_cnn_with_batchnorm_dropout_and_momentum_replays_bit_for_bit():
    """Convolution, BN running statistics (and the batch counter), max pooling, dropout
    masks drawn from the library generator, SGD with momentum: all equal eager's."""
    def make():
        ag.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3),
                              nn.Linear(64, 3))
        return model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    batches = _batches(np.random.default_rng(2), 6, (5, 1, 8, 8), 3, np.float32)
    eager = _train(make, batches, compiled=False)
    after_eager = ag.default_generator().random()
    compiled = _train(make, batches, compiled=True)
    assert ag.default_generator().random() == after_eager  # the same stream, as far
    for a, b in zip(eager[:4], compiled[:4], strict=True):
        assert _same_arrays(a, b)


def test_batchnorm_with_cumulative_momentum_and_eval_mode_replay():
    ag.manual_seed(0)
    bn = nn.BatchNorm1d(3, momentum=None)
    lin = nn.Linear(3, 2)
    f = ag.compile(lambda x: lin(bn(x)).sum())
    xs = [ag.tensor(np.random.default_rng(k).standard_normal((4, 3)).astype(np.float32))
          for k in range(5)]
    twin_bn, twin_lin = nn.BatchNorm1d(3, momentum=None), nn.Linear(3, 2)
    twin_bn.load_state_dict(bn.state_dict())
    twin_lin.load_state_dict(lin.state_dict())
    for x in xs:
        assert np.array_equal(f(x).data, twin_lin(twin_bn(x)).sum().data)
    assert np.array_equal(bn.running_var.data, twin_bn.running_var.data)
    assert int(bn.num_batches_tracked.data) == 5
    bn.eval()
    twin_bn.eval()
    for x in xs:  # the eval state is another variant, recorded then replayed
        assert np.array_equal(f(x).data, twin_lin(twin_bn(x)).sum().data)
    assert len(f._tensors.plans.popitem()[1]) == 2


def test_backward_outside_the_function_runs_the_plan():
    ag.manual_seed(0)
    lin = nn.Linear(3, 2)
    f = ag.compile(lambda x: ag.tanh(lin(x)).pow(2).mean())
    twin = nn.Linear(3, 2)
    twin.load_state_dict(lin.state_dict())
    for k in range(4):
        x = ag.tensor(np.random.default_rng(k).standard_normal((5, 3)).astype(np.float32))
        lin.zero_grad()
        twin.zero_grad()
        out = f(x)
        out.backward()
        ag.tanh(twin(x)).pow(2).mean().backward()
        assert np.array_equal(lin.weight.grad.data, twin.weight.grad.data)
        assert np.array_equal(lin.bias.grad.data, twin.bias.grad.data)
    with pytest.raises(RuntimeError, match="already ran"):
        out.backward()


def test_an_argument_that_requires_grad_gets_its_gradient():
    w = ag.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
    f = ag.compile(lambda x: (x @ w).relu().sum())
    for k in range(4):
        x = ag.tensor(np.random.default_rng(k).standard_normal((3, 2)).astype(np.float32),
                      requires_grad=True)
        f(x).backward()
        x2 = ag.tensor(x.data, requires_grad=True)
        (x2 @ w).relu().sum().backward()
        assert np.array_equal(x.grad.data, x2.grad.data)


def test_an_index_argument_is_substituted_in_the_ops_context():
    """``logp[rows, y]`` keeps y's array in the op's context: a replay uses the new one."""
    w = ag.tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32),
                  requires_grad=True)
    rows = np.arange(5)
    f = ag.compile(lambda x, y: -ag.log_softmax(x @ w, axis=1)[rows, y].mean())
    for k in range(4):
        rng = np.random.default_rng(k)
        x = ag.tensor(rng.standard_normal((5, 4)).astype(np.float32))
        y = rng.integers(0, 3, 5)
        assert np.array_equal(f(x, y).data,
                              (-ag.log_softmax(x @ w, axis=1)[rows, y].mean()).data)


def test_computations_on_buffers_are_replayed_not_baked():
    """An op on tensors that do not require grad (a buffer) is recorded while compiling,
    so a replay sees the buffer's new value."""
    scale = ag.tensor([2.0, 3.0])
    w = ag.tensor([1.0, 1.0], requires_grad=True)
    f = ag.compile(lambda x: (x * w * (scale * 2.0)).sum())
    x = ag.tensor([1.0, 1.0])
    for _ in range(3):
        assert f(x).item() == 10.0
    scale.data = np.array([1.0, 1.0], np.float32)
    assert f(x).item() == 4.0


# --------------------------------------------------------------------- programs
_UNARY = [P.EXP, P.TANH, P.SIN, P.SIGMOID, P.NEG, P.RELU, P.ABS, P.CLIP]
_BINARY = [P.ADD, P.SUB, P.MUL, P.MAXIMUM]
# Second order: the first-order rules run as graph ops, masks (relu, abs, maximum, clip)
# included.
_SMOOTH_UNARY = [P.EXP, P.TANH, P.SIN, P.SIGMOID, P.NEG, P.RELU, P.ABS, P.CLIP]
_SMOOTH_BINARY = [P.ADD, P.SUB, P.MUL, P.MAXIMUM]


@st.composite
def _programs(draw, smooth: bool):
    """A straight-line program over a parameter and two arguments: each step applies a
    unary or a binary op of the op table to earlier values (broadcasting a row)."""
    unary = _SMOOTH_UNARY if smooth else _UNARY
    binary = _SMOOTH_BINARY if smooth else _BINARY
    steps = []
    for k in range(draw(st.integers(1, 8))):
        n = 3 + k
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(unary)), draw(st.integers(0, n - 1)), None))
        else:
            steps.append((draw(st.sampled_from(binary)), draw(st.integers(0, n - 1)),
                          draw(st.integers(0, n - 1))))
    return steps


def _run_program(steps, w, x, b):
    from autograd_core.tensor import _binary, _unary
    vals = [w, x, b]
    for op, i, j in steps:
        vals.append(_unary(op, vals[i], *((-0.5, 0.5) if op is P.CLIP else ())) if j is None
                    else _binary(op, vals[i], vals[j]))
    return sum(v.sum() for v in vals[3:]) + (w * w).sum()


@settings(max_examples=30, deadline=None)
@given(_programs(smooth=False), st.sampled_from([np.float32, np.float64]),
       st.booleans())
def test_generated_programs_replay_bit_for_bit(steps, dtype, with_sgd):
    rng = np.random.default_rng(0)
    data = [rng.standard_normal((3, 4)).astype(dtype) for _ in range(4)]
    rows = [rng.standard_normal((1, 4)).astype(dtype) for _ in range(4)]

    def run(compiled: bool):
        w = ag.tensor(np.linspace(-1, 1, 12).reshape(3, 4).astype(dtype), requires_grad=True)
        opt = optim.SGD([w], lr=0.1)

        def step(x, b):
            opt.zero_grad()
            loss = _run_program(steps, w, x, b)
            loss.backward()
            if with_sgd:
                opt.step()
            return loss

        f = ag.compile(step) if compiled else step
        out = [(f(ag.tensor(x), ag.tensor(b)).data.copy()) for x, b in zip(data, rows, strict=True)]
        return out, w.data.copy(), w.grad.data.copy()

    eager, compiled = run(False), run(True)
    assert _same_arrays(eager[0], compiled[0])
    assert _same_arrays(eager[1:], compiled[1:])


@settings(max_examples=20, deadline=None)
@given(_programs(smooth=True))
def test_generated_programs_replay_second_order_bit_for_bit(steps):
    """A gradient taken with create_graph inside the function is part of the graph, so
    its own gradient (here of its squared norm) replays too."""
    rng = np.random.default_rng(0)
    data = [rng.standard_normal((3, 4)) for _ in range(4)]
    rows = [rng.standard_normal((1, 4)) for _ in range(4)]

    def run(compiled: bool):
        w = ag.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)

        def step(x, b):
            (gw,) = ag.grad(_run_program(steps, w, x, b), w, create_graph=True)
            penalty = (gw * gw).sum()
            penalty.backward()
            return penalty

        f = ag.compile(step) if compiled else step
        grads = []
        for x, b in zip(data, rows, strict=True):
            w.grad = None
            f(ag.tensor(x), ag.tensor(b))
            grads.append(w.grad.data.copy())
        return grads

    assert _same_arrays(run(False), run(True))


# --------------------------------------------------------------------- guards, errors
def test_new_shapes_record_a_new_plan():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    f = ag.compile(lambda x: (x * w).sum())
    for n in (3, 3, 3, 5, 5, 5):
        assert f(ag.ones(n, 2)).item() == 3.0 * n
    assert len(f._tensors.plans) == 2


def test_a_branch_on_a_value_is_refused():
    w = ag.tensor([1.0], requires_grad=True)
    with pytest.raises(ag.CompileError, match=r"item\(\)"):
        ag.compile(lambda x: w * 2 if (x * w).sum().item() > 0 else w * 3)(ag.ones(1))
    with pytest.raises(ag.CompileError, match=r"bool\(tensor\)"):
        ag.compile(lambda x: w * 2 if (x * w).sum() > 0 else w * 3)(ag.ones(1))


def test_a_constant_computed_from_data_is_named():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    f = ag.compile(lambda x: (w * (x.data * 2)).sum())
    f(ag.tensor([1.0, 1.0]))
    with pytest.raises(ag.CompileError, match="fed to op 'mul'"):
        f(ag.tensor([3.0, 1.0]))


def test_a_batch_fetched_inside_the_function_is_refused():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    batches = iter([ag.tensor([1.0, 1.0]), ag.tensor([2.0, 5.0])])
    f = ag.compile(lambda x: (w * next(batches)).sum() + x.sum())
    f(ag.ones(1))
    with pytest.raises(ag.CompileError, match="not an argument differs"):
        f(ag.ones(1))


def test_hooks_and_custom_functions_are_refused():
    w = ag.tensor([1.0, 2.0], requires_grad=True)

    def hooked(x):
        h = x * w
        h.register_hook(lambda g: g * 2)
        return h.sum()

    with pytest.raises(ag.CompileError, match="hooks"):
        ag.compile(hooked)(ag.ones(2))

    class Twice(ag.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    with pytest.raises(ag.CompileError, match="custom Function"):
        ag.compile(lambda x: Twice.apply(x * w).sum())(ag.ones(2))


def test_under_no_grad_a_tensor_function_runs_eagerly():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    f = ag.compile(lambda x: (x * w).sum())
    with ag.no_grad():
        assert f(ag.ones(2)).item() == 3.0
    assert f._tensors.plans == {}


def test_outside_runs_eagerly_and_under_compile():
    x = ag.tensor([-1.0, 2.0, -3.0], requires_grad=True)
    f = ag.compile(lambda t: ag.where(ag.outside(lambda a: a > 0, t), t, t * 0.5).sum())
    for k in range(3):
        t = ag.tensor(np.array([-1.0, 2.0, -3.0]) * (k + 1), requires_grad=True)
        assert f(t).item() == ag.where(t > 0, t, t * 0.5).sum().item()
    assert ag.outside(lambda a: None, x) is None
    pair = ag.outside(lambda a: (a, a * 2), x)
    assert isinstance(pair, tuple) and not pair[1].requires_grad


def test_the_plan_prints_its_steps():
    lin = nn.Linear(2, 2)
    opt = optim.SGD(lin.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = lin(x).relu().sum()
        loss.backward()
        opt.step()
        return loss

    f = ag.compile(step)
    f(ag.ones(3, 2))
    text = str(f.plan)
    for part in ("argument 0", "parameter (2, 2)", "addmm(", "relu(", "backward from",
                 "call Optimizer.step()", "call Optimizer.zero_grad()"):
        assert part in text


# --------------------------------------------------------------------- patterns
_W = np.array([1.0, 2.0, 3.0], np.float32)


def _inplace(x, w):
    h = x * w
    h.add_(1.0)
    h[0] = 5.0
    return (h * h).sum()


def _no_grad_inside(x, w):
    with ag.no_grad():
        s = (x * 2).sum()
    return (x * w).sum() * s


_PATTERNS = {
    "in-place ops": _inplace,
    "no_grad inside": _no_grad_inside,
    "detach": lambda x, w: ((x * w) * (x * w).detach()).sum(),
    "argmax as an index": lambda x, w: (x * w)[(x * w).argmax()],
    "sort": lambda x, w: ((x * w).sort().values * ag.tensor([1.0, 2.0, 3.0])).sum(),
    "cummax": lambda x, w: (x * w).cummax(0).values.sum(),
    "where on a comparison": lambda x, w: ag.where(x > 0, x * w, -x * w).sum(),
    "masked_fill": lambda x, w: (x * w).masked_fill(x < 0, 0.0).sum(),
    "standardised argument": lambda x, w: ((x - x.mean()) / x.std() * w).sum(),
    "softmax": lambda x, w: (ag.softmax(x * w, -1) * ag.tensor([1.0, 0.0, 2.0])).sum(),
    "leaky_relu, hardtanh": lambda x, w: (F.leaky_relu(x * w) + F.hardtanh(x * w)).sum(),
}


@pytest.mark.parametrize("name", sorted(_PATTERNS))
def test_common_patterns_replay_bit_for_bit(name):
    """Each pattern reads the data somewhere outside plain differentiable ops; a replay
    must see each new batch there too."""
    fn = _PATTERNS[name]

    def step(w, x):
        loss = fn(x, w)
        loss.backward()
        return loss

    compiled = ag.compile(step)
    for k in range(5):
        x = ag.tensor(np.random.default_rng(k).standard_normal(3).astype(np.float32))
        w1, w2 = (ag.tensor(_W, requires_grad=True) for _ in range(2))
        a, b = compiled(w1, x), step(w2, x)
        assert np.array_equal(a.data, b.data) and np.array_equal(w1.grad.data, w2.grad.data)


def test_an_embedding_lookup_with_padding_replays():
    ag.manual_seed(0)
    emb = nn.Embedding(6, 2, padding_idx=0)
    twin = nn.Embedding(6, 2, padding_idx=0)
    twin.load_state_dict(emb.state_dict())

    def step(module, idx):
        module.zero_grad()
        loss = (module(idx) ** 2).sum()
        loss.backward()
        return loss

    compiled = ag.compile(step)
    for k in range(5):
        idx = ag.tensor(np.random.default_rng(k).integers(0, 6, (2, 3)))
        assert np.array_equal(compiled(emb, idx).data, step(twin, idx).data)
        assert np.array_equal(emb.weight.grad.data, twin.weight.grad.data)


def test_clearing_and_clipping_grads_inside_the_step_replay():
    """``p.grad = None``, ``module.zero_grad()`` and ``clip_grad_norm_`` inside the step
    are recorded as calls the replay repeats; assigning a gradient is refused."""
    def make():
        ag.manual_seed(0)
        model = nn.Linear(3, 2)
        return model, optim.SGD(model.parameters(), lr=0.5)

    def run(compiled: bool):
        model, opt = make()

        def step(x):
            model.weight.grad = None
            model.zero_grad()
            loss = (model(x) ** 2).sum() * 10.0
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            return loss

        f = ag.compile(step) if compiled else step
        for k in range(5):
            f(ag.tensor(np.random.default_rng(k).standard_normal((4, 3)).astype(np.float32)))
        return [p.data.copy() for p in model.parameters()]

    assert _same_arrays(run(False), run(True))
    w = ag.tensor([1.0], requires_grad=True)

    def assigns(x):
        w.grad = ag.tensor([0.0])
        return (w * x).sum()

    with pytest.raises(ag.CompileError, match="assigning a tensor's .grad"):
        ag.compile(assigns)(ag.ones(1))


def test_a_scheduler_step_inside_the_step_replays():
    def run(compiled: bool):
        w = ag.tensor([1.0, -1.0], requires_grad=True)
        opt = optim.SGD([w], lr=0.5)
        schedule = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

        def step(x):
            opt.zero_grad()
            loss = ((w * x) ** 2).sum()
            loss.backward()
            opt.step()
            schedule.step()
            return loss

        f = ag.compile(step) if compiled else step
        for k in range(6):
            f(ag.tensor([1.0 + k, 2.0]))
        return [w.data.copy()], opt.param_groups[0]["lr"]

    (eager, lr_eager), (compiled, lr_compiled) = run(False), run(True)
    assert _same_arrays(eager, compiled) and lr_eager == lr_compiled == 0.0625


def test_a_parameter_given_another_shape_records_a_new_plan():
    """The arguments are the same, but ``p.data = ...`` gave a parameter another shape:
    the plan (shapes baked in) no longer fits, and a new variant is recorded."""
    w = ag.tensor(np.ones((3, 2), np.float32), requires_grad=True)
    f = ag.compile(lambda x: ((x @ w) ** 2).sum())
    x = ag.ones(4, 3)
    for _ in range(3):
        f(x)
    w.data = np.arange(12, dtype=np.float32).reshape(3, 4)
    for _ in range(3):
        assert f(x).item() == ((x @ w) ** 2).sum().item()
    (variants,) = f._tensors.plans.values()
    assert len(variants) == 2


def test_distributed_data_parallel_averaging_is_a_call_of_the_plan():
    """One process: the averaging runs (an identity) as a call after backward; a compiled
    function that leaves the backward to its caller is refused."""
    ag.manual_seed(0)
    ddp = nn.DistributedDataParallel(nn.Linear(3, 2))
    opt = optim.SGD(ddp.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = ddp(x).pow(2).sum()
        loss.backward()
        opt.step()
        return loss

    f = ag.compile(step)
    for _ in range(3):
        f(ag.ones(4, 3))
    assert "call DistributedDataParallel.sync_gradients()" in str(f.plan)
    with pytest.raises(ag.CompileError, match="did not call backward"):
        ag.compile(lambda x: ddp(x).sum())(ag.ones(4, 3))
