"""Runs that never lose or mix up results: interrupts, numerical failure, atomic checkpoints, safe resume."""

import hashlib
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser

from src.config.errors import ConfigError
from src.run.build import build_run
from src.sweeps.summary import job_status
from tests.conftest import QUIET, TINY_RNN, TRAIN_PY, run_train, subprocess_env
from tests.helpers import read_scalars
from train import train

# One epoch of 625 steps, so a signal sent when the first last.ckpt appears (step 50) lands in it.
# (SIGTERM, what a scheduler sends, stops a run the same way: tests/test_ddp.py and tests/test_parallel.py.)
LONG_EPOCH = [
    *QUIET,
    "data.input_length=6",
    "data.data_size=25000",
    "data.batch_size=32",
    "trainer.max_epochs=1",
    "callbacks.early_stopping=null",
    "callbacks.last_checkpoint.every_n_train_steps=50",
]


def folder_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def start_train(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(TRAIN_PY), *args],
        cwd=cwd,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(pattern: str, root: Path, process: subprocess.Popen, timeout: float = 120) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(root.glob(pattern))
        if found:
            return found[0]
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    raise AssertionError(f"no {pattern} after {timeout} s")


def interrupt_run(work: Path, signum: int) -> tuple[Path, list[str]]:
    """Start a run in ``work``, send it ``signum`` early in its epoch, check what it leaves.

    Returns the run's folder and the arguments of the resume command it printed and marked.
    """
    process = start_train(*LONG_EPOCH, cwd=work)
    wait_for("outputs/*/*/checkpoints/last.ckpt", work, process)  # written at step 50, early in the epoch
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, (out, err)
    (run_dir,) = (work / "outputs").glob("*/*")
    marker = (run_dir / "INTERRUPTED").read_text().splitlines()
    assert marker[0].startswith(f"{signal.Signals(signum).name} at step ")
    step = int(marker[0].split()[-1])
    assert 50 <= step < 625  # stopped within the epoch, at a batch boundary
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == step
    command = marker[1]
    assert f"Resume with: {command}" in out + err and "Traceback" not in err
    assert command.startswith("python train.py ")
    args = shlex.split(command)[2:]  # after "python train.py": the run's own overrides and its ckpt_path
    (ckpt,) = OverridesParser.create().parse_overrides([a for a in args if a.startswith("ckpt_path=")])
    assert ckpt.value() == str(run_dir / "checkpoints" / "last.ckpt")
    return run_dir, args


