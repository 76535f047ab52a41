"""The debug presets compose and run: fdr, overfit, limit, profiler and their common default."""

import pytest

from tests.conftest import TINY_RNN, run_train
from tests.helpers import read_scalars
from train import train

TINY = [o for o in TINY_RNN if not o.startswith("trainer.max_epochs")]  # each preset sets its own


@pytest.mark.parametrize("preset", ["default", "fdr", "overfit", "limit", "profiler"])
def test_every_debug_preset_runs(make_cfg, tmp_path, preset):
    cfg = make_cfg(*TINY, f"debug={preset}")
    assert cfg.trainer.accelerator == "cpu" and cfg.trainer.deterministic and cfg.trainer.detect_anomaly
    train(cfg)
    if preset == "fdr":  # fast_dev_run: one batch of each loop, no logger, no checkpoints
        assert cfg.trainer.fast_dev_run and not (tmp_path / "run" / "checkpoints").exists()
        return
    scalars = read_scalars(tmp_path / "run")
    epochs = {"default": 1, "overfit": 50, "limit": 3, "profiler": 1}[preset]
    assert len(scalars["train/loss"]) == epochs
    if preset == "overfit":  # 4 batches, learnt by heart
        assert scalars["train/loss"][-1] < 0.3 * scalars["train/loss"][0]  # 2.3 (chance) -> 0.5
    if preset == "limit":
        assert cfg.trainer.limit_train_batches == 10


def test_debug_runs_are_kept_apart_from_real_runs(tmp_path):
    run_train("debug=fdr", *TINY, cwd=tmp_path)
    assert list((tmp_path / "outputs" / "debug").glob("*/*/train.log")) and not list((tmp_path / "outputs").glob("2*"))
