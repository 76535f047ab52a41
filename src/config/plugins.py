"""A sweep's plugin settings, checked before Hydra starts the sweep (``train.py``, with the command line).

Hydra's sweeper and launcher plugins read their settings only once the sweep has started, and
their errors (optuna's, SQLAlchemy's, submitit's) reach the user as tracebacks with no key in
them; a Hydra callback cannot stop a sweep either (Hydra turns its errors into warnings). So
the objects the plugins will build are built here first, from the same settings: the Optuna
sampler, an in-memory study with the configured direction, the storage's database engine
(connecting to nothing), submitit's executor. Their errors become one line naming the key.
Counts whose meaning has a range (trials, trials at once, a cluster job's minutes, nodes and
memory) are refused outside it, although the plugins would pass them on. Nothing is written.
"""

import tempfile
from enum import Enum
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from src.config.errors import ConfigError, check_int, first_line

DIRECTIONS = ("minimize", "maximize")  # the names of optuna.study.StudyDirection a study takes
OPTUNA_SWEEPER = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
SUBMITIT_CLUSTERS = {
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher": "slurm",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher": "local",
}
# submitit settings that are counts (at least 1) or limits (at least 0): sbatch would refuse them on the cluster
CLUSTER_COUNTS = ("timeout_min", "nodes", "tasks_per_node", "cpus_per_task", "array_parallelism")
CLUSTER_LIMITS = ("gpus_per_node", "signal_delay_s", "max_num_timeout", "mem_gb")


def check_sweep_plugins(config: DictConfig) -> None:
    """Raise a ConfigError naming the first sweeper or launcher setting its plugin would fail on."""
    hydra = config.hydra
    if hydra.sweeper.get("_target_") == OPTUNA_SWEEPER:
        check_optuna_sweeper(hydra.sweeper, Path(hydra.sweep.dir))
    if (cluster := SUBMITIT_CLUSTERS.get(hydra.launcher.get("_target_"))) is not None:
        check_submitit_launcher(hydra.launcher, cluster)


def check_optuna_sweeper(sweeper: DictConfig, sweep_dir: Path) -> None:
    import optuna
    from hydra.utils import instantiate

    check_int("hydra.sweeper.n_trials", sweeper.get("n_trials"), minimum=1)
    check_int("hydra.sweeper.n_jobs", sweeper.get("n_jobs"), minimum=1)
    try:
        sampler = instantiate(sweeper.sampler)
    except Exception as error:  # noqa: BLE001 - whatever the sampler's constructor refuses
        what = str(error).strip().splitlines()[0].split(", set env var")[0]  # Hydra's words, then the cause's
        why = " ".join(str(error.__cause__ or "").split())
        why = f" ({why})" if why else ""
        raise ConfigError("hydra.sweeper.sampler", f"{what}{why}") from None
    direction = direction_names(sweeper.direction)
    many = isinstance(direction, list)
    for name in direction if many else [direction]:  # Optuna's own check words it differently in each release
        if str(name).lower() not in DIRECTIONS:
            raise ConfigError("hydra.sweeper.direction", f"{name!r}: Optuna takes {' or '.join(DIRECTIONS)}")
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the throw-away study is not news to the user
    try:
        optuna.create_study(
            sampler=sampler, direction=None if many else direction, directions=direction if many else None
        )
    except (ValueError, TypeError) as error:
        raise ConfigError("hydra.sweeper.direction", f"{direction!r}: {first_line(error)}") from None
    finally:
        optuna.logging.set_verbosity(verbosity)
    if sweeper.get("storage") is not None:
        check_storage(str(sweeper.storage), sweep_dir)


def direction_names(direction):
    """A sweeper's direction(s) as Optuna takes them: the plugin's own ``Direction.minimize`` as ``"minimize"``."""
    if OmegaConf.is_list(direction):
        return [direction_names(d) for d in direction]
    return direction.name if isinstance(direction, Enum) else direction


def check_storage(url: str, sweep_dir: Path) -> None:
    """The database URL optuna's storage will open: its dialect loads, and an SQLite file's folder exists
    (or is the sweep's own, which the sweep creates)."""
    from sqlalchemy import create_engine

    if url.startswith("redis"):  # optuna's other storage; its server is reached when the sweep starts
        return
    try:
        engine = create_engine(url)  # what optuna's RDB storage makes of the URL; connects to nothing yet
    except Exception as error:  # noqa: BLE001 - a malformed URL or an unknown database
        raise ConfigError(
            "hydra.sweeper.storage", f"{url}: not a database URL optuna can use ({first_line(error)})"
        ) from None
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database not in (None, "", ":memory:"):
        folder = Path(database).parent
        if not folder.is_dir() and folder != sweep_dir and sweep_dir not in folder.parents:
            raise ConfigError("hydra.sweeper.storage", f"{url}: the folder {folder} does not exist")
        if Path(database).exists():
            check_sqlite_file(url, Path(database))


def check_sqlite_file(url: str, path: Path) -> None:
    """An existing file the storage names must be an SQLite database (read only, nothing written)."""
    import sqlite3

    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            connection.execute("PRAGMA schema_version").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise ConfigError("hydra.sweeper.storage", f"{url}: {path} is not an SQLite database ({error})") from None


def check_submitit_launcher(launcher: DictConfig, cluster: str) -> None:
    for key in CLUSTER_COUNTS:
        if launcher.get(key) is not None:  # None: the cluster's default
            check_int(f"hydra.launcher.{key}", launcher[key], minimum=1)
    for key in CLUSTER_LIMITS:
        if launcher.get(key) is not None:
            check_int(f"hydra.launcher.{key}", launcher[key], minimum=0)
    import submitit

    try:  # the executor the launcher will submit through; on a machine without the cluster's tools it refuses
        with tempfile.TemporaryDirectory() as folder:  # it makes its folder: a throw-away one, not the sweep's
            submitit.AutoExecutor(folder=folder, cluster=cluster)
    except Exception as error:  # noqa: BLE001 - submitit's own reason, in one line
        raise ConfigError(
            "launcher",
            f"{cluster}: {first_line(error)}; launch the sweep where the cluster's commands are "
            "(a login node), or use launcher=parallel on this machine",
        ) from None