@pytest.mark.slow
def test_interrupted_run_saves_marks_and_resumes_to_the_uninterrupted_result(make_cfg, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    run_dir, args = interrupt_run(work, signal.SIGINT)  # Ctrl-C
    train(make_cfg(*args, name="elsewhere"))  # the printed command, in this process: it goes on in run_dir
    assert not (tmp_path / "elsewhere").exists()
    train(make_cfg(*LONG_EPOCH, name="whole"))
    resumed, whole = read_scalars(run_dir), read_scalars(tmp_path / "whole")
    for tag in ("val/acc", "val/loss", "test/acc", "test/loss"):
        assert resumed[tag][-1] == whole[tag][-1], tag
    weights = [
        torch.load(d / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
        for d in (run_dir, tmp_path / "whole")
    ]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


@pytest.mark.slow
def test_a_kill_during_a_save_leaves_the_previous_checkpoint_whole(tmp_path):
    args = [*LONG_EPOCH, "+callbacks.killer={_target_: tests.helpers.KillDuringSave, at_save: 2}"]
    result = run_train(*args, cwd=tmp_path, check=False)
    assert result.returncode == -signal.SIGKILL
    (last,) = (tmp_path / "outputs").glob("*/*/checkpoints/last.ckpt")
    assert torch.load(last, weights_only=True)["global_step"] == 50  # the first save, intact


@pytest.mark.slow
def test_a_diverging_run_fails_with_one_line_and_its_sweep_lists_it_failed(tmp_path):
    result = run_train(
        "-m", "model=mlp", "optimizer.lr=1e9,0.01", "trainer.max_steps=30", *QUIET, cwd=tmp_path, check=False
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "train/loss is not finite (nan or inf) at step" in result.stderr
    assert "try a smaller optimizer.lr (now 1e+09)" in result.stderr
    (root,) = (tmp_path / "multirun").glob("*/*")
    summary = {line.split("\t")[0]: line.split("\t")[1:] for line in (root / "summary.tsv").read_text().splitlines()}
    (diverged,) = [v for k, v in summary.items() if "optimizer.lr=1000000000.0" in k]
    (fine,) = [v for k, v in summary.items() if "optimizer.lr=0.01" in k]
    assert diverged[0] == "FAILED" and "TrainingDiverged" in diverged[1] and fine[0] == "COMPLETED"
    report = (root / "report" / "report.md").read_text()
    row = next(line for line in report.splitlines() if "FAILED" in line)
    assert row.startswith("| optimizer.lr=1000000000.0 | FAILED: TrainingDiverged: train/loss is not finite")
    assert [c.strip() for c in row.strip("|").split("|")][2:7] == [""] * 5  # no result reported from it
    assert "2 job(s); 1 with results" in report


def test_resume_with_other_settings_is_refused_and_leaves_the_run_untouched(make_cfg, tmp_path):
    train(make_cfg(*TINY_RNN, "trainer.max_epochs=1", name="first"))
    before = folder_digest(tmp_path / "first")
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    with pytest.raises(
        ConfigError,
        match=r"^ckpt_path: .* was written with other settings: data.input_length "
        r"\(4 in the checkpoint, 5 now\)",
    ):
        train(make_cfg(*TINY_RNN, "data.input_length=5", f"ckpt_path={last}", name="second"))
    assert folder_digest(tmp_path / "first") == before
    # another trainer.max_epochs is no other experiment: it continues the run, in its own folder
    train(make_cfg(*TINY_RNN, "trainer.max_epochs=2", f"ckpt_path={last}", name="second"))
    assert len(read_scalars(tmp_path / "first")["val/acc"]) == 2
    # and ckpt_strict=false continues even with other settings
    train(
        make_cfg(
            *TINY_RNN,
            "trainer.max_epochs=3",
            "optimizer.lr=0.002",
            "ckpt_strict=false",
            f"ckpt_path={last}",
            name="third",
        )
    )
    assert len(read_scalars(tmp_path / "first")["val/acc"]) == 3


def test_latest_resumes_the_newest_run_with_the_same_settings(make_cfg, tmp_path):
    for length, name in ((4, "outputs/a"), (5, "outputs/b")):  # b is newer, with another length
        train(make_cfg(*TINY_RNN, "trainer.max_epochs=1", f"data.input_length={length}", name=name))
    cfg = make_cfg(*TINY_RNN, "trainer.max_epochs=2", "ckpt_path=latest", name="outputs/c")
    cfg.paths.root_dir = str(tmp_path)
    train(cfg)
    assert len(read_scalars(tmp_path / "outputs" / "a")["val/acc"]) == 2  # a went on, b did not
    assert len(read_scalars(tmp_path / "outputs" / "b")["val/acc"]) == 1
    cfg = make_cfg(*TINY_RNN, "data.input_length=6", "ckpt_path=latest", name="outputs/d")
    cfg.paths.root_dir = str(tmp_path)
    with pytest.raises(ConfigError, match="ckpt_path: is 'latest' but none of the 2 last.ckpt"):
        train(cfg)


def test_the_best_checkpoint_holds_the_weights_that_scored_its_validation(make_cfg, tmp_path):
    cfg = make_cfg(*TINY_RNN, "callbacks.early_stopping=null", "callbacks.last_checkpoint.every_n_train_steps=7")
    train(cfg)
    (best,) = (tmp_path / "run" / "checkpoints").glob("epoch*.ckpt")
    checkpoint = torch.load(best, weights_only=True)
    run = build_run(cfg)
    run.module.load_state_dict(checkpoint["state_dict"])
    inputs, labels = run.datamodule.splits["val"]
    with torch.no_grad():
        accuracy = (run.module(inputs).argmax(-1) == labels).float().mean().item()
    scores = [v["best_model_score"] for k, v in checkpoint["callbacks"].items() if "val/acc" in k]
    assert accuracy == pytest.approx(float(scores[0]), abs=1e-6)
    assert f"acc{accuracy:.4f}" in best.name


def test_a_run_without_validation_tests_its_final_weights_and_says_so(make_cfg, tmp_path, caplog):
    train(make_cfg(*TINY_RNN, "trainer.max_epochs=1", "trainer.limit_val_batches=0", "callbacks.early_stopping=null"))
    assert "No best checkpoint was saved (no validation ran): testing the final weights" in caplog.text
    assert read_scalars(tmp_path / "run")["test/acc"]


def test_a_sweep_lists_an_interrupted_job_as_interrupted(tmp_path):
    (tmp_path / "INTERRUPTED").write_text("SIGTERM at step 12\npython train.py ckpt_path=x\n")
    assert job_status(tmp_path) == ("INTERRUPTED", "SIGTERM at step 12")


def test_a_second_ctrl_c_exits_at_once(monkeypatch, tmp_path):
    import os

    from src.callbacks.safety import GracefulInterrupt

    exits = []
    monkeypatch.setattr(os, "_exit", exits.append)
    interrupt = GracefulInterrupt(tmp_path, "python train.py")
    interrupt._request(signal.SIGINT, None)  # the first: finish the batch, save, stop
    assert exits == [] and interrupt.received == signal.SIGINT
    interrupt._request(signal.SIGINT, None)  # the second: now
    assert exits == [130]


# What `scontrol show job -o` printed inside real jobs (tests/slurm_cluster.py), cut to the fields read
PREEMPTED_WITH_GRACE = (
    "JobId=10 JobName=job.sh UserId=root(0) JobState=RUNNING Reason=None Dependency=(null) Requeue=1 Restarts=0 "
    "BatchFlag=1 PreemptEligibleTime=2026-12-07T06:27:58 PreemptTime=2026-12-07T06:28:05 Command=/tmp/a b.sh"
)
REQUEUED_BY_SLURM = "JobId=1 JobName=job.sh JobState=COMPLETING Reason=None Requeue=1 Restarts=1 BatchFlag=1"
CANCELLED = (
    "JobId=3 JobName=job.sh JobState=COMPLETING Reason=None Requeue=1 Restarts=0 "
    "PreemptEligibleTime=2026-12-07T06:24:17 PreemptTime=None SuspendTime=None"
)


@pytest.mark.parametrize(
    ("line", "own_restarts", "expected"),
    [
        (PREEMPTED_WITH_GRACE, 0, "preempted"),  # selected for preemption, still running: save, then requeue
        (REQUEUED_BY_SLURM, 0, "requeued"),  # SLURM requeued it already: save, end without a result
        (REQUEUED_BY_SLURM, 1, None),  # the requeued job's own count: a SIGTERM now is something else
        (CANCELLED, 0, None),  # scancel: the job ends here, marked INTERRUPTED
        ("", 0, None),  # scontrol said nothing
    ],
)
def test_slurm_says_whether_a_sigterm_is_a_preemption_a_requeue_or_the_end(line, own_restarts, expected):
    from src.callbacks.slurm import job_fields, why_slurm_stops

    assert why_slurm_stops(job_fields(line), own_restarts) == expected


def test_outside_slurm_a_sigterm_is_not_taken_for_a_preemption(monkeypatch):
    from src.callbacks.slurm import why_slurm_stops_this_job

    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert why_slurm_stops_this_job() is None
    monkeypatch.setenv("SLURM_JOB_ID", "12")
    monkeypatch.setenv("PATH", "")  # no scontrol to ask
    assert why_slurm_stops_this_job() is None
