"""Other array libraries: every op-table row on array-api-strict (and torch) arrays.

The numpy path is itself checked against float64 central differences (test_op_table.py);
here the same draws run on array-api-strict tensors, on both of its devices, and on torch
CPU tensors where torch is installed.  Forward values and first and second order gradients
must match numpy's, ``check_grads`` must pass on the other library's arrays, and results
must stay in the inputs' library and on their device (a silent copy to numpy or to the
default device fails).  Ops the standard cannot express must raise ``BackendError``.  Then
nn and optim: training runs that must match numpy's, moving and mixing rules, and CuPy
where a GPU is there.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from test_op_table import NAMES, TABLE, as_list, row_inputs, second_order

import autograd_core as ag
import nn
import nn.functional as F
import optim
from autograd_core import backends
from autograd_core.testing import check_grads

xp = pytest.importorskip("array_api_strict")

DEVICES = [xp.Device("CPU_DEVICE"), xp.Device("device1")]
# Rows whose op the standard has no function for.
LACKS = {name for name in NAMES if name in backends.UNSUPPORTED}


def library(name: str) -> tuple[Any, list[Any]]:
    """A backend under test and its devices: array-api-strict always (a dev dependency);
    torch's CPU tensors where torch is installed, else the test skips visibly."""
    if name == "array_api_strict":
        return xp, DEVICES
    torch = pytest.importorskip(name)
    return torch, [torch.device("cpu")]


def moved(x: ag.Tensor, lib: Any, device: Any) -> ag.Tensor:
    data = lib.asarray(x.numpy().copy(), device=device)  # torch takes no negative strides
    return ag.Tensor(data, requires_grad=x.requires_grad)


def strict(x: ag.Tensor, device: Any) -> ag.Tensor:
    return moved(x, xp, device)


def assert_on(t: ag.Tensor, device: Any, what: str, lib: str = "array_api_strict") -> None:
    assert backends.library(t.data) == lib, f"{what}: left the library"
    assert t.device == device, f"{what}: moved from {device} to {t.device}"


def weighted_sum(outs: list[ag.Tensor], weights: list[np.ndarray]) -> ag.Tensor:
    total: Any = 0
    for o, w in zip(outs, weights, strict=True):
        total = total + (o * ag.tensor(w, dtype="float64", device=None if isinstance(
            o.data, np.ndarray) else backends.where_of(o.data))).sum()
    return total


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lib_name", ["array_api_strict", "torch"])
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_each_op_on_another_library_matches_numpy(lib_name: str, name: str, data: Any
                                                  ) -> None:
    lib, devices = library(lib_name)
    row = TABLE[name]
    xs, params = data.draw(row_inputs(name, np.float64))
    device = data.draw(st.sampled_from(devices), label="device")
    ys = [moved(x, lib, device) for x in xs]
    try:
        got = as_list(row.fn(*ys, **params))
    except backends.BackendError as e:
        assert name in LACKS, f"{name}: {e}"
        return
    assert name not in LACKS or lib_name == "torch", f"{name} runs but is listed as lacking"
    want = as_list(row.fn(*xs, **params))
    for g, w in zip(got, want, strict=True):
        if not isinstance(g, ag.Tensor):
            assert g == w
            continue
        assert_on(g, device, name, lib_name)
        assert g.shape == w.shape
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12, atol=1e-12)
    live = [i for i, o in enumerate(want) if isinstance(o, ag.Tensor) and o.requires_grad]
    if not live:
        return
    # The checker itself on the strict arrays: central differences of the strict forward.
    def f(*inputs: ag.Tensor) -> Any:
        return row.fn(*inputs, **params)

    f.__qualname__ = f"{name} on {lib_name}"
    check_grads(f, *ys, order=2 if second_order(name) else 1, **row.check)
    weights = [data.draw(st.floats(0.5, 2.0)) * np.ones(want[i].shape) for i in live]
    order = 2 if second_order(name) else 1
    grads = {}
    for side, inputs, outs in (("numpy", xs, want), ("strict", ys, got)):
        loss = weighted_sum([outs[i] for i in live], weights)
        first = ag.grad(loss, inputs, create_graph=order == 2, allow_unused=True)
        result = list(first)
        if order == 2:
            used = [(x, g) for x, g in zip(inputs, first, strict=True)
                    if g is not None and g.requires_grad]
            if used:
                again = ag.grad(sum((g * g).sum() for _, g in used), [x for x, _ in used],
                                allow_unused=True)
                result += list(again)
        grads[side] = result
    for i, (gn, gs) in enumerate(zip(grads["numpy"], grads["strict"], strict=True)):
        assert (gn is None) == (gs is None), f"{name}: gradient {i}"
        if gn is not None:
            assert_on(gs, device, f"{name} gradient {i}", lib_name)
            np.testing.assert_allclose(gs.numpy(), gn.numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"{name}: gradient {i}")


