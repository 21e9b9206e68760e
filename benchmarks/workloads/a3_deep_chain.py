"""A3: the deep chain y = y*1.0001 + 0.0001 for N = 1e3 ... 1e6 steps (2N nodes), fwd + bwd."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..common import Bench, Data, Workload, need

SIZES = {"1e3": 10**3, "1e4": 10**4, "1e5": 10**5, "1e6": 10**6}
SCHEDULES = {"1e3": {"full": (3, 20), "quick": (1, 5)},
             "1e4": {"full": (2, 7), "quick": (1, 3)},
             "1e5": {"full": (1, 3), "quick": (1, 1)},
             "1e6": {"full": (1, 1), "quick": (1, 1)}}  # ~20-50 s a run: one timed run


def make_data(rng: np.random.Generator, n: int) -> Data:
    # float64: d y_N / d x = 1.0001**N = e**100 at N = 1e6, beyond float32's range.
    return {"x": np.array([0.5]), "n": np.array(n)}


def _chain(x: Any, n: int) -> Any:
    y = x
    for _ in range(n):
        y = y * 1.0001 + 0.0001
    return y


def ours_scalar(data: Data) -> Bench:
    ag = need("autograd_core")
    x, n = ag.Scalar(float(data["x"][0])), int(data["n"])
    last: list[Any] = [None]

    def step() -> None:
        x.grad = 0.0
        y = _chain(x, n)
        y.backward()
        last[0] = y.data

    return Bench(step, lambda: {"y": [last[0]], "grad": [x.grad]})


def ours_tensor(data: Data) -> Bench:
    ag = need("autograd_core")
    x, n = ag.Tensor(data["x"], requires_grad=True), int(data["n"])
    last: list[Any] = [None]

    def step() -> None:
        x.grad = None
        y = _chain(x, n)
        y.backward()
        last[0] = y.item()

    return Bench(step, lambda: {"y": [last[0]], "grad": [x.grad.item()]})


WORKLOADS = [
    Workload(
        id=f"A3-{tag}", title=f"A3 deep chain N={tag}, fwd+bwd",
        make_data=functools.partial(make_data, n=n),
        systems={"ours-scalar": ours_scalar, "ours-tensor": ours_tensor},
        schedule=SCHEDULES[tag], rtol=1e-9, atol=1e-12, unit=("s", 1.0),
        targets=[(system, "", 0.0, "A") for system in ("ours-scalar", "ours-tensor")
                 if n == 10**6],
    )
    for tag, n in SIZES.items()
]
