"""OmegaConf resolvers the configs use. Importing this module registers them (idempotent)."""

import os

from omegaconf import OmegaConf

SWEPT_KEYS_ENV = "TRAIN_SWEPT_KEYS"  # set by src.sweeps.summary.SweepSummary when a multirun starts
MLFLOW_PARENT_ENV = "TRAIN_MLFLOW_PARENT"  # set by src.sweeps.tracking: the sweep's parent run in MLflow
TRIALS_ENV = "TRAIN_STORED_TRIALS"  # set by src.sweeps.search: the trials a continued search's study held


def _if(condition, then, otherwise):
    return then if condition else otherwise


def _job_name(*, _root_) -> str:
    """A sweep job's folder (and TensorBoard run) name: its overrides of the swept keys only.

    ``-m data.input_length=3,5 trainer.max_epochs=9`` names its jobs ``data.input_length=3`` and
    ``data.input_length=5``: the keys every job shares would only make the names longer.
    """
    swept = set(filter(None, os.environ.get(SWEPT_KEYS_ENV, "").split(",")))
    overrides = sorted(o for o in _root_.hydra.overrides.task if o.split("=", 1)[0].lstrip("+~") in swept)
    return ",".join(overrides).replace("/", "_") or f"job{_root_.hydra.job.num}"


def _trial_name(*, _root_) -> str:
    """A search job's folder name: ``trial<N>``, N its Optuna trial number (the trials the study held when the
    search started, then the job's own number), so a continued search numbers its new trials on."""
    return f"trial{int(os.environ.get(TRIALS_ENV, 0)) + int(_root_.hydra.job.num)}"


def _seeds_from(seed, seeds) -> str:
    """An experiment preset's ``seed`` sweep: seeds 1 to ``seeds`` (``range(1,4)`` for 3), or for one seed the
    run's own ``seed``, which sweeps nothing."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds: must be an integer >= 1, got {seeds!r}")
    return str(seed) if seeds == 1 else f"range(1,{seeds + 1})"


def _mlflow_parent() -> dict:
    """A sweep job's MLflow tags: its sweep's parent run (``mlflow.parentRunId``), which MLflow nests it under."""
    parent = os.environ.get(MLFLOW_PARENT_ENV)
    return {"mlflow.parentRunId": parent} if parent else {}


def _parallel_jobs() -> int:
    from src.trainer.devices import parallel_jobs  # NVML only when a parallel launcher asks

    return parallel_jobs()


def _on_gpu(accelerator) -> bool:
    """Whether a Trainer with this accelerator trains on a GPU: gpu/cuda, or auto where one is present
    (counted without starting CUDA)."""
    if str(accelerator) in ("gpu", "cuda"):
        return True
    if str(accelerator) != "auto":
        return False
    from src.trainer.devices import gpu_count

    return gpu_count() > 0


PROJECT = "lightning-hydra-experiments"  # the experiment name of runs no preset names


def _experiment_name() -> str:
    """A tracking experiment's name: the ``experiment`` preset, else the ``hparams_search`` preset, else
    the project's. Every job of a sweep shares it, so a sweep is one experiment with one run per job."""
    from hydra.core.hydra_config import HydraConfig

    try:
        choices = HydraConfig.get().runtime.choices
    except ValueError:  # composed outside a Hydra app (a test)
        return PROJECT
    return choices.get("experiment") or choices.get("hparams_search") or PROJECT


def _sqlite_uri(path: str) -> str:
    """``sqlite:///`` and the file's absolute path, with forward slashes: ``sqlite:////home/...``, ``sqlite:///C:/...``."""
    from pathlib import Path

    return "sqlite:///" + Path(path).resolve().as_posix()


def _checkpoint_filename(metric: str) -> str:
    """A best checkpoint's file name pattern for Lightning's ModelCheckpoint: ``val/acc`` ->
    ``epoch{epoch:03d}-acc{val/acc:.4f}`` (``epoch003-acc0.9850.ckpt``); ``val_loss`` -> ``...-val_loss{...}``."""
    return f"epoch{{epoch:03d}}-{str(metric).rsplit('/', 1)[-1]}{{{metric}:.4f}}"


def _perfect_score(metric: str, mode: str):
    """Early stopping's ``stopping_threshold``: an accuracy watched for its maximum stops once it is perfect
    (Lightning compares with >); any other metric has no such point (null)."""
    return 0.99999 if mode == "max" and str(metric).rsplit("/", 1)[-1].endswith("acc") else None


def _direction_of(mode: str) -> str:
    """An Optuna search's direction for a metric watched for its ``monitor.mode``: max -> maximize, min -> minimize."""
    return "maximize" if str(mode) == "max" else "minimize"


RESOLVERS = {
    "direction_of": _direction_of,
    "checkpoint_filename": _checkpoint_filename,
    "perfect_score": _perfect_score,
    "if": _if,
    "pid": os.getpid,
    "job_name": _job_name,
    "trial_name": _trial_name,
    "seeds_from": _seeds_from,
    "mlflow_parent": _mlflow_parent,
    "parallel_jobs": _parallel_jobs,
    "on_gpu": _on_gpu,
    "experiment_name": _experiment_name,
    "sqlite_uri": _sqlite_uri,
    "basename": lambda path: os.path.basename(os.path.normpath(str(path))),
}


def register(name: str, resolver, use_cache: bool = False) -> None:
    """OmegaConf's resolver registration: ``register_resolver`` from OmegaConf 2.4 (where
    ``register_new_resolver`` is deprecated); ``register_new_resolver`` on 2.3, whose ``register_resolver``
    is the legacy one, with other argument rules."""
    import inspect

    if "use_cache" in inspect.signature(OmegaConf.register_resolver).parameters:
        OmegaConf.register_resolver(name, resolver, use_cache=use_cache)
    else:
        OmegaConf.register_new_resolver(name, resolver, use_cache=use_cache)


for _name, _fn in RESOLVERS.items():
    if not OmegaConf.has_resolver(_name):
        register(_name, _fn, use_cache=_name == "pid")
