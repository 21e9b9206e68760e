"""What anomaly mode costs when it is off: the A2 small-op chain, engine as shipped vs stripped.

The only anomaly code on the hot path is one flag test per recorded op (``tensor._made_of``)
and one per gradient edge in backward.  This script times the A2 chain (1,000 mixed
elementwise ops on 16 float32 values, forward + backward) with the engine as shipped and with
``_made_of`` replaced by a copy of its source without the anomaly/scope test, alternating the
two in one process, and prints both medians and their ratio.  (It also reports the cost with
anomaly mode *on*.)

Run: ``python -m benchmarks.anomaly_overhead``
"""

from __future__ import annotations

import importlib
import inspect
import statistics
import time
from typing import Any

import numpy as np

import autograd_core as ag

from .workloads.a2_small_ops import CHAIN

# The module, not ``ag.tensor`` (the constructor function of the same name).
tensor_module = importlib.import_module("autograd_core.tensor")

UNARY = {"tanh": ag.tanh, "sigmoid": ag.sigmoid, "exp": ag.exp, "sin": ag.sin}
BINARY = {"mul": lambda x, c: x * c, "add": lambda x, c: x + c, "sub": lambda x, c: x - c}


def step(x: ag.Tensor) -> None:
    x.grad = None
    y = x
    for name, c in CHAIN:
        y = UNARY[name](y) if c is None else BINARY[name](y, c)
    y.sum().backward()


def stripped_made_of() -> Any:
    """``tensor._made_of`` without the scope/anomaly test (the counterfactual), compiled from
    its own source so the two cannot drift apart."""
    source = inspect.getsource(tensor_module._made_of)
    test = "    if COUNTS.annotating and STATE.annotate:\n        _annotate(node, data)\n"
    assert test in source, "the flag test moved: update this benchmark"
    namespace = dict(vars(tensor_module))
    exec(source.replace(test, ""), namespace)
    return namespace["_made_of"]


def timed(x: ag.Tensor) -> float:
    t = time.perf_counter()
    step(x)
    return time.perf_counter() - t


def main(rounds: int = 15, reps: int = 10) -> None:
    x = ag.Tensor(np.random.default_rng(0).uniform(-1, 1, 16).astype(np.float32),
                  requires_grad=True)
    original, stripped_fn = tensor_module._made_of, stripped_made_of()
    shipped, stripped, on = [], [], []
    for _ in range(3):
        step(x)
    for _ in range(rounds):  # alternate, so drifts in machine load hit both alike
        shipped += [timed(x) for _ in range(reps)]
        tensor_module._made_of = stripped_fn  # the op paths call it through the module
        try:
            stripped += [timed(x) for _ in range(reps)]
        finally:
            tensor_module._made_of = original
        with ag.detect_anomaly():
            on += [timed(x) for _ in range(reps)]
    a, b, c = (statistics.median(v) * 1e3 for v in (shipped, stripped, on))
    print("| engine | median ms (A2, 1,000 ops) | ratio to stripped |")
    print("|---|---|---|")
    print(f"| stripped (no anomaly test) | {b:.2f} | 1.00× |")
    print(f"| as shipped, anomaly off | {a:.2f} | {a / b:.2f}× |")
    print(f"| anomaly on | {c:.2f} | {c / b:.2f}× |")


if __name__ == "__main__":
    main()
