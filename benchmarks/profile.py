"""Where one system spends a workload's time: ``python -m benchmarks.profile W4 --system ours``.

Samples with pyinstrument when it is installed (low overhead, so small-op workloads are not
distorted), else falls back to cProfile.  Prints the top functions by self time and by
total (inclusive) time as a markdown table: function, file:line (of the ``def``), % time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from .common import Bench
from .run import REPO, SEED
from .workloads import WORKLOADS

Stats = dict[tuple[str, str], list[float]]  # (function, file:line) -> [self s, total s]


def _where(path: str | None, line: int | None) -> str:
    if not path or path.startswith("<"):
        return path or "?"
    p = Path(path)
    try:
        shown = str(p.resolve().relative_to(REPO))
    except ValueError:
        parts = p.parts
        shown = "/".join(parts[parts.index("site-packages") + 1:]) if "site-packages" in parts \
            else p.name
    return f"{shown}:{line}" if line else shown


def _pyinstrument(bench: Bench, steps: int) -> tuple[Stats, float]:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(steps):
        bench.step()
    session = profiler.stop()
    stats: Stats = defaultdict(lambda: [0.0, 0.0])
    stack = [(session.root_frame(), frozenset())]
    while stack:
        frame, above = stack.pop()
        if frame is None or frame.is_synthetic:
            continue
        key = (frame.function, _where(frame.file_path, frame.line_no))
        real = [c for c in frame.children if not c.is_synthetic]
        stats[key][0] += frame.time - sum(c.time for c in real)
        if key not in above:  # recursion: count inclusive time once per stack
            stats[key][1] += frame.time
        stack.extend((c, above | {key}) for c in real)
    return stats, session.duration


def _cprofile(bench: Bench, steps: int) -> tuple[Stats, float]:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        bench.step()
    profiler.disable()
    raw: Any = pstats.Stats(profiler).stats  # (file, line, fn) -> (cc, nc, tt, ct, callers)
    stats: Stats = {}
    for (path, line, fn), (_, _, tt, ct, _) in raw.items():
        stats[(fn, _where(path, line))] = [tt, ct]
    return stats, sum(v[0] for v in stats.values())


def profile(workload: str, system: str, steps: int, top: int, use_cprofile: bool) -> str:
    """Warm ``system`` up on ``workload``, profile ``steps`` steps, return the tables."""
    wl = WORKLOADS[workload]
    data = wl.make_data(np.random.default_rng(SEED))
    bench = wl.systems[system](data)
    for _ in range(max(3, wl.check_steps)):
        bench.step()
    try:
        if use_cprofile:
            raise ImportError
        stats, total = _pyinstrument(bench, steps)
        tool = "pyinstrument"
    except ImportError:
        stats, total = _cprofile(bench, steps)
        tool = "cProfile"
    harness = ("benchmarks/", "profile.py", "pyinstrument", "<built-in>:0 stop")
    lines = [f"### {workload} / {system}: {steps} steps, {total * 1e3 / steps:.1f} ms/step "
             f"under {tool}", ""]
    for title, col in (("self time", 0), ("total time (inclusive)", 1)):
        rows = sorted(stats.items(), key=lambda kv: -kv[1][col])
        if col == 1:
            rows = [r for r in rows if not any(h in r[0][1] for h in harness)]
        lines += [f"| function | file:line | % {title} |", "|---|---|---|"]
        lines += [f"| {fn} | {where} | {100 * v[col] / total:.1f} |"
                  for (fn, where), v in rows[:top]]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("workload", choices=list(WORKLOADS))
    parser.add_argument("--system", default="ours")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--cprofile", action="store_true", help="force cProfile")
    args = parser.parse_args(argv)
    sys.stdout.write(profile(args.workload, args.system, args.steps, args.top, args.cprofile))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
