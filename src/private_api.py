"""Every use of a library's private API, each in one small helper that says why no public API serves.

Checked against pytorch-lightning 2.6.6 and both Hydra lines (docs/scaling.md): hydra-core 1.3.8 with
optuna 2.10.1, and hydra-core 1.4.0rc3 with optuna 5.1. pyproject.toml and constraints/ bound each below
its next untested release, and tests/test_private_api.py (run on both lines) exercises every helper, so
an upgrade that moves one fails there, in one obvious place. Nothing
here replaces a library's function: each helper reads or constructs, and only for its caller.
"""

from pathlib import Path

from hydra.core.utils import JobReturn


def hydra_args_parser():
    """Hydra's own command-line parser, to read overrides exactly as Hydra will before it composes.

    Hydra exposes no public parser; re-implementing its argparse set-up would drift from it.
    """
    from hydra._internal.utils import get_args_parser

    return get_args_parser()


def hydra_app(conf_dir: Path, task_name: str, config_dir: str | None = None):
    """Hydra's application object, as ``@hydra.main`` makes it: the config search path of ``conf_dir`` (and
    of a user's ``--config-dir``, first), the plugins' search paths, and the loader that composes.

    ``@hydra.main`` composes every command twice (once to read ``hydra.mode``, once to run) and offers
    no way to check the composed config, or to claim the folder it names, before the job writes into
    it. Its own steps are used here instead, so a command is composed once (``compose``) and that
    config is the one checked, claimed and run (``run_one``, ``sweep``).
    """
    from hydra import version
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.errors import SearchPathException

    from src.config.compose import hydra_before_1_4

    if hydra_before_1_4():  # what @hydra.main(version_base="1.3") sets: no chdir into the job's folder
        version.setbase("1.3")  # (Hydra 1.4 behaves so by default and deprecates version_base)

    search_path = create_config_search_path(str(conf_dir))
    if config_dir is not None:
        folder = Path(config_dir).resolve()
        if not folder.is_dir():
            raise SearchPathException(f"--config-dir: {folder} is not a folder")
        search_path.prepend("command-line", f"file://{folder}", SearchPathQuery(provider="schema"))
    return Hydra.create_main_hydra2(task_name=task_name, config_search_path=search_path)


def compose(app, config_name: str, overrides: list[str], multirun: bool):
    """The command's config, hydra node included, composed once by Hydra's own loader (as a run or a
    sweep), with Hydra's logging configured as ``@hydra.main`` configures it."""
    from hydra.types import RunMode

    mode = RunMode.MULTIRUN if multirun else RunMode.RUN
    return app.compose_config(config_name, [*overrides, f"hydra.mode={mode.name}"], mode, with_log_configuration=True)


def run_one(app, cfg, config_name: str, task) -> JobReturn:
    """Hydra's single run of ``task`` on the composed ``cfg``: its callbacks, its job (the folder
    ``hydra.run.dir`` names, ``.hydra/``, the log file), as ``Hydra.run`` does after composing."""
    from hydra._internal.callbacks import Callbacks
    from hydra.core.utils import run_job
    from hydra.types import HydraContext

    callbacks = Callbacks(cfg)
    callbacks.on_run_start(config=cfg, config_name=config_name)
    context = HydraContext(config_loader=app.config_loader, callbacks=callbacks)
    job = run_job(task, cfg, job_dir_key="hydra.run.dir", job_subdir_key=None, hydra_context=context)
    callbacks.on_run_end(config=cfg, config_name=config_name, job_return=job)
    return job


def sweep(app, cfg, config_name: str, task, sweeper_settings: dict | None = None) -> None:
    """Hydra's multirun of ``task`` on the composed ``cfg``: its callbacks, then its sweeper and launcher,
    as ``Hydra.multirun`` does after composing. Each job's config is composed by the sweeper.

    ``sweeper_settings`` (``{"n_trials": 3}``) are the sweeper's for this launch only: its constructor
    takes them, and the config stays as composed, so each job's (composed again from the command line)
    still equals it, as Hydra 1.4 requires, and the sweep's printed commands are the user's."""
    from hydra._internal.callbacks import Callbacks
    from hydra.core.plugins import Plugins
    from hydra.types import HydraContext
    from omegaconf import OmegaConf, open_dict, read_write

    callbacks = Callbacks(cfg)
    callbacks.on_multirun_start(config=cfg, config_name=config_name)
    context = HydraContext(config_loader=app.config_loader, callbacks=callbacks)
    composed = {key: cfg.hydra.sweeper.get(key) for key in sweeper_settings or {}}
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.sweeper.merge_with(sweeper_settings or {})
    try:
        sweeper = Plugins.instance().instantiate_sweeper(config=cfg, hydra_context=context, task_function=task)
    finally:
        with read_write(cfg.hydra), open_dict(cfg.hydra):
            cfg.hydra.sweeper.merge_with(composed)
    sweeper.sweep(arguments=OmegaConf.to_container(cfg.hydra.overrides.task, resolve=False))
    callbacks.on_multirun_end(config=cfg, config_name=config_name)


def print_only(args, parser, task, conf_dir: Path, config_name: str) -> None:
    """``--help``, ``--hydra-help``, ``--cfg``, ``--info``, ``--shell-completion``: Hydra's own output,
    through the function ``@hydra.main`` calls with the flags it has read."""
    from hydra._internal.utils import _run_hydra
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()  # the application object read_command made: Hydra makes its own here
    _run_hydra(args=args, args_parser=parser, task_function=task, config_path=str(conf_dir), config_name=config_name)


BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"  # the default sweeper's _target_


def basic_sweep_jobs(overrides) -> list[list[str]]:
    """Every job of a sweep by Hydra's basic sweeper, as the override list each job gets, in its order.

    The sweeper computes them inside ``sweep()`` and hands them to the launcher only; the
    launching process's callbacks never see the list. Its static ``split_arguments`` is the
    sweeper's own expansion (ranges, choices, presets), so the jobs listed are exactly those it runs.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    return [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]


def job_error(job_return: JobReturn) -> BaseException:
    """The exception a failed Hydra job raised.

    ``JobReturn.return_value`` (public) re-raises it and writes a line to stderr; this reads the
    stored exception without either.
    """
    return job_return._return_value


def optuna_trial(storage_url: str, study, number: int):
    """A live ``optuna.Trial`` for trial ``number`` of ``study``, to report to and ask ``should_prune``.

    Optuna hands out live trials only from its own ``study.optimize`` and ``study.ask``, both in
    the process that owns the study; a Hydra job runs elsewhere and has only the stored trial.
    ``Trial(study, trial_id)`` is Optuna's internal constructor; the id comes from the storage's
    public lookup.
    """
    import optuna

    storage = optuna.storages.get_storage(storage_url)
    study_id = storage.get_study_id_from_name(study.study_name)
    return optuna.trial.Trial(study, storage.get_trial_id_from_study_id_trial_number(study_id, number))


class FastHookNames:
    """Mixin for a LightningModule: Lightning's ``_current_fx_name`` set without nn.Module's checks.

    Lightning sets this attribute (a str) around each of the ~40 hooks of a training step, and
    ``nn.Module.__setattr__`` spends ~1 us each looking for a parameter, module or buffer of that
    name. It is never one, so a plain object attribute is the same thing, at a fraction of a
    small model's step. Lightning offers no hook for this.
    """

    HOOK_NAME_ATTRIBUTE = "_current_fx_name"

    def __setattr__(self, name: str, value) -> None:
        if name == FastHookNames.HOOK_NAME_ATTRIBUTE:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)
