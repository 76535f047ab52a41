"""Image models trained through train.py: they learn on real Fashion-MNIST; CIFAR-10's path works."""

import numpy as np
import pytest

from src.records.confusion import read_confusion
from src.report.write import write_report
from tests.cifar_fixture import PER_BATCH, write_cifar10
from tests.conftest import QUIET, run_train
from tests.helpers import read_scalars
from train import train

SHORT = ["trainer.max_epochs=1", "trainer.limit_val_batches=2", "trainer.limit_test_batches=10"]


@pytest.mark.slow
def test_cnn_learns_fashion_mnist_well_above_chance(make_cfg, tmp_path):
    steps = ["data.batch_size=16", "trainer.limit_train_batches=40", "trainer.limit_test_batches=20"]  # 320 tested
    train(make_cfg("model=cnn", "data=fashion_mnist", *steps, *SHORT[:2], *QUIET))
    scalars = read_scalars(tmp_path / "run")
    assert scalars["test/acc"][-1] >= 0.4  # chance is 0.1; 0.63 to 0.74 after these 40 steps (seeds 0 to 3)


def test_mlp_learns_fashion_mnist_well_above_chance(make_cfg, tmp_path):
    train(
        make_cfg(
            "model=mlp",
            "data=fashion_mnist",
            "model.hidden_units=[128]",
            "trainer.max_steps=100",
            "optimizer.lr=0.1",
            "data.batch_size=64",
            "trainer.val_check_interval=50",
            *QUIET,
        )
    )
    assert read_scalars(tmp_path / "run")["test/acc"][-1] >= 0.6


@pytest.mark.slow
def test_cnn_trains_on_cifar10_read_from_its_real_file_format(make_cfg, tmp_path):
    write_cifar10(tmp_path / "cifar")
    dataset = "data.dataset=tests.cifar_fixture.FixtureCIFAR10"
    train(
        make_cfg(
            "model=cnn",
            dataset,
            f"data.root={tmp_path / 'cifar'}",
            "data.val_size=20",
            "data.batch_size=16",
            "trainer.max_epochs=2",
            "trainer.limit_train_batches=2",  # the loading path is the point: a few steps of each epoch
            "module.channels_last=true",
            "data.augment=true",
            *QUIET,
        )
    )
    scalars = read_scalars(tmp_path / "run")
    assert len(scalars["val/acc"]) == 2 and len(scalars["test/acc"]) == 1
    # the report's confusion matrix, counted during the final test: its diagonal is the test accuracy
    matrix, names = read_confusion(tmp_path / "run")
    matrix = np.array(matrix)
    assert names[0] == "airplane" and matrix.shape == (10, 10) and matrix.sum() == PER_BATCH  # every test image
    assert matrix.trace() / matrix.sum() == pytest.approx(scalars["test/acc"][-1], abs=1e-6)
    (tmp_path / "run" / ".hydra").mkdir()
    (tmp_path / "run" / ".hydra" / "overrides.yaml").write_text("[]\n")
    report = write_report(tmp_path / "run").read_text()
    assert (
        "](confusion_run.png)" in report and (tmp_path / "run" / "report" / "confusion_run.png").stat().st_size > 5000
    )


@pytest.mark.slow
def test_sgd_and_adam_sweep_writes_two_runs(tmp_path):
    run_train(
        "-m",
        "experiment=cnn_optimizers",
        "data=fashion_mnist",
        "trainer.limit_train_batches=3",
        "trainer.limit_val_batches=2",
        "trainer.limit_test_batches=2",
        "data.batch_size=8",
        *SHORT[:1],
        *QUIET,
        cwd=tmp_path,
    )
    (root,) = (tmp_path / "multirun").glob("*/*")
    assert sorted(p.name for p in root.iterdir() if (p / ".hydra").is_dir()) == ["optimizer=adam", "optimizer=sgd"]
    lrs = {name: read_scalars(root / name) for name in ("optimizer=adam", "optimizer=sgd")}
    assert "lr-Adam" in lrs["optimizer=adam"] and "lr-SGD" in lrs["optimizer=sgd"]
    assert (root / "report" / "optimizers.png").is_file()


@pytest.mark.slow
def test_cnn_recipe_steps_its_cosine_schedule_each_epoch(make_cfg, tmp_path):
    train(
        make_cfg(
            "experiment=cnn_recipe",
            "data=fashion_mnist",
            "trainer.max_epochs=2",
            "trainer.limit_train_batches=2",
            "trainer.limit_val_batches=1",
            "trainer.limit_test_batches=1",
            "data.batch_size=8",  # the schedule is the point: small steps
            *QUIET,
        )
    )
    lrs = read_scalars(tmp_path / "run")["lr-SGD"]
    assert lrs[0] == pytest.approx(0.05) and lrs[1] == pytest.approx(0.025)  # cosine over 2 epochs: halfway
