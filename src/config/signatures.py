"""Every ``_target_`` of the config judged by its constructor's own signature, before anything is built.

For each node with a ``_target_`` (the Trainer, the module, the datamodule, the network, the
optimizer, each callback and logger, a scheduler, a profiler ...): its keys are bound to the
signature (a key it does not take is named, with what it takes), and each value's kind is held
against the type hints (text where they take no text, true/false where they take a number, a
number where they take text ...). Hints that name other classes (an object the library builds
from a value) are not second-guessed. The project's own classes check their arguments in their
constructors, ranges included, so only their keys are bound here. One line, naming the key.
"""

import inspect
import types
import typing
from collections.abc import Iterator
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationKeyError

from src.config.errors import ConfigError, first_line

INJECTED = {"module": ("net", "optimizer")}  # what the builder gives the module (src/run/build.py)
KIND_WORDS = {type(None): "null", bool: "true or false", int: "an integer", float: "a number", str: "text",
              list: "a list", dict: "a mapping"}  # fmt: skip


def target_nodes(node: Any, path: str = "") -> Iterator[tuple[str, dict]]:
    """Every ``(key path, node)`` with a ``_target_`` in a resolved config, outermost first."""
    if isinstance(node, dict):
        if isinstance(node.get("_target_"), str):
            yield path, node
        for key, value in node.items():
            yield from target_nodes(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from target_nodes(value, f"{path}.{index}")


def kinds(annotation: Any) -> list[type] | None:
    """The plain value types an annotation admits, in its order; None where it admits something else (a class)."""
    if annotation in KIND_WORDS or annotation is tuple:
        return [list if annotation is tuple else annotation] + ([int] if annotation is float else [])
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return list(dict.fromkeys(type(value) for value in typing.get_args(annotation)))
    if origin in (typing.Union, types.UnionType):
        parts = [kinds(arg) for arg in typing.get_args(annotation)]
        return None if any(part is None for part in parts) else list(dict.fromkeys(k for p in parts for k in p))
    if origin in (list, tuple, set):
        return [list]
    return [dict] if origin is dict else None


def words(allowed: list[type]) -> str:
    return " or ".join(dict.fromkeys(KIND_WORDS[kind] for kind in allowed if kind is not int or float not in allowed))


def check_kind(key: str, name: str, value: Any, annotation: Any) -> None:
    """Refuse ``value`` when the annotation admits only plain values of other kinds."""
    allowed = kinds(annotation)
    if allowed is None or type(value) in allowed or (isinstance(value, dict) and "_target_" in value):
        return
    if isinstance(value, str) and (number := text_number(value)) is not None and type(number) in allowed:
        raise ConfigError(key, f"must be {words(allowed)}, not the text {value!r}; give it without quotes")
    raise ConfigError(key, f"{value!r} refused by {name}: must be {words(allowed)}")


def text_number(text: str) -> int | float | None:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return None


def check_node(path: str, node: dict) -> None:
    """Bind a node's keys to its target's signature; judge their kinds by its hints (not for this project's)."""
    target = node["_target_"]
    try:
        made = get_object(target)
        signature = inspect.signature(made)
    except Exception as error:  # noqa: BLE001 - not importable, or nothing with a signature
        raise ConfigError(f"{path}._target_", f"{target!r} cannot be built: {first_line(error)}") from None
    name = target.rsplit(".", 1)[-1]
    given = {k: v for k, v in node.items() if not str(k).startswith("_")}
    parameters = signature.parameters
    if not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        takes = [p for p, v in parameters.items() if v.kind in (v.POSITIONAL_OR_KEYWORD, v.KEYWORD_ONLY)]
        for key in given:
            if key not in takes:
                raise ConfigError(f"{path}.{key}", f"{name} takes no argument {key!r}; it takes: {', '.join(takes)}")
    required = [
        p for p, v in parameters.items() if v.default is v.empty and v.kind in (v.POSITIONAL_OR_KEYWORD, v.KEYWORD_ONLY)
    ]
    missing = [p for p in required if p not in given and p not in INJECTED.get(path, ())]
    if missing and not node.get("_partial_") and "_args_" not in node:
        raise ConfigError(
            path, f"{name} needs {missing[0]!r}, which the config does not give ({path}.{missing[0]}=...)"
        )
    if target.startswith("src."):
        return
    try:
        hints = typing.get_type_hints(made.__init__ if inspect.isclass(made) else made)
    except Exception:  # noqa: BLE001 - hints that do not evaluate (a forward reference): nothing to judge by
        return
    for key, value in given.items():
        if key in hints:
            check_kind(f"{path}.{key}", name, value, hints[key])


def check_signatures(cfg: DictConfig) -> None:
    """Refuse the first key of any ``_target_`` node that its constructor's signature or hints rule out."""
    try:
        tree = {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
                for k, v in cfg.items() if k != "hydra"}  # fmt: skip
    except InterpolationKeyError as error:  # a key another group should define: this pairing of groups
        group = str(error.full_key).split(".", 1)[0]
        missing = str(error).split("'")[1] if str(error).count("'") >= 2 else str(error)
        raise ConfigError(
            group, f"needs {missing}, which the chosen config does not define (this model does not take this data)"
        ) from None
    for path, node in target_nodes(tree):
        check_node(path, node)


def takes(target: str, name: str) -> bool:
    """Whether the constructor ``target`` names has a parameter ``name`` (False where it cannot be looked up)."""
    try:
        parameters = inspect.signature(get_object(target)).parameters
    except Exception:  # noqa: BLE001 - check_signatures has named any target that cannot be built
        return False
    return name in parameters
