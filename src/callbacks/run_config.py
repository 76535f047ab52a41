"""Every checkpoint carries the settings of the run that wrote it, so a resume can be checked."""

from typing import Any

from omegaconf import DictConfig
from pytorch_lightning import Callback
from typing_extensions import override

from src.run.settings import CONFIG_KEY, resume_settings


class RunConfigInCheckpoint(Callback):
    """Stores the run's ``resume_settings`` (plain values only) in every checkpoint it writes."""

    def __init__(self, cfg: DictConfig):
        self.settings = resume_settings(cfg)

    @override
    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        checkpoint[CONFIG_KEY] = self.settings
