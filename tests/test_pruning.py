"""Finding a Hydra job's Optuna trial from its overrides, and reporting to it through the storage."""

import optuna

from src.callbacks.pruning import find_trial, job_assignments
from src.private_api import optuna_trial

CHOICES = ("uniform", "orthogonal", "identity")


def study_with_trials(storage: str, *params: dict) -> optuna.Study:
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    for values in params:
        study.enqueue_trial(values)  # asked next, with these values
        trial = study.ask()
        for key in values:  # one space of choices for every trial, as the sweeper declares it
            trial.suggest_categorical(key, CHOICES)
    return study


def test_the_jobs_overrides_pick_the_searched_keys_only():
    overrides = ["optimizer.lr=0.001", "data.input_length=6", "+model.recurrent_init=orthogonal", "trainer=cpu"]
    assert job_assignments(overrides, ["optimizer.lr", "model.recurrent_init"]) == {
        "optimizer.lr": "0.001",
        "model.recurrent_init": "orthogonal",
    }


def test_the_running_trial_with_the_jobs_values_is_found_and_finished_ones_are_not(tmp_path):
    storage = f"sqlite:///{tmp_path / 'db.sqlite'}"
    study = study_with_trials(storage, {"init": "orthogonal"}, {"init": "uniform"}, {"init": "orthogonal"})
    assert find_trial(study, {"init": "uniform"}).number == 1
    assert find_trial(study, {"init": "orthogonal"}).number == 0  # identical runs: the first
    study.tell(0, 0.5)
    assert find_trial(study, {"init": "orthogonal"}).number == 2  # trial 0 is no longer running
    assert find_trial(study, {"init": "identity"}) is None
    assert find_trial(study, {"init": "uniform", "lr": "0.1"}) is None  # other keys: not this trial


def test_a_float_parameter_matches_its_override_text(tmp_path):
    storage = f"sqlite:///{tmp_path / 'db.sqlite'}"
    study = optuna.create_study(study_name="s", storage=storage)
    lr = study.ask().suggest_float("optimizer.lr", 1e-5, 1.0, log=True)
    assert find_trial(study, {"optimizer.lr": str(lr)}).number == 0
    assert find_trial(study, {"optimizer.lr": str(lr * 1.001)}) is None


def test_a_job_reports_to_its_trial_through_the_storage(tmp_path):
    storage = f"sqlite:///{tmp_path / 'db.sqlite'}"
    study_with_trials(storage, {"init": "uniform"})
    job_side = optuna.load_study(study_name="s", storage=storage, pruner=optuna.pruners.ThresholdPruner(lower=0.9))
    trial = optuna_trial(storage, job_side, 0)
    trial.report(0.5, step=3)
    assert trial.should_prune()  # the job's pruner judged the stored value
    stored = optuna.load_study(study_name="s", storage=storage).trials[0]
    assert stored.intermediate_values == {3: 0.5} and stored.state.name == "RUNNING"
