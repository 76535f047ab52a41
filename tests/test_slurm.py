"""Sweeps on a real one-node SLURM cluster (tests/slurm_cluster.py): a time limit with and without a
requeue left, a cancelled job, a preempted job (with and without a grace time), several tasks a job.
``make test-cluster`` runs them; they skip, saying why, where slurm-wlm and munge are not installed or
not runnable (root)."""

import csv
import os
import shlex
import subprocess
import sys
import threading
import time

import pytest

from src.app.preflight import bad_command_line
from src.config.compose import ROOT_DIR, compose_config
from tests.conftest import subprocess_env
from tests.helpers import read_scalars
from tests.slurm_cluster import SlurmCluster, available
from train import train

pytestmark = pytest.mark.cluster

# one CPU and little memory a job; SLURM's shortest limit (a minute), its signal 40 s before: ~20 s in
SLURM = ["launcher=slurm", "hydra.launcher.gpus_per_node=0", "hydra.launcher.cpus_per_task=1",
         "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=40"]  # fmt: skip
# a run that trains for longer than the ~20 s before the signal (one thread, as the jobs have)
LONG = ["trainer=cpu", "callbacks.progress_bar=null", "trainer.enable_progress_bar=false",
        "callbacks.early_stopping=null", "data.input_length=10", "data.data_size=100000"]  # fmt: skip


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if reason := available():
        pytest.skip(reason)
    running = SlurmCluster(tmp_path_factory.mktemp("slurm")).start()
    os.environ["SLURM_CONF"] = str(running.config)
    yield running
    os.environ.pop("SLURM_CONF", None)
    running.stop()


