"""What no constructor's signature can say, in one place: this project's own top-level keys, ranges of
meaning (a learning rate of 0, a seed NumPy cannot take), and keys that must agree with each other
(a monitor and the loggers, validation and early stopping). Each raises a ``ConfigError`` naming the
key as typed on the command line.

Everything else is judged by what takes the value: the signatures (``src/config/signatures.py``),
then the constructors themselves (``src/run/build.py``).
"""

import math

from omegaconf import DictConfig

from src.config.errors import ConfigError, check_bool, check_choice, check_finite_number, check_int, is_number

MAX_SEED = 2**32 - 1  # NumPy's and Lightning's seeds are unsigned 32-bit integers
# What an optimizer hyperparameter means, where torch checks less (lr=0 trains nothing; a momentum of 1
# or more never forgets a gradient): (low, low allowed, high, high allowed)
OPTIMIZER_RANGES = {
    "lr": (0.0, False, math.inf, False),
    "weight_decay": (0.0, True, math.inf, False),
    "momentum": (0.0, True, 1.0, False),
    "eps": (0.0, False, math.inf, False),
}


def check_seed(key: str, seed) -> int:
    """A seed NumPy, torch and Lightning all take: an integer in [0, 2**32 - 1]."""
    check_int(key, seed, minimum=0)
    if seed > MAX_SEED:
        raise ConfigError(key, f"must be at most 2**32 - 1 (what NumPy and Lightning take), got {seed}")
    return seed


def check_top_level(cfg: DictConfig) -> None:
    if cfg.get("data") is None:
        raise ConfigError("data", "none is chosen (the model's config picks none); add data=NAME")
    check_seed("seed", cfg.get("seed"))
    check_choice("test_ckpt", cfg.get("test_ckpt"), ("best", "last"))
    for key in ("test_after_fit", "ckpt_strict", "overwrite"):
        check_bool(key, cfg.get(key))
    for key, value in (cfg.get("process") or {}).items():  # applied where the process starts (src.process)
        if key != "threads":
            check_bool(f"process.{key}", value)
        elif value is not None:
            check_int("process.threads", value)
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is not None and not isinstance(ckpt_path, str):
        raise ConfigError("ckpt_path", f"must be a checkpoint file's path, 'latest' or 'auto', got {ckpt_path!r}")
    monitor = cfg.get("monitor")
    metric = monitor.get("metric") if isinstance(monitor, DictConfig) else ""
    if metric is not None and (not isinstance(metric, str) or not metric):  # null: the module validates nothing
        raise ConfigError(
            "monitor.metric", f"must name a metric the module logs (val/acc, val_loss) or be null, got {metric!r}"
        )
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


def check_optimizer(optimizer: DictConfig | None) -> None:
    for key, (low, low_ok, high, high_ok) in OPTIMIZER_RANGES.items():
        value = (optimizer or {}).get(key)
        if value is None:
            continue
        if not is_number(value) or math.isnan(value):
            raise ConfigError(f"optimizer.{key}", f"must be a finite number, got {value!r}")
        if value < low or (value == low and not low_ok) or value > high or (value == high and not high_ok):
            interval = f"{'[' if low_ok else '('}{low:g}, {high:g}{']' if high_ok else ')'}"
            raise ConfigError(f"optimizer.{key}", f"must lie in {interval}, got {value!r}")


def check_callbacks(cfg: DictConfig) -> None:
    """Early stopping's patience; the best checkpoint is saved only when it is scored; the LR monitor
    needs a logger; early stopping on a validation metric needs validation."""
    callbacks = cfg.get("callbacks") or {}
    stopping = callbacks.get("early_stopping")
    if stopping is not None:
        check_int("callbacks.early_stopping.patience", stopping.get("patience", 3), minimum=0)
    best = callbacks.get("model_checkpoint")
    if best is not None and best.get("every_n_train_steps"):
        raise ConfigError(
            "callbacks.model_checkpoint.every_n_train_steps",
            "must be null: the best checkpoint is saved right after the validation that scored it; "
            "for step checkpoints use callbacks.last_checkpoint.every_n_train_steps=N",
        )
    last = callbacks.get("last_checkpoint")
    if last is not None and last.get("every_n_train_steps") is not None:
        check_int("callbacks.last_checkpoint.every_n_train_steps", last.every_n_train_steps, minimum=1)
    if callbacks.get("lr_monitor") is not None and not any((cfg.get("logger") or {}).values()):
        raise ConfigError(
            "callbacks.lr_monitor", "logs to a logger and every logger is off; add callbacks.lr_monitor=null"
        )
    if cfg.trainer.get("limit_val_batches") != 0:
        return
    for name, callback in callbacks.items():  # nothing is validated: early stopping on a val/ metric fails mid-run
        stops = callback is not None and str(callback.get("_target_", "")).endswith("EarlyStopping")
        if stops and str(callback.get("monitor") or "").startswith("val/"):
            raise ConfigError(
                "trainer.limit_val_batches",
                f"is 0, so nothing is validated, but callbacks.{name} watches {callback.monitor}; "
                f"add callbacks.{name}=null",
            )


def check_rules(cfg: DictConfig) -> None:
    """Every rule of this module, in the order a reader would look."""
    check_top_level(cfg)
    check_trainer(cfg.trainer)
    check_optimizer(cfg.get("optimizer"))
    check_callbacks(cfg)


def check_validation_fits_epoch(trainer: DictConfig, datamodule) -> None:
    """An integer ``val_check_interval`` counts batches within an epoch (``check_val_every_n_epoch`` set):
    more than an epoch holds, and Lightning refuses it once fitting starts."""
    interval = trainer.get("val_check_interval")
    if not isinstance(interval, int) or isinstance(interval, bool) or trainer.get("check_val_every_n_epoch") is None:
        return
    try:
        batches = len(datamodule.train_dataloader())
    except TypeError:  # a loader without a length: Lightning cannot check it either
        return
    limit = trainer.get("limit_train_batches")
    if isinstance(limit, int) and not isinstance(limit, bool):
        batches = min(batches, limit)
    elif isinstance(limit, float):
        batches = int(batches * limit)
    if interval > batches:
        raise ConfigError(
            "trainer.val_check_interval",
            f"is {interval} batches, more than an epoch of this data holds ({batches}); give at most {batches}, "
            "or trainer.check_val_every_n_epoch=null to count batches across epochs",
        )


def check_monitors(cfg: DictConfig, logged) -> None:
    """Metric names the config watches (``monitor.metric``, each callback's ``monitor``, ``optimized_metric``),
    against what a module declares it logs (``logged``); a module that declares nothing is checked at its
    first validation (``src.callbacks.monitor.MonitorLogged``)."""
    if not logged:
        return
    watched: dict[str, str | None] = {
        "monitor.metric": cfg.monitor.metric,
        "optimized_metric": cfg.get("optimized_metric"),
    }
    for name, callback in (cfg.get("callbacks") or {}).items():
        if callback is not None and callback.get("monitor") is not None:
            watched[f"callbacks.{name}.monitor"] = callback.monitor
    for key, metric in watched.items():
        if metric is not None:
            check_choice(key, metric, logged)
