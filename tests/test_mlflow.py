"""logger=mlflow: a sweep is one MLflow experiment with one run per job, read back with MLflow's own client."""

import pytest

from src import build
from src.config.errors import ConfigError
from tests.conftest import QUIET, TINY_RNN, run_train
from train import train


@pytest.mark.slow
def test_a_two_job_sweep_is_one_experiment_with_a_run_per_job_its_params_metrics_and_model(tmp_path):
    """Two jobs at once, into a new store: the launcher makes the store and experiment they share."""
    mlflow = pytest.importorskip("mlflow", reason="the optional extra (make install installs it)")
    uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    run_train(
        "-m", "launcher=parallel", "hydra.launcher.n_jobs=2", "logger=tensorboard_mlflow",
        f"logger.mlflow.tracking_uri={uri}", "logger.mlflow.log_model=true",
        "data.input_length=3,4", *QUIET, "data.data_size=2000", "trainer.max_epochs=2", "trainer.log_every_n_steps=10",
        cwd=tmp_path,
    )  # fmt: skip
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("lightning-hydra-experiments")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(run.info.run_name for run in runs) == ["data.input_length=3", "data.input_length=4"]
    for run in runs:
        length = run.info.run_name.split("=")[1]
        assert run.data.params["data/input_length"] == length and run.data.params["model/_target_"]
        assert run.data.params["provenance/versions/torch"]  # what produced it, beside its settings
        assert len(client.get_metric_history(run.info.run_id, "val/acc")) == 2  # one value per epoch
        assert {"train/loss_step", "test/acc"} <= set(run.data.metrics)
        assert client.list_artifacts(run.info.run_id)  # the best checkpoint, with log_model=true
    assert list(tmp_path.glob("multirun/*/*/data.input_length=3/events.out.tfevents.*"))  # and TensorBoard too


def test_without_mlflow_installed_logger_mlflow_says_how_to_install_it(make_cfg, monkeypatch):
    monkeypatch.setattr(build, "installed", lambda module: module != "mlflow")  # as on a machine without the extra
    with pytest.raises(
        ConfigError, match=r"^logger.mlflow: needs mlflow, an optional extra: pip install -e '.\[mlflow\]'"
    ):
        train(make_cfg(*TINY_RNN, "logger=mlflow"))
