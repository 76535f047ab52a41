"""A user's own LightningModule and LightningDataModule, unchanged (tests/byo/lightning_code.py), get
every feature: train, resume, a sweep, an Optuna search over their own keys, eval and the report,
with their configs in a folder of their own (``--config-dir tests/byo/conf``)."""

import csv

import pytest
import torch
import yaml

from src.config.compose import ROOT_DIR
from src.config.errors import ConfigError
from tests.conftest import QUIET, run_train
from tests.helpers import read_scalars
from train import train

BYO_CONF = ROOT_DIR / "tests" / "byo" / "conf"
SEARCH = f"hydra.searchpath=[file://{BYO_CONF.as_posix()}]"  # what --config-dir does, for in-process runs
SHORT = [*QUIET, "trainer.max_epochs=3", "callbacks.early_stopping=null"]


def rows(summary) -> list[dict[str, str]]:
    return list(csv.DictReader(summary.open(), delimiter="\t"))


@pytest.mark.slow
def test_a_users_classifier_trains_tests_its_best_checkpoint_and_resumes(make_cfg, tmp_path):
    result = train(make_cfg(SEARCH, "model=dense", *SHORT))
    run = tmp_path / "run"
    (best,) = run.glob("checkpoints/epoch*-val_acc*.ckpt")  # named by the monitored metric
    hyper = torch.load(best, weights_only=True)["hyper_parameters"]  # plain data, so weights-only reads it
    assert hyper["net"]["_target_"] == "tests.byo.lightning_code.SimpleDenseNet"
    assert hyper["optimizer"]["_target_"] == "torch.optim.Adam"
    scalars = read_scalars(run)
    assert result == pytest.approx(max(scalars["val_acc"])) and len(scalars["test_acc"]) == 1  # its best, tested
    last = run / "checkpoints" / "last.ckpt"
    train(make_cfg(SEARCH, "model=dense", *SHORT, "trainer.max_epochs=5", f"ckpt_path={last}", name="again"))
    assert len(read_scalars(run)["val_acc"]) == 5  # went on in its own folder, nothing repeated


def test_a_users_module_gets_only_its_own_arguments_and_errors_name_the_key(make_cfg, tmp_path):
    from src.app.preflight import bad_command_line

    typed = ["--config-dir", str(BYO_CONF), "model=dense", "module.compile=true"]  # no project default to change
    assert bad_command_line(typed, tmp_path) == (
        "module.compile: no such key; DenseClassifier takes: net, optimizer, scheduler "
        "(+module.compile=... adds a new key on purpose)"
    )
    with pytest.raises(ConfigError, match=r"^module.compile: DenseClassifier takes no argument 'compile'; it takes"):
        train(make_cfg(SEARCH, "model=dense", *SHORT, "+module.compile=true"))  # the project's own modules' key
    cfg = make_cfg(SEARCH, "model=dense", *SHORT)
    cfg.model = None  # as a model file that says model: null
    with pytest.raises(ConfigError, match=r"^model: is null, and tests.byo.lightning_code.DenseClassifier takes"):
        train(cfg)
    with pytest.raises(ConfigError, match=r"^module.n_features: 'eight' refused by Autoencoder"):
        train(make_cfg(SEARCH, "model=autoencoder", *SHORT, "module.n_features=eight"))


def test_a_monitored_name_the_first_validation_did_not_log_is_refused_listing_what_was(make_cfg):
    with pytest.raises(ConfigError) as refused:
        train(make_cfg(SEARCH, "model=dense", *SHORT, "monitor.metric=val/acc"))
    assert str(refused.value) == (
        "monitor.metric: 'val/acc' was not logged by the first validation; it logged: "
        "lr-Adam, train_loss, train_loss_step, val_acc, val_loss"
    )


def test_a_run_shorter_than_one_validation_completes(make_cfg, tmp_path):
    assert train(make_cfg(SEARCH, "model=dense", *QUIET, "trainer.max_steps=3")) is None
    assert (tmp_path / "run" / "COMPLETED").exists()


