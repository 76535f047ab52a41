"""Sweeps as a user runs them: real ``python train.py -m`` subprocesses on tiny data."""

from pathlib import Path

import pytest

from tests.conftest import TINY_RNN, run_train
from tests.helpers import hparams_metric_tags, read_scalars

pytestmark = pytest.mark.slow  # sweeps and searches as real subprocesses


TINY_SWEEP = [
    *(o for o in TINY_RNN if not o.startswith("data.input_length")),
    "trainer.max_epochs=1",
    "callbacks.early_stopping=null",
]


def sweep_dir(cwd: Path) -> Path:
    (found,) = list((cwd / "multirun").glob("*/*"))
    return found


def test_length_sweep_writes_one_tensorboard_run_per_length_and_a_failing_job_stops_no_other(tmp_path):
    result = run_train("-m", "data.input_length=3,0,5", *TINY_SWEEP, cwd=tmp_path, check=False)
    assert result.returncode != 0  # the sweep says one job failed ...
    root = sweep_dir(tmp_path)
    jobs = sorted(p.name for p in root.iterdir() if (p / ".hydra").is_dir())
    assert jobs == ["data.input_length=0", "data.input_length=3", "data.input_length=5"]
    good = jobs[1:]  # ... and the jobs after it ran: one TensorBoard run each, named by its override
    for job in good:
        scalars = read_scalars(root / job)
        assert {"val/acc", "val/acc_best", "test/acc"} <= set(scalars)
        assert {"val/acc", "val/acc_best", "test/acc"} <= set(hparams_metric_tags(root / job))
        assert (root / job / "checkpoints" / "last.ckpt").is_file() and not (root / job / "FAILED").exists()
    # the failure is logged as it happens, with the job's overrides and the error's one line
    (logged,) = [line for line in result.stdout.splitlines() if "job FAILED (data.input_length=0 " in line]
    assert logged.endswith("): ConfigError: data.input_length: must be an integer >= 1, got 0")
    assert "Traceback" not in result.stderr
    assert "data.input_length: must be an integer >= 1" in (root / "data.input_length=0" / "FAILED").read_text()
    summary = (root / "summary.tsv").read_text()
    assert summary.count("COMPLETED") == 2 and summary.count("FAILED") == 1
    report = (root / "report" / "report.md").read_text()  # written when the sweep ends, the failure listed
    assert "| data.input_length=0 | FAILED: ConfigError: data.input_length: must be" in report
    for job in good:
        row = next(line for line in report.splitlines() if line.startswith(f"| {job} |"))
        scalars = read_scalars(root / job)
        assert "| ok |" in row
        assert f"| {scalars['val/acc_best'][-1]:.4f} |" in row and f"| {scalars['test/acc'][-1]:.4f} |" in row
    assert (root / "report" / "length_sweep.png").is_file() and "## Accuracy against input length" in report


def test_palindrome_lengths_preset_declares_the_3_to_19_sweep(tmp_path):
    result = run_train("experiment=palindrome_lengths", "--cfg", "hydra", cwd=tmp_path)
    assert "data.input_length: range(3,20)" in result.stdout


def test_two_runs_started_together_never_share_an_output_directory(tmp_path):
    import subprocess
    import sys

    from tests.conftest import TRAIN_PY, subprocess_env

    args = [sys.executable, str(TRAIN_PY), *TINY_RNN, "trainer.max_epochs=1"]
    procs = [
        subprocess.Popen(args, cwd=tmp_path, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(2)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    runs = list((tmp_path / "outputs").glob("*/*"))
    assert len(runs) == 2 and all((run / "checkpoints" / "last.ckpt").is_file() for run in runs)


def test_numpy_vs_torch_preset_runs_both_implementations_on_each_dataset(tmp_path):
    preset = run_train("experiment=mlp_numpy_vs_torch", "--cfg", "hydra", cwd=tmp_path).stdout
    assert "data: moons,hastie,circles,multi" in preset and "model: mlp,mlp_numpy" in preset  # all four
    datasets = ("hastie", "moons")  # of them, a 10-D and a 2-D set: what the report treats differently
    run_train(
        "-m",
        "experiment=mlp_numpy_vs_torch",
        f"data={','.join(datasets)}",
        "trainer=cpu",
        "trainer.max_steps=10",
        "callbacks.progress_bar=null",
        "trainer.enable_progress_bar=false",
        cwd=tmp_path,
        timeout=300,
    )
    root = sweep_dir(tmp_path)
    jobs = sorted(p.name for p in root.iterdir() if (p / ".hydra").is_dir())
    assert jobs == [f"data={d},model={m}" for d in datasets for m in ("mlp", "mlp_numpy")]
    for dataset in datasets:
        torch_run, numpy_run = (read_scalars(root / f"data={dataset},model={m}") for m in ("mlp", "mlp_numpy"))
        assert max(abs(a - b) for a, b in zip(torch_run["train/loss"], numpy_run["train/loss"])) < 1e-5
    report = (root / "report" / "report.md").read_text()
    assert "## NumPy vs PyTorch MLP" in report and report.count("| hastie |") == 1
    assert all((root / "report" / f"numpy_vs_torch_{d}.png").is_file() for d in datasets)
    assert "](boundaries.png)" in report  # moons | mlp and moons | mlp_numpy


def test_long_lengths_preset_sweeps_scalar_and_one_hot_input_and_reports_them_by_length(tmp_path):
    result = run_train("experiment=palindrome_long_lengths", "--cfg", "hydra", cwd=tmp_path)
    assert "variant: rnn_long,rnn_long_one_hot" in result.stdout
    assert "data.input_length: 20,30,40,50,60,70,80,90,100,200,500,1000" in result.stdout
    run_train("-m", "experiment=palindrome_long_lengths", "data.input_length=4,6", *TINY_SWEEP, cwd=tmp_path)
    root = sweep_dir(tmp_path)
    jobs = sorted(p.name for p in root.iterdir() if (p / ".hydra").is_dir())
    assert len(jobs) == 4 and {j.split(",")[1] for j in jobs} == {"variant=rnn_long", "variant=rnn_long_one_hot"}
    report = (root / "report" / "report.md").read_text()
    assert "## Accuracy against input length" in report and (root / "report" / "length_sweep.png").is_file()
    assert report.count("| ok |") == 4
