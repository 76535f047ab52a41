"""Resuming a run: which checkpoint ``ckpt_path`` means, which folder the run then writes, and whether this
config may continue it, decided by the run's own record: the settings stored inside its checkpoint.

A resume is refused when the checkpoint's run had other settings for what shapes the model, the
data or the optimizer (``RESUME_KEYS``): continuing it would silently train one experiment on
another's weights. ``ckpt_path=latest`` picks the newest ``last.ckpt`` whose stored settings match
this command's. ``ckpt_path=auto`` continues the run folder's own ``last.ckpt`` (how a stopped sweep
goes on), returns the stored result of a run completed there with these settings, or starts a new
run in an empty folder; a folder holding a run it cannot identify (no checkpoint) is refused, except
a sweep job's, which its sweep's record identifies. A resumed run writes into the folder its
checkpoint came from, never into another run's. Checkpoints are read with ``weights_only=True``.
"""

import logging
import math
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from src.config.errors import ConfigError, first_line
from src.records.settings import TREE_KEY, differences, flat_settings, is_plain_tree, resume_settings
from src.records.status import completed_result
from src.run.folder import holds_anything, is_run_folder

log = logging.getLogger(__name__)
RUN_ROOTS = ("outputs", "multirun")
AUTO, LATEST = "auto", "latest"


@dataclass
class Resume:
    """What a run resumes from (``ckpt_path``), the folder it writes, and a completed run's stored result."""

    ckpt_path: str | None
    folder: Path
    completed: str | None = None  # ckpt_path=auto on a run completed with these settings: its result; nothing runs


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
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise ConfigError("ckpt_path", f"{path} is not a Lightning checkpoint (it has no state_dict)")
    return checkpoint


def checkpoint_settings(path: str | Path) -> dict[str, Any] | None:
    """The settings a checkpoint was written with, flat (None for one that stores none); refused if they are
    not this project's record (a tree of text keys and plain values)."""
    tree = read_checkpoint(path).get(TREE_KEY)
    if tree is not None and not (isinstance(tree, dict) and is_plain_tree(tree)):
        raise ConfigError(
            "ckpt_path", f"{path} holds run settings that are not this project's (text keys, plain values)"
        )
    return None if tree is None else flat_settings(tree)


def changed_settings(path: str | Path, cfg: DictConfig) -> list[str]:
    """How this config's settings differ from those stored inside ``path`` (none with ``ckpt_strict=false``);
    refused if it stores none."""
    saved = checkpoint_settings(path)
    if not cfg.get("ckpt_strict", True):
        return []
    if saved is None:
        raise ConfigError(
            "ckpt_path", f"{path} holds no run settings to check; add ckpt_strict=false to resume it anyway"
        )
    return differences(saved, resume_settings(cfg))


def check_resumable(path: str | Path, cfg: DictConfig) -> None:
    """Refuse to resume ``path`` with settings other than those stored inside it."""
    if changed := changed_settings(path, cfg):
        raise ConfigError(
            "ckpt_path",
            f"{path} was written with other settings: {'; '.join(changed)}. Give the run's own overrides, "
            "or add ckpt_strict=false to continue anyway",
        )


def stored_result(folder: Path) -> str | None:
    """A completed run's stored result (``'None'`` for none); refused if ``COMPLETED`` holds no number."""
    result = completed_result(folder)
    if result is None or result == "None":
        return result
    try:
        number = float(result)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ConfigError("ckpt_path", f"is 'auto' but {folder / 'COMPLETED'} holds {result!r}, not a result")
    return result


def auto(cfg: DictConfig, folder: Path, in_sweep: bool) -> Resume:
    """``ckpt_path=auto``: the folder's own run, identified by its checkpoint's record."""
    last = folder / "checkpoints" / "last.ckpt"
    if last.is_file():
        done = stored_result(folder)
        if done is not None and (changed := changed_settings(last, cfg)):
            raise ConfigError(
                "ckpt_path", f"is 'auto' but {folder} holds a run completed with other settings: {'; '.join(changed)}"
            )
        check_resumable(last, cfg)
        return Resume(None, folder, done) if done is not None else Resume(str(last), folder)
    if in_sweep:  # its sweep's record (the same overrides, src/sweeps/folder.py) says which job this folder is
        return Resume(None, folder, stored_result(folder))
    if holds_anything(folder):
        raise ConfigError(
            "ckpt_path",
            f"is 'auto' but {folder} holds a run with no checkpoint to tell which run it is: nothing was touched; "
            "give another folder (hydra.run.dir=...), or overwrite=true to empty it",
        )
    return Resume(None, folder)


