"""A disk that is full, at the start of a run or while a checkpoint is written: one line naming the path.

A real full disk is a small tmpfs mounted for the test (root on Linux; skipped elsewhere), since
torch reports a write that fails mid-file differently from one that fails at its end.
"""

import errno
import subprocess
import sys

import pytest
import torch

from src.config.errors import ConfigError
from src.trainer.checkpoint_io import AtomicCheckpointIO


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a 1 MiB filesystem of its own."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not sys.platform.startswith("linux"):
        pytest.skip("mounts a tmpfs")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", str(disk)], check=True, timeout=30)


def test_a_checkpoint_that_fills_the_disk_raises_the_disks_oserror_naming_it_and_leaves_nothing(small_disk):
    path = small_disk / "checkpoints" / "last.ckpt"
    with pytest.raises(OSError) as error:
        AtomicCheckpointIO().save_checkpoint({"weights": torch.zeros(1_000_000)}, path)  # 4 MB on 1 MiB
    assert error.value.errno == errno.ENOSPC and error.value.filename == str(path)
    assert list(path.parent.iterdir()) == []  # no partial file


def test_a_run_into_a_nearly_full_disk_is_refused_before_training(small_disk, make_cfg):
    from tests.conftest import TINY_RNN
    from train import train

    cfg = make_cfg(*TINY_RNN)
    cfg.paths.output_dir = str(small_disk / "run")
    with pytest.raises(ConfigError, match=r"^hydra.run.dir: .*run: 1.0 MiB free on its disk, and this run's"):
        train(cfg)
    assert not (small_disk / "run" / "checkpoints").exists()
