"""Hyperparameter search: Optuna's TPE through Hydra's sweeper, its study stored in SQLite and continued."""

from pathlib import Path

import optuna
import pytest
import yaml

from src.config.compose import config_options
from tests.conftest import QUIET, run_train
from tests.helpers import read_scalars

pytestmark = pytest.mark.slow  # sweeps and searches as real subprocesses


SEARCH = [
    "-m",
    "hparams_search=mlp_optuna",
    "hydra.sweeper.n_trials=1",
    "trainer.max_steps=20",
    *QUIET,
    "hydra.sweep.dir=search",
]


def load(root):
    return optuna.load_study(study_name="mlp", storage=f"sqlite:///{root / 'optuna.db'}")


def test_a_search_stores_its_study_and_continuing_it_tops_it_up_to_n_trials(tmp_path):
    run_train(*SEARCH, cwd=tmp_path)
    root = tmp_path / "search"
    results = yaml.safe_load((root / "optimization_results.yaml").read_text())
    assert set(results["best_params"]) == {"optimizer", "optimizer.lr", "optimizer.weight_decay", "data.mode"}
    assert [t.state.name for t in load(root).trials] == ["COMPLETE"]
    assert results["best_value"] == pytest.approx(max(t.value for t in load(root).trials))

    load(root).ask()  # a trial a stopped search left running: told failed and replaced when the search goes on
    more = [a.replace("n_trials=1", "n_trials=2") for a in SEARCH]
    done = run_train(*more, cwd=tmp_path)
    said = done.stdout + done.stderr
    assert "Trial(s) 1 of the stored study were left running" in said
    assert "The study holds 1 finished trial(s) of n_trials=2: 1 to run" in said
    assert [t.state.name for t in load(root).trials] == ["COMPLETE", "FAIL", "COMPLETE"]
    trials = sorted(p.name.split("_", 1)[1] for p in root.iterdir() if (p / ".hydra").is_dir())
    assert trials == ["trial0", "trial2"]  # numbered as Optuna numbers them: no folder of the first run reused

    done = run_train(*more, cwd=tmp_path)  # the same command again: the search has its two trials
    said = done.stdout + done.stderr
    assert "has all its n_trials: nothing to run (raise hydra.sweeper.n_trials)" in said and len(load(root).trials) == 3

    report = (root / "report" / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| ") and "| ok |" in line]
    best = [float(row.split("|")[3]) for row in rows]  # val/acc_best, best first
    assert len(rows) == 2 and best == sorted(best, reverse=True)
    assert best[0] == pytest.approx(max(t.value for t in load(root).trials if t.value is not None), abs=1e-4)
    for figure in ("optuna_history.png", "optuna_importances.png", "boundaries.png"):  # Optuna's, and the MLPs'
        assert f"]({figure})" in report and (root / "report" / figure).stat().st_size > 5000

    wider = run_train(*more, "hydra.sweeper.params.optimizer='choice(sgd,adam)'", cwd=tmp_path, check=False)
    assert wider.returncode == 2 and wider.stderr.strip().splitlines()[-1].startswith(
        f"hydra.sweep.dir: {root} holds a search over another space"
    )
    assert len(load(root).trials) == 3


LONG_SEARCH = [
    "-m",
    "hparams_search=palindrome_long",
    "data.input_length=6",
    "data.data_size=1000",
    "trainer.max_epochs=4",
    *QUIET,
    "hydra.sweep.dir=search",
]


def test_a_pruned_trial_stops_after_the_validation_the_pruner_judged_and_is_listed_as_pruned(tmp_path):
    # Optuna's ThresholdPruner stops any trial whose best validation accuracy is below 1.01: all, at epoch 1
    pruner = [
        "callbacks.optuna_pruning.pruner._target_=optuna.pruners.ThresholdPruner",
        "~callbacks.optuna_pruning.pruner.n_startup_trials",
        "callbacks.optuna_pruning.pruner.n_warmup_steps=1",
        "+callbacks.optuna_pruning.pruner.lower=1.01",
    ]
    run_train(*LONG_SEARCH, "hydra.sweeper.n_trials=2", *pruner, cwd=tmp_path)
    root = tmp_path / "search"
    study = optuna.load_study(study_name="palindrome_long", storage=f"sqlite:///{root / 'optuna.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 2  # the sweeper tells each its result
    for trial in study.trials:
        assert sorted(trial.intermediate_values) == [0, 1]  # reported after each validation, to its own trial
        assert trial.user_attrs["pruned_at_epoch"] == 1
        assert trial.value == pytest.approx(max(trial.intermediate_values.values()))
    jobs = sorted(p for p in root.iterdir() if (p / ".hydra").is_dir())
    assert len(jobs) == 2
    for job in jobs:
        assert (job / "PRUNED").read_text().startswith("pruned at epoch 1: val/acc_best")
        assert "epoch 2/4" not in (job / "train.log").read_text()  # no epoch after the pruned one
    summary = (root / "summary.tsv").read_text().splitlines()[1:]
    assert len(summary) == 2 and all("\tPRUNED\t" in row and "(pruned at epoch 1" in row for row in summary)
    report = (root / "report" / "report.md").read_text()
    assert "2 job(s); 2 with results" in report and report.count("| ok, pruned at epoch 1: val/acc_best") == 2


def test_without_a_pruner_verdict_a_trial_reports_every_validation_to_its_own_trial(tmp_path):
    run_train(
        *LONG_SEARCH, "hydra.sweeper.n_trials=1", "callbacks.optuna_pruning.pruner.n_startup_trials=5", cwd=tmp_path
    )
    root = tmp_path / "search"
    study = optuna.load_study(study_name="palindrome_long", storage=f"sqlite:///{root / 'optuna.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"]
    for trial in study.trials:
        assert "pruned_at_epoch" not in trial.user_attrs
        (job,) = root.glob(f"*_trial{trial.number}")  # a new study: trial number = job number
        logged = read_scalars(job)["val/acc_best"]
        reported = [trial.intermediate_values[epoch] for epoch in sorted(trial.intermediate_values)]
        assert sorted(trial.intermediate_values) == list(range(len(logged)))  # one report an epoch
        assert reported == pytest.approx(logged)
    assert not list(root.glob("*/PRUNED"))


@pytest.mark.skipif(
    int(optuna.__version__.split(".")[0]) < 3,
    reason="on the stable line the searches above run mlp_optuna and palindrome_long, and tests/test_config.py "
    "builds every preset; this runs each preset on the Optuna 5 line",
)
@pytest.mark.parametrize("preset", config_options("hparams_search"))
def test_every_search_preset_runs_a_trial_under_fast_dev_run(preset, tmp_path):
    """Each preset's sweeper settings, sampler and search space, as Optuna 5 and the Hydra 1.4 sweeper take
    them; one trial of one batch each (make test LINE=hydra-1.4)."""
    data = []
    if preset == "cnn_optuna":  # CIFAR-10 cannot be downloaded here: the same search on Fashion-MNIST, offline
        if not Path("/usr/share/datasets/fashion-mnist").is_dir():
            pytest.skip("needs Debian's Fashion-MNIST (make install installs it as root)")
        data = ["data=fashion_mnist"]
    done = run_train("-m", f"hparams_search={preset}", "debug=fdr", "hydra.sweeper.n_trials=1", *QUIET, *data,
                     "hydra.sweep.dir=search", cwd=tmp_path)  # fmt: skip
    assert "_execution_whitelist_" not in done.stderr  # Hydra 1.4: its sampler, sweeper and launcher allowlisted
    storage = f"sqlite:///{tmp_path / 'search' / 'optuna.db'}"
    (summary,) = optuna.study.get_all_study_summaries(storage)
    assert summary.n_trials == 1 and (tmp_path / "search" / "summary.tsv").is_file()
