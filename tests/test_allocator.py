"""keep_freed_memory: freed arrays are reused instead of being faulted in again."""

import platform
import subprocess
import sys

import pytest

import autograd_core as ag

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# Three rounds of allocating twenty 1 MiB arrays and freeing them all; prints the page
# faults of the last round (glibc's default returns the memory and faults it in again).
ROUNDS = """
import resource, sys, numpy as np
import autograd_core as ag
ok = ag.keep_freed_memory(64)
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    arrays = [np.ones(1 << 17) for _ in range(20)]
    del arrays
print(ok, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not GLIBC, reason="keep_freed_memory tunes glibc's malloc only")
def test_freed_arrays_are_reused_without_page_faults():
    out = subprocess.run([sys.executable, "-c", ROUNDS], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "True"
    assert int(out[1]) < 100, f"{out[1]} page faults for 20 MiB of reused arrays"


def test_negative_size_is_refused():
    with pytest.raises(ValueError, match="keep_freed_memory: megabytes must be >= 0"):
        ag.keep_freed_memory(-1)
