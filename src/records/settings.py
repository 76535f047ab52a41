"""A run's settings: what every checkpoint carries (once, as a tree of plain values), what a resume must keep
(compared flat: ``data.input_length``), and what eval.py rebuilds the run from."""

from typing import Any

from omegaconf import DictConfig, OmegaConf

TREE_KEY = "run_config_tree"  # where a checkpoint carries its run's settings, as nested plain values
PLAIN = (bool, int, float, str, type(None))
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
    return flat_settings(settings_tree(cfg))


def flat_settings(tree: dict[str, Any]) -> dict[str, Any]:
    """A settings tree (``settings_tree``, or a checkpoint's) as the flat pairs a resume compares."""
    return {k: v for k, v in flatten(tree).items() if not k.startswith(RESUME_FREE)}


def is_plain_tree(tree: Any) -> bool:
    """Whether ``tree`` is what this project stores: dicts with text keys, lists, and plain values."""
    if isinstance(tree, dict):
        return all(isinstance(k, str) and is_plain_tree(v) for k, v in tree.items())
    if isinstance(tree, list):
        return all(is_plain_tree(v) for v in tree)
    return isinstance(tree, PLAIN)


def differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``data.input_length (7 in the checkpoint, 5 now)`` for each setting that differs."""
    missing = object()
    keys = sorted(set(saved) | set(current))
    return [
        f"{key} ({saved.get(key, 'unset')!r} in the checkpoint, {current.get(key, 'unset')!r} now)"
        for key in keys
        if saved.get(key, missing) != current.get(key, missing)
    ]
