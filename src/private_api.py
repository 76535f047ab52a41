"""Every use of a library's private API, each in one small helper that says why no public API serves.

Checked against hydra-core 1.3.8, pytorch-lightning 2.6.6 and optuna 2.10.1; pyproject.toml
bounds each of them below its next minor (or major) release, and tests/test_private_api.py
exercises every helper, so an upgrade that moves one fails there, in one obvious place. Nothing
here replaces a library's function: each helper reads or constructs, and only for its caller.
"""

from hydra.core.utils import JobReturn


def hydra_args_parser():
    """Hydra's own command-line parser, to read overrides exactly as Hydra will before it composes.

    Hydra exposes no public parser; re-implementing its argparse set-up would drift from it.
    """
    from hydra._internal.utils import get_args_parser

    return get_args_parser()


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
