"""Checkpoints that are safe to resume from: written atomically, carrying the config that made them.

A resume is refused when the checkpoint's run had other settings for what shapes the model, the
data or the optimizer (``RESUME_KEYS``): continuing such a run would silently train one
experiment on another's weights. ``ckpt_path=latest`` picks the newest ``last.ckpt`` whose run
matches this command's settings.
"""

import os
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning import Callback
from pytorch_lightning.plugins.io import TorchCheckpointIO
from typing_extensions import override

from src.utils.hparams import flatten
from src.utils.validation import ConfigError, first_line

RUN_ROOTS = ("outputs", "multirun")
CONFIG_KEY = "run_config"  # where a checkpoint carries its run's settings
RESUME_KEYS = ("seed", "model", "data", "optimizer", "module")  # what a resume must keep
# ... except where the data live and how they are held, which does not change what they are
RESUME_FREE = ("data.root", "data.download", "data.on_device", "data.source_dir")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file beside it, then renames it into place.

    A process killed during a save (``kill -9``, a node lost) leaves the previous checkpoint
    whole: ``os.replace`` within one folder is atomic. Lightning's own save goes through an
    fsspec transaction whose temporary file lives in the system temp folder, and a move across
    filesystems is a copy that can be cut short.
    """

    @override
    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
        try:
            with open(partial, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)


def resume_settings(cfg: DictConfig) -> dict[str, Any]:
    """The resolved settings a resume must keep, flattened: ``{"data.input_length": 7, ...}``."""
    resolved = {key: OmegaConf.select(cfg, key) for key in RESUME_KEYS}  # a group (a node) or a value (seed)
    settings = {
        k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v for k, v in resolved.items()
    }
    return {k: v for k, v in flatten(settings).items() if not k.startswith(RESUME_FREE)}


class RunConfigInCheckpoint(Callback):
    """Stores the run's ``resume_settings`` in every checkpoint it writes."""

    def __init__(self, cfg: DictConfig):
        self.settings = resume_settings(cfg)

    @override
    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        checkpoint[CONFIG_KEY] = self.settings


def checkpoint_settings(path: str | Path) -> dict[str, Any] | None:
    """The settings a checkpoint was written with (None for one written before they were stored)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the same problem for the user
        raise ConfigError("ckpt_path", f"{path} is not a readable checkpoint ({first_line(error)})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError("ckpt_path", f"{path} is not a Lightning checkpoint (it has no state_dict)")
    return checkpoint.get(CONFIG_KEY)


def differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``data.input_length (7 in the checkpoint, 5 now)`` for each setting that differs."""
    missing = object()
    keys = sorted(set(saved) | set(current))
    return [
        f"{key} ({saved.get(key, 'unset')!r} in the checkpoint, {current.get(key, 'unset')!r} now)"
        for key in keys
        if saved.get(key, missing) != current.get(key, missing)
    ]


def check_resumable(path: str | Path, cfg: DictConfig) -> None:
    """Refuse to resume ``path`` with settings other than those it was written with."""
    saved = checkpoint_settings(path)
    if not cfg.get("ckpt_strict", True):
        return
    if saved is None:
        raise ConfigError(
            "ckpt_path", f"{path} holds no run settings to check; add ckpt_strict=false to resume it anyway"
        )
    changed = differences(saved, resume_settings(cfg))
    if changed:
        raise ConfigError(
            "ckpt_path",
            f"{path} was written with other settings: {'; '.join(changed)}. Give the run's own overrides, "
            "or add ckpt_strict=false to continue anyway",
        )


def latest_checkpoint(root_dir: str | Path, cfg: DictConfig | None = None, exclude: str | Path | None = None) -> Path:
    """The newest ``checkpoints/last.ckpt`` under ``outputs/`` and ``multirun/`` (whose run matches ``cfg``)."""
    found = [
        path
        for run_root in RUN_ROOTS
        for path in (Path(root_dir) / run_root).glob("**/checkpoints/last.ckpt")
        if exclude is None or Path(exclude) not in path.parents
    ]
    if not found:
        raise ConfigError(
            "ckpt_path",
            f"is 'latest' but there is no checkpoints/last.ckpt under {', '.join(RUN_ROOTS)}/ in {root_dir}",
        )
    found.sort(key=lambda path: path.stat().st_mtime, reverse=True)
    if cfg is None or not cfg.get("ckpt_strict", True):
        return found[0]
    current = resume_settings(cfg)
    for path in found:
        try:
            saved = checkpoint_settings(path)
        except ConfigError:
            continue  # an unreadable file is no candidate
        if saved is not None and not differences(saved, current):
            return path
    raise ConfigError(
        "ckpt_path",
        f"is 'latest' but none of the {len(found)} last.ckpt under {', '.join(RUN_ROOTS)}/ was written with "
        "this command's model, data and optimizer settings; give a path, or ckpt_strict=false for the newest",
    )


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """``cfg.ckpt_path`` (None, a file, or ``latest``) -> the checkpoint to resume from, checked against ``cfg``."""
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is None:
        return None
    if str(ckpt_path) == "latest":
        return str(latest_checkpoint(cfg.paths.root_dir, cfg, exclude=cfg.paths.output_dir))
    if not isinstance(ckpt_path, str) or not Path(ckpt_path).is_file():
        raise ConfigError("ckpt_path", f"{ckpt_path} is not a file; give a checkpoint path or 'latest'")
    check_resumable(ckpt_path, cfg)
    return ckpt_path


def run_dir_of(ckpt_path: str | Path) -> Path | None:
    """The run folder a checkpoint was written by (``RUN/checkpoints/x.ckpt`` -> ``RUN``), if any."""
    parent = Path(ckpt_path).resolve().parent
    return parent.parent if parent.name == "checkpoints" else None
