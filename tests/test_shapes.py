"""Every shape of Lightning code gets every feature, written as Lightning's own docs and demos write it:
Lightning's ``BoringModel`` (nothing logged in validation) and ``DemoModel`` (no validation, no test), a GAN
with two optimizers stepped by hand that returns nothing from its training step, a regressor whose metrics
are named ``loss/val``, and a template-style classifier (tests/byo/). One parallel sweep over them all is
stopped by SIGTERM and finished by the command it prints; each job is then evaluated, asked for
predictions and reported, with curves of what it logged."""

import csv
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from src.app.preflight import bad_command_line
from src.config.compose import ROOT_DIR, compose_config
from src.config.errors import ConfigError
from src.evaluate import run_eval
from tests.conftest import QUIET, run_train, subprocess_env
from tests.helpers import hparams_metric_tags, read_scalars

BYO = ["--config-dir", str(ROOT_DIR / "tests" / "byo" / "conf")]
SHAPES = ("boring", "demo", "dense", "gan", "regressor")
FOLDERS = (ROOT_DIR / "conf", ROOT_DIR / "tests" / "byo" / "conf")  # the config folders eval allows classes from


def statuses(sweep) -> dict[str, str]:
    return {
        row["overrides"].split()[0]: row["status"]
        for row in csv.DictReader(open(sweep / "summary.tsv"), delimiter="\t")
    }


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers through /proc")
def test_every_shape_sweeps_stops_resumes_by_its_printed_command_evaluates_and_reports(tmp_path):
    launcher = subprocess.Popen(
        [sys.executable, str(ROOT_DIR / "train.py"), "-m", *BYO, f"model={','.join(SHAPES)}", "launcher=parallel",
         "hydra.launcher.n_jobs=2", "callbacks.last_checkpoint.every_n_train_steps=10", "trainer.max_epochs=1000",
         "callbacks.early_stopping=null", *QUIET, "hydra.sweep.dir=sweep"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=subprocess_env(),
    )  # fmt: skip
    sweep = tmp_path / "sweep"
    deadline = time.monotonic() + 180
    while len(list(sweep.glob("*/checkpoints/last.ckpt"))) < 2:  # two jobs are training
        assert time.monotonic() < deadline and launcher.poll() is None, launcher.communicate()[0][-3000:]
        time.sleep(0.1)
    launcher.send_signal(signal.SIGTERM)
    output, _ = launcher.communicate(timeout=120)
    assert launcher.returncode == 143 and "Traceback" not in output, output[-3000:]
    assert sorted(statuses(sweep).values()) == [
        "INTERRUPTED",
        "INTERRUPTED",
        "NOT STARTED",
        "NOT STARTED",
        "NOT STARTED",
    ]
    (command,) = [line.split("Continue the sweep with: ")[1] for line in output.splitlines() if "Continue the" in line]
    assert " --config-dir " in command  # it carries the user's config folder, so it pastes
    run_train(*shlex.split(command)[2:], "trainer.max_steps=120", "hydra.launcher.n_jobs=1", cwd=tmp_path, timeout=300)
    assert set(statuses(sweep).values()) == {"COMPLETED"}, statuses(sweep)
    jobs = {shape: sweep / f"model={shape}" for shape in SHAPES}
    resumed = [shape for shape, job in jobs.items() if "Resuming from" in (job / "train.log").read_text()]
    assert len(resumed) == 2  # the interrupted two went on from their saves

    # no validation metric: the last checkpoint only, no test without test_step, nothing to search
    for shape in ("boring", "demo"):
        assert [p.name for p in (jobs[shape] / "checkpoints").iterdir()] == ["last.ckpt"]
    assert "No test after training: DemoModel has no test_step" in (jobs["demo"] / "train.log").read_text()
    assert "No test after training: GAN has no test_step" in (jobs["gan"] / "train.log").read_text()
    refused = bad_command_line(["-m", *BYO, "model=boring", "hydra/sweeper=optuna"], tmp_path)
    assert refused.startswith("monitor.metric: is null, so a search has nothing to optimize")

    # HPARAMS and the report: what each module logged, whatever its names
    assert set(hparams_metric_tags(jobs["regressor"])) >= {"loss/train", "loss/val", "loss/test"}
    assert set(hparams_metric_tags(jobs["gan"])) >= {"d_loss", "g_loss", "val_d_loss"}
    report = (sweep / "report" / "report.md").read_text()
    header = next(line for line in report.splitlines() if line.startswith("| job |"))
    assert "| loss/val (best) |" in header and "| loss/test |" in header and "| val_d_loss (best) |" in header
    regressor_row = next(line for line in report.splitlines() if line.startswith("| model=regressor |"))
    assert f"{min(read_scalars(jobs['regressor'])['loss/val']):.4f}" in regressor_row  # the best, as the summary's
    assert all((sweep / "report" / "curves" / f"model={shape}.png").stat().st_size > 5000 for shape in SHAPES)

    # evaluated and asked for predictions from each job folder: classes only for a classifier that says so
    evaluated = run_train(*BYO, f'ckpt_path="{jobs["dense"]}"', *QUIET, cwd=tmp_path, script="eval.py")
    accuracy = float(evaluated.stdout.split("test_acc=")[1].split()[0])
    assert accuracy == pytest.approx(read_scalars(jobs["dense"])["test_acc"][-1], abs=1e-4)  # its test again
    for shape, inputs in (("regressor", "[[0.5,0,0,0,0,0,0,0]]"), ("gan", "[[0.1,0.2,0.3,0.4]]")):
        overrides = [f"ckpt_path='{jobs[shape]}'", f"predict={inputs}"]  # a job's name holds '='
        search = [f"hydra.searchpath=[file://{BYO[1]}]"]
        cfg = compose_config([*search, *overrides], tmp_path / f"eval_{shape}", config_name="eval")
        (prediction,) = run_eval(cfg, overrides, FOLDERS)["predictions"]
        assert list(prediction) == ["output"]  # values: a regression's number, a generator's sample
    search = [f"hydra.searchpath=[file://{BYO[1]}]"]
    demo = [f"ckpt_path='{jobs['demo']}'"]
    cfg = compose_config([*search, *demo], tmp_path / "eval_demo", config_name="eval")
    with pytest.raises(ConfigError, match=r"^split: test: DemoModel has no test_step"):
        run_eval(cfg, demo, FOLDERS)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers through /proc")
def test_a_module_written_against_the_lightning_package_sweeps_resumes_and_evaluates(tmp_path):
    """``import lightning as L``: the run's Trainer, callbacks and plugins come from that package too."""
    launcher = subprocess.Popen(
        [sys.executable, str(ROOT_DIR / "train.py"), "-m", *BYO, "model=lit", "seed=1,2", "launcher=parallel",
         "hydra.launcher.n_jobs=2", "callbacks.last_checkpoint.every_n_train_steps=10", "trainer.max_epochs=1000",
         "callbacks.early_stopping=null", *QUIET, "hydra.sweep.dir=sweep"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=subprocess_env(),
    )  # fmt: skip
    sweep = tmp_path / "sweep"
    deadline = time.monotonic() + 180
    while len(list(sweep.glob("*/checkpoints/last.ckpt"))) < 2:
        assert time.monotonic() < deadline and launcher.poll() is None, launcher.communicate()[0][-3000:]
        time.sleep(0.1)
    launcher.send_signal(signal.SIGTERM)
    output, _ = launcher.communicate(timeout=120)
    assert launcher.returncode == 143 and "Traceback" not in output, output[-3000:]
    (command,) = [line.split("Continue the sweep with: ")[1] for line in output.splitlines() if "Continue the" in line]
    run_train(*shlex.split(command)[2:], "trainer.max_steps=60", "hydra.launcher.n_jobs=1", cwd=tmp_path, timeout=300)
    assert set(statuses(sweep).values()) == {"COMPLETED"}
    log = (sweep / "seed=1" / "train.log").read_text()
    assert "Resuming from" in log and "lightning.pytorch" in log  # Lightning's own lines, from its package
    predicted = run_train(*BYO, f"ckpt_path='{sweep / 'seed=1'}'", "predict=[[1,0,0,0,0,0,0,0]]", *QUIET,
                          cwd=tmp_path, script="eval.py")  # fmt: skip
    assert re.search(r"^input 0: -?\d+\.\d+$", predicted.stdout, re.MULTILINE), predicted.stdout  # a regression's


def test_a_lightning_package_module_in_a_process_that_trains_with_pytorch_lightning_is_one_line(make_cfg):
    from train import train

    search = f"hydra.searchpath=[file://{BYO[1]}]"
    with pytest.raises(ConfigError, match=r"^module._target_: is written against lightning, and this process trains"):
        train(make_cfg(search, "model=lit", *QUIET))  # the test process imported pytorch_lightning already
