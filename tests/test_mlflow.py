"""logger=mlflow without the optional extra installed.

A sweep logging to MLflow (one experiment, a run per job, read back with MLflow's own client) is
tested with the parallel sweep, in tests/test_parallel.py: one sweep serves both.
"""

import pytest

from src.config.errors import ConfigError
from src.run import build
from tests.conftest import TINY_RNN
from train import train


def test_without_mlflow_installed_logger_mlflow_says_how_to_install_it(make_cfg, monkeypatch):
    monkeypatch.setattr(build, "installed", lambda module: module != "mlflow")  # as on a machine without the extra
    with pytest.raises(
        ConfigError, match=r"^logger.mlflow: needs mlflow, an optional extra: pip install -e '.\[mlflow\]'"
    ):
        train(make_cfg(*TINY_RNN, "logger=mlflow"))
