"""Files from elsewhere: nothing read from a checkpoint or a run folder becomes a call, nothing the
user owns is deleted, and one sweep has one folder."""

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from src.app.preflight import bad_command_line
from src.config.compose import ROOT_DIR, compose_config
from src.config.errors import ConfigError
from src.evaluate import run_eval
from src.records.settings import TREE_KEY
from src.run.folder import claim_run_folder, release_folder
from tests.conftest import QUIET, TINY_RNN, run_train, subprocess_env
from tests.helpers import claim_sweep
from train import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A run folder of a tiny palindrome model (two epochs, so it has a best and a last checkpoint)."""
    root = tmp_path_factory.mktemp("trained")
    train(compose_config([*TINY_RNN, "trainer.max_epochs=2", "callbacks.early_stopping=null"], root / "run"))
    return root / "run"


def crafted_copy(run: Path, to: Path, change) -> Path:
    """A copy of ``run`` whose checkpoints' settings trees ``change(tree)`` edited, as a hostile author would."""
    shutil.copytree(run, to)
    for path in (to / "checkpoints").glob("*.ckpt"):
        checkpoint = torch.load(path, weights_only=True)
        change(checkpoint[TREE_KEY])
        torch.save(checkpoint, path)
    return to


def file_opener(marker: Path):
    """An edit that makes the model 'network' a call of ``open(marker, 'w')``: it would create the file."""

    def change(tree):
        tree["model"] = {"_target_": "builtins.open", "file": str(marker), "mode": "w"}

    return change


def evaluate(tmp_path: Path, *overrides: str) -> dict:
    folder = tmp_path / f"eval{len(list(tmp_path.glob('eval*')))}"  # a new folder each, as each eval has
    cfg = compose_config([*QUIET, *overrides], folder, config_name="eval")
    cfg.paths.root_dir = str(tmp_path)  # where `latest` looks
    return run_eval(cfg, list(overrides))


def test_eval_refuses_a_checkpoint_whose_settings_name_a_call_the_config_here_does_not(trained, tmp_path):
    marker = tmp_path / "CREATED"
    crafted = crafted_copy(trained, tmp_path / "outputs" / "crafted", file_opener(marker))
    last = crafted / "checkpoints" / "last.ckpt"
    for ckpt_path in (str(last), str(crafted), "latest"):  # a FILE, a run folder, the newest run
        with pytest.raises(ConfigError) as error:
            evaluate(tmp_path, f"ckpt_path={ckpt_path}")
        message = str(error.value)
        assert message.startswith("ckpt_path: ") and "\n" not in message
        assert "names model._target_='builtins.open', which no config here names under model: refused" in message
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outputs"]  # no file opened or created beside it


def test_eval_refuses_a_class_named_in_another_place_and_an_interpolation(trained, tmp_path):
    def swap(tree):  # a class the config names, but for the data: not a network
        tree["model"]["_target_"] = "src.datamodules.palindrome.PalindromeDataModule"

    crafted = crafted_copy(trained, tmp_path / "swapped", swap)
    with pytest.raises(ConfigError, match=r"names model._target_='src.datamodules.palindrome.PalindromeDataModule'"):
        evaluate(tmp_path, f"ckpt_path={crafted}")

    def importer(tree):  # an import path an allowed class would import itself (as CIFAR-10's `dataset:` is)
        tree["data"]["sampling"] = "subprocess.Popen"

    crafted = crafted_copy(trained, tmp_path / "importing", importer)
    with pytest.raises(ConfigError, match=r"names data.sampling='subprocess.Popen', which no config here names"):
        evaluate(tmp_path, f"ckpt_path={crafted}")

    def leak(tree):  # an interpolation would be resolved when eval writes its settings into eval.json
        tree["data"]["input_length"] = "${oc.env:HOME}"

    crafted = crafted_copy(trained, tmp_path / "leaking", leak)
    with pytest.raises(ConfigError, match=r"holds data.input_length='\$\{oc.env:HOME\}', an interpolation: refused"):
        evaluate(tmp_path, f"ckpt_path={crafted}")

    crafted = crafted_copy(trained, tmp_path / "seeded", lambda tree: tree.update(seed=2**80))  # NumPy takes 32 bits
    with pytest.raises(ConfigError, match=r"holds seed 1208925819614629174706176, which must be at most 2\*\*32 - 1"):
        evaluate(tmp_path, f"ckpt_path={crafted}")

    crafted = crafted_copy(trained, tmp_path / "keyed", lambda tree: tree["data"].update({7: "seven"}))
    with pytest.raises(ConfigError, match=r"holds run settings that are not this project's \(text keys, plain"):
        evaluate(tmp_path, f"ckpt_path={crafted}")

    crafted = crafted_copy(trained, tmp_path / "partial", lambda tree: tree.pop("optimizer"))
    with pytest.raises(ConfigError, match=r"carries incomplete run settings \(missing or not a group: optimizer\)"):
        evaluate(tmp_path, f"ckpt_path={crafted}")


