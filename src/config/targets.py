"""Which classes a settings tree read from a file may name: only those this machine's own config names.

A checkpoint carries its run's settings as plain values (``run_config_tree``); eval.py rebuilds
the run from them with Hydra's ``instantiate``, which imports and calls whatever a ``_target_``
says. A file someone else wrote could name any importable function there. So each ``_target_``
in such a tree must be one that the config composed here (``conf/`` and the command line) names
in the same place: under the same top-level key (``model``, ``data``, ``module``, ``optimizer``).
A user's own module is allowed because their ``conf/model/mine.yaml`` names it. The same holds
for every other string that reads as an import path (``dataset: torchvision.datasets.CIFAR10``,
which a datamodule imports): it must be one the config here names under the same key. Strings that
OmegaConf would resolve (``${oc.env:SECRET}``) are refused too: a file's value stays a value.

The same set is what every ``instantiate`` may call (``allowing``): on Hydra 1.4 it is passed to Hydra as
its execution allowlist (``hydra.utils.execution_whitelist``), the library's own form of this rule; on
both lines ``check_allowed`` refuses, naming the key, a target outside it before anything is built.

Torch-free; ``conf/`` is read as plain YAML (no interpolation is resolved).
"""

import contextlib
import contextvars
import functools
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from src.config.compose import CONF_DIR
from src.config.errors import ConfigError

TARGET = "_target_"
GLOBAL_PACKAGE = "_global_"
IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")  # torchvision.datasets.CIFAR10, a.b


