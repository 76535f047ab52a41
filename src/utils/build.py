"""Instantiate config groups so that any bad value surfaces as one ConfigError naming its key."""
from typing import Any

from contextlib import contextmanager

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig
from omegaconf.errors import InterpolationKeyError

from src.errors import ConfigError

OPTIMIZER_RANGES = {"lr": (0.0, False), "weight_decay": (0.0, True), "momentum": (0.0, True), "eps": (0.0, False)}


def root_cause(error: BaseException) -> BaseException:
    """The innermost exception behind Hydra's instantiation wrappers."""
    while isinstance(error, InstantiationException) and error.__cause__ is not None:
        error = error.__cause__
    return error


@contextmanager
def config_errors(group: str):
    """Re-raise a ConfigError from inside with its key prefixed by ``group`` (``root`` -> ``data.root``)."""
    try:
        yield
    except ConfigError as error:
        raise error.with_group(group) from None


def build(group: str, cfg: DictConfig, **kwargs: Any) -> Any:
    """``instantiate(cfg, **kwargs)``; errors become a ConfigError prefixed with ``group``."""
    try:
        return instantiate(cfg, **kwargs)
    except Exception as error:  # noqa: BLE001 - every failure here is a config problem to report
        cause = root_cause(error)
        if isinstance(cause, ConfigError):
            raise cause.with_group(group) from None
        if isinstance(cause, InterpolationKeyError):
            key = str(cause).split("'")[1] if str(cause).count("'") >= 2 else str(cause)
            raise ConfigError(group, f"needs {key}, which the chosen config does not define "
                              "(this model does not take this data)") from None
        message = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        raise ConfigError(group, message) from error


def check_optimizer(cfg: DictConfig) -> None:
    """Reject out-of-range optimizer values before training by building it once on a dummy."""
    for key, (low, inclusive) in OPTIMIZER_RANGES.items():
        value = cfg.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"optimizer.{key}", f"must be a number, got {value!r}")
        if value < low or (value == low and not inclusive):
            raise ConfigError(f"optimizer.{key}", f"must be {'>=' if inclusive else '>'} {low}, got {value!r}")
    factory = build("optimizer", cfg)
    try:
        factory([torch.nn.Parameter(torch.zeros(1))])
    except (ValueError, TypeError) as error:
        raise ConfigError("optimizer", str(error)) from error


def check_accelerator(cfg: DictConfig) -> None:
    """``trainer=gpu`` where no GPU is present fails here, not deep inside Lightning."""
    if cfg.get("accelerator") in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError("trainer.accelerator", "is 'gpu' but this machine has no CUDA GPU; "
                          "use trainer=cpu, or trainer=default to use a GPU only when present")