# ------------------------------------------------------------------ nn and optim
def mlp_run(where: Any, make_opt: Any, steps: int = 5) -> tuple[list[np.ndarray], float]:
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(16, 3)).double()
    if where is not None:
        model.to(where)
    opt = make_opt(model.parameters())
    rng = np.random.default_rng(1)
    x, y = ag.tensor(rng.standard_normal((32, 6))), ag.tensor(rng.integers(0, 3, 32))
    if where is not None:
        x, y = x.to(where), y.to(where)
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    if where is not None:
        for t in (*model.parameters(), *model.buffers()):
            assert backends.library(t.data) == backends.library(x.data), "left the library"
    return [t.numpy() for t in (*model.parameters(), *model.buffers())], loss.item()


@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    lambda ps: optim.AdamW(ps, lr=0.01),
    lambda ps: optim.RMSprop(ps, lr=0.01, centered=True, momentum=0.5),
    lambda ps: optim.Adagrad(ps, lr=0.1),
], ids=["sgd", "adam", "adamw", "rmsprop", "adagrad"])
@pytest.mark.parametrize("lib_name", ["array_api_strict", "torch"])
def test_an_mlp_with_bn_dropout_and_cross_entropy_trains_the_same(lib_name: str,
                                                                  make_opt: Any) -> None:
    """Five steps: the same dropout stream, running statistics and parameters.  Rounding
    differs where numpy's path picks a transposed product by memory layout (strict arrays
    have none), which Adagrad's and RMSprop's g/√v amplify near g = 0."""
    want, loss_want = mlp_run(None, make_opt)
    got, loss_got = mlp_run(library(lib_name)[0], make_opt)
    assert loss_got == pytest.approx(loss_want, rel=1e-12)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


def test_a_cnn_step_on_strict_matches_numpy() -> None:
    def run(where: Any) -> list[np.ndarray]:
        ag.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3)).double()
        if where is not None:
            model.to(where)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        rng = np.random.default_rng(1)
        x = ag.tensor(rng.standard_normal((8, 2, 8, 8)), device=where)
        y = ag.tensor(rng.integers(0, 3, 8), device=where)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        return [p.numpy() for p in model.parameters()]
    for g, w in zip(run(xp), run(None), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ moving and mixing
def test_to_moves_between_libraries_and_devices_and_the_gradient_moves_back() -> None:
    x = ag.tensor([1.0, -2.0, 3.0], dtype="float64", requires_grad=True)
    assert x.to(np) is x and x.to("cpu") is x
    on_strict = x.to(xp)
    assert_on(on_strict, DEVICES[0], "to(xp)")
    elsewhere = on_strict.to(DEVICES[1])
    assert_on(elsewhere, DEVICES[1], "to(device)")
    y = (elsewhere * elsewhere * elsewhere).sum()
    (g,) = ag.grad(y, x, create_graph=True)  # through both moves, recorded
    assert type(g.data) is np.ndarray
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    (gg,) = ag.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.numpy())


