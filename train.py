"""Train and test one model: compose the config, instantiate, fit, test the best checkpoint.

python train.py                              # vanilla RNN on palindromes (the default job)
python train.py model=rnn optimizer=adam optimizer.lr=3e-4
python train.py -m data.input_length=range(3,20)
python train.py --help                       # groups, options and the composed config
"""

import errno
import logging
import os
import shlex
import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

import src.config.resolvers  # noqa: F401  (registers ${if:...} and ${pid:} before Hydra composes)
from src.config.command_line import exit_on_bad_command_line, refuse
from src.config.errors import ConfigError

# torch and Lightning are imported inside train() and main(): a rejected command line, and the
# launching process of a parallel or cluster sweep (which only hands jobs out), never load them.

log = logging.getLogger("train")
# what the machine's storage refuses mid-run: no space, no quota, no permission, read-only
STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def storage_problem(error: OSError) -> str:
    """``no space left on device writing PATH``: an OSError of the storage, in one line for the user."""
    what = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}.get(
        error.errno, "not allowed to write"
    )
    path = error.filename or "the run's folder"
    return f"{what} writing {path}; free space there or give the run another folder (hydra.run.dir=...)"


def requeued_by_the_cluster() -> bool:
    """Whether SLURM started this job again (a time limit or a preemption requeued it)."""
    restarts = os.environ.get("SLURM_RESTART_COUNT", "0")
    return restarts.isdigit() and int(restarts) > 0


def in_a_cluster_job() -> bool:
    """Whether this process is a job submitit started (on SLURM, or its local executor)."""
    return "SUBMITIT_EXECUTOR" in os.environ


def resume_command() -> str:
    """``python train.py OVERRIDES``: this run's command line, without its ckpt_path, as a single run.

    A sweep's job leaves out what only a sweep takes (``launcher=``, ``hparams_search=``): the job's
    own values are in its overrides, and the command resumes that one job."""
    from src.config.command_line import SWEEP_ONLY

    try:
        task = HydraConfig.get().overrides.task
    except ValueError:  # not launched by Hydra (a test composing the config): no command line to repeat
        task = []
    overrides = [o for o in task if o.split("=", 1)[0].lstrip("~+") not in (*SWEEP_ONLY, "ckpt_path")]
    return shlex.join(["python", "train.py", *overrides])


def best_checkpoint(trainer, run_dir: str | Path) -> str:
    """The path of the best checkpoint by the monitored metric, if it is a file inside ``run_dir`` ('' if not).

    A resumed checkpoint carries the path its run stored; one copied from elsewhere can name another
    run's file (``src.callbacks.run_config`` drops such paths on loading; this is the last guard)."""
    ranked = [c for c in trainer.checkpoint_callbacks if getattr(c, "monitor", None)]
    best = ranked[0].best_model_path if ranked else ""
    if not best:
        return ""
    from src.callbacks.run_config import inside
    from src.run.resume import read_checkpoint

    path = Path(best).resolve()
    if not inside(best, Path(run_dir).resolve()) or not path.is_file():
        log.warning("The best checkpoint %s is not a file of this run's folder: testing the final weights", best)
        return ""
    try:
        read_checkpoint(path)  # weights-only, as the test will read it
    except ConfigError as error:
        log.warning("The best checkpoint cannot be read (%s): testing the final weights", error.problem)
        return ""
    return best


def train(cfg: DictConfig) -> float | None:
    """Fit and test as ``cfg`` says; return what a sweeper optimizes (``sweeper_value``).

    Every setting is checked, and a resumed checkpoint compared with this config, before
    anything is written into a run folder.
    """
    from src.config.errors import one_line
    from src.process import configure_process
    from src.run.folder import lock_run_folder
    from src.run.resume import completed_earlier, resolve_ckpt_path, run_dir_of
    from src.run.status import COMPLETED_MARKER, FAILED_MARKER, mark

    # this process is the run's own: the process-wide settings of conf/train.yaml's process: node
    configure_process(**cfg.process)
    if cfg.get("ckpt_path") is None and requeued_by_the_cluster():  # go on from the save at the signal
        log.info("Requeued by SLURM: resuming this job's own last.ckpt (ckpt_path=auto)")
        cfg.ckpt_path = "auto"
    if (done := completed_earlier(cfg)) is not None:  # ckpt_path=auto: a completed run is not redone
        log.info("%s completed earlier (result %s): not run again", cfg.paths.output_dir, done)
        return None if done == "None" else float(done)
    ckpt_path = resolve_ckpt_path(cfg)
    resumed_dir = run_dir_of(ckpt_path) if ckpt_path else None
    if resumed_dir is not None:  # a resumed run goes on in its own folder: one TensorBoard run, its
        lock_run_folder(resumed_dir, "ckpt_path")  # best checkpoint known, and no second resume at once
        cfg.paths.output_dir = str(resumed_dir)
    try:
        result = fit_and_test(cfg, ckpt_path)
    except Exception as error:
        from src.callbacks.safety import RunInterrupted  # an interrupt marks the folder itself

        if resumed_dir is not None and not isinstance(error, (RunInterrupted, ConfigError)):  # refused: untouched
            mark(resumed_dir, FAILED_MARKER, one_line(error))
        raise
    # the run's folder says how it ended (a resumed run's: the folder it continued, not Hydra's new one)
    mark(cfg.paths.output_dir, COMPLETED_MARKER, str(result))
    return result


