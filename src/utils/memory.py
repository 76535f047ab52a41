"""Process-wide memory settings that make training steps cheaper (torch-free)."""

import ctypes
import logging
import os
import platform

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 128 << 20


def keep_freed_memory() -> bool:
    """Let glibc's malloc reuse freed blocks of up to 64 MiB instead of returning them to the system.

    A training step allocates and frees the same large tensors every time (an RNN's hidden
    states and their gradients: ~1.2 MiB each at length 19, hidden 128, batch 128). With
    glibc's defaults such blocks can be unmapped when freed and mapped afresh on the next step,
    and every 4 KiB page of them faults on its first write: ~100 page faults a step, 8% of a
    step's time on a 2-core CPU (benchmarks/palindrome.py). PyTorch's CPU tuning guide fixes
    this by preloading jemalloc or tcmalloc; these two ``mallopt`` settings do it in-process.
    Does nothing off glibc, or where the user set ``MALLOC_MMAP_THRESHOLD_`` (theirs wins).
    Returns whether the settings were applied.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        applied = (
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        )
    except (OSError, AttributeError):  # no such library or function: the defaults stay
        return False
    log.debug("malloc keeps freed blocks below %d MiB: %s", MMAP_THRESHOLD >> 20, applied)
    return applied
