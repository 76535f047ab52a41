"""Build a run from its config: the one place train.py, eval, the benchmarks and the tests get theirs.

A value is judged by building the real object that takes it (the optimizer, the datamodule, the
network, the callbacks, the Trainer), in this order and before any data is loaded or anything is
written. Whatever the constructor raises becomes one ``ConfigError`` naming the key: a component's
own ``ConfigError`` names its argument, and any other error is traced to the first key whose value,
added to those before it, makes the constructor fail (``blame``). No list of allowed values is
copied from a library here; the few checks that remain (src/config/checks.py) are those of this
project's own meaning, or of a mistake Lightning would only report mid-run.
"""

import importlib.util
import logging
import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationKeyError

from src.callbacks.hparams import LogHyperparameters
from src.callbacks.monitor import MonitorLogged
from src.callbacks.provenance import Provenance
from src.callbacks.run_config import RunConfigInCheckpoint
from src.callbacks.threads import RankThreads
from src.config.arguments import module_arguments, say_unused_groups
from src.config.checks import check_monitors, check_settings
from src.config.errors import ConfigError, first_line, is_number, root_cause
from src.config.trainer_checks import (
    check_room_for_outputs,
    check_tracking_uri,
    check_trainer_types,
    check_validation_fits_epoch,
)
from src.trainer.devices import forks_ranks, one_owner_of_cluster_signals, place_processes, threads_per_rank

# What an optimizer hyperparameter means, where torch checks less (lr=0 trains nothing; a momentum
# of 1 or more never forgets a gradient): (low, low allowed, high, high allowed)
OPTIMIZER_RANGES = {
    "lr": (0.0, False, math.inf, False),
    "weight_decay": (0.0, True, math.inf, False),
    "momentum": (0.0, True, 1.0, False),
    "eps": (0.0, False, math.inf, False),
}
# Advice added to a library's refusal of a key, where the library's own words do not say what to do
KEY_HINTS = {
    "trainer.accelerator": "use trainer=cpu, or trainer=default to use a GPU only when present",
    "trainer.devices": "this machine's devices: trainer.devices=1, or auto for all",
}
# Lightning logs what each Trainer found (GPU available, ...) when it is built: not while blaming
TRAINER_INFO_LOGGERS = ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero")


@dataclass
class Run:
    """Everything ``trainer.fit(module, datamodule=datamodule)`` needs, built from one config."""

    cfg: DictConfig
    datamodule: pl.LightningDataModule
    module: pl.LightningModule
    trainer: pl.Trainer
    loggers: list


@contextmanager
def config_errors(group: str) -> Iterator[None]:
    """Re-raise a ConfigError from inside with its key prefixed by ``group`` (``root`` -> ``data.root``)."""
    try:
        yield
    except ConfigError as error:
        raise error.with_group(group) from None


@contextmanager
def lightning_info_off() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in TRAINER_INFO_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def blame(cfg: Any, make: Callable[[dict], Any]) -> tuple[str, Any] | None:
    """The key of ``cfg`` whose value makes ``make`` fail, and that value: the first key that, added
    to the keys before it, does. None when no single key can be blamed (no ``_target_`` node)."""
    if not OmegaConf.is_dict(cfg) or "_target_" not in cfg:
        return None
    try:
        resolved = OmegaConf.to_container(cfg, resolve=True)
    except Exception:  # noqa: BLE001 - an interpolation that does not resolve: no key to blame
        return None
    fixed = {k: v for k, v in resolved.items() if k.startswith("_")}
    keys = [k for k in resolved if not k.startswith("_")]
    with lightning_info_off():
        for index, key in enumerate(keys):
            try:
                make({**fixed, **{k: resolved[k] for k in keys[: index + 1]}})
            except Exception:  # noqa: BLE001 - whatever it raises, this key's value is what changed
                return key, resolved[key]
    return None


def target_name(cfg: Any) -> str:
    return str(cfg.get("_target_", "")).rsplit(".", 1)[-1] if OmegaConf.is_dict(cfg) else ""


