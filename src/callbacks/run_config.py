"""Every checkpoint carries the settings of the run that wrote it (``src.records.settings``): a resume is
checked against them, and eval.py rebuilds the run from them.

Every checkpoint also holds plain data only, so torch's weights-only loader reads it: a module
that keeps its network and optimizer partial in ``save_hyperparameters()`` (the common template
shape), or a datamodule whose arguments are OmegaConf containers, would make Lightning pickle
those objects into ``hyper_parameters``, and every later load (the best checkpoint's test, a
resume, eval) would have to run code to read them. They are stored as the settings they were
built from instead (``net`` as the ``model`` group's, ``optimizer`` as the optimizer's).

A checkpoint being resumed is also cleaned of file paths outside the run's folder: a
``ModelCheckpoint``'s state names its best, k-th best and last files, and Lightning tests the best
one and deletes the ones it replaces. From a file someone else wrote (or a run copied from
elsewhere), such a path would make this run test another run's weights, or delete a file.
"""

import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from typing_extensions import override

from src.lightning_package import pl
from src.records.settings import TREE_KEY, settings_tree

log = logging.getLogger(__name__)
HPARAMS = (
    (pl.LightningModule.CHECKPOINT_HYPER_PARAMS_KEY, pl.LightningModule.CHECKPOINT_HYPER_PARAMS_TYPE),
    (pl.LightningDataModule.CHECKPOINT_HYPER_PARAMS_KEY, pl.LightningDataModule.CHECKPOINT_HYPER_PARAMS_TYPE),
)
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


def plain(value: Any, settings: Any = None) -> Any:
    """``value`` as plain data (numbers, text, tensors, lists, dicts); an object becomes ``settings``, the
    config it was built from, if known, else its class's name."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, dict):
        return {key: plain(item, (settings or {}).get(key) if isinstance(settings, dict) else None)
                for key, item in value.items()}  # fmt: skip
    if isinstance(value, (list, tuple)):
        return type(value)(plain(item) for item in value)
    return settings if settings is not None else f"<{type(value).__module__}.{type(value).__qualname__}>"


def plain_hyperparameters(checkpoint: dict[str, Any], tree: dict[str, Any]) -> None:
    """Make the module's and the datamodule's hyper_parameters in ``checkpoint`` plain data, in place."""
    module_settings = {"net": tree.get("model"), "optimizer": tree.get("optimizer"), **(tree.get("module") or {})}
    for (key, type_key), settings in zip(HPARAMS, (module_settings, tree.get("data") or {})):
        if key in checkpoint:
            checkpoint[key] = plain(dict(checkpoint[key]), settings)
        checkpoint.pop(type_key, None)  # the class of an OmegaConf container: plain dicts need none


class RunConfigInCheckpoint(pl.Callback):
    """Stores the run's settings tree (plain values only) in every checkpoint it writes; keeps a resumed
    checkpoint's file paths to the run's own folder."""

    def __init__(self, cfg: DictConfig):
        self.tree = settings_tree(cfg)
        self.run_dir = Path(cfg.paths.output_dir).resolve()

    @override
    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        checkpoint[TREE_KEY] = self.tree
        plain_hyperparameters(checkpoint, self.tree)

    @override
    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        """Called before the callbacks load their states: paths outside this run's folder are dropped."""
        for key, state in (checkpoint.get("callbacks") or {}).items():
            if str(key).startswith("ModelCheckpoint") and isinstance(state, dict):
                for path in keep_own_paths(state, self.run_dir):
                    log.warning("The checkpoint names %s, outside this run's folder: not used", path)
