"""``python train.py ARGS`` and ``python eval.py ARGS``: read once, check, claim, launch.

The command line is read and composed once (``src.app.command``) and checked (``src.app.preflight``).
A single run's job object is then set up (checked, resumed, built, its folder claimed) before Hydra's
job writes anything into that folder (``.hydra/``, the log file); a sweep's folder is claimed before
its first job, and each job sets itself up in its own folder. Process-wide settings are applied here,
where the process starts. A refusal is one line on stderr (``HYDRA_FULL_ERROR=1``: the traceback).
"""

import logging
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from src import private_api
from src.app.command import Command, read_command
from src.app.preflight import check_command
from src.config.compose import CONF_DIR
from src.config.errors import ConfigError, one_line
from src.config.targets import allowing, execution_allowlist
from src.records.status import command_words

log = logging.getLogger("train")
SWEEP_PLACEMENT = ("launcher", "hydra/launcher", "ckpt_path")  # what a job's command to run it again leaves out


@dataclass(frozen=True)
class Origin:
    """What a job knows of the command that started it: a sweep's job or a single run, the command line that
    runs it again, its task overrides, and the config folders it was composed from (conf/ and the user's)."""

    in_sweep: bool = False
    command: str = "python train.py"
    overrides: tuple[str, ...] = ()
    config_folders: tuple[Path, ...] = (CONF_DIR,)


def origin_of(hydra_cfg: DictConfig, script: str, in_sweep: bool) -> Origin:
    """The ``Origin`` of a job from Hydra's record of its command (``hydra.overrides``, its config sources).

    Its command keeps what composes it (``--config-dir``, ``hydra.searchpath``, the task overrides) and
    leaves out its ``ckpt_path`` (a stop adds the one that continues it) and what only places a sweep's jobs."""
    words = command_words(hydra_cfg, script, leave_out=SWEEP_PLACEMENT)
    folders = tuple(
        Path(s.path) for s in hydra_cfg.runtime.config_sources if s.schema == "file" and Path(s.path).is_dir()
    )
    return Origin(in_sweep, shlex.join(words), tuple(str(o) for o in hydra_cfg.overrides.task), folders)


def refuse(message: str, exit_code: int = 2) -> None:
    """End the process with ``message`` alone on stderr."""
    sys.stderr.write(f"{message}\n")
    sys.exit(exit_code)


def main(argv: list[str], config_name: str, job: Callable[[DictConfig, Origin], Any]) -> None:
    """Run the command line ``argv`` of ``python {config_name}.py``; ``job(cfg, origin)`` makes the object
    that runs (``setup``, then ``execute``; its ``folder``)."""
    full_error = os.environ.get("HYDRA_FULL_ERROR") == "1"
    try:
        command = read_command(argv, config_name)
        if command.cfg is None:
            private_api.print_only(command.args, command.parser, lambda cfg: None, command.conf_dir, config_name)
            return
        if config_name == "train" and command.cfg.get("reproduce") is not None:  # the run's own recorded command
            from src.app.reproduce import reproduce_command

            command = reproduce_command(command)
        with allowing(command.allowlist()):
            check_command(command)
            if command.multirun:
                launch_sweep(command, job)
            elif command.cfg.get("reproduce") is not None:
                reproduce(command, job)
            else:
                launch_one(command, job)
    except ConfigError as error:
        if full_error:
            raise
        refuse(str(error))
    except OSError as error:  # the disk refused a write mid-run
        from src.run.storage import storage_problem

        if full_error or (problem := storage_problem(error)) is None:
            raise
        refuse(problem, exit_code=1)
    except CompactHydraException as error:  # a run that stopped and said why (diverged, interrupted)
        if full_error:
            raise
        if (exit_code := getattr(error, "exit_code", None)) is None:
            refuse(str(error), exit_code=1)
        log.error("%s", error)  # saved and marked: end the process (and a serial sweep) here
        sys.exit(exit_code)


def task_config(cfg: DictConfig) -> DictConfig:
    """The config a job runs with: the composed one less its hydra node (as Hydra's job makes it)."""
    task = cfg.copy()
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task


def reproduce(command: Command, job: Callable[..., Any]) -> None:
    """Run a finished run again (``src.app.reproduce``): say what differs from the original first, compare every
    final metric with the original's after."""
    from src.app.reproduce import compare_results, differences, this_machine
    from src.records.provenance import read_provenance

    original = Path(str(command.cfg.reproduce))
    before = differences(read_provenance(original), this_machine(command.cfg))
    log.info("Reproducing %s: %s", original, "; ".join(before) or "the same commit, libraries, device and threads")
    folder = launch_one(command, job)
    for line in compare_results(original, folder, before):
        log.info("%s", line)


