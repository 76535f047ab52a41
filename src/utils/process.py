"""Process-wide settings that make training steps cheaper (torch-free); ``tune_process`` applies them all."""

import ctypes
import logging
import os
import platform

from src.utils.parallel import has_nvidia_devices

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


NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def skip_gpu_probes() -> bool:
    """On a machine without NVIDIA devices, stop ``torch.cuda.is_available()`` from loading NVML at every call.

    Importing Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1``, so that asking whether CUDA is
    there does not initialize it before ``ddp_fork`` forks. With it, a CUDA build of torch answers
    every ``is_available()`` by loading the NVML library afresh until CUDA is initialized, which
    without a GPU is never; and every optimizer step asks (``Optimizer``'s graph-capture check):
    ~0.25 ms a step, 8% of a palindrome training step on a 2-core CPU (benchmarks/palindrome.py).
    Without an NVIDIA device file there is no CUDA to initialize or to break by forking, so the
    variable is dropped and torch answers from its cached runtime count. Returns whether it was.
    """
    if has_nvidia_devices() or os.environ.get(NVML_CHECK) != "1":
        return False
    del os.environ[NVML_CHECK]
    log.debug("no NVIDIA device: %s dropped", NVML_CHECK)
    return True


def tune_process() -> None:
    """Every process-wide setting a training process gets (``build_run`` applies them)."""
    keep_freed_memory()
    skip_gpu_probes()
