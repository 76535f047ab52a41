"""Build a run from its config: the one place train.py, the benchmarks and the tests get theirs.

Every value is instantiated through ``build``, so a bad one surfaces as a ``ConfigError`` that
names its key, before the Trainer exists.
"""

import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationKeyError

from src.utils.checkpoints import RunConfigInCheckpoint
from src.utils.checks import check_settings
from src.utils.hparams import LogHyperparameters
from src.utils.internals import lighten_lightning_loops
from src.utils.parallel import cpu_count
from src.utils.process import tune_process
from src.utils.quiet import silence_known_noise
from src.utils.validation import ConfigError, first_line, is_number, root_cause


@dataclass(frozen=True)
class OptimizerRange:
    """What an optimizer hyperparameter may be: above ``low``, or at it too when ``inclusive``."""

    low: float
    inclusive: bool


OPTIMIZER_RANGES = {
    "lr": OptimizerRange(0.0, inclusive=False),
    "weight_decay": OptimizerRange(0.0, inclusive=True),
    "momentum": OptimizerRange(0.0, inclusive=True),
    "eps": OptimizerRange(0.0, inclusive=False),
}


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


def build(group: str, cfg: DictConfig, **kwargs: Any) -> Any:
    """``instantiate(cfg, **kwargs)``; errors become a ConfigError prefixed with ``group``."""
    try:
        return instantiate(cfg, **kwargs)
    except Exception as error:
        cause = root_cause(error)
        if isinstance(cause, ConfigError):
            raise cause.with_group(group) from None
        if isinstance(cause, InterpolationKeyError):
            key = str(cause).split("'")[1] if str(cause).count("'") >= 2 else str(cause)
            raise ConfigError(
                group, f"needs {key}, which the chosen config does not define (this model does not take this data)"
            ) from None
        raise ConfigError(group, first_line(cause)) from error


def check_optimizer(cfg: DictConfig) -> None:
    """Reject out-of-range optimizer values before training by building it once on a dummy."""
    for key, allowed in OPTIMIZER_RANGES.items():
        value = cfg.get(key)
        if value is None:
            continue
        if not is_number(value) or not math.isfinite(value):
            raise ConfigError(f"optimizer.{key}", f"must be a finite number, got {value!r}")
        if value < allowed.low or (value == allowed.low and not allowed.inclusive):
            relation = ">=" if allowed.inclusive else ">"
            raise ConfigError(f"optimizer.{key}", f"must be {relation} {allowed.low}, got {value!r}")
    factory = build("optimizer", cfg)
    try:
        factory([torch.nn.Parameter(torch.zeros(1))])
    except (ValueError, TypeError) as error:
        raise ConfigError("optimizer", str(error)) from error


def check_model_takes_data(module: pl.LightningModule, datamodule) -> None:
    """One forward pass on two training samples, so a network that cannot take this data fails here."""
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
    classes = datamodule.num_classes
    if tuple(logits.shape) != (len(labels), classes):
        raise ConfigError(
            "model",
            f"gives outputs of shape {tuple(logits.shape)} for this data's {classes} classes; expected (2, {classes})",
        )


def build_callbacks(cfg: DictConfig, datamodule) -> list[pl.Callback]:
    """The config's callbacks (``callbacks.NAME=null`` drops one), then those the data needs."""
    callbacks = [build(f"callbacks.{name}", c) for name, c in (cfg.get("callbacks") or {}).items() if c]
    return callbacks + datamodule.extra_callbacks()  # e.g. the palindrome length curriculum


def build_run(cfg: DictConfig, extra_callbacks: Sequence[pl.Callback] = ()) -> Run:
    """Seed, check and instantiate everything a run needs (its config is logged when fitting starts).

    Data are prepared and set up here, so missing or corrupt data fail before the Trainer exists.
    ``extra_callbacks`` are added after the config's (a benchmark's timer, say).
    """
    silence_known_noise()
    check_settings(cfg)
    check_optimizer(cfg.optimizer)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build("data", cfg.data)
    with config_errors("data"):
        datamodule.prepare_data()
        datamodule.setup("fit")
    net = build("model", cfg.model)
    module = build("module", cfg.module, net=net, optimizer=build("optimizer", cfg.optimizer))
    check_model_takes_data(module, datamodule)
    callbacks = build_callbacks(cfg, datamodule) + [RunConfigInCheckpoint(cfg), LogHyperparameters(cfg)]
    loggers = [build(f"logger.{name}", c) for name, c in (cfg.get("logger") or {}).items() if c]
    place_processes(cfg.trainer)
    tune_process()  # no page faults on memory a step frees, no GPU probe a step without a GPU
    lighten_lightning_loops()  # no calls of hooks left to Lightning's no-ops, no signature read per step
    trainer = build("trainer", cfg.trainer, callbacks=[*callbacks, *extra_callbacks], logger=loggers or False)
    return Run(cfg, datamodule, module, trainer, loggers)


def place_processes(trainer_cfg: DictConfig) -> None:
    """Several devices: fork the ranks (Lightning's ddp_fork) unless a strategy is named, and on
    the CPU give each of the N processes cores / N threads (two 2-thread processes on 2 cores slow
    each other ~10x). Lightning's default for several devices, ``ddp``, re-runs ``train.py`` for
    each rank, which under Hydra writes a log per rank and, in a multirun, relaunches the sweep."""
    devices = trainer_cfg.get("devices")
    several = (isinstance(devices, int) and devices > 1) or (OmegaConf.is_list(devices) and len(devices) > 1)
    if several and trainer_cfg.get("strategy", "auto") == "auto":
        trainer_cfg.strategy = "ddp_fork"
    if trainer_cfg.get("accelerator") == "cpu" and isinstance(devices, int) and devices > 1:
        threads = max(1, cpu_count() // devices)
        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)
