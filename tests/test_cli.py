"""What a user sees at the command line: help and the composed config (bad input: test_bad_input.py)."""

from src.config.compose import CONF_DIR, config_options
from tests.conftest import run_train


def test_help_lists_every_group_and_every_option(tmp_path):
    out = run_train("--help", cwd=tmp_path).stdout
    groups = sorted(d.name for d in CONF_DIR.iterdir() if d.is_dir() and d.name != "hydra")
    assert len(groups) >= 10
    for group in groups:  # Hydra's own line for the group: every option, in name order
        assert f"{group}: {', '.join(config_options(group))}\n" in out, group


def test_cfg_job_prints_the_composed_config_with_overrides(tmp_path):
    out = run_train("--cfg", "job", "data.input_length=7", "optimizer=adam", cwd=tmp_path).stdout
    assert "input_length: 7" in out and "_target_: torch.optim.Adam" in out
    assert "input_dim: ${data.input_dim}" in out
