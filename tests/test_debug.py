"""The debug presets compose and run: fdr, overfit, limit, profiler and their common default."""

import logging

import pytest

from tests.conftest import TINY_RNN
from tests.helpers import read_scalars
from train import train

TINY = [o for o in TINY_RNN if not o.startswith("trainer.max_epochs")]  # each preset sets its own


@pytest.mark.parametrize("preset", ["default", "fdr", "overfit", "limit", "profiler"])
def test_every_debug_preset_runs(make_cfg, tmp_path, caplog, preset):
    cfg = make_cfg(*TINY, f"debug={preset}")
    assert cfg.trainer.accelerator == "cpu" and cfg.trainer.deterministic and cfg.trainer.detect_anomaly
    with caplog.at_level(logging.INFO):
        train(cfg)
    reports = [r.getMessage() for r in caplog.records if "Profiler Report" in r.getMessage()]
    if preset == "profiler":  # Lightning's simple profiler: where the time went, for fit and for test
        assert any("FIT Profiler Report" in r and "run_training_epoch" in r for r in reports), reports
    else:
        assert not reports
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
    from src.config.compose import compose_config

    debug = compose_config(["debug=fdr"], tmp_path, with_hydra=True).hydra
    real = compose_config([], tmp_path, with_hydra=True).hydra
    assert debug.run.dir.startswith("outputs/debug/") and debug.sweep.dir.startswith("multirun/debug/")
    assert real.run.dir.startswith("outputs/") and "debug" not in real.run.dir
