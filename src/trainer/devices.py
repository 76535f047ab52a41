"""What the machine offers a run (cores, GPUs), counted without starting CUDA, and how several devices are used.

Torch-free at import: a sweep's launching process counts GPUs here without loading torch.
"""

import multiprocessing
import os
import platform
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from src.lightning_package import SLURM_ENVIRONMENT


def cpu_count() -> int:
    """Cores this process may use (its affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def has_nvidia_devices() -> bool:
    """False on Linux without an NVIDIA device file (``/dev/nvidia<N>``, or WSL's ``/dev/dxg``): no CUDA GPU
    is there, known without importing torch; True elsewhere (only CUDA itself can tell)."""
    if platform.system() != "Linux":
        return True
    return any(Path("/dev").glob("nvidia[0-9]*")) or Path("/dev/dxg").exists()


def first_process() -> bool:
    """Whether this process is its run's first (rank 0), where a cluster or a launcher starts one process per
    rank (SLURM's tasks, torchrun, Lightning's subprocess launcher): the one that claims the run's folder."""
    return all(os.environ.get(name, "0") in ("", "0") for name in ("SLURM_PROCID", "RANK", "LOCAL_RANK"))


def gpu_count() -> int:
    """CUDA GPUs this process may use, counted without starting CUDA (ddp_fork forks later): none
    without NVIDIA device files (no torch or Lightning import), else Lightning's NVML-based count."""
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


def several_devices_strategy(start_methods: list[str] | None = None) -> str:
    """The DDP strategy for several devices when none is named: the ranks forked from the run's
    process where the platform can fork (Linux, macOS), else spawned (Windows).

    Lightning's default there, ``ddp``, re-runs ``train.py`` for each rank, which under Hydra writes
    a log per rank and, in a multirun, relaunches the sweep; fork and spawn keep one process tree.
    """
    methods = multiprocessing.get_all_start_methods() if start_methods is None else start_methods
    return "ddp_fork" if "fork" in methods else "ddp_spawn"


def place_processes(trainer_cfg: DictConfig) -> None:
    """Several devices and no strategy named: ``several_devices_strategy()``. (Each CPU rank's
    threads, cores / ranks, are set by Lightning's own multiprocessing launcher.)"""
    devices = trainer_cfg.get("devices")
    several = (isinstance(devices, int) and devices > 1) or (OmegaConf.is_list(devices) and len(devices) > 1)
    if several and trainer_cfg.get("strategy", "auto") == "auto":
        trainer_cfg.strategy = several_devices_strategy()


def forks_ranks(trainer_cfg: DictConfig) -> bool:
    """Whether the Trainer's strategy forks its ranks from this process (``ddp_fork``, ``ddp_notebook``)."""
    return str(trainer_cfg.get("strategy", "auto")).endswith(("_fork", "_notebook"))


def threads_per_rank(trainer_cfg: DictConfig) -> int:
    """Each rank's intra-op threads: ``OMP_NUM_THREADS`` if set, else the cores shared among the ranks."""
    if (given := os.environ.get("OMP_NUM_THREADS", "")).isdigit() and int(given) > 0:
        return int(given)
    devices = trainer_cfg.get("devices")
    ranks = devices if isinstance(devices, int) and devices > 0 else len(devices) if OmegaConf.is_list(devices) else 1
    return threads_per_job(ranks)  # ranks share the cores as a parallel sweep's jobs do


def one_owner_of_cluster_signals(trainer_cfg: DictConfig) -> None:
    """In a SLURM job that submitit started, submitit owns the time-limit and preemption signal (save, then
    requeue: ``src.callbacks.safety``); Lightning's own SLURM auto-requeue, which would answer another
    signal by requeueing without the job's status, is switched off (docs/scaling.md)."""
    if os.environ.get("SUBMITIT_EXECUTOR") != "slurm" or "SLURM_JOB_ID" not in os.environ:
        return
    tasks = os.environ.get("SLURM_NTASKS", "1")
    if tasks.isdigit() and int(tasks) > 1 and forks_ranks(trainer_cfg):  # SLURM started one process per rank
        trainer_cfg.strategy = "ddp"  # each task is a rank (SLURMEnvironment): none forks more
    plugins = list(trainer_cfg.get("plugins") or [])
    from src.lightning_package import in_package

    environment = in_package(SLURM_ENVIRONMENT)
    if not any(isinstance(p, DictConfig) and p.get("_target_") == environment for p in plugins):
        trainer_cfg.plugins = [*plugins, {"_target_": environment, "auto_requeue": False}]
