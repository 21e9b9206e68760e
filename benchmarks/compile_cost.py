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
    """Each repeat times eager steps right before a fresh compiled function's first, second
    and replayed calls, and takes the ratios within the repeat (this VM's speed drifts by
    up to 2x over seconds); the medians over repeats are printed."""
    wl = workload.WORKLOAD  # type: ignore[attr-defined]
    data = wl.make_data(np.random.default_rng(0))
    eager = wl.systems[eager_system](data).step
    _time(eager)
    rows = []
    for _ in range(repeats):
        one = statistics.median(_time(eager) for _ in range(3))
        compiled = wl.systems["ours-compiled"](data).step
        first, second = _time(compiled), _time(compiled)
        replay = statistics.median(_time(compiled) for _ in range(3))
        rows.append((one, first / one, second / one, replay / one))
    one, first, second, replay = (statistics.median(r[k] for r in rows) for k in range(4))
    print(f"{wl.id} eager step ({eager_system}) {one * 1e3:.1f} ms; ag.compile: first call "
          f"(records) {first:.2f}x, second (records and checks) {second:.2f}x, replay "
          f"{replay:.3f}x (medians of {repeats} repeats)")


def main() -> None:
    _costs(a1, "ours", 3)
    _costs(a2, "ours", 9)
    _costs(w4, "ours-nn", 9)
    _costs(w5, "ours-nn", 9)


if __name__ == "__main__":
    main()
