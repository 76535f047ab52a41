"""Record the whole composed config as each run's hyperparameters (TensorBoard's HPARAMS tab)."""

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning import Callback
from pytorch_lightning.loggers import Logger, TensorBoardLogger
from torch.utils.tensorboard.summary import hparams
from typing_extensions import override

from src.callbacks.provenance import Provenance
from src.metric_tags import RESULT_TAGS
from src.records.provenance import hparams_of
from src.records.settings import flatten


class LogHyperparameters(Callback):
    """Logs the run's config when fitting starts, from global rank 0 only.

    At fit start, not when the run is built: with a DDP strategy that forks or spawns its ranks,
    the logger's event writer must first be opened in the process that trains (a writer opened
    before a fork loses its background thread), and off rank 0 there is no writer at all.
    """

    def __init__(self, cfg: DictConfig, provenance: Provenance | None = None):
        self.params = OmegaConf.to_container(cfg, resolve=True)
        self.params.pop("paths", None)
        self.columns = tuple(dict.fromkeys([*RESULT_TAGS, cfg.monitor.metric]))  # the monitored metric too
        self.provenance = provenance

    @override
    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            params = apart_from_lightnings(dict(self.params), pl_module, trainer.datamodule)
            if self.provenance is not None:  # what produced the run, in columns beside its settings
                params["provenance"] = hparams_of(self.provenance.record_for(trainer))
            log_hyperparameters(trainer.loggers, params, self.columns)


def apart_from_lightnings(params: dict, *objects) -> dict:
    """``params`` with each top-level key that a module's or datamodule's own hyperparameters also hold, with
    another value, moved under ``config``: Lightning logs those hyperparameters itself (``save_hyperparameters``),
    and MLflow refuses a parameter logged twice with two values (a datamodule's own ``seed``, say)."""
    theirs: dict = {}
    for obj in objects:
        theirs.update(dict(getattr(obj, "hparams", None) or {}))
    clashing = [key for key in params if key in theirs and theirs[key] != params[key]]
    if clashing:
        moved = {key: params[key] for key in clashing}
        params = {k: v for k, v in params.items() if k not in clashing}
        params["config"] = moved
    return params


def log_hyperparameters(loggers: list[Logger], params: dict, columns: tuple[str, ...] = RESULT_TAGS) -> None:
    """Give every logger the resolved config (hydra excluded); TensorBoard also gets HPARAMS."""
    flat = flatten(params)
    for logger in loggers:
        logger.log_hyperparams(params)
        if isinstance(logger, TensorBoardLogger):
            writer = logger.experiment.file_writer  # the run's own event file (public attribute)
            # the HPARAMS columns; TensorBoard reads their values from the scalars of these tags
            for summary in hparams(flat, {name: 0.0 for name in columns}):
                writer.add_summary(summary)