def sweep(cluster, tmp_path, *args: str, timeout: float = 420, meanwhile=None) -> subprocess.CompletedProcess:
    """``python train.py -m ARGS`` into tmp_path/sweep, releasing requeued jobs as soon as SLURM holds them;
    ``meanwhile(process)`` runs while the sweep does."""
    done = threading.Event()

    def release() -> None:
        while not done.wait(2):
            cluster.release_held_jobs()

    helper = threading.Thread(target=release, daemon=True)
    helper.start()
    command = [sys.executable, str(ROOT_DIR / "train.py"), "-m", *args, "hydra.sweep.dir=sweep"]
    process = subprocess.Popen(command, cwd=tmp_path, env={**subprocess_env(), **cluster.env}, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        if meanwhile is not None:
            meanwhile(process)
        stdout, stderr = process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    finally:
        done.set()
        helper.join()
        if process.poll() is None:
            process.kill()


def wait_for(path, process, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline and process.poll() is None, f"{path} did not appear"
        time.sleep(0.5)


def statuses(tmp_path) -> dict[str, str]:
    rows = csv.DictReader((tmp_path / "sweep" / "summary.tsv").open(), delimiter="\t")
    return {row["overrides"].split()[-1]: row["status"] for row in rows}


def test_a_time_limit_without_a_requeue_left_saves_marks_and_names_the_command_that_continues(cluster, tmp_path):
    result = sweep(cluster, tmp_path, *SLURM, *LONG, "trainer.max_epochs=50", "data.seed=0,1")
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert statuses(tmp_path) == {"data.seed=0": "INTERRUPTED", "data.seed=1": "INTERRUPTED"}
    for job in ("data.seed=0", "data.seed=1"):
        reason, command = (tmp_path / "sweep" / job / "INTERRUPTED").read_text().splitlines()
        assert reason.startswith("SIGUSR2 at step ") and "the job was not requeued" in reason
        step = int(reason.split()[3].rstrip(":"))
        assert step > 0 and (tmp_path / "sweep" / job / "checkpoints" / "last.ckpt").exists()
        assert bad_command_line(shlex.split(command)[2:], tmp_path) is None  # pastes as a command train.py takes


def test_a_time_limit_with_requeues_left_resumes_the_save_and_ends_like_an_uninterrupted_run(cluster, tmp_path):
    # 20 epochs: about 30 s of training here, well past the signal ~20 s in (12 once finished just before it)
    result = sweep(cluster, tmp_path, *SLURM, "hydra.launcher.max_num_timeout=5", *LONG, "trainer.max_epochs=20",
                   "seed=3")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    job = next(p for p in (tmp_path / "sweep").iterdir() if (p / ".hydra").is_dir())
    assert statuses(tmp_path) == {"seed=3": "COMPLETED"} and not (job / "INTERRUPTED").exists()
    log = (job / "train.log").read_text()
    assert "Requeued by SLURM: resuming" in log  # it was stopped at least once
    requeued = read_scalars(job)
    assert len(requeued["val/acc"]) == 20  # one validation an epoch: nothing repeated
    uninterrupted = tmp_path / "uninterrupted"
    train(compose_config([*LONG, "trainer.max_epochs=20", "seed=3"], uninterrupted))
    expected = read_scalars(uninterrupted)
    for tag in ("val/acc", "val/loss", "test/acc"):
        assert requeued[tag] == pytest.approx(expected[tag], abs=1e-6), tag


def test_scancel_of_one_job_marks_it_interrupted_and_the_other_completes(cluster, tmp_path):
    def cancel_the_first(process) -> None:
        wait_for(tmp_path / "sweep" / "data.seed=0" / "checkpoints" / "last.ckpt", process)
        jobs = subprocess.run(["squeue", "-h", "-o", "%i %j"], env=cluster.env, capture_output=True, text=True)
        first = min(line.split()[0] for line in jobs.stdout.splitlines())  # array task 0: data.seed=0
        subprocess.run(["scancel", first], env=cluster.env, check=True, timeout=30)

    result = sweep(cluster, tmp_path, *SLURM, "hydra.launcher.timeout_min=10", *LONG, "trainer.max_epochs=3",
                   "data.seed=0,1", "hydra.launcher.array_parallelism=2", meanwhile=cancel_the_first)  # fmt: skip
    assert result.returncode != 0, result.stderr[-3000:]
    assert statuses(tmp_path) == {"data.seed=0": "INTERRUPTED", "data.seed=1": "COMPLETED"}
    assert (tmp_path / "sweep" / "data.seed=0" / "INTERRUPTED").read_text().startswith("SIGTERM at step ")


# debug: SIGTERM with 30 s of grace, and the job requeues itself; quick: SLURM requeues the job, then SIGTERM
@pytest.mark.parametrize("partition", ["debug", "quick"])
def test_a_preempted_job_saves_resumes_that_save_and_completes_once(cluster, tmp_path, partition):
    def preempt(process) -> None:
        deadline = time.monotonic() + 180
        while not list((tmp_path / "sweep").glob("*/checkpoints/last.ckpt")):  # an epoch done: mid-run now
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.5)
        cluster.preempt()

    run = [*LONG, "trainer.max_epochs=6", "seed=4"]
    # a 60-minute limit: a signal after a minute is not a time limit, so no timeout requeue (none are allowed)
    limits = [*SLURM, "hydra.launcher.timeout_min=60", f"hydra.launcher.partition={partition}"]
    result = sweep(cluster, tmp_path, *limits, *run, meanwhile=preempt)
    assert result.returncode == 0, result.stderr[-3000:]
    job = next(p for p in (tmp_path / "sweep").iterdir() if (p / ".hydra").is_dir())
    assert statuses(tmp_path) == {"seed=4": "COMPLETED"} and not (job / "INTERRUPTED").exists()
    log = (job / "train.log").read_text()
    assert "Terminated received" in log and "Requeued by SLURM: resuming" in log
    assert ("SLURM requeued this job (a preemption)" in log) == (partition == "quick")
    if partition == "debug":  # submitit requeued it as a preemption, not as a time limit
        job_logs = (tmp_path / "sweep" / ".submitit").rglob("*.err")
        assert any("this job is preempted" in p.read_text() for p in job_logs)
    preempted = read_scalars(job)
    assert len(preempted["val/acc"]) == 6  # one validation an epoch: nothing repeated
    train(compose_config(run, tmp_path / "uninterrupted"))
    expected = read_scalars(tmp_path / "uninterrupted")
    for tag in ("val/acc", "val/loss", "test/acc"):
        assert preempted[tag] == pytest.approx(expected[tag], abs=1e-6), tag


def test_several_tasks_per_job_are_the_runs_ranks_in_one_folder_with_the_local_runs_metrics(cluster, tmp_path):
    ddp = [*LONG[1:4], "trainer=ddp_cpu", "trainer.devices=2", "data.input_length=4", "data.data_size=2560",
           "trainer.max_epochs=2"]  # fmt: skip
    tasks = [*SLURM, "hydra.launcher.timeout_min=10", "hydra.launcher.tasks_per_node=2"]
    result = sweep(cluster, tmp_path, *tasks, *ddp, "seed=5,6")
    assert result.returncode == 0, result.stderr[-3000:]
    assert statuses(tmp_path) == {"seed=5": "COMPLETED", "seed=6": "COMPLETED"}
    job = tmp_path / "sweep" / "seed=5"
    log = (job / "train.log").read_text()
    assert log.count("Initializing distributed: GLOBAL_RANK") == 2 and "MEMBER: 2/2" in log  # two ranks, not four
    local = subprocess.run(
        [sys.executable, str(ROOT_DIR / "train.py"), *ddp, "seed=5", "hydra.run.dir=local"],
        cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert local.returncode == 0, local.stderr[-3000:]
    on_slurm, here = read_scalars(job), read_scalars(tmp_path / "local")
    for tag in ("val/acc", "val/loss", "test/acc"):
        assert on_slurm[tag] == pytest.approx(here[tag], abs=1e-6), tag


def test_a_time_limit_stops_every_rank_of_a_several_task_job_at_the_same_batch(cluster, tmp_path):
    ddp = [*LONG[1:], "trainer=ddp_cpu", "trainer.devices=2", "trainer.max_epochs=50", "seed=7"]
    result = sweep(cluster, tmp_path, *SLURM, "hydra.launcher.tasks_per_node=2", *ddp, timeout=240)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert statuses(tmp_path) == {"seed=7": "INTERRUPTED"}
    job = next(p for p in (tmp_path / "sweep").iterdir() if (p / ".hydra").is_dir())
    reason = (job / "INTERRUPTED").read_text().splitlines()[0]
    # the warning signal; on a loaded machine SLURM's periodic check can skip it and end the job at its limit
    # with SIGTERM instead, which the ranks must stop on together just the same
    warned = reason.startswith("SIGUSR2 at step ") and "the job was not requeued" in reason
    assert warned or reason.startswith("SIGTERM at step "), reason
    assert (job / "checkpoints" / "last.ckpt").exists()


def test_a_sweep_sbatch_refuses_is_one_line_naming_the_key_and_leaves_no_folder(cluster, tmp_path):
    result = sweep(cluster, tmp_path, *SLURM, "hydra.launcher.partition=nowhere", *LONG, "seed=1,2", timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("launcher: SLURM refused the sweep's jobs (") and "partition" in line, line
    assert not (tmp_path / "sweep").exists()  # the folder it made, and nothing else, is gone
