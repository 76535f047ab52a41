"""One training run, in one folder, as four steps: ``setup``, ``fit``, ``test``, ``finish``.

``setup`` checks the config, finds what it resumes (and so the folder it writes), builds every
object and claims that folder, in this order: a refused run has written nothing. ``execute`` then
fits, tests the best checkpoint and finishes: the folder's ``COMPLETED`` holds the value a sweeper
optimizes, and a failure marks it ``FAILED`` (a signal's stop marks ``INTERRUPTED`` itself).
"""

import logging
import os
import shlex
import time
from pathlib import Path

from omegaconf import DictConfig

from src.callbacks.hparams import LogHyperparameters
from src.callbacks.run_config import inside
from src.callbacks.safety import GracefulInterrupt, RunInterrupted, TimeLimit, stopped_ranks
from src.capabilities import CountsTestConfusion, DeclaresLoggedMetrics, KeepsSplits, NamesClasses, offers
from src.config.errors import ConfigError, one_line
from src.lightning_package import is_overridden
from src.metric_tags import STEP_TAGS
from src.records.boundary import write_boundary
from src.records.confusion import write_confusion
from src.records.status import COMPLETED_MARKER, FAILED_MARKER, mark
from src.run.build import RunParts, build_run, check_config
from src.run.folder import claim_run_folder, release_folder
from src.run.resume import check_time_left, check_weights_fit, find_resume, read_checkpoint
from src.signals import forked_ranks_stop_together
from src.trainer.devices import first_process

log = logging.getLogger("train")