def latest_checkpoint(root_dir: str | Path, cfg: DictConfig | None = None, exclude: str | Path | None = None) -> Path:
    """The newest ``checkpoints/last.ckpt`` under ``outputs/`` and ``multirun/`` whose stored settings match
    ``cfg`` (any, for no ``cfg``); a file that cannot be read weights-only is passed over, never unpickled."""
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
    for path in found:
        try:
            check_resumable(path, cfg)
        except ConfigError as refused:
            if "other settings" not in refused.problem:
                log.warning("ckpt_path=latest passes over %s", refused.problem)
            continue
        return path
    raise ConfigError(
        "ckpt_path",
        f"is 'latest' but none of the {len(found)} last.ckpt under {', '.join(RUN_ROOTS)}/ was written with "
        "this command's model, data and optimizer settings; give a path, or ckpt_strict=false for the newest",
    )


def run_dir_of(ckpt_path: str | Path) -> Path | None:
    """The run folder a checkpoint was written by (``RUN/checkpoints/x.ckpt`` -> ``RUN``), if it is one."""
    parent = Path(ckpt_path).absolute().parent
    return parent.parent if parent.name == "checkpoints" and is_run_folder(parent.parent) else None


def find_resume(cfg: DictConfig, folder: Path, in_sweep: bool = False) -> Resume:
    """``cfg.ckpt_path`` (None, a file, ``latest``, ``auto``) -> what to resume, and where the run writes."""
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is None:
        return Resume(None, folder)
    if ckpt_path == AUTO:
        return auto(cfg, folder, in_sweep)
    if ckpt_path == LATEST:
        path = latest_checkpoint(cfg.paths.root_dir, cfg, exclude=folder)
        checkpoint_settings(path)  # read weights-only, as any checkpoint (ckpt_strict=false skips the match)
    else:
        path = Path(ckpt_path)
        if not path.is_file():
            raise ConfigError("ckpt_path", f"{ckpt_path} is not a file; give a checkpoint path or 'latest'")
        check_resumable(path, cfg)
    own = run_dir_of(path)
    if own is not None and own != folder and holds_anything(folder) and not in_sweep:
        raise ConfigError(
            "hydra.run.dir",
            f"{folder} holds files, and ckpt_path continues the run in {own}: nothing was touched; "
            "leave hydra.run.dir out to go on in the checkpoint's own folder",
        )
    return Resume(str(path), own or folder)


def check_weights_fit(module: torch.nn.Module, path: str | Path) -> None:
    """Load a checkpoint's weights into ``module`` (strictly; Lightning loads them again when fitting
    starts): weights of another network, or weights that are not finite, are refused here in one line."""
    checkpoint = read_checkpoint(path)
    try:
        module.load_state_dict(checkpoint["state_dict"], strict=True)
    except RuntimeError as error:  # torch lists every missing, unexpected or mis-shaped tensor
        details = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
        raise ConfigError(
            "ckpt_path", f"{path}: its weights do not fit this network ({details[0] if details else first_line(error)})"
        ) from None
    for name, tensor in module.named_parameters():  # the weights (a metric's state may well be -inf)
        if not torch.isfinite(tensor).all():
            raise ConfigError("ckpt_path", f"{path}: weight {name} is not finite (nan or inf): its run diverged")


def check_time_left(max_time, ckpt_path: str | Path) -> None:
    """Refuse to resume, with the same ``trainer.max_time``, a run that already used all of it: it would
    stop before its first step and report the old results as new ones."""
    if max_time is None:
        return
    from src.lightning_package import pl

    probe = pl.callbacks.Timer(
        duration=max_time
    )  # Lightning reads the duration (DD:HH:MM:SS, a dict, ...) as the run will
    state = read_checkpoint(ckpt_path).get("callbacks", {})
    if probe.state_key not in state:
        return
    probe.load_state_dict(state[probe.state_key])
    if probe.time_remaining("train") <= 0:
        raise ConfigError(
            "trainer.max_time",
            f"is {max_time}, and {ckpt_path} has already trained for {probe.time_elapsed('train'):.0f} s of it; "
            "give a larger trainer.max_time to train it further",
        )
