"""Process-wide settings, applied by the entry points that own the process (train.py, the benchmarks).

``configure_process`` applies them, each behind its own switch in the config's ``process`` node
(``process.keep_freed_memory=false`` and so on); nothing that others import (the run builder, a
module, a callback) changes anything process-wide. Torch-free.
"""

import atexit
import ctypes
import gc
import logging
import os
import platform
import warnings

from src.config.errors import check_bool, check_int
from src.trainer.devices import has_nvidia_devices

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 128 << 20


def keep_freed_blocks() -> bool:
    """Let glibc's malloc reuse freed blocks of up to 64 MiB instead of returning them to the system.

    A training step allocates and frees the same large tensors every time (an RNN's hidden
    states and their gradients: ~1.2 MiB each at length 19, hidden 128, batch 128). With
    glibc's defaults such blocks can be unmapped when freed and mapped afresh on the next step,
    and every 4 KiB page of them faults on its first write: ~100 page faults a step, 8% of a
    step's time on a 2-core CPU (``make bench``). PyTorch's CPU tuning guide fixes
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
    ~0.25 ms a step, 8% of a palindrome training step on a 2-core CPU (``make bench``).
    Without an NVIDIA device file there is no CUDA to initialize or to break by forking, so the
    variable is dropped and torch answers from its cached runtime count. Returns whether it was.
    """
    if has_nvidia_devices() or os.environ.get(NVML_CHECK) != "1":
        return False
    del os.environ[NVML_CHECK]
    log.debug("no NVIDIA device: %s dropped", NVML_CHECK)
    return True


_QUICK_EXIT: list[bool] = []  # whether this process has registered its exit-time freeze


def skip_final_collections() -> bool:
    """End the process without Python's last garbage collections over everything still alive.

    As the interpreter shuts down it clears every module and collects garbage again and again,
    walking each of the objects torch, Lightning and their imports made: 1.3 s of the 1.6 s a
    process that imported Lightning takes to end, on a 2-core CPU (a sweep's launcher waits that
    long for each parallel worker too). An exit handler moves every object still alive into the
    collector's permanent generation (``gc.freeze``), which those collections skip. Only the end
    changes: the other exit handlers (the sweep's summary and report, log flushing) still run,
    files still close, and until the exit garbage is collected as always. Registered once.
    """
    if not _QUICK_EXIT:
        atexit.register(gc.freeze)
        _QUICK_EXIT.append(True)
    return True


# Exact texts: anything Lightning or torch says beyond these still reaches the user.
NOISE_LOG_PREFIXES = (
    "💡 Tip: For seamless cloud",  # Lightning's adverts for its cloud logger and checkpoint services
    "No CUDA runtime is found, using CUDA_HOME",  # torch.compile on a CPU machine with a CUDA build of torch
)
NOISE_WARNINGS = (r"`isinstance\(treespec, LeafSpec\)` is deprecated",)  # Lightning 2.6 on torch 2.14's pytree
NOISY_LOGGERS = (
    "pytorch_lightning.utilities.rank_zero",
    "lightning_fabric.utilities.rank_zero",
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "torch.utils.cpp_extension",
)


class DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(NOISE_LOG_PREFIXES)


_FILTER = DropNoise()


def silence_known_noise() -> None:
    """Drop Lightning's per-run advert and one deprecation warning (idempotent); nothing else."""
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for message in NOISE_WARNINGS:
        warnings.filterwarnings("ignore", message=message)


def tf32_matmuls() -> bool:
    """fp32 matrix products on an NVIDIA GPU in TF32 (10-bit mantissa, several times faster on Ampere and
    later); nothing changes on a machine without one. True where it took effect."""
    if not has_nvidia_devices():
        return False
    import torch

    if not torch.cuda.is_available():
        return False
    torch.set_float32_matmul_precision("high")  # TF32 matrix products (cuDNN's convolutions use TF32 by default)
    return True


def configure_process(
    keep_freed_memory: bool = True,
    skip_nvml_probe: bool = True,
    quiet: bool = True,
    quick_exit: bool = True,
    tf32: bool = True,
    threads: int | None = None,
) -> dict:
    """Apply the process-wide settings that are switched on; returns which of them took effect."""
    for key, value in (
        ("keep_freed_memory", keep_freed_memory),
        ("skip_nvml_probe", skip_nvml_probe),
        ("quiet", quiet),
        ("quick_exit", quick_exit),
        ("tf32", tf32),
    ):
        check_bool(f"process.{key}", value)
    if threads is not None:
        check_int("process.threads", threads)
        import torch

        torch.set_num_threads(threads)
    applied = {
        "keep_freed_memory": keep_freed_memory and keep_freed_blocks(),
        "skip_nvml_probe": skip_nvml_probe and skip_gpu_probes(),
        "quiet": quiet,
        "quick_exit": quick_exit and skip_final_collections(),
        "tf32": tf32 and tf32_matmuls(),
        "threads": threads,
    }
    if quiet:
        silence_known_noise()
    return applied
