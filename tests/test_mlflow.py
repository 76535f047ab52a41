"""logger=mlflow without the optional extra installed, or with a tracking URI that is no MLflow server.

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


def test_a_tracking_uri_that_answers_but_not_as_mlflow_is_refused_in_one_line(make_cfg, tmp_path):
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(ConfigError, match=rf"^logger.mlflow.tracking_uri: {uri} answers, but not as an MLflow"):
            train(make_cfg(*TINY_RNN, "logger=mlflow", f"logger.mlflow.tracking_uri={uri}"))
    finally:
        server.shutdown()