def test_a_users_own_class_is_allowed_when_their_config_names_it(trained):
    from src.config.targets import allowed_targets, check_tree

    tree = {"model": {"_target_": "mine.Net"}, "data": {}, "module": {}, "optimizer": {}}
    with pytest.raises(ConfigError, match="which no config here names"):
        check_tree(tree, allowed_targets(compose_config(QUIET, trained.parent / "x")), "the file")
    cfg = compose_config([*QUIET, "model._target_=mine.Net"], trained.parent / "x")  # named on the command line
    check_tree(tree, allowed_targets(cfg), "the file")


def test_the_report_of_a_crafted_run_folder_imports_and_opens_nothing_it_names(trained, tmp_path, capsys):
    from src.report.__main__ import main

    marker = tmp_path / "CREATED"
    crafted = crafted_copy(trained, tmp_path / "crafted", file_opener(marker))
    (crafted / ".hydra").mkdir()
    (crafted / ".hydra" / "overrides.yaml").write_text("- data.input_length=${oc.env:HOME}\n")  # never resolved
    before = {p for p in tmp_path.rglob("*") if "report" not in p.parts}
    assert main([str(crafted)]) == 0, capsys.readouterr().err
    assert not marker.exists()
    assert {p for p in tmp_path.rglob("*") if "report" not in p.parts} == before  # only report/ was written
    from src.report.runs import read_run

    assert read_run(crafted).overrides == {"data.input_length": "${oc.env:HOME}"}  # read as text, not resolved


def test_overwrite_never_empties_the_current_folder_a_checkout_or_a_folder_that_is_no_run(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / ".git").mkdir(parents=True)
    (checkout / "src").mkdir()
    (checkout / "src" / "code.py").write_text("print('mine')\n")
    before = sorted(str(p) for p in checkout.rglob("*"))
    result = run_train("hydra.run.dir=.", "overwrite=true", *QUIET, cwd=checkout, check=False, timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "is the current folder or a parent of it, and overwrite=true empties only an earlier run's folder" in (
        result.stderr
    )
    assert sorted(str(p) for p in checkout.rglob("*")) == before
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine\n")
    for folder, reason in (("checkout", "is a git checkout"), ("notes", "is not a run's folder")):
        with pytest.raises(ConfigError, match=f"hydra.run.dir: .*{folder} {reason}"):
            claim_run_folder(tmp_path / folder, overwrite=True, own_run=False)
    assert (tmp_path / "notes" / "todo.txt").exists() and sorted(str(p) for p in checkout.rglob("*")) == before


def test_overwrite_empties_a_run_folder_of_what_a_run_wrote_and_keeps_the_rest(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "my_notes.txt").write_text("mine\n")
    claim_run_folder(run, overwrite=True, own_run=False)
    release_folder(run)
    assert sorted(p.name for p in run.iterdir()) == [".lock", ".lock.owner", "my_notes.txt"]


def sweep_folder(tmp_path: Path) -> Path:
    """A finished sweep's folder as Hydra lays it out: its record (multirun.yaml), a job folder with Hydra's
    record of it, and the summary."""
    sweep = tmp_path / "sweep"
    job = sweep / "data.input_length=3"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "config.yaml").write_text("seed: 42\n")
    (job / ".hydra" / "overrides.yaml").write_text("- data.input_length=3\n")
    (job / ".hydra" / "hydra.yaml").write_text(f"hydra:\n  mode: MULTIRUN\n  runtime:\n    output_dir: '{job}'\n")
    (job / "COMPLETED").write_text("1.0\n")
    (sweep / "multirun.yaml").write_text("hydra:\n  overrides:\n    task: ['data.input_length=3,4']\n")
    (sweep / "summary.tsv").write_text("overrides\tstatus\tresult\n")
    return sweep


def test_a_second_sweep_into_a_finished_sweeps_folder_is_refused_unless_it_continues_or_overwrites(tmp_path):
    sweep = sweep_folder(tmp_path)
    args = ["-m", "data.input_length=3,4", f"hydra.sweep.dir={sweep}"]
    with pytest.raises(ConfigError, match=r"^hydra.sweep.dir: .*sweep holds an earlier sweep; continue it with"):
        claim_sweep(args, tmp_path)
    assert (sweep / "data.input_length=3" / "COMPLETED").exists()
    claim_sweep([*args, "ckpt_path=auto"], tmp_path)  # its continue command: the same overrides
    release_folder(sweep)
    with pytest.raises(ConfigError, match=r"holds a sweep of other settings \(data.input_length=3,4, now data.in"):
        claim_sweep(["-m", "data.input_length=5,6", f"hydra.sweep.dir={sweep}", "ckpt_path=auto"], tmp_path)
    (sweep / "my_notes.txt").write_text("mine\n")  # what overwrite cannot prove is the sweep's: refused, untouched
    with pytest.raises(ConfigError, match=r"holds my_notes.txt, which is not this sweep's .* nothing was touched"):
        claim_sweep([*args, "overwrite=true"], tmp_path)
    assert (sweep / "data.input_length=3" / "COMPLETED").exists() and (sweep / "my_notes.txt").exists()
    (sweep / "my_notes.txt").unlink()
    claim_sweep([*args, "overwrite=true"], tmp_path)
    release_folder(sweep)
    assert sorted(p.name for p in sweep.iterdir()) == [".lock", ".lock.owner", "multirun.yaml"]  # the new record
    (tmp_path / "here.txt").write_text("mine\n")
    with pytest.raises(ConfigError, match=r"is the current folder or a parent of it: nothing was touched"):
        claim_sweep(["-m", "hydra.sweep.dir=.", "overwrite=true"], tmp_path)
    assert (tmp_path / "here.txt").exists()


