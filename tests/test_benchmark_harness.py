"""The benchmark harness's pooling: steps timed in a slow spell are dropped, the others kept."""

from __future__ import annotations

from typing import Any

import pytest

run = pytest.importorskip("benchmarks.run", reason="benchmarks/ is not importable here")


def _round(times: list[float], probes: list[float] | None) -> dict[str, Any]:
    res: dict[str, Any] = {"workload": "A2", "system": "ours", "status": "ok",
                           "times_s": times, "page_faults": [0] * len(times),
                           "load_avg_1min": [0.1, 0.2]}
    if probes is not None:
        res["probe_s"] = probes
    return res


def test_steps_after_a_slow_probe_are_dropped_from_the_pool() -> None:
    # Round 2's second half ran in a spell: its probes took twice the usual.
    quiet = [1.0, 1.1, 1.2, 1.0, 1.1]
    pooled = run.pooled([_round([4.0, 4.1, 4.2, 4.0, 4.1], quiet),
                         _round([4.0, 4.2, 8.0, 8.2, 8.1], [1.0, 1.2, 2.0, 2.1, 2.0])])
    assert pooled["times_s"] == [4.0, 4.1, 4.2, 4.0, 4.1, 4.0, 4.2]
    assert pooled["all_times_s"] == [4.0, 4.1, 4.2, 4.0, 4.1, 4.0, 4.2, 8.0, 8.2, 8.1]
    assert pooled["steps_dropped"] == 3 and len(pooled["page_faults"]) == 7


def test_the_reference_is_the_systems_usual_probe_not_one_lucky_one() -> None:
    # One probe of 0.5 among ten of ~1.0: the reference is the 10th percentile (1.0), so a
    # probe of 1.2 is not slow, which it would be against the fastest (1.2 > 1.25 * 0.5).
    probes = [0.5, 1.0, 1.0, 1.1, 1.0, 1.2, 1.0, 1.1, 1.0, 1.0]
    pooled = run.pooled([_round([4.0] * 10, probes)])
    assert pooled["steps_dropped"] == 0 and len(pooled["times_s"]) == 10


def test_nothing_is_dropped_where_nothing_was_probed() -> None:
    unprobed = run.pooled([_round([4.0, 8.0], None), _round([4.1], None)])
    assert unprobed["times_s"] == [4.0, 8.0, 4.1] and "steps_dropped" not in unprobed
