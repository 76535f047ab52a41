"""Every kind of bad input, as a user types it: one line naming the key, before anything is trained or written.

Two tables. ``COMMAND_LINE``: what is refused before Hydra starts (unknown options, misspelled
keys, sweep-only settings, unwritable folders, the sweep plugins' settings), each checked by
``bad_command_line``, the function ``python train.py`` calls first. ``VALUES``: what the objects
that take a value refuse (the constructors, the optimizer, the Trainer, the project's own
checks), run in-process through ``train()``, which is what ``python train.py`` calls. A few rows
of each table also run as real subprocesses, to see the line alone on stderr, without Hydra's
frame, and the exit status. Option lists come from ``conf/``.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from src.app.preflight import bad_command_line
from src.config.compose import ROOT_DIR, config_options
from src.config.errors import ConfigError
from tests.conftest import QUIET, run_train, subprocess_env
from train import train


def choose_one_of(group: str) -> str:
    return f"{group}=foo: unknown option; choose one of: {', '.join(config_options(group))}"


# a scheduler given no length: the run's number of steps is filled in only for one stepped each step
ONE_CYCLE = ["module.scheduler={_target_:torch.optim.lr_scheduler.OneCycleLR,_partial_:true,max_lr:0.1}"]
SEARCH = ["-m", "hparams_search=palindrome_optuna"]
COMMAND_LINE = [
    (["model=foo"], choose_one_of("model")),
    (["model=mlp", "data=foo"], choose_one_of("data")),
    (["-m", "optimizer=sgd,foo"], choose_one_of("optimizer")),
    (["data.input_lenght=5"], "data.input_lenght: no such key; did you mean data.input_length?"),
    (["trainer.max_epoch=5"], "trainer.max_epoch: no such key; did you mean trainer.max_epochs?"),
    (["model=mlp", "data.noise=0.3"], "data.noise: no such key; did you mean data.generator.noise?"),
    (
        ["callbacks.model_checkpoint.every_n_train_steps=5"],  # the best checkpoint is saved after validation only
        "callbacks.model_checkpoint.every_n_train_steps: no such key; did you mean callbacks.last_checkpoint.",
    ),
    (["hparams_search=mlp_optuna"], "hparams_search: a search runs many jobs; add -m"),
    (["launcher=parallel"], "launcher: chooses where a sweep's jobs run, and a single run has none; add -m"),
    (["hydra.run.dir=notafolder/run"], "hydra.run.dir: cannot write the run's outputs under"),
    # the sweep plugins' settings, by the objects the plugins build (src/config/plugins.py)
    ([*SEARCH, "hydra.sweeper.direction=up"], "hydra.sweeper.direction: 'up': Optuna takes minimize or maximize"),
    ([*SEARCH, "optimized_metric=null", "hydra.sweeper.direction=minimize"], "hydra.sweeper.direction: minimize contr"),
    ([*SEARCH, "optimized_metric=null", "monitor.metric=null"], "monitor.metric: is null, so a search has nothing to"),
    ([*SEARCH, "hydra.sweeper.n_trials=0"], "hydra.sweeper.n_trials: must be an integer >= 1, got 0"),
    (["-m", "experiment=mlp_numpy_vs_torch", "seeds=0"], "seeds: must be an integer >= 1, got 0"),
    (["-m", "experiment=mlp_numpy_vs_torch", "seeds=3", "seed=5"], "seed: is swept by seeds=3 (seeds 1 to 3); leave"),
    ([*SEARCH, "hydra.sweeper.sampler.seed=abc"], "hydra.sweeper.sampler.seed: Value 'abc' of type 'str' could not"),
    ([*SEARCH, "hydra.sweeper.sampler._target_=nope.Sampler"], "hydra.sweeper.sampler: Error locating target 'nope."),
    ([*SEARCH, "hydra.sweeper.storage=bogus://db"], "hydra.sweeper.storage: bogus://db: not a database URL optuna"),
    ([*SEARCH, "hydra.sweeper.storage=sqlite:///nofolder/s.db"], "hydra.sweeper.storage: sqlite:///nofolder/s.db: the"),
    (["-m", "launcher=slurm", "hydra.launcher.timeout_min=-5"], "hydra.launcher.timeout_min: must be an integer >= 1"),
    (["-m", "launcher=slurm"], 'launcher: slurm: Could not detect "srun", are you indeed on a slurm cluster?; launch'),
    (
        [*SEARCH, "hydra.sweeper.storage=sqlite:///notafolder"],
        "hydra.sweeper.storage: sqlite:///notafolder: notafolder",
    ),
    (["data.input_length=${data.input_length}"], "data.input_length: ${data.input_length} cannot be resolved: Recur"),
    (["+x=${nowhere}"], "x: ${nowhere} cannot be resolved: Interpolation key 'nowhere' not found"),
    (["hydra.run.dir=/proc/x/run"], "hydra.run.dir: cannot write the run's outputs under /proc/x/run: /proc holds no"),
]

NO_GPU = not torch.cuda.is_available()
NO_MPS = not torch.backends.mps.is_available()
VALUES = [
    # top-level keys (src/config/checks.py)
    (["seed=abc"], "seed: must be an integer >= 0, got 'abc'"),
    (["test_ckpt=worst"], "test_ckpt: must be one of best, last; got 'worst'"),
    (["optimized_metric=acc"], "optimized_metric: must be one of train/loss, train/acc, val/loss, val/acc,"),
    (["monitor.mode=up"], "monitor.mode: must be one of max, min; got 'up'"),
    (["monitor.metric=val/accuracy"], "monitor.metric: must be one of train/loss, train/acc,"),
    (["process.quiet=yes"], "process.quiet: must be true or false, got 'yes'"),
    (["overwrite=maybe"], "overwrite: must be true or false, got 'maybe'"),
    # resume (src/run/resume.py)
    (["ckpt_path=missing.ckpt"], "ckpt_path: missing.ckpt is not a file"),
    (["ckpt_path=garbage.ckpt"], "ckpt_path: garbage.ckpt is not a readable checkpoint"),
    (["ckpt_path=latest"], "ckpt_path: is 'latest' but there is no checkpoints/last.ckpt"),
    # data (the datamodules' constructors)
    (["data.input_length=abc"], "data.input_length: must be an integer >= 1, got 'abc'"),
    (["data.input_length=0"], "data.input_length: must be an integer >= 1, got 0"),
    (["data.input_length=100000"], "data.input_length: 120,000 palindromes of input_length=100000 need about"),
    (["data.data_size=-5"], "data.data_size: must be an integer >= 2, got -5"),
    (["data.train_portion=1.5"], "data.train_portion: must be a number in (0.0, 1.0), got 1.5"),
    (["data.input_scale=0"], "data.input_scale: must not be 0"),
    (["data.input_offset=abc"], "data.input_offset: must be a finite number, got 'abc'"),
    (["data.one_hot=true", "data.input_scale=0.5"], "data.input_scale: rescales scalar digits only"),
    (["model=cnn", "data.batch_size=0"], "data.batch_size: must be an integer >= 1, got 0"),
    (["model=cnn", "data.root=notafolder"], "data.root: notafolder is a file; give the folder"),
    (["model=cnn", "data.download=false"], "data.root: CIFAR-10 is not in"),
    (["model=cnn", "data=fashion_mnist", "data.val_size=100000"], "data.val_size: must be smaller than the 60000"),
    # optimizer (ranges by meaning, then torch's own constructor)
    (["optimizer.lr=-1"], "optimizer.lr: must lie in (0, inf), got -1"),
    (["optimizer.lr=nan"], "optimizer.lr: must be a finite number, got nan"),
    (["optimizer.lr=fast"], "optimizer.lr: must be a finite number, got 'fast'"),
    (["optimizer=sgd", "optimizer.momentum=1.5"], "optimizer.momentum: must lie in [0, 1), got 1.5"),
    (["optimizer=sgd", "optimizer.nesterov=true"], "optimizer.nesterov: True refused by SGD: Nesterov momentum"),
    (["optimizer=adam", "optimizer.betas=[0.9]"], "optimizer.betas: [0.9] refused by Adam:"),
    (["model=mlp_numpy", "optimizer=adam"], "optimizer: model=mlp_numpy implements plain SGD only"),
    # model and module (the networks' and the module's constructors, then one forward pass)
    (["model.recurrent_init=eye"], "model.recurrent_init: must be one of uniform, orthogonal, identity; got 'eye'"),
    (["model.recurrent_gain=2"], "model.recurrent_gain: scales an orthogonal or identity recurrent_init"),
    (["model.recurrent_init=orthogonal", "model.recurrent_gain=-1"], "model.recurrent_gain: must be a positive number"),
    (["model=mlp", "model.hidden_units='20,,5'"], "model.hidden_units: must be positive integers"),
    (["model=mlp", "model.hidden_units='0'"], "model.hidden_units: must be positive integers"),
    (["model=mlp", "data=palindrome"], "model: cannot take this data's batches (inputs (2, 10, 1)"),
    (["model=cnn", "data=moons"], "model: needs data.channels, which the chosen config does not define"),
    (["module.compile=yes"], "module.compile: must be true or false, got 'yes'"),
    (["module.compile=true", "module.compile_mode=fast"], "module.compile_mode: 'fast' refused by torch.compile:"),
    (["module.compile=true", "module.compile_backend=nope"], "module.compile_backend: 'nope' refused by torch.compile"),
    (["model=mlp_numpy", "module.compile=true"], "module.compile: model=mlp_numpy is NumPy, not a torch network"),
    (["module.label_smoothing=1.5"], "module.label_smoothing: must be a number in [0.0, 1.0), got 1.5"),
    (["module.scheduler_interval=batch"], "module.scheduler_interval: must be one of epoch, step; got 'batch'"),
    (
        [*ONE_CYCLE, "module.scheduler_interval=step", "+module.scheduler.pct_start=2"],
        "module.scheduler: refused by OneCycleLR: Expected float between",
    ),
    (
        [*ONE_CYCLE, "module.scheduler_interval=epoch"],
        "module.scheduler: refused by OneCycleLR: You must define either",
    ),
    # trainer (Lightning's Trainer judges; checks.py only what it accepts but cannot work)
    (["trainer.max_steps=abc"], "trainer.max_steps: 'abc' refused by Trainer:"),
    (["trainer.max_epochs=0"], "trainer.max_epochs: must not be 0"),
    (["trainer.precision=15"], "trainer.precision: 15 refused by Trainer: Precision 15 is invalid"),
    (["trainer.val_check_interval=0"], "trainer.val_check_interval: must be null or a number > 0, got 0"),
    (["trainer.val_check_interval=1.5"], "trainer.val_check_interval: 1.5 refused by Trainer:"),
    (["trainer.gradient_clip_val=-1"], "trainer.gradient_clip_val: must be a finite number >= 0"),
    (["trainer.gradient_clip_algorithm=clip"], "trainer.gradient_clip_algorithm: 'clip' refused by Trainer:"),
    (["trainer.log_every_n_steps=0"], "trainer.log_every_n_steps: must be an integer >= 1, got 0"),
    (["trainer.devices=0"], "trainer.devices: 0 refused by Trainer:"),
    (["trainer.fast_dev_run=-1"], "trainer.fast_dev_run: -1 refused by Trainer:"),
    (["trainer=gpu"], "trainer.accelerator: 'gpu' refused by Trainer:"),
    (["trainer.accelerator=mps"], "trainer.accelerator: 'mps' refused by Trainer: `MPSAccelerator` can not run"),
    # callbacks (their constructors; monitors name a metric this project logs)
    (["callbacks.early_stopping.monitor=val/accuracy"], "callbacks.early_stopping.monitor: must be one of"),
    (["callbacks.early_stopping.mode=mid"], "callbacks.early_stopping.mode: 'mid' refused by EarlyStopping:"),
    (["callbacks.early_stopping.patience=-1"], "callbacks.early_stopping.patience: must be an integer >= 0"),
    (["callbacks.last_checkpoint.every_n_train_steps=0"], "callbacks.last_checkpoint.every_n_train_steps: must be"),
    (["callbacks.model_checkpoint.save_top_k=-2"], "callbacks.model_checkpoint.save_top_k: -2 refused by Model"),
    (["callbacks.non_finite_guard.check_every_n_steps=0"], "callbacks.non_finite_guard.check_every_n_steps: must"),
    (["callbacks.progress_bar.min_seconds=-1"], "callbacks.progress_bar.min_seconds: must be a finite number >= 0"),
    (["logger.tensorboard=null"], "callbacks.lr_monitor: logs to a logger and every logger is off"),
    (["trainer.limit_val_batches=0"], "trainer.limit_val_batches: is 0, so nothing is validated, but callbacks."),
    # what Lightning would only assert on mid-run (src/config/trainer_checks.py)
    (['trainer.max_epochs="2"'], "trainer.max_epochs: must be an integer or null, not the text '2'; give it without"),
    # kinds the Trainer's own type hints rule out (src/config/signatures.py): Lightning asserts on them mid-run
    (["trainer.max_epochs=many"], "trainer.max_epochs: 'many' refused by Trainer: must be an integer or null"),
    (["trainer.max_epochs=[1,2]"], "trainer.max_epochs: [1, 2] refused by Trainer: must be an integer or null"),
    (["trainer.max_epochs=true"], "trainer.max_epochs: True refused by Trainer: must be an integer or null"),
    (["seed=1208925819614629174706176"], "seed: must be at most 2**32 - 1 (what NumPy and Lightning take), got 12"),
    (["trainer.profiler._target_=nowhere.Profiler"], "trainer.profiler._target_: 'nowhere.Profiler' cannot be built:"),
    (["model=mlp", "data=moons", "trainer.check_val_every_n_epoch=1"], "trainer.val_check_interval: is 10 batches,"),
    (["logger=mlflow", "logger.mlflow.tracking_uri=http://127.0.0.1:9"], "logger.mlflow.tracking_uri: http://127."),
    (["logger=mlflow", "logger.mlflow.tracking_uri=sqlite:///notafolder/m.db"], "logger.mlflow.tracking_uri: sqlite"),
    (["data.curriculum_threshold=7"], "data.curriculum_threshold: must be a number in (0.0, 1.0], got 7"),  # off, too
]
VALID_ON_THIS_MACHINE = {
    ("trainer=gpu",): not NO_GPU,
    ("trainer.accelerator=mps",): not NO_MPS,
    ("-m", "launcher=slurm"): shutil.which("srun") is not None,  # a SLURM login node
    ("hydra.run.dir=/proc/x/run",): not Path("/proc/self").is_dir(),  # Linux's process folder holds no new folder
}
# Rows run as `python train.py`: a group option, a plugin setting (composed with -m), a folder
COMMAND_LINE_AS_SUBPROCESS = [
    ["model=foo"],
    pytest.param([*SEARCH, "hydra.sweeper.storage=bogus://db"], marks=pytest.mark.slow),  # imports optuna
    ["hydra.run.dir=notafolder/run"],
]
# A value refused once the run is built (a checkpoint refused so: tests/test_sharing.py, a malicious one)
AS_SUBPROCESS = [["optimizer.lr=-1"]]


def param(args: list[str], expected: str):
    skip = VALID_ON_THIS_MACHINE.get(tuple(args), False)
    return pytest.param(args, expected, id=" ".join(args), marks=pytest.mark.skipif(skip, reason="valid here"))


def quiet_for(args: list[str]) -> list[str]:
    """``QUIET``, less the settings a row overrides (a row that sets the progress bar keeps it)."""
    return [q for q in QUIET if not any(a.startswith(q.split("=")[0] + ".") for a in args)]


def workspace(tmp_path):
    """A folder with a file ``notafolder`` and a checkpoint of random bytes ``garbage.ckpt``."""
    (tmp_path / "notafolder").write_text("a file")
    (tmp_path / "garbage.ckpt").write_bytes(bytes(range(256)) * 8)
    return tmp_path


def assert_nothing_trained_or_written(folder) -> None:
    assert not list(folder.rglob("events.out.tfevents.*"))
    assert [p.name for p in folder.rglob("*.ckpt*")] == ["garbage.ckpt"]


@pytest.mark.parametrize("args, expected", [param(a, e) for a, e in COMMAND_LINE])
def test_a_bad_command_line_is_refused_in_one_line_before_hydra_starts(tmp_path, monkeypatch, args, expected):
    monkeypatch.chdir(workspace(tmp_path))  # relative paths (a storage URL, a run folder) are the user's
    message = bad_command_line(args, tmp_path)
    assert message is not None and message.startswith(expected) and "\n" not in message, message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.ckpt", "notafolder"]  # nothing written


@pytest.mark.parametrize("args", COMMAND_LINE_AS_SUBPROCESS, ids=["model=foo", "plugin setting", "run folder"])
def test_python_train_py_prints_a_refused_command_line_alone_on_stderr(tmp_path, args):
    (expected,) = [e for a, e in COMMAND_LINE if a == args]
    result = run_train(*args, cwd=workspace(tmp_path), check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == expected + result.stderr[len(expected) :] and result.stderr.count("\n") == 1
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "multirun").exists()


def test_a_refused_command_line_imports_neither_torch_nor_lightning(tmp_path):
    code = (
        "import atexit, runpy, sys; sys.argv = ['train.py', 'model=foo'];"
        "atexit.register(lambda: print(sorted({'torch', 'pytorch_lightning'} & set(sys.modules))));"
        f"runpy.run_path({str(ROOT_DIR / 'train.py')!r}, run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=subprocess_env(), capture_output=True, timeout=120
    )
    assert result.returncode == 2 and result.stdout.decode().strip() == "[]", result


@pytest.mark.parametrize("args, expected", [param(a, e) for a, e in VALUES])
def test_a_bad_value_is_refused_by_what_takes_it_naming_the_key(make_cfg, tmp_path, monkeypatch, args, expected):
    monkeypatch.chdir(workspace(tmp_path))
    with pytest.raises(ConfigError) as refused:
        train(make_cfg(*quiet_for(args), *args))
    assert str(refused.value).startswith(expected), str(refused.value)
    assert "\n" not in str(refused.value)
    assert_nothing_trained_or_written(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("args", AS_SUBPROCESS, ids=" ".join)
def test_python_train_py_prints_a_refused_value_alone_on_stderr(tmp_path, args):
    (expected,) = [e for a, e in VALUES if a == args]
    result = run_train(*QUIET, *args, cwd=workspace(tmp_path), check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1, result.stderr
    assert "Error executing job" not in result.stderr and "HYDRA_FULL_ERROR" not in result.stderr
    assert_nothing_trained_or_written(tmp_path)


@pytest.mark.slow
def test_hydra_full_error_still_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    env = {**subprocess_env(), "HYDRA_FULL_ERROR": "1"}
    result = subprocess.run(
        [sys.executable, str(ROOT_DIR / "train.py"), *QUIET, "data.input_lenght=5"],
        cwd=workspace(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "Traceback" in result.stderr
    assert "data.input_lenght: no such key; did you mean data.input_length?" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["trainer.precision=bf16"],
        ["trainer.accelerator=cpu", "trainer.devices=1"],
        ["optimizer=sgd", "optimizer.momentum=0.9"],
    ],
    ids=" ".join,
)
def test_values_lightning_and_torch_accept_are_accepted_and_train(make_cfg, tmp_path, args):
    cfg = make_cfg(*QUIET, "data.input_length=3", "data.data_size=300", "trainer.max_epochs=1", *args)
    assert train(cfg) is not None  # trained, validated and tested: val/acc_best came back


def test_a_run_shorter_than_one_validation_completes(make_cfg, tmp_path):
    from tests.conftest import TINY_RNN

    assert train(make_cfg(*TINY_RNN, "trainer.max_steps=5")) is None  # no validation: no val/acc_best to return
    assert (tmp_path / "run" / "COMPLETED").exists()


def test_a_config_file_that_does_not_parse_is_named_with_its_line_and_column(tmp_path):
    conf = shutil.copytree(ROOT_DIR / "conf", tmp_path / "conf")
    (conf / "experiment" / "mine.yaml").write_text("# @package _global_\ndata:\n  input_length: [3\n  batch_size: 4\n")
    message = bad_command_line(["experiment=mine"], tmp_path, conf_dir=conf)
    # the parser's own words after the place: PyYAML's ("expected ',' or ']', but got ':'") on OmegaConf 2.3,
    # libyaml's ("did not find expected ',' or ']'") on 2.4
    assert message.startswith("conf/experiment/mine.yaml:4:13: not valid YAML: while parsing a flow sequence; ")
    assert "expected ',' or ']'" in message and "\n" not in message


@pytest.mark.parametrize("script, folder", [("train", "outputs"), ("eval", "outputs"), ("train -m", "multirun")])
def test_an_output_root_that_cannot_hold_runs_is_refused_for_train_and_eval(tmp_path, script, folder):
    (tmp_path / folder).write_text("a file where the runs should go")
    args = ["-m"] if script.endswith("-m") else []
    message = bad_command_line(args, tmp_path, config_name=script.split()[0])
    assert message.startswith(f"hydra.{'sweep' if args else 'run'}.dir: cannot write the run's outputs under")
    assert message.endswith(f"{tmp_path / folder} is not a folder")


def test_the_report_into_a_folder_it_cannot_write_says_so_in_one_line(tmp_path, capsys):
    from src.report.__main__ import main

    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("[]\n")
    (run / "report").write_text("a file where the report goes")
    assert main([str(run)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write ") and err.count("\n") == 1, err
