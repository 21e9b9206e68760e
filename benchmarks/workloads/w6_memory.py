"""W6: resident memory and live graph nodes over 100 W4 training steps."""

from __future__ import annotations

import importlib
import sys
from typing import Any

from ..common import Bench, Workload
from . import w4_mlp

STEPS = 100
MARKS = (10, 100)


def rss_mib() -> float:
    """Current resident set size (VmRSS, not the peak) in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("rss_mib: no VmRSS line in /proc/self/status")


def _live_nodes() -> int | None:
    """autograd_core.live_nodes() when our engine is loaded in this process, else None."""
    if "autograd_core" not in sys.modules:
        return None
    return importlib.import_module("autograd_core").live_nodes()


def measure(bench: Bench) -> dict[str, Any]:
    """Run the W4 step STEPS times; RSS and live nodes after the marked steps."""
    out: dict[str, Any] = {}
    for k in range(1, STEPS + 1):
        bench.step()
        if k in MARKS:
            out[f"rss_mib@{k}"] = rss_mib()
            out[f"live_nodes@{k}"] = _live_nodes()
    return out


WORKLOAD = Workload(
    id="W6", title=f"W6 memory over {STEPS} W4 steps",
    make_data=w4_mlp.make_data,
    systems={k: w4_mlp.SYSTEMS[k] for k in ("numpy", "ours", "ours-nn", "torch")},
    schedule={"full": (0, 0), "quick": (0, 0)},
    measure=measure,
    notes=["RSS is VmRSS from /proc/self/status (no forced gc.collect()); live nodes are "
           "autograd_core.live_nodes() (ours only)."],
)
