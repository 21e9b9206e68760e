"""The benchmark harness's pooling: steps timed in a slow spell are dropped, and only then."""

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
    # Round 2's second half ran in a spell: its probes took twice the fastest.
    pooled = run.pooled([_round([4.0, 4.1, 4.2], [1.0, 1.1, 1.2]),
                         _round([4.0, 8.0, 8.2], [1.0, 2.0, 2.1])])
    assert pooled["times_s"] == [4.0, 4.1, 4.2, 4.0]
    assert pooled["all_times_s"] == [4.0, 4.1, 4.2, 4.0, 8.0, 8.2]
    assert pooled["steps_dropped"] == pooled["steps_slow"] == 2
    assert len(pooled["page_faults"]) == 4


def test_nothing_is_dropped_when_most_steps_were_slow_or_nothing_was_probed() -> None:
    # Half or more slow: the "fastest probe" is the outlier, so every step is kept.
    mostly_slow = run.pooled([_round([4.0, 8.0, 8.2, 8.1], [1.0, 2.0, 2.1, 2.0])])
    assert mostly_slow["times_s"] == [4.0, 8.0, 8.2, 8.1]
    assert mostly_slow["steps_slow"] == 3 and mostly_slow["steps_dropped"] == 0
    unprobed = run.pooled([_round([4.0, 8.0], None), _round([4.1], None)])
    assert unprobed["times_s"] == [4.0, 8.0, 4.1] and "steps_dropped" not in unprobed