def config_error(group: str, cfg: Any, error: BaseException, make: Callable[[dict], Any]) -> ConfigError:
    """``error``, raised building ``group`` from ``cfg``, as one ConfigError naming the key."""
    cause = root_cause(error)
    if isinstance(cause, ConfigError):
        return cause.with_group(group)
    if isinstance(cause, InterpolationKeyError):
        key = str(cause).split("'")[1] if str(cause).count("'") >= 2 else str(cause)
        return ConfigError(
            group, f"needs {key}, which the chosen config does not define (this model does not take this data)"
        )
    unexpected = re.search(r"unexpected keyword argument '(\w+)'", str(cause)) if isinstance(cause, TypeError) else None
    if unexpected and OmegaConf.is_dict(cfg) and unexpected.group(1) in cfg:  # the constructor named the key itself
        key = f"{group}.{unexpected.group(1)}"
        return ConfigError(key, f"{target_name(cfg)} takes no argument {unexpected.group(1)!r}", full_key=True)
    culprit = blame(cfg, make)
    target = target_name(cfg)
    if culprit is None:
        return ConfigError(group, f"{target or 'building it'} refused the settings: {first_line(cause)}", full_key=True)
    key, value = f"{group}.{culprit[0]}", culprit[1]
    hint = f"; {KEY_HINTS[key]}" if key in KEY_HINTS else ""
    return ConfigError(key, f"{value!r} refused by {target}: {first_line(cause)}{hint}", full_key=True)


def build(group: str, cfg: DictConfig, **kwargs: Any) -> Any:
    """``instantiate(cfg, **kwargs)``; an error becomes a ConfigError naming the key under ``group``."""
    try:
        return instantiate(cfg, **kwargs)
    except Exception as error:  # noqa: BLE001 - whatever the constructor raises is the value's fault
        raise config_error(group, cfg, error, lambda subset: instantiate(subset, **kwargs)) from None


# loggers whose library is an optional extra of this project: the extra to install
MLFLOW_LOGGER = "pytorch_lightning.loggers.MLFlowLogger"
OPTIONAL_LOGGERS = {MLFLOW_LOGGER: ("mlflow", "mlflow")}


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def build_logger(name: str, cfg: DictConfig) -> Any:
    """A logger; one whose library is an optional extra and missing is refused saying how to install it."""
    module, extra = OPTIONAL_LOGGERS.get(cfg.get("_target_"), (None, None))
    if module is not None and not installed(module):
        raise ConfigError(
            f"logger.{name}", f"needs {module}, an optional extra: pip install -e '.[{extra}]' (make install has it)"
        )
    if cfg.get("_target_") == MLFLOW_LOGGER:
        check_tracking_uri(cfg.get("tracking_uri"), f"logger.{name}.tracking_uri")
    return build(f"logger.{name}", cfg)


def check_range(key: str, value, low: float, low_ok: bool, high: float, high_ok: bool) -> None:
    if not is_number(value) or math.isnan(value):
        raise ConfigError(key, f"must be a finite number, got {value!r}")
    if value < low or (value == low and not low_ok) or value > high or (value == high and not high_ok):
        interval = f"{'[' if low_ok else '('}{low:g}, {high:g}{']' if high_ok else ')'}"
        raise ConfigError(key, f"must lie in {interval}, got {value!r}")


def build_optimizer(cfg: DictConfig) -> Callable:
    """The optimizer factory (a partial), checked by building the optimizer once on a dummy parameter."""
    for key, bounds in OPTIMIZER_RANGES.items():
        if cfg.get(key) is not None:
            check_range(f"optimizer.{key}", cfg.get(key), *bounds)
    factory = build("optimizer", cfg)
    dummy = [torch.nn.Parameter(torch.zeros(1))]
    try:
        factory(dummy)
    except Exception as error:  # noqa: BLE001 - whatever the constructor raises is the value's fault
        raise config_error("optimizer", cfg, error, lambda subset: instantiate(subset)(dummy)) from None
    return factory


