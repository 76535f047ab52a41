"""What a composed command is checked for before anything is imported from torch or built: a sweep-only
group without ``-m``, a swept value or key the config does not have, an interpolation that does not
resolve, an output folder that cannot be written, a sweep plugin's settings. Each ends in one line.

Judged on the composed, resolved config: the folder is the one ``hydra.run.dir`` (or
``hydra.sweep.dir``) resolves to, whoever set it (the command line, an interpolation, a preset).
"""

import os
from pathlib import Path

from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import OmegaConfBaseException

from src.app.command import Command, has_key, missing_key_hint
from src.config.errors import ConfigError, is_int
from src.records.status import hydra_quoted
from src.run.folder import check_not_in_use, holds_anything, protected
from src.trainer.devices import first_process

SWEEP_ONLY = {  # groups that only mean something in a multirun: (the choice that means none, what it does)
    "hparams_search": (None, "a search runs many jobs"),
    "launcher": (None, "chooses where a sweep's jobs run, and a single run has none"),
    "hydra/launcher": ("basic", "chooses where a sweep's jobs run, and a single run has none"),
    "hydra/sweeper": ("basic", "chooses how a sweep's jobs are chosen, and a single run has none"),
}


def resolve_folder(cfg: DictConfig, key: str) -> Path:
    """The folder ``key`` (``hydra.run.dir``, ``hydra.sweep.dir``) resolves to, written back into ``cfg`` as that
    absolute path, so that what is checked and claimed is what Hydra's job writes into."""
    HydraConfig.instance().set_config(cfg)  # for ${hydra:...} in the folder's name
    try:
        folder = Path(os.path.abspath(str(OmegaConf.select(cfg, key, throw_on_resolution_failure=True))))
    except OmegaConfBaseException as error:
        raise ConfigError(key, f"cannot be resolved: {str(error).splitlines()[0]}") from None
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        OmegaConf.update(cfg, key, str(folder))
        if key == "hydra.run.dir":
            cfg.hydra.runtime.output_dir = str(folder)
        else:  # each job's config is composed again from the overrides: they name the folder too
            cfg.hydra.overrides.hydra.append(hydra_quoted(key, folder))
    HydraConfig.instance().set_config(cfg)  # what ${hydra:runtime.output_dir} (paths.output_dir) now resolves to
    return folder


def check_command(command: Command) -> Path:
    """Refuse what the command line asks that cannot run; the folder it will write (resolved and pinned)."""
    cfg = command.cfg
    if command.multirun:
        check_sweep(command)
        folder = resolve_folder(cfg, "hydra.sweep.dir")
    else:
        check_single_run(cfg)
        folder = resolve_folder(cfg, "hydra.run.dir")
        check_resolves(cfg)
    key = "hydra.sweep.dir" if command.multirun else "hydra.run.dir"
    check_writable(folder, key)
    if not command.multirun and holds_anything(folder) and (reason := protected(folder)) is not None:
        what = (
            "overwrite=true empties only an earlier run's folder" if cfg.get("overwrite") is True else "it is not empty"
        )
        raise ConfigError(key, f"{folder} {reason}, and {what}: nothing was touched; give a new or empty folder")
    if first_process():  # a rank Lightning's launcher started writes into its first rank's folder, in use
        check_not_in_use(folder, key, "sweep" if command.multirun else "run")
    return folder


def check_single_run(cfg: DictConfig) -> None:
    """A sweep-only group without ``-m`` (a search trial's printed resume command has one: it resumes)."""
    if cfg.get("ckpt_path") is not None:
        return
    choices = cfg.hydra.runtime.choices
    for group, (none, what) in SWEEP_ONLY.items():
        if choices.get(group) != none:
            raise ConfigError(group, f"{what}; add -m (python train.py -m {group}=...)")


def check_resolves(cfg: DictConfig) -> None:
    """Every value of the config resolves (``a=${a}``, ``${nowhere}``: one line naming the key and its text)."""
    for key in cfg:
        if key == "hydra":
            continue
        try:
            if OmegaConf.is_config(value := cfg[key]):
                OmegaConf.to_container(value, resolve=True)
        except OmegaConfBaseException as error:
            text = OmegaConf.to_container(cfg, resolve=False)
            for part in str(error.full_key).split("."):
                text = text.get(part) if isinstance(text, dict) else text
            raise ConfigError(error.full_key, f"{text} cannot be resolved: {str(error).splitlines()[0]}") from None


