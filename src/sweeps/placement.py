"""A sweep job's share of the machine when several run at once: CPU threads, and a GPU of its own.

Hydra's joblib launcher runs jobs concurrently but knows nothing of devices; joblib caps each
worker's thread pools at cores / jobs, and nothing keeps two jobs off one GPU. ``claim_gpu``
gives each concurrent job a GPU that no other job of the sweep holds, with one lock file per GPU
in the sweep folder (``filelock``: an OS lock, released when the job ends or its process dies,
on Linux, macOS and Windows alike), so the guarantee holds however the launcher orders or reuses
its workers. No launcher plugin does this.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from src.trainer.devices import gpu_count, parallel_jobs, threads_per_job

log = logging.getLogger(__name__)


@contextmanager
def claim_gpu(lock_dir: str | Path, n_gpus: int, poll_seconds: float = 0.5) -> Iterator[int]:
    """Hold the lowest-numbered GPU that no other job holds (waiting for one if all are taken)."""
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    while True:
        for index in range(n_gpus):
            lock = FileLock(lock_dir / f"gpu{index}.lock")
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            try:
                yield index
                return
            finally:
                lock.release()
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