class Run:
    """A training run of ``cfg`` in ``cfg.paths.output_dir`` (or, resumed, in its checkpoint's folder).

    ``in_sweep``: a job of a sweep, whose folder its sweep claimed and identified. ``command``: the
    command line that runs it again, which a stop prints with the ``ckpt_path`` that continues it.
    """

    def __init__(self, cfg: DictConfig, in_sweep: bool = False, command: str = "python train.py", extra_callbacks=()):
        self.cfg, self.in_sweep, self.command, self.extra_callbacks = cfg, in_sweep, command, list(extra_callbacks)
        self.folder = Path(os.path.abspath(str(cfg.paths.output_dir)))
        self.ckpt_path: str | None = None
        self.completed: str | None = None
        self.parts: RunParts | None = None
        self.lock = None  # the folder's lock, held from the claim to the end of ``execute``

    def setup(self) -> None:
        """Check, resume, build, claim: before this returns, nothing is written."""
        cfg = self.cfg
        check_config(cfg)
        if cfg.get("ckpt_path") is None and requeued_by_the_cluster():  # go on from the save at the signal
            log.info("Requeued by SLURM: resuming this job's own last.ckpt (ckpt_path=auto)")
            cfg.ckpt_path = "auto"
        resume = find_resume(cfg, self.folder, self.in_sweep)
        self.ckpt_path, self.folder, self.completed = resume.ckpt_path, resume.folder, resume.completed
        cfg.paths.output_dir = str(self.folder)
        if self.completed is not None:  # ckpt_path=auto on a run completed with these settings: not redone
            return
        stops = [GracefulInterrupt(self.folder, self.command), TimeLimit(self.folder, self.command)]
        self.parts = build_run(cfg, extra_callbacks=[*stops, *self.extra_callbacks], checked=True)
        if self.ckpt_path:
            check_weights_fit(self.parts.module, self.ckpt_path)
            check_time_left(cfg.trainer.get("max_time"), self.ckpt_path)
        own_run = self.in_sweep or self.ckpt_path is not None
        if first_process():  # the other ranks of a run started one process a rank write into the first's folder
            self.lock = claim_run_folder(self.folder, overwrite=bool(cfg.overwrite), own_run=own_run)

    def execute(self) -> float | None:
        """Fit, test and finish; the value a sweeper optimizes."""
        if self.completed is not None:
            log.info("%s completed earlier (result %s): not run again", self.folder, self.completed)
            return None if self.completed == "None" else float(self.completed)
        try:
            self.fit()
            metrics = self.test()
            return self.finish(metrics)
        except Exception as error:
            if not isinstance(error, RunInterrupted):  # an interrupt marks the folder itself
                mark(self.folder, FAILED_MARKER, one_line(error))
            raise
        finally:
            release_folder(self.folder)

    def fit(self) -> None:
        from torch.multiprocessing import ProcessExitedException, ProcessRaisedException

        trainer, parts = self.parts.trainer, self.parts
        if self.ckpt_path:
            log.info("Resuming from %s, writing to %s", self.ckpt_path, self.folder)
        started = time.time()
        try:
            with forked_ranks_stop_together(self.cfg.trainer):
                trainer.fit(parts.module, datamodule=parts.datamodule, ckpt_path=self.ckpt_path)
        except (ProcessRaisedException, ProcessExitedException):  # a forked rank ended: on a signal, it said so
            if (stop := stopped_ranks(self.folder, started)) is not None:
                raise stop from None
            raise

    def test(self) -> dict[str, float]:
        """Test the best checkpoint (``test_ckpt``), where the run tests at all; every metric of the run."""
        trainer, parts = self.parts.trainer, self.parts
        metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
        if not self.cfg.test_after_fit:
            return metrics
        if not (is_overridden("test_step", parts.module) and has_test_data(parts)):
            log.info("No test after training: %s has no test_step (or no test data)", type(parts.module).__name__)
            return metrics
        best = self.best_checkpoint() if self.cfg.test_ckpt == "best" else ""
        if self.cfg.test_ckpt == "best" and not best and self.cfg.monitor.metric is not None:
            log.warning("No best checkpoint was saved (no validation ran): testing the final weights")
        trainer.test(parts.module, datamodule=parts.datamodule, ckpt_path=best or None, verbose=False)
        metrics.update({name: float(value) for name, value in trainer.callback_metrics.items()})
        if trainer.is_global_zero:  # what the report draws: a confusion matrix, a decision boundary
            module, data = parts.module, parts.datamodule
            counted = offers(module, CountsTestConfusion) and module.test_confusion_matrix is not None
            if counted and offers(data, NamesClasses):
                write_confusion(self.folder, module.test_confusion_matrix.tolist(), list(data.class_names))
            boundary = write_boundary(self.folder, module, data) if offers(data, KeepsSplits) else None
            if not counted and boundary is None and not offers(module, DeclaresLoggedMetrics):
                log.info("No figure of what the network learned: see docs/bring-your-own.md for what draws one")
        return metrics

    def best_checkpoint(self) -> str:
        """The best checkpoint by the monitored metric, if it is a readable file of this run's folder ('' if not).

        A resumed checkpoint carries the path its run stored; one copied from elsewhere can name another
        run's file (``src.callbacks.run_config`` drops such paths on loading; this is the last guard)."""
        ranked = [c for c in self.parts.trainer.checkpoint_callbacks if getattr(c, "monitor", None)]
        best = ranked[0].best_model_path if ranked else ""
        if not best:
            return ""
        if not inside(best, self.folder.resolve()) or not Path(best).is_file():
            log.warning("The best checkpoint %s is not a file of this run's folder: testing the final weights", best)
            return ""
        try:
            read_checkpoint(best)  # weights-only, as the test will read it
        except ConfigError as error:
            log.warning("The best checkpoint cannot be read (%s): testing the final weights", error.problem)
            return ""
        return best

    def finish(self, metrics: dict[str, float]) -> float | None:
        """Say what the run gave and where; mark the folder COMPLETED with the value a sweeper optimizes."""
        final = {k: v for k, v in sorted(metrics.items()) if k not in STEP_TAGS}
        log.info("Final metrics: %s", ", ".join(f"{k}={v:.4f}" for k, v in final.items()))
        log.info("Logs and checkpoints: %s", self.folder)
        log.info("View them with: tensorboard --logdir %s", shlex.quote(str(self.folder)))
        for callback in self.parts.trainer.callbacks:
            if isinstance(callback, LogHyperparameters):  # the HPARAMS table: what the module logged, as columns
                callback.declare_columns(self.parts.trainer, metrics)
        result = self.sweeper_value(metrics)
        mark(self.folder, COMPLETED_MARKER, str(result))
        return result

    def sweeper_value(self, metrics: dict[str, float]) -> float | None:
        """``optimized_metric`` if set; else the best ``monitor.metric`` the run reached (its best checkpoint's
        score), or its last value where no best checkpoint was kept."""
        cfg = self.cfg
        if cfg.get("optimized_metric") is not None:
            return metrics.get(cfg.optimized_metric)
        for callback in self.parts.trainer.checkpoint_callbacks:
            if getattr(callback, "monitor", None) == cfg.monitor.metric and callback.best_model_score is not None:
                return float(callback.best_model_score)
        return metrics.get(cfg.monitor.metric)


def has_test_data(parts: RunParts) -> bool:
    """Whether the datamodule (or the module) gives a test dataloader."""
    return is_overridden("test_dataloader", parts.datamodule) or is_overridden("test_dataloader", parts.module)


def requeued_by_the_cluster() -> bool:
    """Whether SLURM started this job again (a time limit or a preemption requeued it)."""
    restarts = os.environ.get("SLURM_RESTART_COUNT", "0")
    return restarts.isdigit() and int(restarts) > 0