@pytest.mark.slow
def test_two_sweeps_into_one_folder_at_once_the_second_is_refused_naming_the_first(tmp_path):
    holder = (
        "import sys, time; from pathlib import Path; from tests.helpers import claim_sweep;"
        f"claim_sweep(['-m', 'hydra.sweep.dir=shared'], Path({str(tmp_path)!r}));"
        "print('held', flush=True); time.sleep(60)"
    )
    first = subprocess.Popen(
        [sys.executable, "-c", holder], cwd=ROOT_DIR, env=subprocess_env(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert first.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError) as error:
            claim_sweep(["-m", "data.input_length=3,4", "hydra.sweep.dir=shared"], tmp_path)
        assert f"is in use by a sweep that is still going (pid {first.pid}, started" in str(error.value)
    finally:
        first.kill()
        first.wait(timeout=30)


def test_the_resume_command_of_a_parallel_search_job_keeps_what_its_preset_chose_and_pastes(tmp_path):
    from src.app.launch import origin_of

    cfg = compose_config(["launcher=parallel", "data.input_length=5"], ".", with_hydra=True)
    cfg.hydra.overrides.task = ["launcher=parallel", "hparams_search=palindrome_optuna", "data.input_length=5"]
    command = origin_of(cfg.hydra, "train.py", in_sweep=True).command
    assert command == "python train.py hparams_search=palindrome_optuna data.input_length=5"  # no launcher
    args = shlex.split(command)[2:]
    assert bad_command_line([*args, "ckpt_path=last.ckpt"], tmp_path) is None  # as a stop prints it: it resumes
    assert bad_command_line(args, tmp_path).startswith("hparams_search: a search runs many jobs; add -m")


def test_a_resumed_checkpoint_naming_another_runs_files_neither_tests_nor_deletes_them(trained, tmp_path, caplog):
    other = tmp_path / "other"
    shutil.copytree(trained, other)
    (victim,) = other.glob("checkpoints/epoch*.ckpt")
    mine = tmp_path / "mine" / "checkpoints"
    mine.mkdir(parents=True)
    checkpoint = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)
    for key, state in checkpoint["callbacks"].items():
        if key.startswith("ModelCheckpoint") and state.get("monitor"):
            sneaky = str(mine / ".." / ".." / "other" / "checkpoints" / victim.name)  # inside mine, by its letters
            state.update(dirpath=str(mine), best_model_path=sneaky, best_model_score=torch.tensor(-1.0))
            state["best_k_models"] = {sneaky: torch.tensor(-1.0)}
    torch.save(checkpoint, mine / "last.ckpt")
    caplog.set_level("WARNING")
    cfg = compose_config([*TINY_RNN, "trainer.max_epochs=3", f"ckpt_path={mine / 'last.ckpt'}"], tmp_path / "mine")
    train(cfg)
    assert victim.exists()  # Lightning would have removed the 'previous best' when this run saved a better one
    assert "outside this run's folder: not used" in caplog.text
    assert list(mine.glob("epoch*.ckpt"))  # its own best, which its test used


def test_a_resumed_run_whose_best_checkpoint_cannot_be_read_tests_its_final_weights(trained, tmp_path, caplog):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    last = run / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    for key, state in checkpoint["callbacks"].items():  # as if it had been written here
        if key.startswith("ModelCheckpoint"):
            state.update({k: v.replace(str(trained), str(run)) for k, v in state.items() if isinstance(v, str)})
    torch.save(checkpoint, last)
    (best,) = run.glob("checkpoints/epoch*.ckpt")
    best.write_bytes(b"not a checkpoint any more")
    caplog.set_level("WARNING")
    cfg = compose_config([*TINY_RNN, "trainer.max_epochs=2", "callbacks.early_stopping=null", f"ckpt_path={last}"], run)
    train(cfg)  # nothing left to train: straight to the test
    assert "The best checkpoint cannot be read" in caplog.text and "testing the final weights" in caplog.text
    assert (run / "COMPLETED").exists()


def test_a_target_outside_the_allowlist_in_force_is_refused_in_one_line_naming_its_key(tmp_path):
    """On both Hydra lines (on 1.4 Hydra's own execution allowlist holds the same set)."""
    from src.config.compose import compose_config
    from src.config.targets import allowing
    from src.run.build import build

    cfg = compose_config(["model=mlp"], tmp_path)
    with allowing({"src.networks.rnn.VanillaRNN"}), pytest.raises(ConfigError) as refused:
        build("model", cfg.model)
    assert str(refused.value).startswith(
        "model._target_: 'src.networks.mlp.MLP' is not a class the config here names: refused"
    )
    assert build("model", cfg.model).__class__.__name__ == "MLP"  # outside: what the node itself names
