"""The checks no constructor can make: this project's own top-level keys, metric names, meaning
ranges Lightning does not check, and combinations of keys that Lightning would only report mid-run.

Every other value is judged by the object that takes it (src/build.py builds them all before
anything runs). Each check raises a ``ConfigError`` naming the key as typed on the command line.
"""

from typing import Any

from omegaconf import DictConfig

from src.config.errors import ConfigError, check_bool, check_choice, check_finite_number, check_int, is_number


def check_top_level(cfg: DictConfig) -> None:
    if cfg.get("data") is None:
        raise ConfigError("data", "none is chosen (the model's config picks none); add data=NAME")
    check_int("seed", cfg.get("seed"), minimum=0)
    check_choice("test_ckpt", cfg.get("test_ckpt"), ("best", "last"))
    for key in ("test_after_fit", "ckpt_strict", "overwrite"):
        check_bool(key, cfg.get(key))
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is not None and not isinstance(ckpt_path, str):
        raise ConfigError("ckpt_path", f"must be a checkpoint file's path, 'latest' or 'auto', got {ckpt_path!r}")
    monitor = cfg.get("monitor")
    if not isinstance(monitor, DictConfig) or not isinstance(monitor.get("metric"), str) or not monitor.metric:
        raise ConfigError("monitor.metric", f"must name a metric the module logs (val/acc, val_loss), got {monitor}")
    check_choice("monitor.mode", monitor.get("mode"), ("max", "min"))
    optimized = cfg.get("optimized_metric")
    if optimized is not None and (not isinstance(optimized, str) or not optimized):
        raise ConfigError("optimized_metric", f"must be null (the best monitor.metric) or a name, got {optimized!r}")


def check_trainer(trainer: DictConfig) -> None:
    """What Lightning accepts but makes no sense here: no training at all, a negative clip, and a
    logging interval the module divides by."""
    for key in ("max_epochs", "max_steps"):
        if trainer.get(key) == 0:
            raise ConfigError(f"trainer.{key}", "must not be 0: the run would train nothing (-1: no limit)")
    interval = trainer.get("val_check_interval")
    if interval is not None and (not is_number(interval) or interval <= 0):  # Lightning divides by it mid-run
        raise ConfigError("trainer.val_check_interval", f"must be null or a number > 0, got {interval!r}")
    check_finite_number("trainer.gradient_clip_val", trainer.get("gradient_clip_val"), minimum=0)
    check_int("trainer.log_every_n_steps", trainer.get("log_every_n_steps", 50), minimum=1)


def check_callbacks(callbacks: DictConfig | None) -> None:
    """Early stopping's patience; the best checkpoint is saved only when it is scored. (Which metrics the
    callbacks watch is checked against the module: ``src.build.check_monitors``.)"""
    stopping = (callbacks or {}).get("early_stopping")
    if stopping is not None:
        check_int("callbacks.early_stopping.patience", stopping.get("patience", 3), minimum=0)
    best = (callbacks or {}).get("model_checkpoint")
    if best is not None and best.get("every_n_train_steps"):
        raise ConfigError(
            "callbacks.model_checkpoint.every_n_train_steps",
            "must be null: the best checkpoint is saved right after the validation that scored it; "
            "for step checkpoints use callbacks.last_checkpoint.every_n_train_steps=N",
        )
    last = (callbacks or {}).get("last_checkpoint")
    if last is not None and last.get("every_n_train_steps") is not None:
        check_int("callbacks.last_checkpoint.every_n_train_steps", last.every_n_train_steps, minimum=1)


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
    """Every check of this module, in the order a reader would look (src/build.py runs it once)."""
    check_top_level(cfg)
    check_trainer(cfg.trainer)
    check_callbacks(cfg.get("callbacks"))
    check_logger_for_callbacks(cfg)
    check_validation_feeds_monitors(cfg)


def check_monitors(cfg: DictConfig, module: Any) -> None:
    """Metric names the config watches (``monitor.metric``, each callback's ``monitor``, ``optimized_metric``),
    checked before training against what a module declares it logs (``logged_metrics``); a module that
    declares nothing is checked at its first validation (``MonitorLogged``)."""
    logged = getattr(module, "logged_metrics", None)
    if not logged:
        return
    watched = {"monitor.metric": cfg.monitor.metric, "optimized_metric": cfg.get("optimized_metric")}
    for name, callback in (cfg.get("callbacks") or {}).items():
        if callback is not None and callback.get("monitor") is not None:
            watched[f"callbacks.{name}.monitor"] = callback.monitor
    for key, metric in watched.items():
        if metric is not None:
            check_choice(key, metric, logged)
