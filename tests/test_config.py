"""Every option of every config group composes, and what it names can be built."""
import pytest
import torch

from src.errors import ConfigError
from src.utils.build import build, check_accelerator
from tests.conftest import CONF_DIR, compose_config

GROUPS = {d.name: sorted(p.stem for p in d.glob("*.yaml")) for d in CONF_DIR.iterdir() if d.is_dir() and d.name != "hydra"}
MODEL_FOR_DATA = {"palindrome": "rnn"}  # every other data option is vector data: the MLP takes it


def build_everything(cfg):
    datamodule = build("data", cfg.data)
    module = build("module", cfg.module, net=build("model", cfg.model), optimizer=build("optimizer", cfg.optimizer))
    callbacks = [build("callbacks", c) for c in (cfg.callbacks or {}).values() if c]
    loggers = [build("logger", c) for c in (cfg.logger or {}).values() if c]
    return datamodule, module, callbacks, loggers


@pytest.mark.parametrize("group, option", [(g, o) for g, options in GROUPS.items() for o in options])
def test_every_option_of_every_group_composes_and_builds(group, option, tmp_path):
    overrides = [f"{group}={option}"]
    if group == "data":
        overrides.insert(0, f"model={MODEL_FOR_DATA.get(option, 'mlp')}")
    cfg = compose_config(overrides, tmp_path)
    datamodule, module, callbacks, loggers = build_everything(cfg)
    assert cfg.model.num_classes == datamodule.num_classes
    if group == "trainer" and option == "gpu" and not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="trainer.accelerator"):
            check_accelerator(cfg.trainer)
    else:
        build("trainer", cfg.trainer, callbacks=callbacks, logger=loggers)


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

    from src.utils.profiling import NoProfiler

    trainer = build("trainer", compose_config(["trainer=cpu"], tmp_path).trainer, logger=False)
    assert isinstance(trainer.profiler, NoProfiler)
    with trainer.profiler.profile("[LightningModule]Classifier.training_step") as action:
        assert action is None  # a no-op context, shared by every hook
    simple = build("trainer", compose_config(["trainer=cpu", "trainer.profiler=simple"], tmp_path).trainer, logger=False)
    assert isinstance(simple.profiler, SimpleProfiler)