def check_model_takes_data(module: pl.LightningModule, datamodule) -> None:
    """One forward pass on two training samples, so a network that cannot take this data fails here.

    Done where the datamodule offers ``example_batch(n)`` (inputs, labels), and the output's shape
    checked where it also offers ``num_classes``; a datamodule of another shape is left to Lightning."""
    if not hasattr(datamodule, "example_batch"):
        return
    inputs, labels = datamodule.example_batch(2)
    try:
        with torch.no_grad():  # eager: a compiled network would compile for this one batch
            logits = module.eager_forward(inputs) if hasattr(module, "eager_forward") else module(inputs)
    except Exception as error:  # noqa: BLE001 - whatever the network raises, the pairing is the problem
        raise ConfigError(
            "model",
            f"cannot take this data's batches (inputs {tuple(inputs.shape)}, {inputs.dtype}): {first_line(error)}; "
            "pick a model for this data (model=rnn for palindromes, mlp or cnn for vectors and images)",
        ) from None
    classes = getattr(datamodule, "num_classes", None)
    if classes is not None and tuple(logits.shape) != (len(labels), classes):
        raise ConfigError(
            "model",
            f"gives outputs of shape {tuple(logits.shape)} for this data's {classes} classes; expected (2, {classes})",
        )


def build_callbacks(cfg: DictConfig, datamodule) -> list[pl.Callback]:
    """The config's callbacks (``callbacks.NAME=null`` drops one), then those the data needs (a datamodule
    that offers ``extra_callbacks()``: the palindrome length curriculum), then the monitor's check."""
    callbacks = [build(f"callbacks.{name}", c) for name, c in (cfg.get("callbacks") or {}).items() if c]
    extra = datamodule.extra_callbacks() if hasattr(datamodule, "extra_callbacks") else []
    return callbacks + extra + [MonitorLogged(cfg.monitor.metric)]


def build_run(cfg: DictConfig, extra_callbacks: Sequence[pl.Callback] = ()) -> Run:
    """Check and instantiate everything a run needs, then load its data (its config is logged when fitting starts).

    Every object is built before the data are prepared, so a bad value fails in a second whatever
    the data; missing or corrupt data then fail before training. ``extra_callbacks`` are added
    after the config's (a benchmark's timer, say). Seeds torch, NumPy and Python's random.
    """
    check_settings(cfg)
    place_processes(cfg.trainer)
    one_owner_of_cluster_signals(cfg.trainer)
    if forks_ranks(cfg.trainer):  # no thread pool in this process before its ranks are forked (RankThreads)
        extra_callbacks = [*extra_callbacks, RankThreads(threads_per_rank(cfg.trainer))]
        torch.set_num_threads(1)
    module_cfg, wants_net, wants_optimizer = module_arguments(cfg)
    if wants_optimizer and cfg.get("optimizer") is None:
        raise ConfigError(
            "optimizer", f"{module_cfg._target_} takes an optimizer and none is chosen; add optimizer=adam"
        )
    given = {"optimizer": build_optimizer(cfg.optimizer)} if wants_optimizer else {}
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build("data", cfg.data)
    if wants_net:
        if cfg.get("model") is None:
            raise ConfigError("model", f"is null, and {module_cfg._target_} takes a net; choose a model")
        given["net"] = build("model", cfg.model)
    say_unused_groups(cfg, module_cfg, wants_net, wants_optimizer)
    module = build("module", module_cfg, **given)
    if hasattr(module, "check_scheduler"):
        module.check_scheduler()
    check_monitors(cfg, module)
    check_room_for_outputs(module, cfg.paths.output_dir)
    provenance = Provenance(cfg.paths.output_dir)
    callbacks = build_callbacks(cfg, datamodule) + [
        RunConfigInCheckpoint(cfg),
        provenance,
        LogHyperparameters(cfg, provenance),
    ]
    loggers = [build_logger(name, c) for name, c in (cfg.get("logger") or {}).items() if c]
    check_trainer_types(cfg.trainer)
    trainer = build("trainer", cfg.trainer, callbacks=[*callbacks, *extra_callbacks], logger=loggers or False)
    with config_errors("data"):
        datamodule.prepare_data()
        datamodule.setup("fit")
    check_validation_fits_epoch(cfg.trainer, datamodule)
    check_model_takes_data(module, datamodule)
    return Run(cfg, datamodule, module, trainer, loggers)
