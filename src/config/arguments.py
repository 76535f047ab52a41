"""What a LightningModule's constructor takes, so that any module gets only its own arguments.

``conf/train.yaml``'s ``module:`` node holds the settings this project's ``Classifier`` takes
(``compile``, ``scheduler``, ``label_smoothing``, ...), and every model config merges onto it. A
module of a user's own (``module._target_: my.Module``) takes other arguments: it gets those of
the node its constructor names, plus ``net`` (the ``model`` group, built) and ``optimizer`` (the
``optimizer`` group, a partial) when it takes them and its own config does not give them. A
project default it does not take is left out silently; any other key it does not take is refused
naming that key. A constructor with ``**kwargs`` takes every key.
"""

import copy
import inspect
import logging
from pathlib import Path
from typing import Any

import yaml
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf, open_dict

from src.config.compose import CONF_DIR
from src.config.errors import ConfigError, first_line

log = logging.getLogger("src.build")
INJECTED = ("net", "optimizer")  # what the builder gives a module that takes them: the model, the optimizer


def project_module_defaults(conf_dir: Path = CONF_DIR) -> dict[str, Any]:
    """The ``module:`` settings of ``conf/train.yaml`` (read as plain YAML), less its ``_target_``."""
    node = (yaml.safe_load((conf_dir / "train.yaml").read_text()) or {}).get("module") or {}
    return {key: value for key, value in node.items() if not key.startswith("_")}


def constructor_arguments(target: str, key: str = "module._target_") -> tuple[set[str], bool]:
    """The keyword arguments ``target``'s constructor names, and whether it also takes any (``**kwargs``)."""
    try:
        cls = get_class(target)
        parameters = inspect.signature(cls).parameters.values()
    except Exception as error:  # noqa: BLE001 - not importable, not a class, no signature: the value is the problem
        raise ConfigError(key, f"{target!r} is not a class this project can build ({first_line(error)})") from None
    names = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return names, any(p.kind == p.VAR_KEYWORD for p in parameters)


def module_arguments(cfg: DictConfig) -> tuple[DictConfig, bool, bool]:
    """``cfg.module`` less the keys its class does not take (a copy, whose interpolations still reach the
    rest of the config), and whether to give it ``net`` and ``optimizer``."""
    module = cfg.module
    target = str(module.get("_target_"))
    names, takes_any = constructor_arguments(target)
    defaults = project_module_defaults()
    own = OmegaConf.to_container(module, resolve=False)
    dropped = []
    for key, value in own.items():
        if key.startswith("_") or key in names or takes_any:
            continue
        if key in defaults and value == defaults[key]:
            dropped.append(key)  # this project's default for its own Classifier: not this module's business
            continue
        accepted = ", ".join(sorted(names - set(INJECTED))) or "no settings"
        raise ConfigError(
            f"module.{key}", f"{target.rsplit('.', 1)[-1]} takes no argument {key!r}; it takes: {accepted}", True
        )
    root = copy.deepcopy(cfg)
    with open_dict(root):
        for key in dropped:
            del root.module[key]
    return root.module, "net" in names and "net" not in own, "optimizer" in names and "optimizer" not in own


def say_unused_groups(cfg: DictConfig, module_cfg: DictConfig, wants_net: bool, wants_optimizer: bool) -> None:
    """One info line for a group the chosen module does not use (it builds its own network or optimizer)."""
    name = str(module_cfg.get("_target_")).rsplit(".", 1)[-1]
    if not wants_net and cfg.get("model") is not None and "net" not in module_cfg:
        log.info("model: %s takes no net, so the model group is not used (model=null says so)", name)
    if not wants_optimizer and cfg.get("optimizer") is not None and "optimizer" not in module_cfg:
        log.info("optimizer: %s takes no optimizer partial, so the optimizer group is not used", name)
