"""The folder a run or sweep writes is the one its config resolves to, whoever set it, and a folder is only
ever "this run" by its own record: each case did damage or went silently wrong before it was so."""

import hashlib
import shutil
from pathlib import Path

import pytest
import torch

from src.config.compose import compose_config
from src.config.errors import ConfigError
from src.records.status import COMPLETED_MARKER, FAILED_MARKER
from src.run.folder import release_folder
from tests.conftest import TINY_RNN
from tests.helpers import claim_sweep, set_up
from train import train

ONE_EPOCH = [*TINY_RNN, "trainer.max_epochs=1"]


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A folder holding two finished runs: runs/b42 and runs/a (tiny palindrome models)."""
    root = tmp_path_factory.mktemp("finished")
    for name in ("b42", "a"):
        train(compose_config(ONE_EPOCH, root / "runs" / name))
    return root


def copy_of(finished: Path, tmp_path: Path) -> tuple[Path, dict]:
    shutil.copytree(finished / "runs", tmp_path / "runs")
    return tmp_path / "runs", digest(tmp_path / "runs")


def test_an_interpolated_run_folder_is_claimed_as_it_resolves(finished, tmp_path):
    runs, before = copy_of(finished, tmp_path)
    with pytest.raises(ConfigError, match=r"^hydra.run.dir: .*runs/b42 already holds a run; resume it with"):
        set_up([*ONE_EPOCH, "hydra.run.dir=runs/b${seed}"], tmp_path)
    assert digest(runs) == before


def test_a_run_folder_a_preset_of_the_users_names_is_claimed_too(finished, tmp_path):
    runs, before = copy_of(finished, tmp_path)
    (tmp_path / "mine" / "experiment").mkdir(parents=True)
    (tmp_path / "mine" / "experiment" / "here.yaml").write_text(
        "# @package _global_\nhydra:\n  run:\n    dir: runs/b42\n"
    )
    with pytest.raises(ConfigError, match=r"^hydra.run.dir: .*runs/b42 already holds a run"):
        set_up(["--config-dir", "mine", *ONE_EPOCH, "experiment=here"], tmp_path)
    assert digest(runs) == before


def test_a_resume_never_writes_into_another_runs_folder(finished, tmp_path):
    runs, before = copy_of(finished, tmp_path)
    last = runs / "a" / "checkpoints" / "last.ckpt"
    with pytest.raises(
        ConfigError, match=r"^hydra.run.dir: .*runs/b42 holds files, and ckpt_path continues the run in"
    ):
        set_up([*ONE_EPOCH, "hydra.run.dir=runs/b42", f"ckpt_path={last}"], tmp_path)
    assert digest(runs) == before
    run = set_up([*ONE_EPOCH, f"ckpt_path={last}"], tmp_path)  # a new default folder: the run goes on in its own
    assert run.folder == runs / "a" and not (tmp_path / "outputs").exists()
    release_folder(run.folder)


def test_auto_in_a_failed_runs_folder_with_other_settings_is_refused(finished, tmp_path):
    runs, _ = copy_of(finished, tmp_path)
    (runs / "a" / COMPLETED_MARKER).unlink()
    (runs / "a" / FAILED_MARKER).write_text("RuntimeError: it broke\n")
    before = digest(runs)
    with pytest.raises(ConfigError, match=r"last.ckpt was written with other settings: .*seed \(42 in the checkpoint"):
        set_up([*ONE_EPOCH, "seed=7", "hydra.run.dir=runs/a", "ckpt_path=auto"], tmp_path)
    shutil.rmtree(runs / "a" / "checkpoints")  # failed before its first save: nothing tells which run it was
    before = digest(runs)
    with pytest.raises(ConfigError, match=r"holds a run with no checkpoint to tell which run it is: nothing was"):
        set_up([*ONE_EPOCH, "hydra.run.dir=runs/a", "ckpt_path=auto"], tmp_path)
    assert digest(runs) == before


def test_auto_into_the_current_folder_of_a_checkout_is_refused(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / ".git").mkdir(parents=True)
    (checkout / "train.log").write_text("the user's own log\n")
    with pytest.raises(ConfigError, match=r"is the current folder or a parent of it, and it is not empty: nothing"):
        set_up([*ONE_EPOCH, "hydra.run.dir=.", "ckpt_path=auto"], checkout)
    assert (checkout / "train.log").read_text() == "the user's own log\n"


def test_a_planted_link_in_a_run_folder_is_never_written_through(finished, tmp_path):
    runs, _ = copy_of(finished, tmp_path)
    outside = tmp_path / "bashrc"
    outside.write_text("mine\n")
    (runs / "a" / "train.log").symlink_to(outside)  # what Hydra's job appends its log to
    with pytest.raises(ConfigError, match=r"train.log is a link: a run writes there, and never through a link"):
        set_up([*ONE_EPOCH, f"ckpt_path={runs / 'a' / 'checkpoints' / 'last.ckpt'}"], tmp_path)
    assert outside.read_text() == "mine\n"


def test_a_sweeps_overwrite_never_empties_a_folder_of_single_runs(finished, tmp_path):
    day = tmp_path / "day"
    shutil.copytree(finished / "runs", day)
    (day / "NOTES.txt").write_text("mine\n")
    before = digest(day)  # single runs and a file of the user's: no sweep's record, no job of one
    with pytest.raises(ConfigError, match=r"^hydra.sweep.dir: .*day holds files but no sweep: nothing was touched"):
        claim_sweep(["-m", "seed=1,2", "hydra.sweep.dir=day", "overwrite=true"], tmp_path)
    (day / "multirun.yaml").write_text("hydra:\n  overrides:\n    task: ['seed=1,2']\n")  # once a sweep's, too
    before = digest(day)
    with pytest.raises(ConfigError, match=r"^hydra.sweep.dir: .*day holds (NOTES.txt|a|b42), which is not this sweep"):
        claim_sweep(["-m", "seed=1,2", "hydra.sweep.dir=day", "overwrite=true"], tmp_path)
    assert digest(day) == before


def test_an_interpolated_sweep_folder_is_checked_as_it_resolves(tmp_path):
    claim_sweep(["-m", "seed=1,2", "hydra.sweep.dir=sweep42"], tmp_path)  # a first sweep's folder and record
    release_folder(tmp_path / "sweep42")
    with pytest.raises(ConfigError, match=r"^hydra.sweep.dir: .*sweep42 holds an earlier sweep; continue it with"):
        claim_sweep(["-m", "seed=1,2", "hydra.sweep.dir=sweep${seed}"], tmp_path)


def test_ckpt_path_latest_onto_weights_of_another_shape_is_refused_in_one_line(finished, tmp_path):
    runs, _ = copy_of(finished, tmp_path)
    (tmp_path / "outputs").mkdir()
    shutil.move(runs, tmp_path / "outputs" / "runs")
    cfg = compose_config([*ONE_EPOCH, "model.hidden_dim=16", "ckpt_strict=false", "ckpt_path=latest"], tmp_path / "x")
    cfg.paths.root_dir = str(tmp_path)
    with pytest.raises(ConfigError, match=r"^ckpt_path: .*last.ckpt: its weights do not fit this network \(size"):
        train(cfg)


def test_eval_of_weights_that_are_not_finite_is_refused_in_one_line(finished, tmp_path):
    from src.evaluate import run_eval

    runs, _ = copy_of(finished, tmp_path)
    for path in (runs / "a" / "checkpoints").glob("*.ckpt"):
        checkpoint = torch.load(path, weights_only=True)
        name = next(k for k in checkpoint["state_dict"] if k.endswith("weight_hh") or "W_hh" in k or "weight" in k)
        checkpoint["state_dict"][name] = torch.full_like(checkpoint["state_dict"][name], float("nan"))
        torch.save(checkpoint, path)
    overrides = [f"ckpt_path={runs / 'a'}"]
    with pytest.raises(ConfigError, match=r"^ckpt_path: .*: weight .* is not finite \(nan or inf\): its run diverged"):
        run_eval(compose_config(overrides, tmp_path / "eval", config_name="eval"), overrides)
