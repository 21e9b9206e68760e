"""The numpy path's cost after another array library was used: ARRAY_NS against NUMPY_NS.

``python -m benchmarks.array_ns [--rounds 12]`` builds A2 (ours), W4 and W5 (nn + optim)
once each and times their steps in one process, switching the rules' namespace between
``NUMPY_NS`` (numpy-only programs) and ``ARRAY_NS`` (any process that has touched another
array library, which then dispatches on each array) every 15 steps. It prints the ratio of
medians and of fastest steps, ARRAY_NS ÷ NUMPY_NS.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from autograd_core.tensor import _use_array_namespaces

from .run import SEED
from .workloads import WORKLOADS

CASES = [("A2", "ours"), ("W4", "ours-nn"), ("W5", "ours-nn")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.array_ns")
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args(argv)
    print("| case | ARRAY_NS ÷ NUMPY_NS, medians | fastest steps |\n|---|---|---|")
    for workload, system in CASES:
        wl = WORKLOADS[workload]
        bench = wl.systems[system](wl.make_data(np.random.default_rng(SEED)))
        steps: dict[bool, list[float]] = {False: [], True: []}
        try:
            for _ in range(args.rounds):
                for on in (False, True):
                    _use_array_namespaces(on)
                    for _ in range(3):  # warm up after the switch
                        bench.step()
                    for _ in range(15):
                        t0 = time.perf_counter()
                        bench.step()
                        steps[on].append(time.perf_counter() - t0)
        finally:
            _use_array_namespaces(False)
        print(f"| {workload} {system} | "
              f"{statistics.median(steps[True]) / statistics.median(steps[False]):.3f}× | "
              f"{min(steps[True]) / min(steps[False]):.3f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
