"""Run every workload, each system in a fresh process, and print a markdown table.

Usage (from the repository root): ``python -m benchmarks [--quick] [--only W4,W5]
[--json out.json] [--threads N] [--malloc-tuned] [--wait-idle S] [--rounds R]
[--wait-fast S]``;
``python -m benchmarks --merge a.json b.json`` prints the table of several saved runs side
by side.  See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import report
from .common import PROBE_SLACK, Workload, probe_seconds
from .machine import MALLOC_TUNED, THREAD_VARS, machine_info
from .worker import MARKER
from .workloads import select

REPO = Path(__file__).resolve().parent.parent
SEED = 0


def child_env(threads: int | None, malloc_tuned: bool) -> dict[str, str]:
    """The children's environment: ours, plus the thread caps when --threads is given and
    the glibc malloc settings with --malloc-tuned."""
    env = dict(os.environ)
    if threads is not None:
        for var in THREAD_VARS:
            env[var] = str(threads)
    if malloc_tuned:
        env.update(MALLOC_TUNED)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def wait_until_idle(max_wait: float, busy_below: float = 0.25, window: float = 2.0) -> float:
    """Block until the machine's CPUs were less than ``busy_below`` busy over ``window``
    seconds, or ``max_wait`` seconds have passed; returns the last busy fraction seen."""
    deadline = time.monotonic() + max_wait
    while True:
        busy0, total0 = _cpu_times()
        time.sleep(window)
        busy1, total1 = _cpu_times()
        busy = (busy1 - busy0) / max(1, total1 - total0)
        if busy < busy_below or time.monotonic() >= deadline:
            return busy


class SpeedGate:
    """Waits for a CPU that runs at full speed, by a probe timed on each CPU in turn.

    On this VM a CPU's speed changes by up to 2x in spells of seconds to minutes, often one
    CPU at a time, and the load average does not show it.  The probe (16-float ``np.tanh``
    calls, ~1 ms) on each allowed CPU is compared with the fastest probe seen in this run.
    """

    def __init__(self, slack: float = PROBE_SLACK) -> None:
        self.slack = slack
        self.best = float("inf")

    def probe(self, cpu: int) -> float:
        os.sched_setaffinity(0, {cpu})
        return sorted(probe_seconds() for _ in range(5))[2]

    def wait(self, max_wait: float, every_cpu: bool = False) -> tuple[int | None, float]:
        """(the fastest CPU now, its probe / the run's best), after waiting up to
        ``max_wait`` seconds for one within ``slack`` of the best.  ``every_cpu``: wait
        for all of them to be, and return None for the CPU (a child that may use every CPU
        is not pinned), with the slowest probe / the best."""
        cpus = sorted(os.sched_getaffinity(0))
        deadline = time.monotonic() + max_wait
        try:
            while True:
                probes = {cpu: self.probe(cpu) for cpu in cpus}
                cpu = min(probes, key=probes.__getitem__)
                self.best = min(self.best, probes[cpu])
                slow = max(probes.values()) / self.best if every_cpu else probes[cpu] / self.best
                if slow <= self.slack or time.monotonic() >= deadline:
                    return (None if every_cpu else cpu), slow
                time.sleep(0.5)
        finally:
            os.sched_setaffinity(0, cpus)


def run_system(wl: Workload, system: str, data_path: Path, mode: str, env: dict[str, str],
               timeout: float, cpu: int | None = None, probe: bool = False) -> dict[str, Any]:
    """One fresh ``python -m benchmarks.worker`` process (on ``cpu`` if given; ``probe``:
    it times the speed probe before each step); its JSON result."""
    warmup, repeats = wl.schedule[mode]
    cmd = [sys.executable, "-m", "benchmarks.worker", wl.id, system, "--data", str(data_path),
           "--warmup", str(warmup), "--repeats", str(repeats), *(["--probe"] if probe else [])]
    base = {"workload": wl.id, "system": system}
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=timeout, preexec_fn=None if cpu is None else
                              lambda: os.sched_setaffinity(0, {cpu}))
    except subprocess.TimeoutExpired:
        return {**base, "status": "error", "note": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {**base, "status": "error", "note": f"worker exited {proc.returncode}: {tail}"}


def run_gated(wl: Workload, system: str, data_path: Path, mode: str, env: dict[str, str],
              args: argparse.Namespace, gate: SpeedGate | None) -> dict[str, Any]:
    """One child of ``system`` after the waits asked for; with the speed gate, it times
    the probe before each step too (see `pooled`)."""
    busy = wait_until_idle(args.wait_idle) if args.wait_idle > 0 else None
    cpu, slow = gate.wait(args.wait_fast, every_cpu=args.threads != 1) if gate else (None, None)
    res = run_system(wl, system, data_path, mode, env, args.timeout, cpu, probe=gate is not None)
    res.update(cpu_busy_before=busy, probe_slowdown_before=slow, pinned_cpu=cpu)
    return res


def pooled(rounds: list[dict[str, Any]], slack: float = PROBE_SLACK) -> dict[str, Any]:
    """One system's results from several rounds as one: the timed steps, page faults and
    probes of every round together; the first round's value check; an error if any round
    failed.

    Where the rounds timed the probe before each step (``--wait-fast``), a step whose probe
    ran over ``slack`` times this system's usual fast probe (the 10th percentile of its
    probes) was timed in a slow spell, and is dropped; ``all_times_s`` keeps every step.
    The reference is each system's own because a probe right after a step still runs a
    little slower the more code the step ran.
    """
    first = rounds[0]
    failed = [r for r in rounds if r["status"] != "ok"]
    if failed or "times_s" not in first:
        return failed[0] if failed else first
    res = {**first, "rounds": len(rounds),
           **{key: [x for r in rounds for x in r[key]]
              for key in ("times_s", "page_faults", "probe_s") if key in first},
           "load_avg_1min": [min(r["load_avg_1min"][0] for r in rounds),
                             max(r["load_avg_1min"][1] for r in rounds)],
           "cpu_busy_before": _worst(rounds, "cpu_busy_before"),
           "probe_slowdown_before": _worst(rounds, "probe_slowdown_before")}
    if "probe_s" in res:
        usual = sorted(res["probe_s"])[len(res["probe_s"]) // 10]
        fast = [p <= slack * usual for p in res["probe_s"]]
        res["all_times_s"] = res["times_s"]
        res["times_s"] = [t for t, f in zip(res["times_s"], fast, strict=True) if f]
        res["page_faults"] = [n for n, f in zip(res["page_faults"], fast, strict=True) if f]
        res["steps_dropped"] = fast.count(False)
    return res


def _worst(rounds: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rounds if r.get(key) is not None]
    return max(values) if values else None


def _progress(res: dict[str, Any], seconds: float) -> str:
    if res["status"] != "ok":
        return f"{res['status']}: {res.get('note', '')}"
    if "times_s" in res:
        times = sorted(res["times_s"])
        return f"median {times[len(times) // 2] * 1e3:.2f} ms ({seconds:.1f} s)"
    return f"{res['metrics']} ({seconds:.1f} s)"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python -m benchmarks``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer warm-ups and repeats")
    parser.add_argument("--only", help="comma-separated workloads, e.g. W4,W5 or A3")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--threads", type=int, help="set OMP/OPENBLAS/MKL_NUM_THREADS "
                        "in every child (default: leave the libraries' defaults)")
    parser.add_argument("--malloc-tuned", action="store_true",
                        help="run every child with glibc's MALLOC_MMAP/TRIM_THRESHOLD_ raised "
                        "(as autograd_core.keep_freed_memory(64) does) so freed large arrays "
                        "are reused, not page-faulted in again")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                        help="before each child, wait up to this long for the CPUs to be "
                        "under 25%% busy (for shared machines; default: do not wait)")
    parser.add_argument("--wait-fast", type=float, default=0.0, metavar="SECONDS",
                        help="before each child, wait up to this long for a CPU whose probe "
                        "loop runs within 1.25x of the fastest seen in this run, and with "
                        "--threads 1 run the child on that CPU; without it, wait for every "
                        "CPU to be that fast and leave the child unpinned, free to use them "
                        "all (for VMs whose speed changes in spells; default: do not probe)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every system of a workload this many times, taking turns "
                        "(a fresh process each time), and pool the timed steps: a slow spell "
                        "on a shared machine then falls on every system alike (workloads "
                        "without a peer to compare with run once)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds before one child process is abandoned")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="RUN.json",
                        help="print the table of saved runs side by side; run nothing")
    args = parser.parse_args(argv)
    if args.merge:
        runs = [json.loads(p.read_text()) for p in args.merge]
        sys.stdout.write(report.render(runs))
        return 0
    workloads = select(args.only)
    mode = "quick" if args.quick else "full"
    env = child_env(args.threads, args.malloc_tuned)
    machine = machine_info(REPO, env)
    results: list[dict[str, Any]] = []
    gate = SpeedGate() if args.wait_fast > 0 else None
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="agc-bench-") as tmp:
        for wl in workloads:
            data_path = Path(tmp) / f"{wl.id}.npz"
            np.savez(data_path, **wl.make_data(np.random.default_rng(SEED)))
            rounds: dict[str, list[dict[str, Any]]] = {system: [] for system in wl.systems}
            # Rounds are for comparing systems: a memory measure, or a workload whose only
            # target needs no peer (A3: "completes"), runs once.
            compared = wl.measure is None and any(peer for _, peer, _, _ in wl.targets)
            for _ in range(max(1, args.rounds) if compared else 1):
                for system in wl.systems:
                    t0 = time.perf_counter()
                    res = run_gated(wl, system, data_path, mode, env, args, gate)
                    print(f"[{wl.id:7s}] {system:12s} "
                          f"{_progress(res, time.perf_counter() - t0)}",
                          file=sys.stderr, flush=True)
                    rounds[system].append(res)
            results.extend(pooled(rs) for rs in rounds.values())
    run = {"mode": mode, "argv": sys.argv[1:] if argv is None else argv,
           "elapsed_s": time.perf_counter() - start, "machine": machine, "results": results}
    if args.json:
        args.json.write_text(json.dumps(run, indent=1) + "\n")
    sys.stdout.write(report.render([run]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
