"""What anomaly mode costs when it is off: the A2 small-op chain, engine as shipped vs stripped.

The only anomaly code on the hot path is one flag test per recorded op (``_record``) and one
per gradient edge in backward.  This script times the A2 chain (1,000 mixed elementwise ops on
16 float32 values, forward + backward) with the engine as shipped and with ``_record``
replaced by a copy that has no anomaly/scope test, alternating the two in one process, and
prints both medians and their ratio.  (It also reports the cost with anomaly mode *on*.)

Run: ``python -m benchmarks.anomaly_overhead``
"""

from __future__ import annotations

import importlib
import statistics
import time
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import engine

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


def stripped_record(out: Any, op: Any, parents: tuple, ctx: Any = None) -> Any:
    """``engine._record`` without the scope/anomaly test (the counterfactual)."""
    out.requires_grad = True
    out._op = op
    out._parents = parents
    out._ctx = ctx
    out._fits = op.elementwise
    out._seq = next(engine._SEQ)
    out._stamp = engine.STATE.inplace_stamp
    return out


def timed(x: ag.Tensor) -> float:
    t = time.perf_counter()
    step(x)
    return time.perf_counter() - t


def main(rounds: int = 15, reps: int = 10) -> None:
    x = ag.Tensor(np.random.default_rng(0).uniform(-1, 1, 16).astype(np.float32),
                  requires_grad=True)
    shipped, stripped, on = [], [], []
    for _ in range(3):
        step(x)
    for _ in range(rounds):  # alternate, so drifts in machine load hit both alike
        shipped += [timed(x) for _ in range(reps)]
        original = tensor_module._record
        tensor_module._record = stripped_record  # the op paths call it through tensor's import
        try:
            stripped += [timed(x) for _ in range(reps)]
        finally:
            tensor_module._record = original
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
