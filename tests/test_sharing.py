"""Safe to share results: a checkpoint never runs code, and one run has one folder."""

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from src.app.preflight import bad_command_line
from src.config.errors import ConfigError
from src.records.status import COMPLETED_MARKER, INTERRUPTED_MARKER, TIME_LIMIT_MARKER
from tests.conftest import TINY_RNN, TRAIN_PY, run_train, subprocess_env
from train import train


class Payload:
    """What a hostile checkpoint carries: unpickling it runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


def plant_malicious_checkpoint(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {}, "run_config": Payload(marker)}, path)
    return path


def test_a_malicious_checkpoint_given_as_ckpt_path_is_refused_and_runs_nothing(make_cfg, tmp_path):
    marker = tmp_path / "PWNED"
    evil = plant_malicious_checkpoint(tmp_path / "evil.ckpt", marker)
    with pytest.raises(ConfigError, match=r"ckpt_path: .*evil.ckpt holds Python objects other than tensors"):
        train(make_cfg(*TINY_RNN, f"ckpt_path={evil}"))
    assert not marker.exists()
    with pytest.raises(ConfigError):  # ckpt_strict=false reads it the same way
        train(make_cfg(*TINY_RNN, f"ckpt_path={evil}", "ckpt_strict=false"))
    assert not marker.exists()
    torch.load(evil, weights_only=False)  # what unpickling it would have done
    assert marker.exists()


@pytest.mark.slow
def test_a_malicious_checkpoint_planted_for_latest_is_passed_over_and_never_run(make_cfg, tmp_path, caplog):
    train(make_cfg(*TINY_RNN, "trainer.max_epochs=1", name="outputs/real"))
    marker = tmp_path / "PWNED"
    plant_malicious_checkpoint(tmp_path / "outputs" / "copied" / "checkpoints" / "last.ckpt", marker)  # the newest
    cfg = make_cfg(*TINY_RNN, "trainer.max_epochs=2", "ckpt_path=latest", name="outputs/next")
    cfg.paths.root_dir = str(tmp_path)
    train(cfg)  # chosen by the settings inside each checkpoint, read weights-only: the real run is resumed
    assert (tmp_path / "outputs" / "real" / COMPLETED_MARKER).exists() and not marker.exists()
    assert "passes over" in caplog.text and "holds Python objects other than tensors" in caplog.text


@pytest.mark.slow
def test_python_train_py_refuses_a_malicious_checkpoint_in_one_line(tmp_path):
    marker = tmp_path / "PWNED"
    plant_malicious_checkpoint(tmp_path / "evil.ckpt", marker)
    result = run_train(*TINY_RNN, "ckpt_path=evil.ckpt", cwd=tmp_path, check=False)
    assert result.returncode == 2 and result.stderr.startswith("ckpt_path: evil.ckpt holds Python objects")
    assert result.stderr.count("\n") == 1 and not marker.exists()


@pytest.mark.slow
def test_a_resumed_run_writes_its_status_into_the_folder_it_continues(make_cfg, tmp_path):
    train(make_cfg(*TINY_RNN, "trainer.max_epochs=1", name="first"))
    first = tmp_path / "first"
    (first / INTERRUPTED_MARKER).write_text("SIGTERM at step 3\n")  # as a run stopped by its scheduler
    train(make_cfg(*TINY_RNN, "trainer.max_epochs=2", f"ckpt_path={first}/checkpoints/last.ckpt", name="resume"))
    assert (first / COMPLETED_MARKER).exists() and not (first / INTERRUPTED_MARKER).exists()
    assert not (tmp_path / "resume" / "checkpoints").exists()  # it went on in its own folder


@pytest.mark.slow
def test_a_second_run_into_a_folder_that_holds_a_run_is_refused_unless_it_asks_to_overwrite(make_cfg, tmp_path):
    args = [*TINY_RNN, "trainer.max_epochs=1", "hydra.run.dir=shared"]
    train(make_cfg(*TINY_RNN, "trainer.max_epochs=1", name="shared"))  # a folder that holds a run
    before = sorted(p.name for p in (tmp_path / "shared" / "checkpoints").iterdir())
    refused = run_train(*args, "seed=7", cwd=tmp_path, check=False)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert refused.stderr.startswith(f"hydra.run.dir: {tmp_path / 'shared'} already holds a run; resume it with ")
    assert sorted(p.name for p in (tmp_path / "shared" / "checkpoints").iterdir()) == before
    first_events = {p.name for p in (tmp_path / "shared").glob("events.out.tfevents.*")}
    run_train(*args, "seed=7", "overwrite=true", cwd=tmp_path)
    events = {p.name for p in (tmp_path / "shared").glob("events.out.tfevents.*")}
    assert events and not events & first_events  # emptied first: only the new run's files
    assert "seed: 7" in (tmp_path / "shared" / ".hydra" / "config.yaml").read_text()


@pytest.mark.slow
def test_two_runs_started_into_one_folder_at_once_the_second_is_refused_naming_the_first(tmp_path):
    args = [*TINY_RNN, "data.data_size=60000", "trainer.max_epochs=3", "hydra.run.dir=shared"]
    first = subprocess.Popen(
        [sys.executable, str(TRAIN_PY), *args], cwd=tmp_path, env=subprocess_env(), stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "shared" / "train.log").exists():  # the first run is under way
            assert time.monotonic() < deadline and first.poll() is None, first.stderr.read()
            time.sleep(0.05)
        second = run_train(*args, cwd=tmp_path, check=False)
        assert second.returncode == 2, second.stderr
        assert (
            f"hydra.run.dir: {tmp_path / 'shared'} is in use by a run that is still going (pid {first.pid}, started"
            in (second.stderr)
        )
    finally:
        first.kill()
        first.wait()


@pytest.mark.parametrize("path", ["/runs/a b/last.ckpt", "/runs/räksmörgås/it's/last.ckpt", "C:\\runs\\x\\last.ckpt"])
def test_a_printed_ckpt_path_pastes_back_as_the_same_path(path):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from src.records.status import paste_ready

    (word,) = shlex.split(f"python train.py {paste_ready('ckpt_path', path)}")[2:]
    (override,) = OverridesParser.create().parse_overrides([word])
    assert override.key_or_group == "ckpt_path" and override.value() == path


@pytest.mark.slow
def test_a_full_disk_mid_run_ends_in_one_line_naming_the_path(tmp_path):
    full = "+callbacks.full_disk={_target_: tests.helpers.FullDisk, step: 2}"
    result = run_train(*TINY_RNN, full, "hydra.run.dir=run", cwd=tmp_path, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"no space left on device writing {tmp_path / 'run' / 'checkpoints' / 'last.ckpt'};")


def test_weights_of_another_network_are_refused_in_one_line_before_training(make_cfg, tmp_path):
    train(make_cfg(*TINY_RNN, "trainer.max_epochs=1", name="first"))
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    cfg = make_cfg(*TINY_RNN, "model.hidden_dim=16", "ckpt_strict=false", f"ckpt_path={last}", name="other")
    with pytest.raises(
        ConfigError, match=r"ckpt_path: .*last.ckpt: its weights do not fit this network \(size mismatch"
    ):
        train(cfg)


def test_ckpt_path_auto_does_not_run_a_completed_run_again_and_knows_a_run_only_by_its_checkpoint(make_cfg, tmp_path):
    train(make_cfg(*TINY_RNN, "trainer.max_epochs=1", name="done"))
    result = (tmp_path / "done" / COMPLETED_MARKER).read_text().strip()
    before = sorted(p.name for p in (tmp_path / "done").iterdir())
    assert train(make_cfg(*TINY_RNN, "ckpt_path=auto", name="done")) == float(result)  # stored, nothing rebuilt
    assert sorted(p.name for p in (tmp_path / "done").iterdir()) == before
    copied = tmp_path / "copied"
    copied.mkdir()
    (copied / COMPLETED_MARKER).write_text(result + "\n")  # a result, but no record of which run it was
    with pytest.raises(ConfigError, match="holds a run with no checkpoint to tell which run it is: nothing was"):
        train(make_cfg(*TINY_RNN, "ckpt_path=auto", name="copied"))
    (tmp_path / "done" / COMPLETED_MARKER).write_text("nan\n")
    with pytest.raises(ConfigError, match=r"ckpt_path: is 'auto' but .*COMPLETED holds 'nan', not a result"):
        train(make_cfg(*TINY_RNN, "ckpt_path=auto", name="done"))


@pytest.mark.slow
def test_ckpt_path_auto_resumes_the_folders_own_last_checkpoint_or_starts_afresh(make_cfg, tmp_path, caplog):
    caplog.set_level("INFO", logger="train")
    train(make_cfg(*TINY_RNN, "trainer.max_epochs=1", "ckpt_path=auto", name="run"))  # nothing to resume: starts
    assert "Resuming from" not in caplog.text
    (tmp_path / "run" / COMPLETED_MARKER).unlink()  # as if it had been interrupted
    (tmp_path / "run" / INTERRUPTED_MARKER).write_text("SIGTERM at step 3\n")
    train(make_cfg(*TINY_RNN, "trainer.max_epochs=2", "ckpt_path=auto", name="run"))
    assert f"Resuming from {tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}" in caplog.text
    assert (tmp_path / "run" / COMPLETED_MARKER).exists() and not (tmp_path / "run" / INTERRUPTED_MARKER).exists()
    refused = (
        r"ckpt_path: is .auto. but .* holds a run completed with other settings: .*seed \(42 in the checkpoint, 7 now\)"
    )
    with pytest.raises(ConfigError, match=refused):
        train(make_cfg(*TINY_RNN, "seed=7", "ckpt_path=auto", name="run"))  # checked like any resume


@pytest.mark.slow
def test_a_run_stopped_by_max_time_is_marked_and_resuming_it_with_the_same_limit_says_to_raise_it(make_cfg, tmp_path):
    from src.report.runs import read_run
    from src.sweeps.summary import TIME_LIMIT, job_status

    endless = [*TINY_RNN, "data.data_size=200000", "trainer.max_epochs=100", "callbacks.early_stopping=null"]
    train(make_cfg(*endless, "trainer.max_time=00:00:00:02", name="run"))
    run = tmp_path / "run"
    stopped = (run / TIME_LIMIT_MARKER).read_text().splitlines()
    step = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    assert stopped[0] == f"stopped by trainer.max_time at step {step}" and (run / COMPLETED_MARKER).exists()
    assert stopped[1].startswith("python train.py ") and "ckpt_path=" in stopped[1]
    assert bad_command_line(shlex.split(stopped[1])[2:], tmp_path) is None  # pastes as a command train.py takes
    (run / ".hydra").mkdir()
    (run / ".hydra" / "overrides.yaml").write_text("[]\n")  # as Hydra leaves it
    assert job_status(run)[0] == TIME_LIMIT and read_run(run).status.startswith("ok, stopped by trainer.max_time")
    last = f"ckpt_path={run}/checkpoints/last.ckpt"
    with pytest.raises(ConfigError, match=r"trainer.max_time: is 00:00:00:02, and .* has already trained for \d+ s"):
        train(make_cfg(*endless, "trainer.max_time=00:00:00:02", last, name="again"))
    train(make_cfg(*endless, "trainer.max_time=00:01:00:00", f"trainer.max_steps={step + 20}", last, name="again"))
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] > step
