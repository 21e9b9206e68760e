"""Peak traced memory of one W4 / W5 training step: the numpy floor and ours (raw, nn + optim,
and the nn + optim step replayed by ag.compile).

``tracemalloc`` counts every numpy buffer and Python object allocated during the step; the
peak is the step's high-water mark above what was live before it (parameters, data and
optimizer state excluded).  ``autograd_core.buffers`` keeps freed large arrays to hand out
again, which then count in that baseline; so each row is measured twice: with the cache off
(what the step needs) and on (what it allocates beyond the cache, and what the cache
holds).  The cache-off peak is the number issue I's "graph nodes hold only what backward
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


def traced_peak(workload: str, system: str, cache: bool) -> tuple[float, float]:
    """MiB above the live baseline at the peak of one step (after a few warm-ups), and MiB
    that ``autograd_core.buffers`` holds (0 with ``cache`` off)."""
    from autograd_core import buffers

    limit = buffers.limit()
    buffers.set_limit(limit if cache else 0)
    try:
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
        return (peak - base) / 2**20, buffers.reserved() / 2**20
    finally:
        buffers.set_limit(0)
        buffers.set_limit(limit)


def main() -> None:
    print("| workload | system | peak MiB, cache off | peak MiB above the cache, cache on "
          "| cache holds MiB |")
    print("|---|---|---|---|---|")
    for workload in ("W4", "W5"):
        for system in SYSTEMS:
            if system in WORKLOADS[workload].systems:
                off, _ = traced_peak(workload, system, cache=False)
                on, held = traced_peak(workload, system, cache=True)
                print(f"| {workload} | {system} | {off:.2f} | {on:.2f} | {held:.2f} |")


if __name__ == "__main__":
    main()
