"""Parallel sweeps on one machine: Hydra's joblib launcher, each job with its share of threads and its own GPU."""

import multiprocessing
import shlex
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import torch

from src.app.preflight import bad_command_line
from src.config.compose import ROOT_DIR
from src.sweeps.placement import claim_gpu
from src.trainer import devices
from src.trainer.devices import threads_per_job
from tests.conftest import TINY_RNN, run_train, subprocess_env
from tests.helpers import hparams_metric_tags, read_scalars

TINY_SWEEP = [o for o in TINY_RNN if not o.startswith("data.input_length")] + ["callbacks.early_stopping=null"]


def log_span(job_dir: Path) -> tuple[datetime, datetime]:
    """When a job started and ended, from the first and last time stamps of its train.log."""
    stamps = [line[1:24] for line in (job_dir / "train.log").read_text().splitlines() if line.startswith("[20")]
    first, last = (datetime.strptime(s, "%Y-%m-%d %H:%M:%S,%f") for s in (stamps[0], stamps[-1]))
    return first, last


@pytest.mark.slow
def test_parallel_sweep_runs_jobs_at_once_with_the_serial_sweeps_outputs_and_one_mlflow_run_each(tmp_path):
    """Two jobs at once, each with what a serial sweep's job leaves, and logging to MLflow too: into a
    new store, which the launcher creates first (two jobs creating it at once would collide)."""
    mlflow = pytest.importorskip("mlflow", reason="the optional extra (make install installs it)")
    uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    result = run_train(
        "-m",
        "launcher=parallel",
        "hydra.launcher.n_jobs=2",
        "data.input_length=3,5,0",  # the first two start together, each in its own worker; the third fails
        *TINY_SWEEP,
        "logger=tensorboard_mlflow",
        f"logger.mlflow.tracking_uri={uri}",
        "logger.mlflow.log_model=true",
        "trainer.log_every_n_steps=10",
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr  # one job failed, on purpose
    (root,) = (tmp_path / "multirun").glob("*/*")
    jobs = sorted(p.name for p in root.iterdir() if (p / ".hydra").is_dir())
    assert jobs == [f"data.input_length={n}" for n in (0, 3, 5)]
    for job in jobs[1:]:
        assert {"val/acc", "val/acc_best", "test/acc"} <= set(read_scalars(root / job))
        assert "val/acc" in hparams_metric_tags(root / job)
        assert (root / job / "COMPLETED").is_file() and (root / job / "checkpoints" / "last.ckpt").is_file()
    assert "data.input_length: must be an integer >= 1" in (root / "data.input_length=0" / "FAILED").read_text()
    statuses = [line.split("\t")[1] for line in (root / "summary.tsv").read_text().splitlines()[1:]]
    assert sorted(statuses) == ["COMPLETED", "COMPLETED", "FAILED"]
    report = (root / "report" / "report.md").read_text()  # written once, by the launching process
    assert "| data.input_length=0 | FAILED: ConfigError:" in report and report.count("| ok |") == 2
    spans = sorted(log_span(root / job) for job in jobs[1:])
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])), spans  # two jobs ran at once
    assert "threads=1" in (root / "data.input_length=3" / "train.log").read_text()

    # MLflow, read back with its own client: one experiment, a run per job that trained
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("lightning-hydra-experiments")
    everything = client.search_runs([experiment.experiment_id])
    (parent,) = [run for run in everything if run.info.run_name == root.name]  # the sweep's, ended with it
    assert parent.info.status == "FINISHED" and parent.data.tags["sweep_dir"] == str(root)
    runs = [run for run in everything if run.info.run_id != parent.info.run_id]
    assert sorted(run.info.run_name for run in runs) == ["data.input_length=3", "data.input_length=5"]
    assert {run.data.tags.get("mlflow.parentRunId") for run in runs} == {parent.info.run_id}  # nested under it
    for run in runs:
        length = run.info.run_name.split("=")[1]
        assert run.data.params["data/input_length"] == length and run.data.params["model/_target_"]
        assert run.data.params["provenance/versions/torch"]  # what produced it, beside its settings
        assert len(client.get_metric_history(run.info.run_id, "val/acc")) == 3  # one value per epoch
        assert {"train/loss_step", "test/acc"} <= set(run.data.metrics)
        assert client.list_artifacts(run.info.run_id)  # the best checkpoint, with log_model=true


