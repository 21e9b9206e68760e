"""Data-parallel W4 (MLP 784-512-256-10, global batch 256, Adam): 2 MPI processes vs 1.

Both runs take the same optimizer step on the same 256 samples: one process on all of them
with the plain model, or two processes on 128 each with ``nn.DistributedDataParallel``.
Reports the throughput ratio (samples/s with 2 processes over 1), and on rank 0 of the two
the share of a step spent in the gradient averaging (pack, allreduce, unpack, including
waiting for the slower rank) and in the bare allreduce of the flat buffer after a barrier
(the communication itself).  Runs at each library's default threads and at one thread
per process (``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1``); processes alternate over
``--rounds``; the median round and the best are shown (the cores are shared).  Timings
only: no test asserts them.

Run: ``python -m benchmarks.distributed [--rounds 5] [--steps 30]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from itertools import pairwise

import numpy as np

from .workloads.w4_mlp import BATCH, LR, SIZES

WARMUP = 5


def worker(steps: int) -> None:
    """One rank's run (under mpiexec, or alone); rank 0 prints one JSON line."""
    import autograd_core as ag
    import nn
    import optim
    from autograd_core import distributed

    comm = distributed.init()
    ag.manual_seed(0)
    layers: list[nn.Module] = []
    for a, b in pairwise(SIZES):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    net = nn.DistributedDataParallel(model, comm) if comm.size > 1 else model
    opt = optim.Adam(model.parameters(), lr=LR)
    rng = np.random.default_rng(0)
    local = BATCH // comm.size
    mine = slice(comm.rank * local, (comm.rank + 1) * local)
    batches = [(ag.as_tensor(rng.random((BATCH, SIZES[0]), dtype=np.float32)[mine]),
                ag.as_tensor(rng.integers(0, SIZES[-1], size=BATCH)[mine]))
               for _ in range(8)]
    sync_times: list[float] = []
    step_times = []
    for k in range(WARMUP + steps):
        x, y = batches[k % len(batches)]
        comm.barrier()  # every rank starts the step together
        t = time.perf_counter()
        if isinstance(net, nn.DistributedDataParallel):
            with net.no_sync():  # averaged by hand below, to time it: what backward's end does
                loss = nn.functional.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            ts = time.perf_counter()
            net.sync_gradients()
            sync_times.append(time.perf_counter() - ts)
        else:
            loss = nn.functional.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
        opt.step()
        step_times.append(time.perf_counter() - t)
    flat = np.zeros(sum(p.size for p in model.parameters()) + len(list(model.parameters())),
                    np.float32)
    bare = []
    for _ in range(steps):
        comm.barrier()
        t = time.perf_counter()
        comm.allreduce_mean_(flat)
        bare.append(time.perf_counter() - t)
    if comm.rank == 0:
        med = statistics.median
        print(json.dumps({"size": comm.size, "step": med(step_times[WARMUP:]),
                          "sync": med(sync_times[WARMUP:]) if sync_times else 0.0,
                          "allreduce": med(bare) if comm.size > 1 else 0.0}))


def _run(size: int, threads: int | None, steps: int) -> dict[str, float]:
    from autograd_core.distributed import find_mpiexec

    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(var, None)
        if threads is not None:
            env[var] = str(threads)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd = [sys.executable, "-m", "benchmarks.distributed", "--worker", "--steps", str(steps)]
    if size > 1:
        mpiexec = find_mpiexec()
        if mpiexec is None:
            raise SystemExit("benchmarks.distributed: no mpiexec (pip install "
                             "'autograd_core[mpi]')")
        cmd = [mpiexec, "-n", str(size), *cmd]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.distributed")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    if args.worker:
        worker(args.steps)
        return
    print(f"data-parallel W4 (MLP {'-'.join(map(str, SIZES))}, global batch {BATCH}, Adam), "
          f"{os.cpu_count()} cores; {args.rounds} rounds x {args.steps} steps (median step each)")
    for threads, label in ((None, "default threads"), (1, "1 thread per process")):
        one, two = [], []
        for _ in range(args.rounds):
            one.append(_run(1, threads, args.steps))
            two.append(_run(2, threads, args.steps))
        # The cores are shared: the median round (by step time), and the least disturbed.
        for how, k in (("median", args.rounds // 2), ("best", 0)):
            r1 = sorted(one, key=lambda r: r["step"])[k]
            r2 = sorted(two, key=lambda r: r["step"])[k]
            t1, t2 = r1["step"], r2["step"]
            print(f"{label}, {how} round: 1 process {t1 * 1e3:.2f} ms/step "
                  f"({BATCH / t1:,.0f} samples/s); 2 processes {t2 * 1e3:.2f} ms/step "
                  f"({BATCH / t2:,.0f} samples/s): ratio {t1 / t2:.2f}x; gradient averaging "
                  f"{r2['sync'] * 1e3:.2f} ms = {r2['sync'] / t2:.0%} of a step (bare "
                  f"allreduce {r2['allreduce'] * 1e3:.2f} ms = {r2['allreduce'] / t2:.0%})")


if __name__ == "__main__":
    main()
