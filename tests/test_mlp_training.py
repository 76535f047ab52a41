"""The MLPs trained through train.py: both implementations agree, and the MLP learns."""

import pytest

from tests.conftest import QUIET
from tests.helpers import read_scalars
from train import train


def test_numpy_and_torch_mlp_give_the_same_loss_at_each_of_100_steps_and_the_same_test_accuracy(make_cfg, tmp_path):
    for model in ("mlp", "mlp_numpy"):
        train(make_cfg(f"model={model}", "data=hastie", "trainer.max_steps=100", *QUIET, name=model))
    torch_run, numpy_run = read_scalars(tmp_path / "mlp"), read_scalars(tmp_path / "mlp_numpy")
    assert len(torch_run["train/loss"]) == 100  # full batch: one step per epoch
    assert max(abs(a - b) for a, b in zip(torch_run["train/loss"], numpy_run["train/loss"])) < 1e-5
    assert torch_run["train/loss"][0] > torch_run["train/loss"][-1]
    assert torch_run["test/acc"] == numpy_run["test/acc"]


def test_stochastic_mode_sees_the_same_batches_in_both_implementations(make_cfg, tmp_path):
    common = ["data=moons", "data.mode=stochastic", "data.batch_size=64", "trainer.max_steps=60", *QUIET]
    for model in ("mlp", "mlp_numpy"):
        train(make_cfg(f"model={model}", *common, name=model))
    torch_run, numpy_run = read_scalars(tmp_path / "mlp"), read_scalars(tmp_path / "mlp_numpy")
    assert len(torch_run["train/loss"]) == 5  # 13 batches an epoch: 4 whole epochs, then 8 steps
    assert max(abs(a - b) for a, b in zip(torch_run["train/loss"], numpy_run["train/loss"])) < 1e-5


@pytest.mark.parametrize("dataset", ["moons", "hastie", "multi"])
def test_mlp_with_20_hidden_units_learns_well_above_chance(make_cfg, tmp_path, dataset):
    train(make_cfg("model=mlp", f"data={dataset}", "trainer.max_steps=300", "optimizer.lr=0.1", *QUIET))
    assert read_scalars(tmp_path / "run")["test/acc"][-1] >= 0.7  # chance is 0.5


def test_numpy_mlp_checkpoint_holds_its_weights_and_tests_from_them(make_cfg, tmp_path):
    train(make_cfg("model=mlp_numpy", "data=moons", "trainer.max_steps=50", *QUIET, "test_ckpt=best"))
    import torch

    state = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert {"params.0", "params.1", "params.2", "params.3"} <= set(state)
    assert read_scalars(tmp_path / "run")["test/acc"][-1] > 0.7


@pytest.mark.parametrize("interval", ["step", "epoch"])
def test_a_per_step_scheduler_steps_each_batch_over_the_runs_own_number_of_steps(make_cfg, tmp_path, interval):
    """OneCycleLR given no length: with ``scheduler_interval=step`` it gets the run's 26 optimizer steps and steps
    after each, so the second epoch starts where 13 of its 26 steps leave the rate; stepped each epoch (its
    length given), it has stepped once by then."""
    import torch

    one_cycle = "module.scheduler={_target_:torch.optim.lr_scheduler.OneCycleLR,_partial_:true,max_lr:0.1}"
    overrides = [one_cycle, f"module.scheduler_interval={interval}"]
    if interval == "epoch":  # its length is then the user's to give (a test of bad input: refused without)
        overrides.append("+module.scheduler.total_steps=26")
    common = ["data=moons", "data.mode=stochastic", "data.batch_size=64", "trainer.max_steps=26", *QUIET]
    train(make_cfg("model=mlp", *common, *overrides))
    rates = read_scalars(tmp_path / "run")["lr-SGD"]  # logged as each epoch starts (13 batches an epoch)
    expected = torch.optim.lr_scheduler.OneCycleLR(
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01), max_lr=0.1, total_steps=26
    )
    assert rates[0] == pytest.approx(expected.get_last_lr()[0])  # max_lr / 25
    for _ in range(13 if interval == "step" else 1):
        expected.step()
    assert len(rates) == 2 and rates[1] == pytest.approx(expected.get_last_lr()[0])
