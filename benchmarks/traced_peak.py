"""Peak traced memory of one W4 / W5 training step: the numpy floor and ours (raw, nn + optim,
and the nn + optim step replayed by ag.compile).

``tracemalloc`` counts every numpy buffer and Python object allocated during the step; the
peak is the step's high-water mark above what was live before it (parameters, data and
optimizer state excluded).  It is the number issue I's "graph nodes hold only what backward
reads" moves: values that no rule reads are freed during the forward pass.

Run: ``python -m benchmarks.traced_peak`` (prints a markdown table, MiB).
"""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np

from .workloads import WORKLOADS

SYSTEMS = ("numpy", "ours", "ours-nn", "ours-compiled")
WARMUPS = 3


def traced_peak(workload: str, system: str) -> float:
    """MiB above the live baseline at the peak of one step (after a few warm-ups)."""
    wl = WORKLOADS[workload]
    bench = wl.systems[system](wl.make_data(np.random.default_rng(0)))
    for _ in range(WARMUPS):
        bench.step()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        bench.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return (peak - base) / 2**20


def main() -> None:
    print("| workload | system | peak traced MiB in one step |")
    print("|---|---|---|")
    for workload in ("W4", "W5"):
        for system in SYSTEMS:
            if system in WORKLOADS[workload].systems:
                print(f"| {workload} | {system} | {traced_peak(workload, system):.2f} |")


if __name__ == "__main__":
    main()
