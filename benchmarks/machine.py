"""What the benchmark ran on: CPU, cores, memory, BLAS, thread settings, package versions."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# glibc malloc: keep large freed blocks in the heap instead of returning them to the OS, so
# the next step's arrays of the same size are not page-faulted in again (see README).  The
# environment form of autograd_core.keep_freed_memory(64), given to every system alike.
MALLOC_TUNED = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}
PEERS = {"torch": "torch", "autograd": "autograd (HIPS)", "micrograd": "micrograd",
         "autograd_core": "autograd_core", "numpy": "numpy", "scipy": "scipy"}


def _proc_field(path: str, key: str) -> str | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _blas() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # numpy's config layout is not a stable API
        return "unknown"


def _git(repo: Path) -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=repo, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (uncommitted changes)" if dirty else "")


def machine_info(repo: Path, env: dict[str, str]) -> dict[str, Any]:
    """A JSON-able description of this machine and of the children's environment."""
    versions = {}
    for dist, label in PEERS.items():
        try:
            versions[label] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[label] = "not installed"
    mem_kb = _proc_field("/proc/meminfo", "MemTotal")
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(int(mem_kb.split()[0]) / 2**20, 1) if mem_kb else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy_blas": _blas(),
        "thread_env": {k: env.get(k, "unset") for k in (*THREAD_VARS, *MALLOC_TUNED)},
        "versions": versions,
        "git": _git(repo),
    }
