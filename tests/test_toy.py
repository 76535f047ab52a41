"""The toy datasets are generated and split exactly as docs/experiments.md 1a says."""

import numpy as np
import pytest
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split

from src.config.errors import ConfigError
from src.datamodules.toy import ToyDataModule
from src.run.build import build
from tests.conftest import compose_config

EXPECTED = {
    "moons": lambda: datasets.make_moons(1000, noise=0.2, random_state=42),
    "hastie": lambda: datasets.make_hastie_10_2(1000, random_state=42),
    "circles": lambda: datasets.make_circles(1000, noise=0.4, factor=0.8, random_state=42),
    "multi": lambda: datasets.make_classification(
        1000,
        n_features=2,
        n_informative=2,
        n_redundant=0,
        n_classes=2,
        n_clusters_per_class=2,
        flip_y=0.01,
        class_sep=1.0,
        random_state=42,
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_dataset_is_the_specified_generator_split_80_20(name, tmp_path):
    dm = build("data", compose_config(["model=mlp", f"data={name}"], tmp_path).data)
    dm.setup()
    x, y = EXPECTED[name]()
    y = (y > 0).astype(int) if name == "hastie" else y
    x_train, _x_test, _y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=42)
    np.testing.assert_allclose(dm.splits["train"][0].numpy(), x_train, rtol=1e-6)
    np.testing.assert_array_equal(dm.splits["test"][1].numpy(), y_test)
    assert set(dm.splits["train"][1].tolist()) == {0, 1} and len(dm.splits["train"][1]) == 800


def test_batch_mode_is_one_full_batch_and_stochastic_mode_mini_batches(tmp_path):
    def loader(*overrides):
        dm = build("data", compose_config(["model=mlp", *overrides], tmp_path).data)
        return list(dm.train_dataloader())

    assert [len(b[1]) for b in loader()] == [800]
    batches = loader("data.mode=stochastic", "data.batch_size=100")
    assert [len(b[1]) for b in batches] == [100] * 8
    assert not torch.equal(batches[0][1], loader()[0][1][:100])  # shuffled


def test_declared_input_dim_must_match_the_generator():
    dm = ToyDataModule(lambda: datasets.make_moons(50, random_state=0), input_dim=3, num_classes=2)
    with pytest.raises(ConfigError, match="^input_dim: is 3 but the generator makes"):
        dm.setup()
