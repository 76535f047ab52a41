"""What a user sees at the command line: help and the composed config (bad input: test_bad_input.py)."""

from tests.conftest import run_train


def test_help_lists_every_group_and_its_options(tmp_path):
    out = run_train("--help", cwd=tmp_path).stdout
    for line in (
        "model: ",
        "data: ",
        "optimizer: adam, rmsprop, sgd",
        "trainer: cpu, ddp, ddp_cpu, default, gpu",
        "launcher: local, parallel, slurm",
        "hparams_search: cnn_optuna, mlp_optuna, palindrome_long, palindrome_optuna",
        "debug: default, fdr, limit, overfit, profiler",
        "callbacks: default, none",
        "logger: csv, tensorboard",
        "experiment: ",
    ):
        assert line in out


def test_cfg_job_prints_the_composed_config_with_overrides(tmp_path):
    out = run_train("--cfg", "job", "data.input_length=7", "optimizer=adam", cwd=tmp_path).stdout
    assert "input_length: 7" in out and "_target_: torch.optim.Adam" in out
    assert "input_dim: ${data.input_dim}" in out
