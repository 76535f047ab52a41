"""train.py end to end, in process: metrics logged, learning, seeds, resume, checkpoints."""

import warnings

import pytest
import torch
from pytorch_lightning.trainer.connectors import data_connector

from src.config.errors import ConfigError
from src.metric_tags import EPOCH_TAGS, STEP_TAGS
from src.run.resume import latest_checkpoint
from tests.conftest import TINY_RNN
from tests.helpers import hparams_metric_tags, read_scalars
from train import train

METRICS = set(EPOCH_TAGS) | set(STEP_TAGS)


def test_short_run_logs_every_metric_and_learns(make_cfg, tmp_path):
    data_connector.warning_cache.clear()  # Lightning warns once per process about a batch hook
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(make_cfg(*TINY_RNN, "trainer.max_epochs=10", "callbacks.early_stopping=null"))
    assert not [w for w in caught if "batch" in str(w.message) and "overridden" in str(w.message)]
    scalars = read_scalars(tmp_path / "run")
    assert METRICS <= set(scalars)
    steps = 10 * 1600 // 32  # 10 epochs of 1,600 training samples in batches of 32
    assert len(scalars["train/loss_step"]) == len(scalars["train/acc_step"]) == steps // 50  # log_every_n_steps
    assert len(scalars["val/acc"]) == 10 and scalars["val/acc_best"][-1] == max(scalars["val/acc"])
    assert scalars["val/acc_best"][-1] >= 0.9 and scalars["test/acc"][-1] >= 0.9  # chance is 0.1
    assert result == pytest.approx(scalars["val/acc_best"][-1])
    assert set(hparams_metric_tags(tmp_path / "run")) >= {"val/acc", "val/acc_best", "test/acc"}
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()


def test_same_seed_logs_identical_metrics_and_another_seed_differs(make_cfg, tmp_path):
    runs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        train(make_cfg(*TINY_RNN, "trainer.max_epochs=2", f"seed={seed}", name=name))
        runs[name] = read_scalars(tmp_path / name)
    assert runs["a"] == runs["b"]
    assert runs["a"]["train/loss"] != runs["c"]["train/loss"]


def test_run_killed_mid_epoch_and_resumed_ends_like_an_uninterrupted_run(make_cfg, tmp_path):
    common = [*TINY_RNN, "callbacks.early_stopping=null", "callbacks.last_checkpoint.every_n_train_steps=5"]
    train(make_cfg(*common, name="whole"))
    crash = "+callbacks.crash={_target_: tests.helpers.CrashAtStep, step: 73}"  # mid-way through epoch 2 of 3
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(make_cfg(*common, crash, name="killed"))
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["global_step"] == 70
    train(make_cfg(*common, f"ckpt_path={last}", name="resumed"))  # goes on in killed/, its own folder

    assert not (tmp_path / "resumed" / "checkpoints").exists()
    whole, resumed = read_scalars(tmp_path / "whole"), read_scalars(tmp_path / "killed")
    for tag in ("val/acc", "val/loss", "val/acc_best", "test/acc", "test/loss"):
        assert resumed[tag][-1] == whole[tag][-1], tag
    weights = [
        torch.load(tmp_path / r / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
        for r in ("whole", "killed")
    ]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_ckpt_path_latest_resumes_the_newest_last_checkpoint(tmp_path):
    older = tmp_path / "outputs" / "2026-01-01" / "10-00-00_1" / "checkpoints" / "last.ckpt"
    newer = tmp_path / "multirun" / "2026-01-02" / "10-00-00_2" / "data.input_length=3" / "checkpoints" / "last.ckpt"
    for path, mtime in ((older, 1_000), (newer, 2_000)):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
        import os

        os.utime(path, (mtime, mtime))
    assert latest_checkpoint(tmp_path) == newer
    assert latest_checkpoint(tmp_path, exclude=newer.parents[1]) == older
    with pytest.raises(ConfigError, match="ckpt_path: is 'latest' but there is no"):
        latest_checkpoint(tmp_path / "empty")


def test_early_stopping_ends_the_run_once_validation_accuracy_is_perfect(make_cfg, tmp_path):
    train(make_cfg(*TINY_RNN, "data.input_length=2", "trainer.max_epochs=30"))
    val_acc = read_scalars(tmp_path / "run")["val/acc"]
    assert val_acc[-1] == 1.0 and len(val_acc) < 30
