"""The workloads, in table order: issue A's small-op workloads, then issue H's training steps."""

from __future__ import annotations

from ..common import Workload
from . import a1_scalar_mlp, a2_small_ops, a3_deep_chain, w4_mlp, w5_cnn, w6_memory

WORKLOADS: dict[str, Workload] = {
    w.id: w
    for w in (a1_scalar_mlp.WORKLOAD, a2_small_ops.WORKLOAD, *a3_deep_chain.WORKLOADS,
              w4_mlp.WORKLOAD, w5_cnn.WORKLOAD, w6_memory.WORKLOAD)
}


def select(only: str | None) -> list[Workload]:
    """Workloads named in ``only`` ("W4,W5"; "A3" selects every A3 size), or all of them."""
    if not only:
        return list(WORKLOADS.values())
    wanted = [w.strip().upper() for w in only.split(",") if w.strip()]
    unknown = [w for w in wanted
               if not any(k.upper() == w or k.upper().startswith(w + "-") for k in WORKLOADS)]
    if unknown:
        raise SystemExit(f"--only: unknown workload(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(WORKLOADS)} (A3 selects every size)")
    return [wl for k, wl in WORKLOADS.items()
            if any(k.upper() == w or k.upper().startswith(w + "-") for w in wanted)]
