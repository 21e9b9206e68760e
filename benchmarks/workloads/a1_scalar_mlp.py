"""A1: scalar MLP 2-16-16-1 (tanh hidden, linear out) over 100 points, forward + backward."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..common import Bench, Data, Workload, need

SHAPES = {"W1": (16, 2), "b1": (16,), "W2": (16, 16), "b2": (16,), "W3": (1, 16), "b3": (1,)}


def make_data(rng: np.random.Generator) -> Data:
    x = rng.uniform(-1.0, 1.0, size=(100, 2))
    data = {"x": x, "y": np.sin(2.0 * x[:, 0]) * np.cos(x[:, 1])}
    for name, shape in SHAPES.items():
        data[name] = rng.uniform(-1.0, 1.0, size=shape) / math.sqrt(shape[-1])
    return data


def _squared_loss(params: dict[str, Any], xs: list[list[float]], ys: list[float]) -> Any:
    """Sum over points of (mlp(x) - y)**2, written once for any micrograd-like value type."""
    W1, b1, W2, b2, W3, b3 = (params[k] for k in SHAPES)
    terms = []
    for (x0, x1), y in zip(xs, ys, strict=True):
        h1 = [(w[0] * x0 + w[1] * x1 + b).tanh() for w, b in zip(W1, b1, strict=True)]
        h2 = [(sum(wi * hi for wi, hi in zip(w, h1, strict=True)) + b).tanh()
              for w, b in zip(W2, b2, strict=True)]
        out = sum(wi * hi for wi, hi in zip(W3[0], h2, strict=True)) + b3[0]
        terms.append((out - y) ** 2)
    return sum(terms)


def _nested(values: Any, leaf: Callable[[float], Any]) -> Any:
    """Nested Python lists of Python floats -> the same nesting of value nodes."""
    return [_nested(v, leaf) for v in values] if isinstance(values, list) else leaf(values)


def _scalar_bench(data: Data, value: Callable[[float], Any], zero: Any,
                  compile: Callable | None = None) -> Bench:  # noqa: A002
    flat: list[Any] = []

    def leaf(v: float) -> Any:
        flat.append(value(v))
        return flat[-1]

    params = {k: _nested(data[k].tolist(), leaf) for k in SHAPES}
    xs, ys = data["x"].tolist(), data["y"].tolist()
    last: list[Any] = [None]

    def loss_of(points: list[list[float]], targets: list[float]) -> Any:
        return _squared_loss(params, points, targets)

    loss_fn = loss_of if compile is None else compile(loss_of)

    def step() -> None:
        for p in flat:
            p.grad = zero
        loss = loss_fn(xs, ys)
        loss.backward()
        last[0] = loss

    def check() -> dict[str, list[float]]:
        return {"loss": [float(last[0].data)], "grad": [float(p.grad) for p in flat]}

    return Bench(step, check)


def ours(data: Data) -> Bench:
    ag = need("autograd_core")
    return _scalar_bench(data, ag.Scalar, 0.0)


def ours_compiled(data: Data) -> Bench:
    """The same Scalar code under ``ag.compile``: recorded on the first step, replayed."""
    ag = need("autograd_core")
    return _scalar_bench(data, ag.Scalar, 0.0, compile=ag.compile)


def _micrograd_tanh(self: Any) -> Any:
    """tanh in micrograd's own style (its lecture version): the PyPI release lacks it."""
    from micrograd.engine import Value

    t = math.tanh(self.data)
    out = Value(t, (self,), "tanh")

    def _backward() -> None:
        self.grad += (1 - t * t) * out.grad

    out._backward = _backward
    return out


def micrograd(data: Data) -> Bench:
    engine = need("micrograd.engine", "micrograd not installed (pip install micrograd)")
    if not hasattr(engine.Value, "tanh"):
        engine.Value.tanh = _micrograd_tanh
    return _scalar_bench(data, engine.Value, 0)


WORKLOAD = Workload(
    id="A1", title="A1 scalar MLP 2-16-16-1, 100 points, fwd+bwd",
    make_data=make_data,
    systems={"ours": ours, "ours-compiled": ours_compiled, "micrograd": micrograd},
    schedule={"full": (2, 10), "quick": (1, 3)},
    rtol=1e-9, atol=1e-9,
    targets=[("ours", "micrograd", 0.2, "A"), ("ours-compiled", "micrograd", 0.05, "K")],
    notes=["micrograd 0.1.0 on PyPI has no tanh; the harness adds one written in "
           "micrograd's own closure style."],
)
