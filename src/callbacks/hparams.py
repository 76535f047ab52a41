"""Record the whole composed config as each run's hyperparameters (TensorBoard's HPARAMS tab), with the
metrics the module logged as its columns."""

from omegaconf import DictConfig, OmegaConf
from torch.utils.tensorboard.summary import hparams
from torch.utils.tensorboard.writer import FileWriter
from typing_extensions import override

from src.callbacks.provenance import Provenance
from src.lightning_package import pl
from src.records.provenance import hparams_of
from src.records.settings import flatten


class LogHyperparameters(pl.Callback):
    """Logs the run's config when fitting starts, from global rank 0 only; ``declare_columns`` adds
    TensorBoard's HPARAMS table, whose columns are the metrics the module logged, once the run has them.

    At fit start, not when the run is built: with a DDP strategy that forks or spawns its ranks,
    the logger's event writer must first be opened in the process that trains (a writer opened
    before a fork loses its background thread), and off rank 0 there is no writer at all.
    """

    def __init__(self, cfg: DictConfig, provenance: Provenance | None = None):
        self.params = OmegaConf.to_container(cfg, resolve=True)
        self.params.pop("paths", None)
        self.logged: dict | None = None  # the hyperparameters as logged, for the HPARAMS table
        self.provenance = provenance

    @override
    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            params = apart_from_lightnings(dict(self.params), pl_module, trainer.datamodule)
            if self.provenance is not None:  # what produced the run, in columns beside its settings
                params["provenance"] = hparams_of(self.provenance.record_for(trainer))
            for logger in trainer.loggers:
                logger.log_hyperparams(params)
            self.logged = params

    def declare_columns(self, trainer, logged) -> None:
        """TensorBoard's HPARAMS table for this run: its hyperparameters, and as columns every metric the module
        ``logged`` (per epoch: not the ``_step`` series), read from the scalars of those tags."""
        if not trainer.is_global_zero or self.logged is None:
            return
        names = sorted(name for name in logged if not name.endswith("_step"))
        declare_columns(trainer.loggers, self.logged, tuple(names))


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


def declare_columns(loggers: list[pl.loggers.Logger], params: dict, columns: tuple[str, ...]) -> None:
    """TensorBoard's HPARAMS table: ``params`` flat, and ``columns``, the metric tags its values are read from."""
    flat = flatten(params)
    for logger in loggers:
        if isinstance(
            logger, pl.loggers.TensorBoardLogger
        ):  # an event file of its own beside the run's, which it reads too
            writer = FileWriter(logger.log_dir)
            # the HPARAMS columns; TensorBoard reads their values from the scalars of these tags
            for summary in hparams(flat, {name: 0.0 for name in columns}):
                writer.add_summary(summary)
            writer.close()
