"""Every checkpoint carries the settings of the run that wrote it, so a resume can be checked; the
same settings are written as text beside the checkpoints, where ``ckpt_path=latest`` reads them.

A checkpoint being resumed is also cleaned of file paths outside the run's folder: a
``ModelCheckpoint``'s state names its best, k-th best and last files, and Lightning tests the best
one and deletes the ones it replaces. From a file someone else wrote (or a run copied from
elsewhere), such a path would make this run test another run's weights, or delete a file.
"""

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from pytorch_lightning import Callback
from typing_extensions import override

from src.run.settings import CONFIG_KEY, TREE_KEY, resume_settings, settings_tree, write_settings

log = logging.getLogger(__name__)
PATH_KEYS = ("best_model_path", "kth_best_model_path", "last_model_path")


def inside(path: Any, folder: Path) -> bool:
    """Whether ``path`` names a file inside ``folder`` once ``..`` and links are resolved."""
    return isinstance(path, str) and bool(path) and folder in Path(path).resolve().parents


def keep_own_paths(state: dict[str, Any], folder: Path) -> list[str]:
    """Blank the paths of a ModelCheckpoint ``state`` that lie outside ``folder``; the paths dropped."""
    dropped = [state[key] for key in PATH_KEYS if state.get(key) and not inside(state[key], folder)]
    for key in PATH_KEYS:
        if state.get(key) and not inside(state[key], folder):
            state[key] = ""
    best_k = state.get("best_k_models")
    if isinstance(best_k, dict):
        dropped += [path for path in best_k if not inside(path, folder)]
        state["best_k_models"] = {path: score for path, score in best_k.items() if inside(path, folder)}
    return dropped


class RunConfigInCheckpoint(Callback):
    """Stores the run's ``resume_settings`` (plain values only) in every checkpoint it writes, flat and as
    a tree, and in ``checkpoints/run_settings.json`` when fitting starts; keeps a resumed checkpoint's
    file paths to the run's own folder."""

    def __init__(self, cfg: DictConfig):
        self.settings, self.tree = resume_settings(cfg), settings_tree(cfg)
        self.run_dir = Path(cfg.paths.output_dir).resolve()

    @override
    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero and not trainer.fast_dev_run:  # fast_dev_run writes no checkpoints
            write_settings(Path(trainer.default_root_dir) / "checkpoints", self.settings)

    @override
    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        checkpoint[CONFIG_KEY] = self.settings
        checkpoint[TREE_KEY] = self.tree

    @override
    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        """Called before the callbacks load their states: paths outside this run's folder are dropped."""
        for key, state in (checkpoint.get("callbacks") or {}).items():
            if str(key).startswith("ModelCheckpoint") and isinstance(state, dict):
                for path in keep_own_paths(state, self.run_dir):
                    log.warning("The checkpoint names %s, outside this run's folder: not used", path)
