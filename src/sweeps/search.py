"""An Optuna search continued as users expect: topped up to ``n_trials`` in all, its new trials numbered on.

Hydra's Optuna sweeper loads a stored study and asks it for ``n_trials`` more trials, numbering its
jobs from 0 again. Before the sweep starts (its folder claimed, the stored search space compared,
``src.sweeps.folder``), ``prepare_search`` reads the study the sweeper will load and says what is left
of ``n_trials``, which the sweeper is built to run; a trial left running by a search that was stopped (the
launching process is gone: this one holds the folder's lock) is told failed, so the sampler and the
pruner no longer wait on it, and a new trial takes its place. The number of trials stored goes to
each job (``TRIALS_ENV``), whose folder the ``trial_name`` resolver names ``trial<N>``, N being the
Optuna trial number.
"""

import logging
import os
from pathlib import Path

from omegaconf import DictConfig

from src.config.plugins import OPTUNA_SWEEPER
from src.config.resolvers import TRIALS_ENV

log = logging.getLogger("train")
FINISHED = ("COMPLETE", "PRUNED", "FAIL")  # states of a trial that ran to its end, counted against n_trials


def is_search(cfg: DictConfig) -> bool:
    return cfg.hydra.sweeper.get("_target_") == OPTUNA_SWEEPER


def prepare_search(cfg: DictConfig) -> int:
    """The number of trials an Optuna search still has to run to hold ``hydra.sweeper.n_trials`` finished ones
    (all of them for a new study); its jobs are told where their numbers start."""
    wanted = int(cfg.hydra.sweeper.n_trials)
    trials = stored_trials(cfg)
    os.environ[TRIALS_ENV] = str(len(trials))
    if not trials:
        return wanted
    import optuna

    stopped = [t for t in trials if t.state.name == "RUNNING"]
    if stopped:
        study = load_study(cfg)
        for trial in stopped:
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        log.info(
            "Trial(s) %s of the stored study were left running by a stopped search: told failed, each replaced by "
            "a new trial",
            ", ".join(str(t.number) for t in stopped),
        )
    finished = sum(t.state.name in FINISHED for t in trials if t not in stopped)
    left = max(wanted - finished, 0)
    log.info("The study holds %d finished trial(s) of n_trials=%d: %d to run", finished, wanted, left)
    return left


def load_study(cfg: DictConfig):
    import optuna

    sweeper = cfg.hydra.sweeper
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=sweeper.study_name, storage=str(sweeper.storage))
    finally:
        optuna.logging.set_verbosity(verbosity)


def stored_trials(cfg: DictConfig) -> list:
    """The trials of the study this search's storage holds under its name ([] where there is none yet)."""
    sweeper = cfg.hydra.sweeper
    if sweeper.get("storage") is None or sweeper.get("study_name") is None:
        return []  # an in-memory study starts afresh every time
    url = str(sweeper.storage)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
        return []  # opening it would make the file: the sweeper does that
    import optuna

    storage = optuna.storages.get_storage(url)
    try:
        study_id = storage.get_study_id_from_name(str(sweeper.study_name))
    except KeyError:
        return []
    return storage.get_all_trials(study_id, deepcopy=False)
