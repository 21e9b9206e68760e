"""A2: a chain of 1,000 mixed elementwise ops on a 16-element float32 tensor, fwd + bwd."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from ..common import Bench, Data, Workload, need

N_OPS = 1000
# One cycle of eight ops that keeps values in a bounded, non-saturated range, so the
# forward value and the gradient stay informative over 1,000 ops.  Every system applies
# exactly this sequence, one library call per op.
CYCLE: tuple[tuple[str, float | None], ...] = (
    ("mul", 1.1), ("add", 0.05), ("tanh", None), ("mul", 2.0),
    ("sigmoid", None), ("exp", None), ("sub", 1.5), ("sin", None),
)
CHAIN = [CYCLE[k % len(CYCLE)] for k in range(N_OPS)]
ARITH = {"mul": operator.mul, "add": operator.add, "sub": operator.sub}


def make_data(rng: np.random.Generator) -> Data:
    return {"x": rng.uniform(-1.0, 1.0, size=16).astype(np.float32)}


def _compile(unary: dict[str, Callable[[Any], Any]]) -> list[tuple[Callable, float | None]]:
    table = {**ARITH, **unary}
    return [(table[name], c) for name, c in CHAIN]


def _run(chain: list[tuple[Callable, float | None]], x: Any) -> Any:
    for fn, c in chain:
        x = fn(x) if c is None else fn(x, c)
    return x


def numpy_floor(data: Data) -> Bench:
    def sigmoid(x: np.ndarray) -> np.ndarray:
        return 0.5 * np.tanh(0.5 * x) + 0.5  # the stable form the engine uses

    chain = _compile({"tanh": np.tanh, "sigmoid": sigmoid, "exp": np.exp, "sin": np.sin})
    x = data["x"].copy()
    last: list[Any] = [None]

    def step() -> None:
        last[0] = _run(chain, x).sum()

    return Bench(step, lambda: {"loss": [float(last[0])]})


def _graph_bench(x: Any, chain: list[tuple[Callable, float | None]]) -> Bench:
    """Record the chain on leaf ``x`` (ours or PyTorch: same API here), backward its sum."""
    last: list[Any] = [None]

    def step() -> None:
        x.grad = None
        y = _run(chain, x).sum()
        y.backward()
        last[0] = y

    return Bench(step, lambda: {"loss": [last[0].item()], "grad": x.grad.tolist()})


def ours(data: Data) -> Bench:
    ag = need("autograd_core")
    chain = _compile({"tanh": ag.tanh, "sigmoid": ag.sigmoid, "exp": ag.exp, "sin": ag.sin})
    return _graph_bench(ag.Tensor(data["x"], requires_grad=True), chain)


def ours_compiled(data: Data) -> Bench:
    """The same chain under ``ag.compile``: recorded on the first steps, then replayed."""
    ag = need("autograd_core")
    chain = _compile({"tanh": ag.tanh, "sigmoid": ag.sigmoid, "exp": ag.exp, "sin": ag.sin})
    x = ag.Tensor(data["x"], requires_grad=True)
    forward = ag.compile(lambda t: _run(chain, t).sum())
    last: list[Any] = [None]

    def step() -> None:
        x.grad = None
        y = forward(x)
        y.backward()
        last[0] = y

    return Bench(step, lambda: {"loss": [last[0].item()], "grad": x.grad.tolist()})


def torch(data: Data) -> Bench:
    th = need("torch")
    chain = _compile({"tanh": th.tanh, "sigmoid": th.sigmoid, "exp": th.exp, "sin": th.sin})
    return _graph_bench(th.tensor(data["x"], requires_grad=True), chain)


def hips(data: Data) -> Bench:
    autograd = need("autograd")
    anp = need("autograd.numpy")
    special = need("autograd.scipy.special", "autograd.scipy.special needs scipy")
    chain = _compile({"tanh": anp.tanh, "sigmoid": special.expit, "exp": anp.exp,
                      "sin": anp.sin})
    value_and_grad = autograd.value_and_grad(lambda x: anp.sum(_run(chain, x)))
    x = data["x"].copy()
    last: list[Any] = [None, None]

    def step() -> None:
        last[:] = value_and_grad(x)

    def check() -> dict[str, list[float]]:
        return {"loss": [float(last[0])], "grad": np.asarray(last[1]).tolist()}

    return Bench(step, check)


WORKLOAD = Workload(
    id="A2", title=f"A2 chain of {N_OPS} elementwise ops, 16 float32, fwd+bwd",
    make_data=make_data,
    systems={"numpy": numpy_floor, "ours": ours, "ours-compiled": ours_compiled,
             "torch": torch, "hips": hips},
    schedule={"full": (5, 30), "quick": (2, 8)},
    rtol=1e-4, atol=1e-5,
    targets=[("ours", "torch", 0.7, "A"), ("ours", "hips", 0.3, "A"),
             ("ours-compiled", "torch", 0.1, "K")],
    unit=("µs/op", 1e6 / N_OPS),
    notes=["numpy floor is forward only; HIPS autograd's sigmoid is "
           "autograd.scipy.special.expit (one primitive)."],
)
