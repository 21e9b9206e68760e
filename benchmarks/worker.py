"""Child process: one system on one workload -- set up, check, warm up, time; print JSON.

Run by ``benchmarks.run`` as ``python -m benchmarks.worker W4 ours --data W4.npz ...`` so
every measurement starts in a fresh interpreter (no shared caches, allocator or GC state).
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import resource
import sys
import time
import traceback
from typing import Any

import numpy as np

from .common import Unavailable, Workload, probe_seconds
from .workloads import WORKLOADS

MARKER = "BENCH-RESULT "
PACKAGES = {"numpy": "numpy", "autograd_core": "autograd_core", "torch": "torch",
            "autograd": "autograd", "micrograd": "micrograd"}


def loaded_versions() -> dict[str, str]:
    """Versions of the benchmarked packages this process actually imported."""
    out = {}
    for module, dist in PACKAGES.items():
        if module in sys.modules:
            try:
                out[module] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                out[module] = getattr(sys.modules[module], "__version__", "?")
    return out


def thread_counts() -> dict[str, Any]:
    """Threads each loaded numeric library will use (BLAS via threadpoolctl, torch)."""
    out: dict[str, Any] = {}
    try:
        import threadpoolctl

        for lib in threadpoolctl.threadpool_info():
            out[f"{lib['internal_api']}:{lib['prefix']}"] = lib["num_threads"]
    except ImportError:
        out["blas"] = "threadpoolctl not installed"
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        out["torch"] = torch.get_num_threads()
        out["torch_interop"] = torch.get_num_interop_threads()
    return out


def run_one(wl: Workload, system: str, data: dict[str, np.ndarray], warmup: int,
            repeats: int, probe: bool = False) -> dict[str, Any]:
    """Build ``system`` for ``wl``; check values, warm-ups (the check steps count as the
    first ones), then ``repeats`` timed steps; or, for a memory workload, its measure.
    ``probe``: also time `probe_seconds` just before each timed step (not in its time)."""
    result: dict[str, Any] = {"workload": wl.id, "system": system}
    try:
        bench = wl.systems[system](data)
    except Unavailable as exc:
        return {**result, "status": "skipped", "note": str(exc)}
    if wl.measure is not None:
        return {**result, "status": "ok", "metrics": wl.measure(bench)}
    checks: dict[str, list[float]] = {}
    for _ in range(wl.check_steps):
        bench.step()
        for key, values in bench.check().items():
            checks.setdefault(key, []).extend(values)
    for _ in range(max(0, warmup - wl.check_steps)):
        bench.step()
    gc.collect()
    times, faults, probes = [], [], []
    for _ in range(repeats):
        if probe:
            # 20 untimed calls first: the first ones after a step run cold, the more so the
            # more code the step ran (~1.4x slower after a PyTorch step without them).
            probe_seconds(20)
            probes.append(probe_seconds())
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        bench.step()
        times.append(time.perf_counter() - t0)
        # Pages the step touched for the first time: freed memory the allocator returned to
        # the OS and took back (see benchmarks/README.md, "memory churn").
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    return {**result, "status": "ok", "times_s": times, "page_faults": faults,
            "check": checks, **({"probe_s": probes} if probe else {})}


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run one measurement, print it as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    parser.add_argument("workload", choices=list(WORKLOADS))
    parser.add_argument("system")
    parser.add_argument("--data", required=True, help=".npz written by benchmarks.run")
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--repeats", type=int, required=True)
    parser.add_argument("--probe", action="store_true",
                        help="time the speed probe before each timed step (for --wait-fast)")
    args = parser.parse_args(argv)
    wl = WORKLOADS[args.workload]
    if args.system not in wl.systems:
        parser.error(f"workload {wl.id} has systems {', '.join(wl.systems)}")
    with np.load(args.data) as npz:
        data = {k: npz[k] for k in npz.files}
    load_before = os.getloadavg()[0]
    try:
        result = run_one(wl, args.system, data, args.warmup, args.repeats, args.probe)
    except Exception as exc:  # a broken system becomes an 'error' row, not a crashed run
        traceback.print_exc()
        result = {"workload": wl.id, "system": args.system, "status": "error",
                  "note": f"{type(exc).__name__}: {exc}"[:300]}
    # Other processes on the machine skew timings; the 1-minute load average tells the reader.
    result["load_avg_1min"] = [load_before, os.getloadavg()[0]]
    result["versions"] = loaded_versions()
    result["threads"] = thread_counts()
    print(MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
