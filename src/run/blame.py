"""Which key a constructor's refusal is about: the argument the failing code held, found in the traceback.

A refusal (a ``ValueError`` from deep inside a library) names no key. ``config_error`` turns it into one
``ConfigError``: this project's own constructors name their argument (prefixed with the group); any
other error is blamed on the argument of the node that a frame of the failing code held (``blame``),
never found by building again. A constructor that fails on its own account is named by its group.
"""

import inspect
from typing import Any

from hydra.utils import get_object
from omegaconf import OmegaConf
from omegaconf.errors import InterpolationKeyError

from src.config.errors import ConfigError, first_line, is_number, root_cause

# Advice added to a library's refusal of a key, where the library's own words do not say what to do
KEY_HINTS = {
    "trainer.accelerator": "use trainer=cpu, or trainer=default to use a GPU only when present",
    "trainer.devices": "this machine's devices: trainer.devices=1, or auto for all",
}
VALUE_ERRORS = (ValueError, TypeError, LookupError, AssertionError)  # what a constructor says of a value it refuses


def blame(node: Any, error: BaseException) -> tuple[str, Any] | None:
    """The argument of ``node`` the failing code held: from where ``error`` was raised outwards, the first
    frame holding one of the node's arguments, by name, with the value given. Where a frame holds several,
    one that differs from the constructor's default, then one the message names."""
    given = {k: v for k, v in OmegaConf.to_container(node, resolve=True).items() if not k.startswith("_")}
    try:
        defaults = {k: p.default for k, p in inspect.signature(get_object(node._target_)).parameters.items()}
    except Exception:  # noqa: BLE001 - no signature: every argument counts as given
        defaults = {}
    frames, traceback = [], error.__traceback__
    while traceback is not None:
        frames.append(traceback.tb_frame)
        traceback = traceback.tb_next
    for frame in reversed(frames):
        held = [k for k, v in given.items() if k in frame.f_locals and same(frame.f_locals[k], v)]
        if held:
            changed = [k for k in held if not same(defaults.get(k, inspect.Parameter.empty), given[k])] or held
            named = [k for k in changed if k.lower() in str(error).lower()]
            key = (named or changed)[0]
            return key, given[key]
    return None


def same(a: Any, b: Any) -> bool:
    """The same value (numbers by value, lists and tuples by items, OmegaConf's as plain ones; true is not 1)."""
    a, b = (OmegaConf.to_container(v) if OmegaConf.is_config(v) else v for v in (a, b))
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    try:
        return (type(a) is type(b) or (is_number(a) and is_number(b))) and bool(a == b)
    except Exception:  # noqa: BLE001 - values that do not compare (tensors): not the same
        return False


def config_error(group: str, node: Any, error: BaseException) -> ConfigError:
    """``error``, raised building ``group`` from ``node``, as one ConfigError naming the key."""
    cause = root_cause(error)
    if isinstance(cause, ConfigError):
        return cause.with_group(group)
    if isinstance(cause, InterpolationKeyError):
        key = str(cause).split("'")[1] if str(cause).count("'") >= 2 else str(cause)
        return ConfigError(
            group, f"needs {key}, which the chosen config does not define (this model does not take this data)"
        )
    name = str(node.get("_target_", "")).rsplit(".", 1)[-1] if OmegaConf.is_dict(node) else group
    judged = isinstance(cause, VALUE_ERRORS) or type(cause).__name__ == "MisconfigurationException"
    culprit = blame(node, cause) if judged and OmegaConf.is_dict(node) else None
    if culprit is None:  # the constructor failed on its own account (a download, a file): its error, its group
        return ConfigError(group, f"{name or 'building it'} failed: {type(cause).__name__}: {first_line(cause)}")
    key, value = f"{group}.{culprit[0]}", culprit[1]
    hint = f"; {KEY_HINTS[key]}" if key in KEY_HINTS else ""
    return ConfigError(key, f"{value!r} refused by {name}: {first_line(cause)}{hint}", full_key=True)