def targets_in(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every ``(key path, value)`` of a ``_target_`` in a nested tree of dicts and lists, and of every other
    string that reads as an import path."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == TARGET:
                yield (*path, TARGET), value
            else:
                yield from targets_in(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from targets_in(value, (*path, str(index)))
    elif isinstance(node, str) and IMPORT_PATH.fullmatch(node):
        yield path, node


def package_of(path: Path, conf_dir: Path) -> tuple[str, ...]:
    """Where a config file's keys land: its ``# @package`` line, else its group (``conf/data/x.yaml`` -> data)."""
    for line in path.read_text(errors="replace").splitlines()[:5]:
        if line.startswith("# @package"):
            package = line.split("@package", 1)[1].strip()
            return () if package == GLOBAL_PACKAGE else tuple(package.split("."))
    return path.parent.relative_to(conf_dir).parts


@functools.cache
def conf_targets(conf_dir: Path = CONF_DIR) -> dict[str, frozenset[str]]:
    """``{"model": {"src.networks.rnn.VanillaRNN", ...}, "data": {...}, ...}``: the classes each top-level
    key of any config file under ``conf_dir`` names (Hydra's own settings left out). Read once a process."""
    allowed: dict[str, set[str]] = {}
    for path in sorted(conf_dir.rglob("*.yaml")):
        if path.relative_to(conf_dir).parts[0] == "hydra":
            continue
        try:
            content = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):  # an unreadable file names nothing (composing it reports it)
            continue
        package = package_of(path, conf_dir)
        for where, target in targets_in(content):
            full = (*package, *where)
            if full and full[0] != "hydra" and isinstance(target, str):
                allowed.setdefault(full[0], set()).add(target)
    return {key: frozenset(targets) for key, targets in allowed.items()}


def allowed_targets(cfg: Any, conf_dirs: tuple[Path, ...] = (CONF_DIR,)) -> dict[str, set[str]]:
    """The classes each top-level key may name: ``conf_targets`` of each config folder (this project's, and
    a user's own: ``--config-dir``) plus those of the composed ``cfg`` (``module._target_=my.Module``)."""
    allowed: dict[str, set[str]] = {}
    for conf_dir in conf_dirs:
        for key, targets in conf_targets(conf_dir).items():
            allowed.setdefault(key, set()).update(targets)
    tree = OmegaConf.to_container(cfg, resolve=False) if OmegaConf.is_config(cfg) else cfg
    for where, target in targets_in({k: v for k, v in (tree or {}).items() if k != "hydra"}):
        if where and isinstance(target, str):
            allowed.setdefault(where[0], set()).add(target)
    return allowed


def interpolations_in(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every string of a nested tree that OmegaConf would resolve (``${...}``), with its key path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from interpolations_in(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from interpolations_in(value, (*path, str(index)))
    elif isinstance(node, str) and "${" in node:
        yield path, node


def check_tree(tree: dict[str, Any], allowed: dict[str, set[str]], source: str, key: str = "ckpt_path") -> None:
    """Refuse, naming ``key``, a settings tree read from ``source`` that names a class ``allowed`` does not
    hold in the same place, or holds a string OmegaConf would resolve."""
    for where, target in targets_in(tree):
        slot = where[0] if where else ""
        if not isinstance(target, str) or target not in allowed.get(slot, set()):
            name = ".".join(where)
            raise ConfigError(
                key,
                f"{source} names {name}={target!r}, which no config here names under {slot or 'its top level'}: "
                "refused, since building it would import and call code the file chose "
                "(add a config for that class under conf/ if you trust it)",
            )
    for where, value in interpolations_in(tree):
        raise ConfigError(
            key,
            f"{source} holds {'.'.join(where)}={value!r}, an interpolation: refused, since resolving it could read "
            "this machine's environment or files",
        )


ALLOWED: contextvars.ContextVar[frozenset[str] | None] = contextvars.ContextVar("allowed_targets", default=None)


def execution_allowlist(cfg: Any) -> frozenset[str]:
    """Every target an ``instantiate`` of this command may call: each ``_target_`` and import path the composed
    ``cfg`` names, its ``hydra`` node (the sweeper's sampler, a launcher) included, in either Lightning
    package's spelling (the run trains with one: ``src.lightning_package``), and what the project adds itself."""
    from src.lightning_package import SLURM_ENVIRONMENT, spellings

    tree = OmegaConf.to_container(cfg, resolve=False) if OmegaConf.is_config(cfg) else cfg
    named = [target for _, target in targets_in(tree or {}) if isinstance(target, str)]
    return frozenset(name for target in [*named, SLURM_ENVIRONMENT] for name in spellings(target))


@contextlib.contextmanager
def allowing(targets: Iterable[str], added: bool = False) -> Iterator[None]:
    """Within: ``check_allowed`` refuses any other target, and on Hydra 1.4 Hydra's own execution allowlist
    (``hydra.utils.execution_whitelist``) holds ``targets`` for every ``instantiate``, its plugins' included.
    ``added``: these beside the allowlist in force; else only these."""
    import hydra.utils

    targets = frozenset(targets) | (ALLOWED.get() or frozenset() if added else frozenset())
    token = ALLOWED.set(targets)
    hydras = getattr(hydra.utils, "execution_whitelist", None)  # Hydra 1.3 has none
    try:
        with hydras(sorted(targets), reset=True) if hydras else contextlib.nullcontext():
            yield
    finally:
        ALLOWED.reset(token)


def canonical(target: str) -> str | None:
    """Where the callable a target names is defined (``torch.nn.Linear`` -> ``torch.nn.modules.linear.Linear``),
    which Hydra 1.4's allowlist checks too; None where it cannot tell (building it will say why)."""
    from hydra.utils import get_object

    try:
        made = get_object(target)
        return f"{made.__module__}.{made.__qualname__}"
    except Exception:  # noqa: BLE001 - not importable, or an object with no such names
        return None


def check_allowed(key: str, target: Any) -> None:
    """Refuse, naming ``key``, a ``_target_`` outside the allowlist in force (none in force: no check)."""
    allowed = ALLOWED.get()
    if allowed is not None and isinstance(target, str) and target not in allowed:
        raise ConfigError(
            key,
            f"{target!r} is not a class the config here names: refused, since building it would import and call "
            "code no config chose (add a config for it under conf/ or your --config-dir if you trust it)",
        )