@pytest.mark.slow
def test_an_optuna_search_over_a_users_own_key_minimizes_its_monitored_loss(tmp_path):
    """A regressor whose loss is named ``loss/val``, searched over its own ``module.lr``."""
    args = ["-m", "--config-dir", str(BYO_CONF), *QUIET, "model=regressor", "hparams_search=autoencoder_lr"]
    run_train(*args, "hydra.sweeper.n_trials=2", "trainer.max_epochs=2", "hydra.sweep.dir=search", cwd=tmp_path)
    search = tmp_path / "search"
    trials = sorted(p for p in search.iterdir() if (p / "COMPLETED").exists())
    losses = [min(read_scalars(t)["loss/val"]) for t in trials]
    assert len(trials) == 2 and all(list(t.glob("checkpoints/epoch*-val*.ckpt")) for t in trials)
    results = yaml.safe_load((search / "optimization_results.yaml").read_text())
    assert set(results["best_params"]) == {"module.lr"} and results["best_value"] == pytest.approx(min(losses))
    report = (search / "report" / "report.md").read_text()
    ranked = [line for line in report.splitlines() if line.startswith("| ") and "| ok |" in line]
    assert ranked[0].startswith(f"| {trials[losses.index(min(losses))].name} |")  # the lowest loss first


@pytest.mark.slow
def test_a_users_autoencoder_logs_to_tensorboard_and_mlflow_resumes_latest_and_evaluates(make_cfg, tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from src.config.compose import compose_config
    from src.evaluate import run_eval
    from tests.helpers import hparams_metric_tags

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    user = [SEARCH, "model=autoencoder", *SHORT, "logger=tensorboard_mlflow", f"logger.mlflow.tracking_uri={store}"]
    first = train(make_cfg(*user, name="outputs/first"))
    run = tmp_path / "outputs" / "first"
    assert first == pytest.approx(min(read_scalars(run)["val_loss"]))  # the lowest loss: mode min
    assert "val_loss" in hparams_metric_tags(run)  # the monitored metric is an HPARAMS column
    (logged,) = MlflowClient(store).search_runs([e.experiment_id for e in MlflowClient(store).search_experiments()])
    assert logged.data.metrics["val_loss"] == pytest.approx(read_scalars(run)["val_loss"][-1])
    cfg = make_cfg(*user, "trainer.max_epochs=4", "ckpt_path=latest", name="outputs/second")
    cfg.paths.root_dir = str(tmp_path)  # where latest looks
    train(cfg)
    assert len(read_scalars(run)["val_loss"]) == 4  # went on in the first run's folder
    overrides = [SEARCH, "model=autoencoder", *QUIET, f"ckpt_path={run}"]
    result = run_eval(compose_config(overrides, tmp_path / "eval", config_name="eval"), overrides)
    assert set(result["metrics"]) == {"test_loss"} and result["metrics"]["test_loss"] > 0
    predicted = [*overrides, "predict=[[0.5,0,0,0,0,0,0,-0.5]]"]  # not a classifier: its output, as values
    result = run_eval(compose_config(predicted, tmp_path / "predicted", config_name="eval"), predicted)
    (only,) = result["predictions"]
    assert list(only) == ["output"] and len(only["output"]) == 8


def test_a_constructor_that_refuses_a_keyword_names_that_key(make_cfg):
    takes = r"it takes: input_size, hidden_size, output_size$"
    with pytest.raises(ConfigError, match=rf"^model.dropout: SimpleDenseNet takes no argument 'dropout'; {takes}"):
        train(make_cfg(SEARCH, "model=dense", *SHORT, "+model.dropout=0.5", "+model.width=3"))


def test_a_constructor_that_fails_on_its_own_account_is_named_by_its_group_and_a_non_module_is_refused(make_cfg):
    downloading = "data._target_=tests.byo.lightning_code.DownloadingDataModule"
    cfg = make_cfg(SEARCH, "model=dense", *SHORT, downloading, "~data.n_samples", "~data.n_features", "~data.n_classes")
    cfg.model.input_size, cfg.model.output_size = 8, 3  # what the data would have said
    with pytest.raises(ConfigError, match=r"^data: DownloadingDataModule failed: RuntimeError: Error downloading "):
        train(cfg)
    linear = ["~module.n_features", "~module.lr", "+module.in_features=3", "+module.out_features=2"]
    with pytest.raises(ConfigError, match=r"^module._target_: torch.nn.Linear builds a Linear, not a LightningModule"):
        train(make_cfg(SEARCH, "model=autoencoder", *SHORT, "module._target_=torch.nn.Linear", *linear))
