"""Every option of every config group composes, and what it names can be built."""

import pytest
import torch

from src.config.compose import CONF_DIR, compose_config, config_options
from src.config.errors import ConfigError
from src.run.build import build, build_run
from tests.cifar_fixture import write_cifar10

GROUPS = {d.name: config_options(d.name) for d in CONF_DIR.iterdir() if d.is_dir() and d.name != "hydra"}
MODEL_FOR_DATA = {"palindrome": "rnn"}  # every other data option is vector data: the MLP takes it
# CIFAR-10 cannot be downloaded here: these options are built on the fixture in its real format
NEEDS_CIFAR10 = {
    ("model", "cnn"),
    ("data", "cifar10"),
    ("experiment", "cnn_optimizers"),
    ("experiment", "cnn_recipe"),
    ("experiment", "mlp_cifar10"),
    ("hparams_search", "cnn_optuna"),
}


@pytest.mark.parametrize("group, option", [(g, o) for g, options in GROUPS.items() for o in options])
def test_every_option_of_every_group_composes_and_builds(group, option, tmp_path):
    overrides = [f"{group}={option}"]
    if group == "data":
        overrides.insert(0, f"model={MODEL_FOR_DATA.get(option, 'mlp')}")
    if (group, option) in NEEDS_CIFAR10:
        write_cifar10(tmp_path / "cifar")
        overrides += [
            f"data.root={tmp_path / 'cifar'}",
            "data.dataset=tests.cifar_fixture.FixtureCIFAR10",
            "data.val_size=20",
        ]
    if group == "hparams_search" and option == "palindrome_long":  # its pruning callback reads the running
        overrides.append("callbacks.optuna_pruning=null")  # search's HydraConfig: tests/test_search.py builds it there
    cfg = compose_config(overrides, tmp_path)
    if group == "trainer" and option in ("gpu", "ddp") and not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="trainer.accelerator"):
            build_run(cfg)
        return
    run = build_run(cfg)  # exactly what train.py builds
    assert cfg.model.num_classes == run.datamodule.num_classes
    assert run.trainer.lightning_module is None and run.loggers


def test_model_brings_its_data_and_optimizer_but_the_command_line_wins(tmp_path):
    rnn = compose_config(["model=rnn"], tmp_path)
    assert rnn.data._target_.endswith("PalindromeDataModule") and rnn.optimizer._target_ == "torch.optim.RMSprop"
    mlp = compose_config(["model=mlp"], tmp_path)
    assert mlp.data.generator._target_ == "sklearn.datasets.make_moons" and mlp.optimizer._target_ == "torch.optim.SGD"
    chosen = compose_config(["model=mlp", "data=hastie", "optimizer=adam"], tmp_path)
    assert chosen.model.input_dim == 10 and chosen.optimizer._target_ == "torch.optim.Adam"
    assert chosen.optimizer.lr == 1e-2  # the model's learning rate applies to whichever optimizer


def test_data_dependent_sizes_reach_the_model_by_interpolation(tmp_path):
    cfg = compose_config(["model=rnn", "data.one_hot=true"], tmp_path)
    assert cfg.model.input_dim == 10 and build("model", cfg.model).W_hx.shape == (128, 10)


def test_no_profiler_by_default_and_lightnings_profilers_by_name(tmp_path):
    from pytorch_lightning.profilers import SimpleProfiler

    from src.trainer.profiler import NoProfiler

    trainer = build("trainer", compose_config(["trainer=cpu"], tmp_path).trainer, logger=False)
    assert isinstance(trainer.profiler, NoProfiler)
    with trainer.profiler.profile("[LightningModule]Classifier.training_step") as action:
        assert action is None  # a no-op context, shared by every hook
    simple = build(
        "trainer", compose_config(["trainer=cpu", "trainer.profiler=simple"], tmp_path).trainer, logger=False
    )
    assert isinstance(simple.profiler, SimpleProfiler)
