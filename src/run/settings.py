"""A run's settings as flat ``key: value`` pairs: what checkpoints carry and a resume must keep."""

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

CONFIG_KEY = "run_config"  # where a checkpoint carries its run's settings, flat: what a resume compares
TREE_KEY = "run_config_tree"  # the same settings as nested plain values: what eval.py rebuilds the run from
SETTINGS_FILE = "run_settings.json"  # the same settings as text, beside the checkpoints: what `latest` reads
RESUME_KEYS = ("seed", "model", "data", "optimizer", "module")  # what a resume must keep
# ... except where the data live and how they are held, which does not change what they are
RESUME_FREE = ("data.root", "data.download", "data.on_device", "data.source_dir", "module.channels_last")


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


def settings_tree(cfg: DictConfig) -> dict[str, Any]:
    """The resolved ``RESUME_KEYS`` as nested plain containers: ``{"seed": 42, "model": {...}, ...}``."""
    tree = {key: OmegaConf.select(cfg, key) for key in RESUME_KEYS}
    return {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v for k, v in tree.items()}


def resume_settings(cfg: DictConfig) -> dict[str, Any]:
    """The resolved settings a resume must keep, flattened: ``{"data.input_length": 7, ...}``."""
    return {k: v for k, v in flatten(settings_tree(cfg)).items() if not k.startswith(RESUME_FREE)}


def differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``data.input_length (7 in the checkpoint, 5 now)`` for each setting that differs."""
    missing = object()
    keys = sorted(set(saved) | set(current))
    return [
        f"{key} ({saved.get(key, 'unset')!r} in the checkpoint, {current.get(key, 'unset')!r} now)"
        for key in keys
        if saved.get(key, missing) != current.get(key, missing)
    ]


def write_settings(checkpoint_dir: str | Path, settings: dict[str, Any]) -> Path:
    path = Path(checkpoint_dir) / SETTINGS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=1, sort_keys=True) + "\n")
    return path


def read_settings(checkpoint_dir: str | Path) -> dict[str, Any] | None:
    """The settings file beside a run's checkpoints (None if there is none, or it is not one)."""
    try:
        settings = json.loads((Path(checkpoint_dir) / SETTINGS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return settings if isinstance(settings, dict) else None
