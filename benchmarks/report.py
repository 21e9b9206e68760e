"""Markdown report from one or more runs; with several runs each cell reads 'run1 / run2'."""

from __future__ import annotations

import math
import statistics
from typing import Any

from .common import PROBE_SLACK
from .workloads import WORKLOADS

PEERS = {"numpy": "numpy", "torch": "torch", "hips": "autograd", "micrograd": "micrograd"}
LABELS = {"numpy": "numpy floor", "ours": "ours (raw engine)", "ours-nn": "ours (nn + optim)",
          "ours-compiled": "ours (ag.compile)",
          "torch": "PyTorch eager", "hips": "HIPS autograd", "micrograd": "micrograd",
          "ours-scalar": "ours Scalar", "ours-tensor": "ours Tensor (1 element)"}
Run = dict[str, Any]


def _num(v: float) -> str:
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def _ratio(r: float) -> str:
    return f"{r:.2f}×" if r >= 0.1 else f"{r:.3f}×"


def _join(cells: list[str]) -> str:
    return " / ".join(cells) if cells else "—"


def _count(n: int | None) -> str:
    return "n/a" if n is None else str(n)


def _ok(run: Run, wid: str, system: str) -> dict[str, Any] | None:
    for r in run["results"]:
        if r["workload"] == wid and r["system"] == system:
            return r if r["status"] == "ok" else None
    return None


def _median_s(run: Run, wid: str, system: str) -> float | None:
    r = _ok(run, wid, system)
    return statistics.median(r["times_s"]) if r and r.get("times_s") else None


def _faults(run: Run, wid: str, system: str) -> str:
    """Median minor page faults per timed step ("" for runs made before they were kept)."""
    faults = (_ok(run, wid, system) or {}).get("page_faults")
    return _count(round(statistics.median(faults))) if faults else ""


def agreement(run: Run, wid: str) -> dict[str, tuple[str, float]]:
    """Per system: ('reference' | 'agree' | 'DISAGREE', max |difference|) against the first
    system of the workload that produced check values."""
    wl = WORKLOADS[wid]
    rows = [r for r in run["results"] if r["workload"] == wid and r["status"] == "ok"
            and r.get("check")]
    if not rows:
        return {}
    ref = rows[0]["check"]
    out = {rows[0]["system"]: ("reference", 0.0)}
    for r in rows[1:]:
        worst, agree = 0.0, True
        for key, values in r["check"].items():
            if key not in ref or len(ref[key]) != len(values):
                continue
            for a, b in zip(ref[key], values, strict=True):
                diff = abs(a - b)
                if not diff <= wl.atol + wl.rtol * abs(a):  # also catches NaN
                    agree = False
                worst = max(worst, diff) if not math.isnan(diff) else math.inf
        out[r["system"]] = ("agree" if agree else "DISAGREE", worst)
    return out


def _check_cell(runs: list[Run], wid: str, system: str) -> str:
    verdicts = [agreement(run, wid).get(system) for run in runs]
    if any(v is None for v in verdicts):
        return "—"
    if all(v[0] == "reference" for v in verdicts):  # type: ignore[index]
        return "reference"
    words = {v[0] for v in verdicts}  # type: ignore[index]
    worst = max(v[1] for v in verdicts)  # type: ignore[index]
    word = "agree" if words == {"agree"} else "DISAGREE"
    return f"{word} (max abs diff {worst:.1e})"


def _target_cell(runs: list[Run], wid: str, system: str) -> str:
    cells = []
    for who, peer, limit, label in WORKLOADS[wid].targets:
        if who != system:
            continue
        if not peer:
            marks = ["✓" if _ok(run, wid, system) else "✗" for run in runs]
            cells.append(f"completes ({label}): {'/'.join(marks)}")
            continue
        marks = []
        for run in runs:
            mine, theirs = _median_s(run, wid, system), _median_s(run, wid, peer)
            if mine is None or theirs is None:
                marks.append("n/a")
            else:
                marks.append("✓" if mine / theirs <= limit else "✗")
        cells.append(f"≤{limit:g}× {PEERS[peer]} ({label}): {'/'.join(marks)}")
    return "; ".join(cells)


def _status_note(runs: list[Run], wid: str, system: str) -> str | None:
    for run in runs:
        for r in run["results"]:
            if r["workload"] == wid and r["system"] == system and r["status"] != "ok":
                return f"{r['status']}: {r.get('note', '')}"
    return None