def check_sweep(command: Command) -> None:
    """Each swept group's values are options, each swept (or searched) key is in the config, the launcher's
    ``n_jobs`` is a number of jobs, and the sweeper's and launcher's settings are what their plugins take."""
    cfg, loader = command.cfg, command.app.config_loader
    params = [f"{k}={swept_value(cfg, k)}" for k in cfg.hydra.sweeper.get("params") or {}]
    typed = {str(o).split("=", 1)[0] for o in cfg.hydra.overrides.task}
    if cfg.get("seeds", 1) != 1 and "seed" in typed and "seed" in (cfg.hydra.sweeper.get("params") or {}):
        raise ConfigError("seed", f"is swept by seeds={cfg.seeds} (seeds 1 to {cfg.seeds}); leave out seed=..., or use "
                          "seeds=1 to run one seed")  # fmt: skip
    for override in OverridesParser.create().parse_overrides([*params, *cfg.hydra.overrides.task]):
        key = override.key_or_group
        if override.is_delete() or override.is_add() or key.startswith("hydra"):
            continue
        options = loader.get_group_options(key)
        if options and override.is_sweep_override():
            for value in override.sweep_string_iterator():
                if value not in options and value != "null":
                    raise ConfigError(f"{key}={value}", f"unknown option; choose one of: {', '.join(options)}")
        elif not options and not has_key(cfg, key):
            where = "hydra.sweeper.params." if f"{key}={override.value()}" in params else ""
            raise ConfigError(f"{where}{key}", f"no such key in the config; {missing_key_hint(cfg, key)}")
    n_jobs = OmegaConf.select(cfg, "hydra.launcher.n_jobs", default=None)
    if n_jobs is not None and not (is_int(n_jobs) and (n_jobs >= 1 or n_jobs == -1)):
        raise ConfigError("hydra.launcher.n_jobs", f"must be an integer >= 1 (or -1: one job per core), got {n_jobs!r}")
    from src.config.plugins import OPTUNA_SWEEPER, check_sweep_plugins

    check_sweep_plugins(cfg)
    if cfg.hydra.sweeper.get("_target_") == OPTUNA_SWEEPER and cfg.get("optimized_metric") is None:
        check_search_direction(cfg)


def swept_value(cfg: DictConfig, key: str) -> str:
    """A preset's swept value of ``key`` (``hydra.sweeper.params``), resolved; one that does not resolve is one
    line naming the key its resolver names (``seeds: must be ...``), else the param."""
    try:
        return str(cfg.hydra.sweeper.params[key])
    except OmegaConfBaseException as error:
        said = str(error).strip().splitlines()[0].split("raised while resolving interpolation: ", 1)[-1]
        named, _, problem = said.partition(": ")
        if problem and " " not in named:
            raise ConfigError(named, problem) from None
        raise ConfigError(f"hydra.sweeper.params.{key}", f"cannot be resolved: {said}") from None


def check_search_direction(cfg: DictConfig) -> None:
    """A search optimizes ``monitor.metric`` (unless ``optimized_metric`` names another): one there must be, and
    the search's direction is the way it is watched (``monitor.mode``)."""
    from src.config.plugins import direction_names

    metric, mode = cfg.monitor.get("metric"), cfg.monitor.get("mode")
    if metric is None:
        raise ConfigError(
            "monitor.metric",
            "is null, so a search has nothing to optimize; name a metric the module logs in "
            "validation (monitor.metric=val_loss monitor.mode=min), or optimized_metric=NAME",
        )
    direction, expected = (
        direction_names(cfg.hydra.sweeper.get("direction")),
        "maximize" if mode == "max" else "minimize",
    )
    if isinstance(direction, str) and direction != expected:
        raise ConfigError(
            "hydra.sweeper.direction",
            f"{direction} contradicts monitor.mode={mode} ({metric}); give {expected}, or leave it to follow "
            "monitor.mode (${direction_of:${monitor.mode}})",
        )


def check_writable(folder: Path, key: str) -> None:
    """The folder can be made and written: its nearest existing folder is a writable folder that takes a new
    folder (not a path under a file, not ``/proc``). Probing makes and removes one folder: nothing is left."""
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        reason = "is not a folder" if not existing.is_dir() else "is not writable"
        raise ConfigError(key, f"cannot write the run's outputs under {folder}: {existing} {reason}")
    if existing == folder:
        return
    probe = existing / folder.relative_to(existing).parts[0]
    try:
        probe.mkdir()
    except FileExistsError:  # made meanwhile (another run): it can be made
        return
    except OSError as error:
        problem = f"{existing} holds no new folder ({error.strerror})"
        raise ConfigError(key, f"cannot write the run's outputs under {folder}: {problem}") from None
    try:
        probe.rmdir()
    except OSError:  # another run wrote into it meanwhile: it stays theirs
        pass


def bad_command_line(
    argv: list[str], cwd: Path, conf_dir: Path | None = None, config_name: str = "train"
) -> str | None:
    """The one line ``python {config_name}.py ARGV``, run in ``cwd``, refuses before anything is built; None
    when it would go on. Reads, composes and checks exactly as the entry does (tests, docs checks)."""
    from src.app.command import only_prints, read_command
    from src.config.compose import CONF_DIR
    from src.config.targets import allowing

    before = Path.cwd()
    os.chdir(cwd)
    try:
        command = read_command(argv, config_name, conf_dir or CONF_DIR)
        if config_name == "train" and command.cfg is not None and command.cfg.get("reproduce") is not None:
            from src.app.reproduce import reproduce_command

            command = reproduce_command(command)
        if not only_prints(command.args):
            with allowing(command.allowlist()):
                check_command(command)
    except ConfigError as error:
        return str(error)
    finally:
        os.chdir(before)
        HydraConfig.instance().cfg = None  # as outside a Hydra run
        GlobalHydra.instance().clear()
    return None