def fit_and_test(cfg: DictConfig, ckpt_path: str | None) -> float | None:
    """Build the run, fit it (from ``ckpt_path`` if given), test it, log where its outputs are."""
    from torch.multiprocessing import ProcessExitedException, ProcessRaisedException

    from src.build import build_run
    from src.callbacks.safety import GracefulInterrupt, TimeLimit, check_time_left, stopped_ranks
    from src.metric_tags import STEP_TAGS
    from src.run.boundary import write_boundary
    from src.run.confusion import write_confusion
    from src.run.resume import check_weights_fit
    from src.trainer.devices import forked_ranks_stop_together

    command = resume_command()
    stops = [GracefulInterrupt(cfg.paths.output_dir, command), TimeLimit(cfg.paths.output_dir, command)]
    run = build_run(cfg, extra_callbacks=stops)
    trainer = run.trainer
    if ckpt_path:
        if not cfg.ckpt_strict:  # settings unchecked, so the weights may be another network's: refused here
            check_weights_fit(run.module, ckpt_path)
        check_time_left(cfg.trainer.get("max_time"), ckpt_path)
        log.info("Resuming from %s, writing to %s", ckpt_path, cfg.paths.output_dir)
    started = time.time()
    try:
        with forked_ranks_stop_together(cfg.trainer):
            trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=ckpt_path)
    except (ProcessRaisedException, ProcessExitedException):  # a forked rank ended: on a signal, it said so
        if (stop := stopped_ranks(cfg.paths.output_dir, started)) is not None:
            raise stop from None
        raise
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    if cfg.test_after_fit:
        best = best_checkpoint(trainer, cfg.paths.output_dir)
        test_ckpt = best if cfg.test_ckpt == "best" and best else None  # None: the weights in hand
        if cfg.test_ckpt == "best" and not best:
            log.warning("No best checkpoint was saved (no validation ran): testing the final weights")
        trainer.test(run.module, datamodule=run.datamodule, ckpt_path=test_ckpt, verbose=False)
        metrics.update({name: float(value) for name, value in trainer.callback_metrics.items()})
        names, matrix = getattr(run.datamodule, "class_names", None), getattr(run.module, "test_confusion_matrix", None)
        if names and matrix is not None and trainer.is_global_zero:  # an image run: the report draws it
            write_confusion(cfg.paths.output_dir, matrix.tolist(), list(names))
        boundary = write_boundary(cfg.paths.output_dir, run.module, run.datamodule) if trainer.is_global_zero else None
        if matrix is None and boundary is None and not hasattr(run.module, "logged_metrics"):  # a user's own module
            log.info("No figure of what the network learned: see docs/bring-your-own.md for what draws one")
    output_dir = Path(cfg.paths.output_dir)
    final = {k: v for k, v in sorted(metrics.items()) if k not in STEP_TAGS}
    log.info("Final metrics: %s", ", ".join(f"{k}={v:.4f}" for k, v in final.items()))
    log.info("Logs and checkpoints: %s", output_dir)
    log.info("View them with: tensorboard --logdir %s", shlex.quote(str(output_dir)))
    return sweeper_value(cfg, trainer, metrics)


def sweeper_value(cfg: DictConfig, trainer, metrics: dict[str, float]) -> float | None:
    """``optimized_metric`` if set; else the best ``monitor.metric`` the run reached (its best checkpoint's
    score), or its last value where no best checkpoint was kept."""
    if cfg.get("optimized_metric") is not None:
        return metrics.get(cfg.optimized_metric)
    for callback in trainer.checkpoint_callbacks:
        if getattr(callback, "monitor", None) == cfg.monitor.metric and callback.best_model_score is not None:
            return float(callback.best_model_score)
    return metrics.get(cfg.monitor.metric)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from src.sweeps.placement import job_share

    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    n_jobs = hydra_cfg.launcher.get("n_jobs") if multirun else None
    try:
        with job_share(n_jobs, hydra_cfg.sweep.dir, hydra_cfg.runtime.output_dir, cfg.trainer):
            return train(cfg)
    except (ConfigError, OSError) as error:  # the settings or the disk: one line, without Hydra's frame
        storage = isinstance(error, OSError) and error.errno in STORAGE_ERRORS
        if multirun or not (storage or isinstance(error, ConfigError)) or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise  # a sweep marks the job FAILED and goes on; HYDRA_FULL_ERROR asks for the traceback
        if not storage:  # the folder Hydra made for this run says it was refused, and why (the report shows it)
            from src.run.status import mark_refused

            mark_refused(hydra_cfg.runtime.output_dir, error, "training")
        refuse(storage_problem(error) if storage else str(error), exit_code=1 if storage else 2)
    except Exception as error:
        safety = sys.modules.get("src.callbacks.safety")  # loaded if training started; a bad value fails earlier
        if safety is None or not isinstance(error, safety.RunInterrupted) or in_a_cluster_job():
            raise  # a cluster job's outcome goes back to its launcher, which reports it in one line
        log.error("%s", error)  # saved and marked: end the process (and a serial sweep) here
        sys.exit(error.exit_code)


def claim_output_folder_or_exit():
    """The folder a run or a sweep names (``hydra.run.dir``, ``hydra.sweep.dir``), locked before Hydra
    writes into it; one line if it cannot be."""
    from src.run.folder import claim_run_folder
    from src.sweeps.folder import claim_sweep_folder

    try:
        return claim_run_folder(sys.argv[1:], Path.cwd()) or claim_sweep_folder(sys.argv[1:], Path.cwd())
    except ConfigError as error:
        refuse(str(error))


if __name__ == "__main__":
    exit_on_bad_command_line()  # before Hydra composes: no torch, well under a second
    output_folder_lock = claim_output_folder_or_exit()  # held while the run or the sweep goes on
    main()