def timing_table(runs: list[Run]) -> str:
    """One row per (workload, system): medians, spread, ratios to every peer, checks, targets."""
    order = [(r["workload"], r["system"]) for r in runs[-1]["results"]
             if WORKLOADS[r["workload"]].measure is None]
    present = {s for _, s in order}
    peers = [p for p in PEERS if p in present]
    head = (["workload", "system", "median ms", "min–max ms", "page faults / step", "unit"]
            + [f"÷ {PEERS[p]}" for p in peers] + ["loss check", "target"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for wid, system in order:
        wl = WORKLOADS[wid]
        note = _status_note(runs, wid, system)
        medians = [_median_s(run, wid, system) for run in runs]
        times = [t for run in runs for t in ((_ok(run, wid, system) or {}).get("times_s") or ())]
        row = [wid, LABELS.get(system, system)]
        if note and all(m is None for m in medians):
            row += ["—"] * 4 + ["—"] * len(peers) + [note, _target_cell(runs, wid, system)]
            lines.append("| " + " | ".join(row) + " |")
            continue
        row.append(_join([_num(m * 1e3) if m is not None else "—" for m in medians]))
        row.append(f"{_num(min(times) * 1e3)}–{_num(max(times) * 1e3)}")
        row.append(_join([_faults(run, wid, system) for run in runs]))
        if wl.unit:
            label, factor = wl.unit
            row.append(_join([f"{_num(m * factor)} {label}" if m is not None else "—"
                              for m in medians]))
        else:
            row.append("")
        for peer in peers:
            if peer == system:
                row.append("1×")
                continue
            cells = []
            for run, m in zip(runs, medians, strict=True):
                theirs = _median_s(run, wid, peer)
                if m is not None and theirs is not None:
                    cells.append(_ratio(m / theirs))
            row.append(_join(cells) if cells else "")
        row.append(note or _check_cell(runs, wid, system))
        row.append(_target_cell(runs, wid, system))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def memory_table(runs: list[Run]) -> str:
    """RSS and live nodes at the marked steps of each memory workload."""
    rows = [r for r in runs[-1]["results"] if WORKLOADS[r["workload"]].measure is not None]
    if not rows:
        return ""
    head = ["system", "RSS @10 MiB", "RSS @100 MiB", "Δ RSS MiB", "live nodes @10",
            "live nodes @100", "target (H): Δ RSS < 1 MiB, flat nodes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for last in rows:
        wid, system = last["workload"], last["system"]
        note = _status_note(runs, wid, system)
        metrics = [(_ok(run, wid, system) or {}).get("metrics") for run in runs]
        if note and not any(metrics):
            lines.append("| " + " | ".join([LABELS.get(system, system), *["—"] * 5, note])
                         + " |")
            continue
        got = [m for m in metrics if m]
        rss10 = _join([f"{m['rss_mib@10']:.1f}" for m in got])
        rss100 = _join([f"{m['rss_mib@100']:.1f}" for m in got])
        delta = [m["rss_mib@100"] - m["rss_mib@10"] for m in got]
        nodes10 = _join([_count(m["live_nodes@10"]) for m in got])
        nodes100 = _join([_count(m["live_nodes@100"]) for m in got])
        if got[0]["live_nodes@10"] is None:
            verdict = "(reference: not our engine)"
        else:
            verdict = "/".join("✓" if d < 1.0 and m["live_nodes@10"] == m["live_nodes@100"]
                               else "✗" for d, m in zip(delta, got, strict=True))
        lines.append("| " + " | ".join([LABELS.get(system, system), rss10, rss100,
                                         _join([f"{d:+.1f}" for d in delta]), nodes10,
                                         nodes100, verdict]) + " |")
    return "\n".join(lines)


def _run_line(k: int, run: Run) -> str:
    m = run["machine"]
    loads = [x for r in run["results"] for x in r.get("load_avg_1min", ())]
    load = f"{min(loads):.2f}–{max(loads):.2f}" if loads else "unknown"
    waited = [r["cpu_busy_before"] for r in run["results"] if r.get("cpu_busy_before") is not None]
    if waited:
        load += (f"; --wait-idle: CPUs {100 * min(waited):.0f}–{100 * max(waited):.0f}% busy "
                 f"when each child started")
    probed = [r["probe_slowdown_before"] for r in run["results"]
              if r.get("probe_slowdown_before") is not None]
    if probed:
        pinned = any(r.get("pinned_cpu") is not None for r in run["results"])
        cpus = "CPU" if pinned else "slowest CPU"
        load += (f"; --wait-fast: each child's {cpus} probed at {min(probed):.2f}–"
                 f"{max(probed):.2f}× the run's fastest probe")
        timed = sum(len(r.get("all_times_s", ())) for r in run["results"])
        if timed:
            dropped = sum(r.get("steps_dropped", 0) for r in run["results"])
            load += (f"; {dropped} of {timed} timed steps dropped as timed in a slow spell (the "
                     f"probe before the step over {PROBE_SLACK}× the system's usual fast probe)")
    return (f"- run {k}: {m['date']}; git {m['git']}; `{' '.join(run.get('argv', []))}` "
            f"({run['mode']}); wall time {run['elapsed_s']:.0f} s; 1-min load average "
            f"{load} (the benchmark itself adds about 1)")


def machine_section(runs: list[Run]) -> str:
    """Each run's date and load, then the machine and thread settings, as a bullet list."""
    run = runs[-1]
    m = run["machine"]
    threads: dict[str, Any] = {}
    for r in run["results"]:
        threads.update(r.get("threads", {}))
    lines = [
        *(_run_line(k, r) for k, r in enumerate(runs, start=1)),
        f"- CPU: {m['cpu']}; {m['logical_cores']} logical cores ({m['usable_cores']} usable); "
        f"{m['memory_gib']} GiB RAM; {m['os']}",
        f"- Python {m['python']}; numpy BLAS: {m['numpy_blas']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        "- env: " + ", ".join(f"{k}={v}" for k, v in m["thread_env"].items())
        + "; threads in use: " + ", ".join(f"{k}={v}" for k, v in sorted(threads.items())),
    ]
    return "\n".join(lines)


def render(runs: list[Run]) -> str:
    """The whole report: machine, timing table, memory table, notes."""
    parts = [f"## Benchmarks ({len(runs)} run{'s' if len(runs) > 1 else ''}"
             + (": cells read run 1 / run 2" if len(runs) == 2 else "") + ")", "",
             machine_section(runs), "", timing_table(runs)]
    memory = memory_table(runs)
    if memory:
        parts += ["", memory]
    seen = []
    for wid in dict.fromkeys(r["workload"] for r in runs[-1]["results"]):
        seen += [f"- {wid}: {n}" for n in WORKLOADS[wid].notes]
    parts += ["", "Ratios are this row's median ÷ the peer's median (below 1× = faster). "
              "min–max spans every timed repeat of every run (with --wait-fast, every repeat "
              "kept: see the run line).", *seen]
    return "\n".join(parts) + "\n"
