"""A sweep job's share of the machine when several run at once: CPU threads, and a GPU of its own.

Hydra's joblib launcher runs jobs concurrently but knows nothing of devices; joblib caps each
worker's thread pools at cores / jobs, and nothing keeps two jobs off one GPU. ``claim_gpu``
gives each concurrent job a GPU that no other job of the sweep holds, with one lock file per GPU
in the sweep folder (an exclusive ``flock``, released when the job ends or its process dies), so
the guarantee holds however the launcher orders or reuses its workers. No library does this.
"""

import fcntl
import logging
import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


def cpu_count() -> int:
    """Cores this process may use (its affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def has_nvidia_devices() -> bool:
    """False on Linux without an NVIDIA device file (``/dev/nvidia<N>``, or WSL's ``/dev/dxg``): no CUDA GPU
    is there, known without importing torch; True elsewhere (only CUDA itself can tell)."""
    if platform.system() != "Linux":
        return True
    return any(Path("/dev").glob("nvidia[0-9]*")) or Path("/dev/dxg").exists()


def gpu_count() -> int:
    """CUDA GPUs this process may use, counted without starting CUDA (ddp_fork forks later): none
    without NVIDIA device files (``has_nvidia_devices``; no torch or Lightning import, ~3.5 s of a
    parallel sweep's start), else Lightning's NVML-based count."""
    if not has_nvidia_devices():
        return 0
    from lightning_fabric.accelerators.cuda import num_cuda_devices  # counts through NVML: fork-safe

    return num_cuda_devices()


def parallel_jobs() -> int:
    """How many jobs this machine holds at once: one per GPU, or one per core without GPUs."""
    return gpu_count() or cpu_count()


def threads_per_job(n_jobs: int) -> int:
    """Cores / concurrent jobs, at least one: two 2-thread jobs on 2 cores slow each other ~10x."""
    return max(1, cpu_count() // max(1, min(n_jobs, cpu_count())))


@contextmanager
def claim_gpu(lock_dir: str | Path, n_gpus: int, poll_seconds: float = 0.5) -> Iterator[int]:
    """Hold the lowest-numbered GPU that no other job holds (waiting for one if all are taken)."""
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    while True:
        for index in range(n_gpus):
            handle = open(lock_dir / f"gpu{index}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                handle.write(f"{os.getpid()}\n")
                handle.flush()
                yield index
                return
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
        time.sleep(poll_seconds)


@contextmanager
def job_share(n_jobs: int | None, lock_dir: str | Path, trainer_cfg) -> Iterator[None]:
    """Run one job of ``n_jobs`` concurrent ones: its share of threads, and its own GPU if it trains on one.

    ``n_jobs`` is the launcher's (``None`` for a serial launcher: the job has the machine to
    itself; ``-1``: as many as ``parallel_jobs()``). A job asking for several devices (DDP) is
    left to place itself.
    """
    if not n_jobs or n_jobs == 1:
        yield
        return
    import torch

    n_jobs = parallel_jobs() if n_jobs < 0 else n_jobs
    torch.set_num_threads(threads_per_job(n_jobs))
    log.info("one of %d concurrent jobs: threads=%d", n_jobs, torch.get_num_threads())
    gpus = gpu_count() if trainer_cfg.get("accelerator") in ("auto", "gpu", "cuda") else 0
    if not gpus or trainer_cfg.get("devices") != 1:
        yield
        return
    with claim_gpu(lock_dir, gpus) as index:
        trainer_cfg.devices = [index]
        yield