def test_tensor_device_and_module_to_place_data_and_keep_parameters() -> None:
    t = ag.tensor([[1.0, 2.0]], device=DEVICES[1], requires_grad=True)
    assert_on(t, DEVICES[1], "tensor(device=)") and t.is_leaf and t.requires_grad
    layer = nn.Linear(2, 3)
    weight = layer.weight
    assert layer.to(xp) is layer and layer.weight is weight
    assert_on(layer.weight, DEVICES[0], "Module.to(xp)")
    layer.to(DEVICES[1]).to("float64")  # a device of its library; a dtype still casts
    assert_on(layer.weight, DEVICES[1], "Module.to(device)")
    assert layer.weight.dtype == xp.float64
    out = layer(t.to("float64"))
    assert_on(out, DEVICES[1], "Linear on device1")


@pytest.mark.parametrize("mix", [
    lambda a, b, c: a + b,            # two libraries, elementwise
    lambda a, b, c: a @ ag.tensor([[1.0], [2.0]]),  # numpy on the right of a product
    lambda a, b, c: ag.tensor([1.0, 2.0]) @ a.T,    # and on the left
    lambda a, b, c: ag.cat([a, c]),   # two devices of one library
    lambda a, b, c: a * c,
    lambda a, b, c: nn.Linear(2, 1)(a),  # a numpy layer on strict input
], ids=["add", "matmul-right", "matmul-left", "cat-devices", "mul-devices", "linear"])
def test_mixing_libraries_or_devices_is_an_error_naming_both(mix: Any) -> None:
    a = ag.tensor([[1.0, 2.0]], device=xp)
    b = ag.tensor([[1.0, 2.0]])
    c = ag.tensor([[1.0, 2.0]], device=DEVICES[1])
    with pytest.raises(ag.DeviceError, match=r"cannot combine an? (numpy|array_api_strict) "
                                             r"array on .* with an? \w+ array on "):
        mix(a, b, c)


def test_numbers_and_numpy_constants_join_a_strict_tensor_on_its_device() -> None:
    a = ag.tensor([1.0, -2.0], device=DEVICES[1], requires_grad=True)
    out = ag.where(np.array([True, False]), a * 2 + np.array([1.0, 1.0]), 0.5)
    assert_on(out, DEVICES[1], "where with numpy constants")
    out.sum().backward()
    assert_on(a.grad, DEVICES[1], "the gradient")
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 0.0])


def test_an_op_the_standard_lacks_raises_naming_op_and_library() -> None:
    with pytest.raises(backends.BackendError, match="erf: .*array_api_strict.*no erf"):
        ag.erf(ag.tensor([0.5], device=xp))
    assert set(backends.UNSUPPORTED) == {"erf"}


def test_compile_refuses_other_libraries_by_name() -> None:
    step = ag.compile(lambda t: (t * t).sum())
    with pytest.raises(ag.CompileError, match="array_api_strict"):
        step(ag.tensor([1.0], device=xp))
    layer = nn.Linear(1, 1).to(xp)
    step = ag.compile(lambda t: layer(t).sum())
    with pytest.raises(ag.CompileError, match="array_api_strict"):
        step(ag.tensor([[1.0]], device=xp))


def test_host_helpers_are_only_the_documented_ones() -> None:
    """Helpers the standard cannot express run on a numpy copy and move back; the README
    lists the ops that use one, and every row of the op table is tried here."""
    backends.HOST_CALLS.clear()
    for name in NAMES:
        xs, params = find(row_inputs(name, np.float64), lambda case: True,
                          settings=settings(phases=[Phase.generate], max_examples=1,
                                            database=None))
        ys = [strict(x, DEVICES[1]) for x in xs]
        try:
            outs = [o for o in as_list(TABLE[name].fn(*ys, **params))
                    if isinstance(o, ag.Tensor) and o.requires_grad]
        except backends.BackendError:
            continue
        if outs:
            ag.grad(sum(o.sum() for o in outs), ys, create_graph=True, allow_unused=True)
    assert set(backends.HOST_CALLS) == {"_cumulative_order"}  # cummax / cummin
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for op in ("cummax", "cummin", *backends.UNSUPPORTED):
        assert f"`{op}`" in readme.split("## Other array libraries")[1].split("\n## ")[0]


