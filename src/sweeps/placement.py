"""A sweep job's share of the machine when several run at once: CPU threads, and a GPU of its own.

Hydra's joblib launcher runs jobs concurrently but knows nothing of devices; joblib caps each
worker's thread pools at cores / jobs, and nothing keeps two jobs off one GPU. ``claim_gpu``
gives each concurrent job a GPU that no other job of the sweep holds, with one lock file per GPU
in the sweep folder (``filelock``: an OS lock, released when the job ends or its process dies,
on Linux, macOS and Windows alike), so the guarantee holds however the launcher orders or reuses
its workers. No launcher plugin does this.
"""

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from src.signals import install
from src.sweeps.interrupt import running_job
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


def stop_with_parent(poll_seconds: float = 1.0, grace_seconds: float = 30.0) -> threading.Thread:
    """In a sweep's worker process: when the launching process dies (``kill -9``, a lost terminal),
    stop this job as a scheduler would, with SIGTERM (the run saves ``last.ckpt``, marks itself
    INTERRUPTED and exits), and exit outright if it has not ended ``grace_seconds`` later.

    A worker is re-parented when its parent dies, so a changed ``os.getppid()`` is the signal, on
    every platform. Without this, joblib's workers train on for minutes after their sweep is gone.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        log.warning("the sweep's launching process (pid %d) is gone: stopping this job", parent)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_seconds)
        os._exit(128 + signal.SIGTERM)

    thread = threading.Thread(target=watch, name="stop-with-parent", daemon=True)
    thread.start()
    return thread


_WATCHED = False


@contextmanager
def job_share(n_jobs: int | None, sweep_dir: str | Path, job_dir: str | Path, trainer_cfg) -> Iterator[None]:
    """Run one job of ``n_jobs`` concurrent ones: its share of threads, and its own GPU if it trains on one.

    ``n_jobs`` is the launcher's (``None`` for a serial launcher: the job has the machine to
    itself; ``-1``: as many as ``parallel_jobs()``). A job asking for several devices (DDP) is
    left to place itself. The job holds its running lock meanwhile, and does not start once its
    sweep is stopping (``src.sweeps.interrupt``).
    """
    if not n_jobs or n_jobs == 1:
        yield
        return
    global _WATCHED
    if not _WATCHED:  # once per worker process, which runs several jobs
        stop_with_parent()
        if os.name != "nt":  # Ctrl-C in a terminal reaches every process of the sweep: a job in training
            install(signal.SIG_IGN, [signal.SIGINT])  # saves on it (its own handler), an idle worker
            # leaves the stop to its launcher (on Windows the launcher passes nothing on: jobs keep Ctrl-C)
        _WATCHED = True
    parent = os.getppid()
    try:
        with running_job(sweep_dir, job_dir), _threads_and_gpu(n_jobs, Path(sweep_dir) / ".gpu_locks", trainer_cfg):
            yield
    finally:
        if os.getppid() != parent:  # the sweep is gone and this job has saved: nothing to hand back
            os._exit(128 + signal.SIGTERM)


@contextmanager
def _threads_and_gpu(n_jobs: int, lock_dir: str | Path, trainer_cfg) -> Iterator[None]:
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
