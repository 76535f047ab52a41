"""What a user sees at the command line: help, the composed config, one-line errors on bad input."""

import subprocess
import sys

import pytest

from tests.conftest import TRAIN_PY, run_train, subprocess_env

BAD_INPUTS = {
    "model=foo": "model=foo: unknown option; choose one of:",
    "data.input_length=abc": "data.input_length: must be an integer >= 1, got 'abc'",
    "data.input_length=0": "data.input_length: must be an integer >= 1, got 0",
    "data.data_size=-5": "data.data_size: must be an integer >= 2, got -5",
    "data.train_portion=1.5": "data.train_portion: must be a number in (0.0, 1.0), got 1.5",
    "optimizer.lr=-1": "optimizer.lr: must be > 0.0, got -1",
    "trainer=gpu": "trainer.accelerator: is 'gpu' but this machine has no CUDA GPU",
}


def test_help_lists_every_group_and_its_options(tmp_path):
    out = run_train("--help", cwd=tmp_path).stdout
    for line in (
        "model: ",
        "data: ",
        "optimizer: adam, rmsprop, sgd",
        "trainer: cpu, default, gpu",
        "callbacks: default, none",
        "logger: csv, tensorboard",
        "experiment: ",
    ):
        assert line in out


def test_cfg_job_prints_the_composed_config_with_overrides(tmp_path):
    out = run_train("--cfg", "job", "data.input_length=7", "optimizer=adam", cwd=tmp_path).stdout
    assert "input_length: 7" in out and "_target_: torch.optim.Adam" in out
    assert "input_dim: ${data.input_dim}" in out


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="trainer=gpu is valid where a GPU is present")
def test_each_bad_input_fails_before_training_with_one_line_naming_the_key(tmp_path):
    procs = {}
    for i, (arg, _) in enumerate(BAD_INPUTS.items()):
        (tmp_path / str(i)).mkdir()
        procs[arg] = subprocess.Popen(
            [sys.executable, str(TRAIN_PY), arg, "trainer.max_epochs=1"],
            cwd=tmp_path / str(i),
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for i, (arg, expected) in enumerate(BAD_INPUTS.items()):
        out, err = procs[arg].communicate(timeout=120)
        assert procs[arg].returncode != 0, arg
        assert expected in err, (arg, err)
        assert "Traceback" not in err + out, arg
        assert not list((tmp_path / str(i)).glob("outputs/*/*/*.ckpt")), arg
        assert not list((tmp_path / str(i)).glob("outputs/*/*/events.*")), arg