def launch_one(command: Command, job: Callable[..., Any]) -> Path:
    """Set the run up (nothing written before its folder is claimed), then run it as Hydra's job in that folder."""
    from src.lightning_package import choose, package_of
    from src.process import configure_process

    cfg = command.cfg
    task = task_config(cfg)
    if problem := choose(package_of(OmegaConf.select(task, "module._target_"))):  # before Lightning is imported
        raise ConfigError("module._target_", problem)
    configure_process(**task.process)
    run = job(task, origin_of(cfg.hydra, f"{command.config_name}.py", in_sweep=False))
    run.setup()
    with read_write(cfg.hydra), open_dict(cfg.hydra):  # a resume writes into the folder its checkpoint came from
        cfg.hydra.run.dir = cfg.hydra.runtime.output_dir = str(run.folder)
    done = private_api.run_one(command.app, cfg, command.config_name, lambda _: run.execute())
    if done.status.name == "FAILED":
        raise private_api.job_error(done)
    return run.folder


def launch_sweep(command: Command, job: Callable[..., Any]) -> None:
    """Claim the sweep's folder, then let Hydra's sweeper and launcher run its jobs (``sweep_job`` each)."""
    from submitit.core.utils import FailedJobError

    from src.lightning_package import choose, package_of
    from src.run.folder import release_folder
    from src.sweeps.folder import claim_sweep_folder, withdraw_sweep
    from src.sweeps.search import is_search, prepare_search

    folder = Path(command.cfg.hydra.sweep.dir)
    if problem := choose(package_of(OmegaConf.select(command.cfg, "module._target_"))):  # the workers inherit it
        raise ConfigError("module._target_", problem)
    created = claim_sweep_folder(folder, command.cfg)
    settings = {"n_trials": prepare_search(command.cfg)} if is_search(command.cfg) else {}  # what is left of it
    if settings.get("n_trials") == 0:
        log.info("The search in %s has all its n_trials: nothing to run (raise hydra.sweeper.n_trials)", folder)
        release_folder(folder)
        return

    def sweep_job(cfg: DictConfig) -> Any:  # in the job's process: a worker, a cluster node, or this one
        return run_sweep_job(cfg, job)

    try:
        private_api.sweep(command.app, command.cfg, command.config_name, sweep_job, settings)
    except FailedJobError as error:  # sbatch refused the job array: no job ran, nothing of the sweep stays
        withdraw_sweep(folder, created)
        said = [line.strip() for line in str(error).splitlines() if "error" in line.lower()] or [one_line(error)]
        raise ConfigError(
            "launcher",
            f"SLURM refused the sweep's jobs ({said[-1]}); check hydra.launcher.partition, account, qos and the "
            "resources asked (gpus_per_node, cpus_per_task, mem_gb, timeout_min) against sinfo",
        ) from None


def run_sweep_job(cfg: DictConfig, job: Callable[..., Any]) -> Any:
    """One job of a sweep, in the folder Hydra made for it: its share of the machine, its process settings,
    set up and executed; a failure before it runs marks its folder FAILED."""
    from src.callbacks.safety import RunInterrupted
    from src.process import configure_process
    from src.records.status import FAILED_MARKER, mark
    from src.sweeps.placement import job_share

    hydra = HydraConfig.get()
    folder = Path(hydra.runtime.output_dir)
    # what this job's own config names (a sweep over model=a,b composes each job's from the command line)
    with (
        allowing(execution_allowlist(cfg)),
        job_share(hydra.launcher.get("n_jobs"), hydra.sweep.dir, folder, cfg.trainer),
    ):
        try:
            configure_process(**cfg.process)
            run = job(cfg, origin_of(hydra, f"{hydra.job.config_name}.py", in_sweep=True))
            run.setup()
        except Exception as error:
            mark(folder, FAILED_MARKER, one_line(error))
            raise
        try:
            return run.execute()
        except RunInterrupted as error:
            if "SUBMITIT_EXECUTOR" in os.environ:  # a cluster job's outcome goes back to its launcher
                raise
            log.error("%s", error)  # saved and marked: end the process (and a serial sweep) here
            sys.exit(error.exit_code)
