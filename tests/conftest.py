"""Shared fixtures: configs composed with Hydra's compose API, tiny data, output in tmp_path."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from src.config.compose import ROOT_DIR, compose_config

# One thread: results then do not depend on the machine's core count (reduction order), and
# the suite's subprocesses do not fight over the cores.
torch.set_num_threads(1)

TRAIN_PY = ROOT_DIR / "train.py"

# On the CPU, without progress output: what every test run adds.
QUIET = ["trainer=cpu", "callbacks.progress_bar=null", "trainer.enable_progress_bar=false"]
# A palindrome job that trains in seconds: short inputs, few samples.
TINY_RNN = [*QUIET, "data.input_length=4", "data.data_size=2000", "data.batch_size=32", "trainer.max_epochs=3"]


@pytest.fixture
def make_cfg(tmp_path):
    """``make_cfg(*overrides, name="run")``: a composed config whose outputs go to tmp_path/name."""

    def _make(*overrides: str, name: str = "run"):
        return compose_config(list(overrides), tmp_path / name)

    return _make


def subprocess_env() -> dict[str, str]:
    """The user's environment, with one torch thread per process so parallel tests do not thrash."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    return env


def run_train(
    *args: str, cwd: Path, timeout: float = 240, check: bool = True, script: str = "train.py"
) -> subprocess.CompletedProcess:
    """Run ``python train.py ARGS`` (or ``script``) as a user would, in ``cwd``; returns the finished process."""
    result = subprocess.run(
        [sys.executable, str(TRAIN_PY.parent / script), *args],
        cwd=cwd,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result
