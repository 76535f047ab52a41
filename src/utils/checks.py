"""Checks of the composed config that Lightning or Hydra would only make late, or never.

Each raises a ``ConfigError`` naming the key as typed on the command line, before anything is
built. The typed values of the data and optimizer groups are checked where they are used (the
datamodules and networks check their own arguments).
"""

from omegaconf import DictConfig, OmegaConf

from src.metric_tags import MONITORABLE_TAGS, RESULT_TAGS
from src.utils.parallel import gpu_count
from src.utils.validation import ConfigError, check_choice, check_finite_number, check_int, is_int

PRECISIONS = ("64-true", "64", "32-true", "32", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "transformer-engine")
PRECISIONS_AS_NUMBERS = (64, 32, 16)
ACCELERATORS = ("auto", "cpu", "gpu", "cuda")


def check_bool(key: str, value) -> None:
    if not isinstance(value, bool):
        raise ConfigError(key, f"must be true or false, got {value!r}")


def check_optional_int(key: str, value, minimum: int) -> None:
    if value is not None:
        check_int(key, value, minimum)


def check_batches_limit(key: str, value) -> None:
    """``limit_*_batches``: null, a number of batches, or a fraction of them."""
    if value is None or (is_int(value) and value >= 0):
        return
    if isinstance(value, float) and 0.0 <= value <= 1.0:
        return
    raise ConfigError(key, f"must be null, an integer >= 0 (batches) or a fraction in [0.0, 1.0], got {value!r}")


def check_top_level(cfg: DictConfig) -> None:
    check_int("seed", cfg.get("seed"), minimum=0)
    check_choice("test_ckpt", cfg.get("test_ckpt"), ("best", "last"))
    for key in ("test_after_fit", "ckpt_strict"):
        check_bool(key, cfg.get(key))
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is not None and not isinstance(ckpt_path, str):
        raise ConfigError("ckpt_path", f"must be a checkpoint file's path or 'latest', got {ckpt_path!r}")
    check_choice("optimized_metric", cfg.get("optimized_metric"), RESULT_TAGS)


