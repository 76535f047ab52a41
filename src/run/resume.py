"""Resuming a run: which checkpoint ``ckpt_path`` means, and whether this config may continue it.

A resume is refused when the checkpoint's run had other settings for what shapes the model, the
data or the optimizer (``RESUME_KEYS``): continuing such a run would silently train one
experiment on another's weights. ``ckpt_path=latest`` picks the newest ``last.ckpt`` whose run
matches this command's settings. ``ckpt_path=auto`` continues the run's own folder: its
``last.ckpt`` if it has one, else a fresh start (how an interrupted sweep goes on).
Checkpoints are read with ``weights_only=True``: a file that
needs anything but tensors and plain containers is refused, never unpickled.
"""

import pickle
import re
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from src.config.errors import ConfigError, first_line
from src.run.settings import CONFIG_KEY, differences, read_settings, resume_settings
from src.run.status import completed_result

RUN_ROOTS = ("outputs", "multirun")
AUTO = "auto"  # ckpt_path=auto: this run folder's own last.ckpt if there is one, else start afresh


def completed_earlier(cfg: DictConfig) -> str | None:
    """With ``ckpt_path=auto``: the result this run folder's run stored when it completed (None if it did
    not), refused like a resume if that run had other settings."""
    if cfg.get("ckpt_path") != AUTO or (result := completed_result(cfg.paths.output_dir)) is None:
        return None
    saved = read_settings(Path(cfg.paths.output_dir) / "checkpoints")
    changed = differences(saved, resume_settings(cfg)) if saved is not None else []
    if changed and cfg.get("ckpt_strict", True):
        raise ConfigError(
            "ckpt_path",
            f"is 'auto' but {cfg.paths.output_dir} holds a run completed with other settings: {'; '.join(changed)}",
        )
    return result


def own_last_checkpoint(cfg: DictConfig) -> Path | None:
    """The ``last.ckpt`` in this run's own folder (``paths.output_dir``), if an earlier run of it left one."""
    path = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    return path if path.is_file() else None


def unsafe_reason(error: pickle.UnpicklingError) -> str:
    """Why torch's weights-only loader refused a file, in one line (its own message advises unsafe loading)."""
    found = re.search(r"Unsupported (?:global|operand)[^\n]*", str(error))
    what = f" ({found.group(0).strip()})" if found else ""
    return (
        f"holds Python objects other than tensors and plain values{what}: refused, since loading it could "
        "run code; this project's checkpoints never need that"
    )


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint, read weights-only (memory-mapped); anything else is a ConfigError naming ckpt_path."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as error:  # torch's weights-only unpickler met something else
        raise ConfigError("ckpt_path", f"{path} {unsafe_reason(error)}") from None
    except Exception as error:  # noqa: BLE001 - any unreadable file is the same problem for the user
        raise ConfigError("ckpt_path", f"{path} is not a readable checkpoint ({first_line(error)})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError("ckpt_path", f"{path} is not a Lightning checkpoint (it has no state_dict)")
    return checkpoint


def checkpoint_settings(path: str | Path) -> dict[str, Any] | None:
    """The settings a checkpoint was written with (None for one written before they were stored)."""
    return read_checkpoint(path).get(CONFIG_KEY)


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
    for path in found:  # decided from each run's settings file: no checkpoint is opened to choose
        saved = read_settings(path.parent)
        if saved is not None and not differences(saved, current):
            return path
    raise ConfigError(
        "ckpt_path",
        f"is 'latest' but none of the {len(found)} last.ckpt under {', '.join(RUN_ROOTS)}/ was written with "
        "this command's model, data and optimizer settings; give a path, or ckpt_strict=false for the newest",
    )


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """``cfg.ckpt_path`` (None, a file, ``latest``, ``auto``) -> the checkpoint to resume from, checked against cfg."""
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is None:
        return None
    if str(ckpt_path) == AUTO:
        own = own_last_checkpoint(cfg)
        if own is None:
            return None
        check_resumable(own, cfg)
        return str(own)
    if str(ckpt_path) == "latest":
        ckpt_path = str(latest_checkpoint(cfg.paths.root_dir, cfg, exclude=cfg.paths.output_dir))
        checkpoint_settings(ckpt_path)  # read weights-only, as any checkpoint: a planted file is refused here
        return ckpt_path
    if not isinstance(ckpt_path, str) or not Path(ckpt_path).is_file():
        raise ConfigError("ckpt_path", f"{ckpt_path} is not a file; give a checkpoint path or 'latest'")
    check_resumable(ckpt_path, cfg)
    return ckpt_path


def run_dir_of(ckpt_path: str | Path) -> Path | None:
    """The run folder a checkpoint was written by (``RUN/checkpoints/x.ckpt`` -> ``RUN``), if any."""
    parent = Path(ckpt_path).resolve().parent
    return parent.parent if parent.name == "checkpoints" else None


def check_weights_fit(module: torch.nn.Module, path: str | Path) -> None:
    """Load a checkpoint's weights into ``module`` (strictly; Lightning loads them again when fitting
    starts), so that weights of another network are refused here, in one line, before training."""
    checkpoint = read_checkpoint(path)
    try:
        module.load_state_dict(checkpoint["state_dict"], strict=True)
    except RuntimeError as error:  # torch lists every missing, unexpected or mis-shaped tensor
        details = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
        raise ConfigError(
            "ckpt_path", f"{path}: its weights do not fit this network ({details[0] if details else first_line(error)})"
        ) from None
