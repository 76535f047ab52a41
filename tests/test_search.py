"""Hyperparameter search: Optuna's TPE through Hydra's sweeper, its study stored in SQLite and continued."""

import optuna
import pytest
import yaml

from tests.conftest import QUIET, run_train

SEARCH = [
    "-m",
    "hparams_search=mlp_optuna",
    "hydra.sweeper.n_trials=3",
    "trainer.max_steps=20",
    *QUIET,
    "hydra.sweep.dir=search",
]


def test_a_search_stores_its_study_and_the_same_command_continues_it(tmp_path):
    run_train(*SEARCH, cwd=tmp_path)
    root = tmp_path / "search"
    results = yaml.safe_load((root / "optimization_results.yaml").read_text())
    assert set(results["best_params"]) == {"optimizer", "optimizer.lr", "optimizer.weight_decay", "data.mode"}
    study = optuna.load_study(study_name="mlp", storage=f"sqlite:///{root / 'optuna.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    assert results["best_value"] == pytest.approx(max(t.value for t in study.trials))

    run_train(*SEARCH, cwd=tmp_path)  # the same command: the stored study goes on
    study = optuna.load_study(study_name="mlp", storage=f"sqlite:///{root / 'optuna.db'}")
    assert len(study.trials) == 6 and all(t.state.name == "COMPLETE" for t in study.trials)
    trials = sorted(p for p in root.iterdir() if (p / ".hydra").is_dir())
    assert len(trials) == 6  # no trial folder of the first run overwritten
    report = (root / "report" / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| ") and "| ok |" in line]
    best = [float(row.split("|")[3]) for row in rows]  # val/acc_best, best first
    assert len(rows) == 6 and best == sorted(best, reverse=True)
    assert best[0] == pytest.approx(max(t.value for t in study.trials), abs=1e-4)