def check_trainer(trainer: DictConfig) -> None:
    def key(name: str) -> str:
        return f"trainer.{name}"

    if trainer.get("max_epochs") is not None:
        check_int(key("max_epochs"), trainer.max_epochs, minimum=-1)
    check_int(key("max_steps"), trainer.get("max_steps", -1), minimum=-1)
    if trainer.get("max_epochs") == 0 or trainer.get("max_steps") == 0:
        raise ConfigError(key("max_epochs" if trainer.get("max_epochs") == 0 else "max_steps"), "must not be 0")
    interval = trainer.get("val_check_interval")
    if interval is not None and not (
        (is_int(interval) and interval >= 1) or (isinstance(interval, float) and 0.0 < interval <= 1.0)
    ):
        raise ConfigError(
            key("val_check_interval"),
            f"must be null, an integer >= 1 (steps) or a fraction in (0, 1], got {interval!r}",
        )
    check_optional_int(key("check_val_every_n_epoch"), trainer.get("check_val_every_n_epoch"), minimum=1)
    for name in ("limit_train_batches", "limit_val_batches", "limit_test_batches"):
        check_batches_limit(key(name), trainer.get(name))
    check_finite_number(key("gradient_clip_val"), trainer.get("gradient_clip_val"), minimum=0)
    check_choice(key("gradient_clip_algorithm"), trainer.get("gradient_clip_algorithm", "norm"), ("norm", "value"))
    check_int(key("log_every_n_steps"), trainer.get("log_every_n_steps", 50), minimum=1)
    check_int(key("num_sanity_val_steps"), trainer.get("num_sanity_val_steps", 2), minimum=-1)
    precision = trainer.get("precision", "32-true")
    if precision not in PRECISIONS and precision not in PRECISIONS_AS_NUMBERS:
        raise ConfigError(key("precision"), f"must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    check_choice(key("accelerator"), trainer.get("accelerator", "auto"), ACCELERATORS)
    devices = trainer.get("devices", 1)
    as_list = list(devices) if OmegaConf.is_list(devices) or isinstance(devices, list) else None
    if as_list is not None:  # device indices, as a parallel sweep assigns them
        if not as_list or not all(is_int(d) and d >= 0 for d in as_list):
            raise ConfigError(key("devices"), f"must list device indices >= 0, got {devices!r}")
    elif devices != "auto" and not (is_int(devices) and devices >= 1):
        raise ConfigError(key("devices"), f"must be an integer >= 1 or 'auto', got {devices!r}")
    check_gpus(trainer, devices)
    check_bool(key("detect_anomaly"), trainer.get("detect_anomaly", False))
    fast = trainer.get("fast_dev_run", False)
    if not isinstance(fast, bool) and not (is_int(fast) and fast >= 0):
        raise ConfigError(key("fast_dev_run"), f"must be true, false or a number of batches >= 0, got {fast!r}")
    check_batches_limit(key("overfit_batches"), trainer.get("overfit_batches", 0.0))
    deterministic = trainer.get("deterministic", False)
    if deterministic not in (True, False, "warn"):
        raise ConfigError(key("deterministic"), f"must be true, false or 'warn', got {deterministic!r}")


def check_gpus(trainer: DictConfig, devices) -> None:
    """``trainer=gpu`` without a GPU, or more GPUs than the machine has, fail here, not deep in Lightning."""
    if trainer.get("accelerator", "auto") not in ("gpu", "cuda"):
        return
    available = gpu_count()  # without starting CUDA in this process: ddp_fork forks it later
    if not available:
        raise ConfigError(
            "trainer.accelerator",
            "is 'gpu' but this machine has no CUDA GPU; use trainer=cpu, "
            "or trainer=default to use a GPU only when present",
        )
    count = len(devices) if OmegaConf.is_list(devices) else devices
    if is_int(count) and count > available:
        raise ConfigError(
            "trainer.devices",
            f"asks for {count} GPUs but this machine has {available}; use trainer.devices={available}",
        )


def check_monitor(key: str, callback: DictConfig) -> None:
    check_choice(f"{key}.monitor", callback.get("monitor"), MONITORABLE_TAGS)
    check_choice(f"{key}.mode", callback.get("mode", "min"), ("min", "max"))


def check_callbacks(callbacks: DictConfig | None) -> None:
    callbacks = callbacks or {}
    if (stopping := callbacks.get("early_stopping")) is not None:
        check_monitor("callbacks.early_stopping", stopping)
        check_int("callbacks.early_stopping.patience", stopping.get("patience", 3), minimum=0)
        check_finite_number("callbacks.early_stopping.min_delta", stopping.get("min_delta", 0.0), minimum=0)
        check_finite_number("callbacks.early_stopping.stopping_threshold", stopping.get("stopping_threshold"))
    if (best := callbacks.get("model_checkpoint")) is not None:
        check_monitor("callbacks.model_checkpoint", best)
        check_int("callbacks.model_checkpoint.save_top_k", best.get("save_top_k", 1), minimum=-1)
        if best.get("every_n_train_steps"):
            raise ConfigError(
                "callbacks.model_checkpoint.every_n_train_steps",
                "must be null: the best checkpoint is saved right after the validation that scored it; "
                "for step checkpoints use callbacks.last_checkpoint.every_n_train_steps=N",
            )
    if (last := callbacks.get("last_checkpoint")) is not None:
        check_optional_int("callbacks.last_checkpoint.every_n_train_steps", last.get("every_n_train_steps"), 1)
    if (guard := callbacks.get("non_finite_guard")) is not None:
        check_int("callbacks.non_finite_guard.check_every_n_steps", guard.get("check_every_n_steps", 10), minimum=1)
    if (bar := callbacks.get("progress_bar")) is not None:
        check_int("callbacks.progress_bar.refresh_rate", bar.get("refresh_rate", 1), minimum=0)
        check_finite_number("callbacks.progress_bar.min_seconds", bar.get("min_seconds", 1.0), minimum=0)
    if (pruning := callbacks.get("optuna_pruning")) is not None:
        check_choice("callbacks.optuna_pruning.monitor", pruning.get("monitor"), MONITORABLE_TAGS)


def check_logger_for_callbacks(cfg: DictConfig) -> None:
    """Lightning's LearningRateMonitor refuses a Trainer without a logger, but only once fitting starts."""
    loggers = [name for name, logger in (cfg.get("logger") or {}).items() if logger]
    if not loggers and (cfg.get("callbacks") or {}).get("lr_monitor") is not None:
        raise ConfigError(
            "callbacks.lr_monitor", "logs to a logger and every logger is off; add callbacks.lr_monitor=null"
        )


def check_validation_feeds_monitors(cfg: DictConfig) -> None:
    """``limit_val_batches=0`` validates nothing: early stopping on a val/ metric would fail mid-run.

    (A best checkpoint by a val/ metric is simply not saved; the run then tests its final weights.)
    """
    if cfg.trainer.get("limit_val_batches") != 0:
        return
    for name, callback in (cfg.get("callbacks") or {}).items():
        stops = callback is not None and str(callback.get("_target_", "")).endswith("EarlyStopping")
        if stops and str(callback.get("monitor") or "").startswith("val/"):
            raise ConfigError(
                "trainer.limit_val_batches",
                f"is 0, so nothing is validated, but callbacks.{name} watches {callback.monitor}; "
                f"add callbacks.{name}=null",
            )


def check_settings(cfg: DictConfig) -> None:
    """Every check of this module, in the order a reader would look."""
    check_top_level(cfg)
    check_trainer(cfg.trainer)
    check_callbacks(cfg.get("callbacks"))
    check_logger_for_callbacks(cfg)
    check_validation_feeds_monitors(cfg)
