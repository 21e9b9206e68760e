"""What ``ag.compile`` costs to record: the A1 scalar MLP step, eager vs its first two calls.

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


def _time(step: object) -> float:
    t = time.perf_counter()
    step()  # type: ignore[operator]
    return time.perf_counter() - t


def main() -> None:
    data = a1.make_data(np.random.default_rng(0))
    eager = a1.ours(data).step
    _time(eager)
    one = statistics.median(_time(eager) for _ in range(5))
    rows = []
    for _ in range(3):
        compiled = a1.ours_compiled(data).step
        first, second = _time(compiled), _time(compiled)
        replay = statistics.median(_time(compiled) for _ in range(5))
        rows.append((first, second, replay))
    first, second, replay = (statistics.median(r[k] for r in rows) for k in range(3))
    print(f"A1 eager step {one * 1e3:.0f} ms; ag.compile: first call (records) "
          f"{first * 1e3:.0f} ms = {first / one:.2f}x, second (records and checks) "
          f"{second * 1e3:.0f} ms = {second / one:.2f}x, replay {replay * 1e3:.1f} ms = "
          f"{replay / one:.3f}x")


if __name__ == "__main__":
    main()
