"""What ``ag.compile`` costs to record: A1 (Scalar), A2, W4 and W5 (Tensor) steps, eager vs
their first two calls.

The first call records the plan, the second records again to check that ``fn`` took the
same path; from the third on the plan is replayed.  Prints each as milliseconds and as a
multiple of one eager step (issue K's budget: at most 3x).

Run: ``python -m benchmarks.compile_cost``
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from .workloads import a1_scalar_mlp as a1
from .workloads import a2_small_ops as a2
from .workloads import w4_mlp as w4
from .workloads import w5_cnn as w5


def _time(step: object) -> float:
    t = time.perf_counter()
    step()  # type: ignore[operator]
    return time.perf_counter() - t


def _costs(workload: object, eager_system: str, repeats: int) -> None:
    wl = workload.WORKLOAD  # type: ignore[attr-defined]
    data = wl.make_data(np.random.default_rng(0))
    eager = wl.systems[eager_system](data).step
    _time(eager)
    one = statistics.median(_time(eager) for _ in range(5))
    rows = []
    for _ in range(repeats):
        compiled = wl.systems["ours-compiled"](data).step
        first, second = _time(compiled), _time(compiled)
        replay = statistics.median(_time(compiled) for _ in range(5))
        rows.append((first, second, replay))
    first, second, replay = (statistics.median(r[k] for r in rows) for k in range(3))
    print(f"{wl.id} eager step ({eager_system}) {one * 1e3:.1f} ms; ag.compile: first call "
          f"(records) {first * 1e3:.1f} ms = {first / one:.2f}x, second (records and checks) "
          f"{second * 1e3:.1f} ms = {second / one:.2f}x, replay {replay * 1e3:.1f} ms = "
          f"{replay / one:.3f}x")


def main() -> None:
    _costs(a1, "ours", 3)
    _costs(a2, "ours", 3)
    _costs(w4, "ours-nn", 3)
    _costs(w5, "ours-nn", 3)


if __name__ == "__main__":
    main()