def test_cupy_when_a_gpu_is_there() -> None:
    """The CuPy backend: a training step on the GPU equals numpy's.  Skipped visibly on a
    machine without CuPy and a CUDA device (CI); run it where one exists."""
    cupy = pytest.importorskip("cupy")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        pytest.skip(f"CuPy is installed but no CUDA device answers: {e}")
    for g, w in zip(mlp_run(cupy, lambda ps: optim.Adam(ps, lr=0.01))[0],
                    mlp_run(None, lambda ps: optim.Adam(ps, lr=0.01))[0], strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


LAYERS = {  # name: (make the layer, its input's values)
    "Embedding": (lambda: nn.Embedding(10, 4, padding_idx=0),
                  lambda rng: np.array([[1, 0], [3, 3]])),
    "LayerNorm": (lambda: nn.LayerNorm(4), lambda rng: rng.normal(size=(3, 4))),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 3, padding=1, stride=2),
               lambda rng: rng.normal(size=(2, 2, 5))),
    "AvgPool2d": (lambda: nn.AvgPool2d(3, stride=2, padding=1),
                  lambda rng: rng.normal(size=(1, 2, 5, 5))),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(2),
                          lambda rng: rng.normal(size=(1, 2, 5, 5))),
    "MaxPool2d": (lambda: nn.MaxPool2d(2, stride=1), lambda rng: rng.normal(size=(1, 2, 4, 4))),
    "Upsample": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"),
                 lambda rng: rng.normal(size=(1, 1, 3, 3))),
    "GELU-tanh": (lambda: nn.GELU(approximate="tanh"), lambda rng: rng.normal(size=(3, 4))),
    "Softplus": (lambda: nn.Softplus(beta=2.0), lambda rng: rng.normal(size=(3, 4))),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_more_layers_run_on_strict_as_on_numpy(name: str) -> None:
    make, draw = LAYERS[name]
    values = draw(np.random.default_rng(0))
    results = []
    for device in (None, DEVICES[1]):
        ag.manual_seed(0)
        layer = make().double()
        x = ag.tensor(values, requires_grad=values.dtype.kind == "f", device=device)
        if device is not None:
            layer.to(device)
        out = layer(x)
        (out * out).sum().backward()
        grads = [t.grad for t in (x, *layer.parameters()) if t.requires_grad]
        if device is not None:
            assert_on(out, device, name)
            for g in grads:
                assert_on(g, device, f"{name} gradient")
        results.append([out.numpy(), *[g.numpy() for g in grads]])
    for got, want in zip(results[1], results[0], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    with pytest.raises(backends.BackendError, match="erf"):
        nn.GELU()(ag.tensor([0.5], device=xp))  # exact GELU needs erf


def test_index_tensors_stay_on_their_device_and_mixed_ones_are_refused() -> None:
    x = ag.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True, device=DEVICES[1])
    idx = ag.tensor(np.array([3, 0, 3]), device=DEVICES[1])
    picked = x[idx, 1:]
    assert_on(picked, DEVICES[1], "x[idx]")
    picked.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[:, 1:], [[1, 1], [0, 0], [0, 0], [2, 2]])
    with pytest.raises(ag.DeviceError, match="getitem: cannot combine"):
        x[ag.tensor(np.array([0]), device=DEVICES[0])]
    on_numpy = ag.tensor(np.arange(4.0))[ag.tensor(np.array([2, 1]), device=DEVICES[1])]
    assert type(on_numpy.data) is np.ndarray and on_numpy.tolist() == [2.0, 1.0]
