"""Record the whole composed config as each run's hyperparameters (TensorBoard's HPARAMS tab)."""

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import Logger, TensorBoardLogger
from torch.utils.tensorboard.summary import hparams

from src.metrics import RESULT_TAGS
from src.utils.internals import tensorboard_file_writer


def flatten(cfg: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and None become strings TensorBoard accepts."""
    flat = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return flat


def log_hyperparameters(loggers: list[Logger], cfg: DictConfig) -> None:
    """Give every logger the resolved config (hydra excluded); TensorBoard also gets HPARAMS."""
    params = OmegaConf.to_container(cfg, resolve=True)
    params.pop("paths", None)
    flat = flatten(params)
    for logger in loggers:
        logger.log_hyperparams(params)
        if isinstance(logger, TensorBoardLogger):
            writer = tensorboard_file_writer(logger)
            # the HPARAMS columns; TensorBoard reads their values from the scalars of these tags
            for summary in hparams(flat, {name: 0.0 for name in RESULT_TAGS}):
                writer.add_summary(summary)
