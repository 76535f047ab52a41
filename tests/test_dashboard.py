"""A finished search opens in optuna-dashboard by the command its report names (the hydra-1.4 line)."""

import json
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import optuna
import pytest

from tests.conftest import QUIET, run_train

pytestmark = pytest.mark.slow  # a search, then a web server, as real subprocesses
pytest.importorskip(
    "optuna_dashboard", reason="optuna-dashboard needs Optuna >= 3.6: the hydra-1.4 line (make test LINE=hydra-1.4)"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url: str, deadline: float) -> dict:
    """The JSON at ``url``, asked again until the server answers or ``deadline`` (time.monotonic) passes."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return json.loads(answer.read())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_the_dashboard_command_the_report_names_serves_the_searchs_trials(tmp_path):
    run_train("-m", "hparams_search=mlp_optuna", "hydra.sweeper.n_trials=2", "trainer.max_steps=10", *QUIET,
              "hydra.sweep.dir=search", cwd=tmp_path)  # fmt: skip
    root = tmp_path / "search"
    report = (root / "report" / "report.md").read_text()
    (line,) = [line for line in report.splitlines() if "optuna-dashboard" in line]
    words = shlex.split(line.split("`")[1])
    assert words == ["optuna-dashboard", f"sqlite:///{(root / 'optuna.db').resolve().as_posix()}"]

    executable = Path(sys.executable).with_name("optuna-dashboard")  # this environment's, as make install puts it
    port = free_port()
    server = subprocess.Popen([str(executable), *words[1:], "--host", "127.0.0.1", "--port", str(port), "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        (summary,) = get_json(f"http://127.0.0.1:{port}/api/studies", deadline)["study_summaries"]
        assert summary["study_name"] == "mlp"
        detail = get_json(f"http://127.0.0.1:{port}/api/studies/{summary['study_id']}", deadline)
    finally:
        server.terminate()
        server.wait(timeout=30)
    study = optuna.load_study(study_name="mlp", storage=words[1])
    served = {t["number"]: t for t in detail["trials"]}
    assert sorted(served) == [t.number for t in study.trials] == [0, 1]
    for trial in study.trials:
        assert served[trial.number]["state"] == "Complete" and served[trial.number]["values"] == [trial.value]
        params = {p["name"]: p["param_external_value"] for p in served[trial.number]["params"]}
        assert params == {name: str(value) for name, value in trial.params.items()}