def test_threads_are_shared_between_concurrent_jobs(monkeypatch):
    monkeypatch.setattr(devices, "cpu_count", lambda: 8)
    assert [threads_per_job(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]


def hold_a_gpu(lock_dir: str, n_gpus: int, seconds: float, queue) -> None:
    with claim_gpu(lock_dir, n_gpus, poll_seconds=0.01) as index:
        start = time.monotonic()
        time.sleep(seconds)
        queue.put((index, start, time.monotonic()))


@pytest.mark.parametrize("n_gpus, n_jobs", [(2, 5), (1, 3)])
def test_concurrent_jobs_never_share_a_gpu(tmp_path, n_gpus, n_jobs):
    context = multiprocessing.get_context("fork")  # the workers only take locks: no torch in them
    queue = context.Queue()
    jobs = [context.Process(target=hold_a_gpu, args=(str(tmp_path), n_gpus, 0.3, queue)) for _ in range(n_jobs)]
    for job in jobs:
        job.start()
    held = [queue.get(timeout=60) for _ in jobs]
    for job in jobs:
        job.join(timeout=60)
    assert {index for index, _, _ in held} == set(range(n_gpus))  # every GPU used
    for gpu in range(n_gpus):
        spans = sorted((start, end) for index, start, end in held if index == gpu)
        assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:]))  # one job at a time on each GPU


def test_the_first_free_gpu_is_taken_and_released_after_the_job(tmp_path):
    with claim_gpu(tmp_path, 3) as first, claim_gpu(tmp_path, 3) as second:
        assert (first, second) == (0, 1)
    with claim_gpu(tmp_path, 3) as again:
        assert again == 0


NO_NVIDIA_FILES = not any(Path("/dev").glob("nvidia[0-9]*")) and not Path("/dev/dxg").exists()


@pytest.mark.skipif(
    not (NO_NVIDIA_FILES and devices.platform.system() == "Linux"), reason="needs a Linux machine without GPUs"
)
def test_a_machine_without_gpu_device_files_counts_none_without_importing_torch():
    code = "import sys; from src.trainer.devices import gpu_count; print(gpu_count(), 'torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT_DIR, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["0", "False"]


def test_with_gpu_device_files_lightning_counts_them(monkeypatch):
    import lightning_fabric.accelerators.cuda as cuda

    monkeypatch.setattr(devices.Path, "glob", lambda self, pattern: iter([Path("/dev/nvidia0")]))
    monkeypatch.setattr(cuda, "num_cuda_devices", lambda: 3)
    assert devices.gpu_count() == 3
    assert devices.parallel_jobs() == 3


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid``, from /proc (Linux)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":  # a zombie has ended
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start_two_training_jobs(tmp_path: Path, *args: str) -> subprocess.Popen:
    """A parallel sweep of two jobs at once, returned once both have saved a ``last.ckpt``."""
    launcher = subprocess.Popen(
        [sys.executable, str(ROOT_DIR / "train.py"), "-m", "launcher=parallel", "hydra.launcher.n_jobs=2",
         "callbacks.last_checkpoint.every_n_train_steps=20", *TINY_SWEEP, *args],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=subprocess_env(),
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while len(list(tmp_path.glob("multirun/*/*/*/checkpoints/last.ckpt"))) < 2:  # both jobs are training
        assert time.monotonic() < deadline and launcher.poll() is None
        time.sleep(0.1)
    return launcher


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers through /proc")
def test_killing_a_parallel_sweeps_launcher_stops_its_workers_with_their_checkpoints_whole(tmp_path):
    launcher = start_two_training_jobs(
        tmp_path, "data.input_length=5,6", "data.data_size=20000", "trainer.max_epochs=200"
    )
    workers = descendants(launcher.pid)
    assert workers
    launcher.kill()  # kill -9: no handler runs in the launcher
    launcher.communicate(timeout=120)  # its output, to the end its workers write
    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if alive(pid)], "workers outlived their sweep"
    for job in tmp_path.glob("multirun/*/*/data.input_length=*"):
        marker = (job / "INTERRUPTED").read_text()
        assert marker.startswith("SIGTERM at step ")  # saved and marked, then stopped
        torch.load(job / "checkpoints" / "last.ckpt", weights_only=True)  # whole
        (command,) = [line for line in marker.splitlines() if line.startswith("python train.py ")]
        words = shlex.split(command)[2:]  # as pasted: a single run of the job, from its last.ckpt
        assert "launcher=" not in command and f"ckpt_path='{job}/checkpoints/last.ckpt'" in words
        assert bad_command_line(words, tmp_path) is None
