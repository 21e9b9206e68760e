"""A/B: this checkout against another one, on the same workloads, in alternating processes.

``python -m benchmarks.ab OTHER [--cases A2:ours,W4:ours-nn,W5:ours-nn] [--rounds 6]
[--threads 1]`` runs each case's worker (``benchmarks.worker``) once per round in each
checkout, taking turns (the order flips every round), so a slow spell of a shared machine
falls on both alike; it prints per case the median and the fastest step of each, and their
ratios (this ÷ other).  OTHER is a second checkout (``git worktree add /tmp/base <commit>``):
each worker runs there with ``PYTHONPATH`` set to it, on the same data.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .run import SEED
from .worker import MARKER
from .workloads import WORKLOADS

HERE = Path(__file__).resolve().parents[1]


def timed_steps(root: Path, workload: str, system: str, data: str, env: dict[str, str]
                ) -> list[float]:
    """One fresh worker process in checkout ``root``: its timed steps, in seconds."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker", workload, system, "--data", data,
         "--warmup", "5", "--repeats", "30" if workload.startswith("A") else "20"],
        cwd=root, env={**env, "PYTHONPATH": str(root)}, capture_output=True, text=True,
        check=True).stdout
    result = json.loads(next(line for line in reversed(out.splitlines())
                             if line.startswith(MARKER))[len(MARKER):])
    if result.get("status") != "ok":
        raise RuntimeError(f"{workload}/{system} in {root}: {result.get('note')}")
    return result["times_s"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab")
    parser.add_argument("other", type=Path, help="the other checkout's root")
    parser.add_argument("--cases", default="A2:ours,W4:ours-nn,W5:ours-nn")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--threads", help="OMP/OPENBLAS/MKL_NUM_THREADS for every worker")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.threads:
        env.update({k: args.threads for k in
                    ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    cases = [tuple(c.split(":")) for c in args.cases.split(",")]
    trees = {"this": HERE, "other": args.other.resolve()}
    steps: dict[tuple[str, str, str], list[float]] = {}  # (workload, system, checkout)
    with tempfile.TemporaryDirectory() as tmp:
        for workload, system in cases:
            data = f"{tmp}/{workload}.npz"
            np.savez(data, **WORKLOADS[workload].make_data(np.random.default_rng(SEED)))
            for r in range(args.rounds):
                for name in (("this", "other") if r % 2 else ("other", "this")):
                    steps.setdefault((workload, system, name), []).extend(
                        timed_steps(trees[name], workload, system, data, env))
    print("| case | this median ms | other median ms | ratio | ratio of fastest steps |\n"
          "|---|---|---|---|---|")
    for workload, system in cases:
        mine, theirs = steps[workload, system, "this"], steps[workload, system, "other"]
        print(f"| {workload} {system} | {statistics.median(mine) * 1e3:.3f} | "
              f"{statistics.median(theirs) * 1e3:.3f} | "
              f"{statistics.median(mine) / statistics.median(theirs):.3f}× | "
              f"{min(mine) / min(theirs):.3f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
