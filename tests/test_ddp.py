"""Multi-device training with Lightning DDP: ddp_cpu runs as real processes over gloo."""

import sys

import pytest
import torch

from src.datamodules.batches import Shard, TensorBatches
from tests.conftest import QUIET, run_train
from tests.helpers import read_scalars
from train import train

# 2,048 training samples: 32 global batches of 64 (32 per rank), 512 validation and 512 test.
pytestmark = pytest.mark.slow  # sweeps and searches as real subprocesses


DATA = [
    "data.input_length=4",
    "data.data_size=2560",
    "trainer.max_epochs=3",
    "callbacks.early_stopping=null",
]


def test_two_cpu_processes_train_like_one_process_with_a_batch_twice_as_large(make_cfg, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    counter = f"+callbacks.count={{_target_: tests.helpers.CountSamples, folder: {work}}}"
    result = run_train("trainer=ddp_cpu", "trainer.devices=2", *DATA, "data.batch_size=32", counter, cwd=work)
    (run_dir,) = (work / "outputs").glob("*/*")  # one output folder
    assert sorted(p.name for p in run_dir.iterdir() if p.suffix == ".log") == ["train.log"]
    for line in ("[progress][INFO] - done:", "[progress][INFO] - test:", "Final metrics:"):
        assert result.stdout.count(line) == 1, line  # only rank 0 speaks
    for rank in (0, 1):  # each rank saw half of every epoch
        assert (work / f"samples_rank{rank}.txt").read_text().split() == ["1024"] * 3
    ddp = read_scalars(run_dir)
    assert len(ddp["val/acc"]) == 3  # logged once per epoch, not once per rank

    train(make_cfg(*QUIET, *DATA, "data.batch_size=64", name="single"))
    single = read_scalars(tmp_path / "single")
    for tag in ("val/acc", "val/loss", "train/loss", "test/acc"):
        assert ddp[tag] == __import__("pytest").approx(single[tag], abs=1e-4), tag


def test_sharded_batches_serve_each_sample_once_in_the_single_process_order():
    samples = torch.arange(203)  # not a multiple of anything: a short last global batch
    ranks = [list(TensorBatches(samples, batch_size=10, shuffle=True, seed=1, shard=Shard(r, 3))) for r in range(3)]
    assert len({len(batches) for batches in ranks}) == 1  # equal batch counts: no rank waits
    single = list(TensorBatches(samples, batch_size=30, shuffle=True, seed=1))
    for step, global_batch in enumerate(single):  # rank parts of each step = the single process's batch
        assert torch.equal(torch.cat([ranks[r][step][0] for r in range(3)]), global_batch[0])
    evaluation = [list(TensorBatches(samples, batch_size=10, shard=Shard(r, 3, equal_batches=False))) for r in range(3)]
    served = torch.cat([b[0] for batches in evaluation for b in batches])
    assert sorted(served.tolist()) == list(range(203))  # every sample once, no padding


def test_a_last_global_batch_smaller_than_the_ranks_is_padded_from_the_start():
    samples = torch.arange(9)
    ranks = [list(TensorBatches(samples, batch_size=4, shard=Shard(r, 2))) for r in range(2)]
    assert [len(b) for b in ranks] == [2, 2]
    last = [ranks[r][1][0].tolist() for r in range(2)]
    assert last == [[8], [0]]  # the one left over, and one from the start so rank 1 has a batch


def test_a_sweep_of_ddp_jobs_runs_each_job_once_in_its_own_folder(tmp_path):
    data = [o for o in DATA if not o.startswith("data.input_length")]
    run_train("-m", "trainer=ddp_cpu", "data.input_length=3,4", *data, "trainer.max_epochs=1", cwd=tmp_path)
    (root,) = (tmp_path / "multirun").glob("*/*")  # one sweep: the ranks did not relaunch it
    jobs = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != "report")
    assert jobs == ["data.input_length=3", "data.input_length=4"]
    for job in jobs:
        assert (root / job / "COMPLETED").is_file() and len(read_scalars(root / job)["val/acc"]) == 1
        assert not list((root / job).glob("*ddp_process*"))
    assert (root / "summary.tsv").read_text().count("\tCOMPLETED\t") == 2


@pytest.mark.skipif(sys.platform == "win32", reason="ranks are forked where the platform can fork")
@pytest.mark.parametrize("ctrl_c", [True, False])
def test_a_forked_rank_does_not_hang_and_a_signal_stops_it_saved_in_one_line(tmp_path, ctrl_c):
    """The run's process used all cores (a forward pass, the data) before forking its one rank, which then set
    its threads (Lightning does, without OMP_NUM_THREADS) and waited forever in its first parallel operation.
    Then Ctrl-C (to the rank and the process that forked it) or SIGTERM (to that process alone): the rank
    saves and marks the run, and the parent ends with the rank's one line, not a rank's traceback."""
    import os
    import signal
    import subprocess
    import time

    from src.config.compose import ROOT_DIR
    from tests.conftest import subprocess_env

    args = [*QUIET, "trainer=ddp_cpu", "trainer.devices=1", "data.input_length=6", "data.data_size=40000",
            "data.batch_size=32", "trainer.max_epochs=20", "callbacks.early_stopping=null",
            "callbacks.last_checkpoint.every_n_train_steps=50"]  # fmt: skip
    env = {k: v for k, v in subprocess_env().items() if k != "OMP_NUM_THREADS"}  # threads as a user has them
    process = subprocess.Popen(
        [sys.executable, str(ROOT_DIR / "train.py"), *args, "hydra.run.dir=run"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group, as a terminal's job: Ctrl-C goes to all of it
    )  # fmt: skip
    run = tmp_path / "run"
    try:
        deadline = time.monotonic() + 120
        while not (run / "checkpoints" / "last.ckpt").exists():  # step 50 of 25,000: training, not hung
            assert time.monotonic() < deadline and process.poll() is None, process.communicate()[1][-2000:]
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGINT) if ctrl_c else process.terminate()
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    name = "SIGINT" if ctrl_c else "SIGTERM"
    assert process.returncode == 128 + getattr(signal, name), (out + err)[-3000:]
    assert (run / "INTERRUPTED").read_text().startswith(f"{name} at step ") and not (run / "FAILED").exists()
    assert f"Interrupted ({name}) at step " in out + err and "Traceback" not in err, err[-2000:]
