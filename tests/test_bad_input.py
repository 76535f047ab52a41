"""Every kind of bad input, as a user types it: one line naming the key, before anything is trained or written.

One table, one row per case: the command line and the text the message must hold (which starts
with the offending key). Each row runs ``python train.py ARGS`` as a real subprocess in its own
folder, which holds a file ``notafolder`` and a checkpoint of random bytes ``garbage.ckpt``.
"""

import pytest
import torch

from tests.conftest import run_train

NO_GPU = not torch.cuda.is_available()
BAD_INPUTS = [
    # config groups and keys
    (["model=foo"], "model=foo: unknown option; choose one of: cnn, gru, lstm, mlp, mlp_numpy, rnn"),
    (["model=mlp", "data=spirals"], "data=spirals: unknown option; choose one of:"),
    (["data.input_lenght=5"], "data.input_lenght: no such key; did you mean data.input_length?"),
    (["trainer.max_epoch=5"], "trainer.max_epoch: no such key; did you mean trainer.max_epochs?"),
    # top-level keys
    (["seed=abc"], "seed: must be an integer >= 0, got 'abc'"),
    (["test_ckpt=worst"], "test_ckpt: must be one of best, last; got 'worst'"),
    (["optimized_metric=acc"], "optimized_metric: must be one of val/acc_best,"),
    (["ckpt_path=missing.ckpt"], "ckpt_path: missing.ckpt is not a file"),
    (["ckpt_path=garbage.ckpt"], "ckpt_path: garbage.ckpt is not a readable checkpoint"),
    (["ckpt_path=latest"], "ckpt_path: is 'latest' but there is no checkpoints/last.ckpt"),
    # data
    (["data.input_length=abc"], "data.input_length: must be an integer >= 1, got 'abc'"),
    (["data.input_length=0"], "data.input_length: must be an integer >= 1, got 0"),
    (["data.input_length=100000"], "data.input_length: 120,000 palindromes of input_length=100000 need about"),
    (["data.data_size=-5"], "data.data_size: must be an integer >= 2, got -5"),
    (["data.train_portion=1.5"], "data.train_portion: must be a number in (0.0, 1.0), got 1.5"),
    (["data.input_scale=0"], "data.input_scale: must not be 0"),
    (["data.input_offset=abc"], "data.input_offset: must be a finite number, got 'abc'"),
    (["data.one_hot=true", "data.input_scale=0.5"], "data.input_scale: rescales scalar digits only"),
    (["model.recurrent_init=eye"], "model.recurrent_init: must be one of uniform, orthogonal, identity; got 'eye'"),
    (["model.recurrent_gain=2"], "model.recurrent_gain: scales an orthogonal or identity recurrent_init"),
    (["model.recurrent_init=orthogonal", "model.recurrent_gain=-1"], "model.recurrent_gain: must be a positive number"),
    (["logger.tensorboard=null"], "callbacks.lr_monitor: logs to a logger and every logger is off"),
    (["model=cnn", "data.batch_size=0"], "data.batch_size: must be an integer >= 1, got 0"),
    (["model=cnn", "data.root=notafolder"], "is a file; give the folder"),
    (["model=cnn", "data.download=false"], "data.root: CIFAR-10 is not in"),
    (["model=cnn", "data=fashion_mnist", "data.val_size=100000"], "data.val_size: must be smaller than the 60000"),
    # optimizer
    (["optimizer.lr=-1"], "optimizer.lr: must be > 0.0, got -1"),
    (["optimizer.lr=nan"], "optimizer.lr: must be a finite number, got nan"),
    (["optimizer.lr=fast"], "optimizer.lr: must be a finite number, got 'fast'"),
    (["model=mlp_numpy", "optimizer=adam"], "optimizer: model=mlp_numpy implements plain SGD only"),
    # model
    (["model=mlp", "model.hidden_units='20,,5'"], "model.hidden_units: must be positive integers"),
    (["model=mlp", "model.hidden_units='0'"], "model.hidden_units: must be positive integers"),
    (["model=mlp", "data=palindrome"], "model: cannot take this data's batches (inputs (2, 10, 1)"),
    (["model=cnn", "data=moons"], "model: needs data.channels, which the chosen config does not define"),
    (["module.compile=yes"], "module.compile: must be true or false, got 'yes'"),
    (["module.compile_mode=fast"], "module.compile_mode: must be one of default, reduce-overhead,"),
    (["model=mlp_numpy", "module.compile=true"], "module.compile: model=mlp_numpy is NumPy, not a torch network"),
    (["module.label_smoothing=1.5"], "module.label_smoothing: must be a number in [0.0, 1.0), got 1.5"),
    # trainer
    (["trainer.max_steps=abc"], "trainer.max_steps: must be an integer >= -1, got 'abc'"),
    (["trainer.precision=15"], "trainer.precision: must be one of 64-true,"),
    (["trainer.val_check_interval=0"], "trainer.val_check_interval: must be null, an integer >= 1"),
    (["trainer.gradient_clip_val=-1"], "trainer.gradient_clip_val: must be a finite number >= 0"),
    (["trainer.log_every_n_steps=0"], "trainer.log_every_n_steps: must be an integer >= 1, got 0"),
    (["trainer.devices=0"], "trainer.devices: must be an integer >= 1 or 'auto', got 0"),
    (["trainer=gpu"], "trainer.accelerator: is 'gpu' but this machine has no CUDA GPU"),
    # callbacks
    (["callbacks.early_stopping.monitor=val/accuracy"], "callbacks.early_stopping.monitor: must be one of"),
    (["callbacks.early_stopping.patience=-1"], "callbacks.early_stopping.patience: must be an integer >= 0"),
    (
        ["callbacks.model_checkpoint.every_n_train_steps=5"],  # the best checkpoint is saved after validation only
        "callbacks.model_checkpoint.every_n_train_steps: no such key; did you mean callbacks.last_checkpoint.",
    ),
    (["callbacks.last_checkpoint.every_n_train_steps=0"], "callbacks.last_checkpoint.every_n_train_steps: must be an"),
    (["trainer.limit_val_batches=0"], "trainer.limit_val_batches: is 0, so nothing is validated, but callbacks."),
    # resources
    (["hydra.run.dir=notafolder/run"], "hydra.run.dir: cannot write the run's outputs under"),
]


ROWS = [
    pytest.param(
        args,
        expected,
        id=" ".join(args),
        marks=pytest.mark.skipif(args == ["trainer=gpu"] and not NO_GPU, reason="trainer=gpu is valid with a GPU"),
    )
    for args, expected in BAD_INPUTS
]


@pytest.mark.parametrize("args, expected", ROWS)
def test_bad_input_fails_before_training_with_one_line_naming_the_key(tmp_path, args, expected):
    (tmp_path / "notafolder").write_text("a file")
    (tmp_path / "garbage.ckpt").write_bytes(bytes(range(256)) * 8)
    result = run_train(*args, "trainer.max_epochs=1", cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if expected in line]  # said once, on one line
    assert line.startswith(expected.split(":")[0]) or expected == "is a file; give the folder"
    assert "Traceback" not in result.stdout + result.stderr
    assert "[progress]" not in result.stdout  # no training started
    assert not list(tmp_path.rglob("events.out.tfevents.*"))
    assert [p.name for p in tmp_path.rglob("*.ckpt*")] == ["garbage.ckpt"]
