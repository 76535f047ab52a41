"""Every checkpoint carries the settings of the run that wrote it, so a resume can be checked; the
same settings are written as text beside the checkpoints, where ``ckpt_path=latest`` reads them."""

from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from pytorch_lightning import Callback
from typing_extensions import override

from src.run.settings import CONFIG_KEY, TREE_KEY, resume_settings, settings_tree, write_settings


class RunConfigInCheckpoint(Callback):
    """Stores the run's ``resume_settings`` (plain values only) in every checkpoint it writes, flat and as
    a tree, and in ``checkpoints/run_settings.json`` when fitting starts."""

    def __init__(self, cfg: DictConfig):
        self.settings, self.tree = resume_settings(cfg), settings_tree(cfg)

    @override
    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero and not trainer.fast_dev_run:  # fast_dev_run writes no checkpoints
            write_settings(Path(trainer.default_root_dir) / "checkpoints", self.settings)

    @override
    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        checkpoint[CONFIG_KEY] = self.settings
        checkpoint[TREE_KEY] = self.tree
