"""Optuna pruning inside the jobs of a Hydra Optuna search: stop a hopeless trial early.

Hydra's Optuna sweeper asks Optuna for a trial's parameters, runs the job, and tells Optuna its
result; the job itself never sees its trial, so Optuna's pruners (which judge a trial by its
intermediate values against other trials' at the same step) have nothing to judge. This
callback finds the job's trial in the study's storage (the RUNNING trial whose parameters are
the job's overrides), reports ``monitor`` to it after every validation, and asks the study's
pruner (any ``optuna.pruners`` class, from the config) whether to go on. When the pruner says
stop, training stops after that validation; the job then tests and returns its result like
any other (its best so far, which Optuna records as the trial's value), and marks its folder
``PRUNED`` with the epoch and the reason, which ``summary.tsv`` and the report show.
Optuna's own Lightning integration raises ``TrialPruned`` from inside the Trainer, which this
sweeper would record as a failed trial, and it needs the trial object that a Hydra job lacks.
"""

import logging
from pathlib import Path

import optuna
from optuna.trial import TrialState

from src.lightning_package import pl
from src.private_api import optuna_trial
from src.records.status import PRUNED_MARKER, mark

log = logging.getLogger(__name__)


def same_value(stored, given: str) -> bool:
    """Whether a stored trial parameter is the value a job override gives (``"0.001"``, ``"adam"``)."""
    if str(stored) == given:
        return True
    try:
        return float(stored) == float(given)
    except (TypeError, ValueError):
        return False


def job_assignments(overrides: list[str], searched: list[str]) -> dict[str, str]:
    """The values this job's overrides give the searched keys: ``{"optimizer.lr": "0.001", ...}``."""
    pairs = (override.split("=", 1) for override in overrides if "=" in override)
    return {key.lstrip("+~"): value for key, value in pairs if key.lstrip("+~") in searched}


def find_trial(study: optuna.Study, assignments: dict[str, str]) -> optuna.trial.FrozenTrial | None:
    """The running trial whose parameters are ``assignments``; the first by number if several are
    (identical parameters make identical runs, so either one's intermediate values are the same)."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in sorted(running, key=lambda t: t.number):
        if set(trial.params) == set(assignments) and all(
            same_value(trial.params[k], v) for k, v in assignments.items()
        ):
            return trial
    return None


class OptunaPruning(pl.Callback):
    """Report ``monitor`` to this job's Optuna trial after each validation; stop when the pruner says so."""

    def __init__(
        self,
        storage: str,
        study_name: str,
        searched: list[str],
        overrides: list[str],
        pruner: optuna.pruners.BasePruner,
        monitor: str = "val/acc",
        run_dir: str | None = None,
    ):
        self.storage, self.study_name, self.pruner, self.monitor = storage, study_name, pruner, monitor
        self.assignments = job_assignments(list(overrides), list(searched))
        self.run_dir = Path(run_dir) if run_dir else None
        self.trial: optuna.Trial | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_rank != 0:
            return
        study = optuna.load_study(study_name=self.study_name, storage=self.storage, pruner=self.pruner)
        frozen = find_trial(study, self.assignments)
        if frozen is None:  # run outside its search (a resume, a copied command): nothing to report to
            log.warning("no running Optuna trial of study %r has this job's parameters: not pruning", self.study_name)
            return
        self.trial = optuna_trial(self.storage, study, frozen.number)
        log.info("Optuna trial %d of study %r; pruner %s", frozen.number, self.study_name, type(self.pruner).__name__)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        stop = self.judge(trainer) if trainer.global_rank == 0 else False
        if trainer.world_size > 1:  # every rank stops after the same validation, or DDP hangs
            stop = trainer.strategy.broadcast(stop, src=0)
        if stop:
            trainer.should_stop = True

    def judge(self, trainer: pl.Trainer) -> bool:
        """Report this validation to the trial; whether the pruner says to stop (then marked in the run folder)."""
        if self.trial is None or self.monitor not in trainer.callback_metrics:
            return False
        value, epoch = float(trainer.callback_metrics[self.monitor]), trainer.current_epoch
        self.trial.report(value, step=epoch)
        if not self.trial.should_prune():
            return False
        reason = f"pruned at epoch {epoch}: {self.monitor} {value:.4f}, judged by {type(self.pruner).__name__}"
        log.info("Optuna %s", reason)
        self.trial.set_user_attr("pruned_at_epoch", epoch)
        if self.run_dir is not None:
            mark(self.run_dir, PRUNED_MARKER, reason)
        return True
