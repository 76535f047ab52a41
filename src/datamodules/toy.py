"""Small tabular datasets from scikit-learn generators (docs/experiments.md 1a), one class for all.

The generator and its arguments come from the config (a Hydra partial such as
``sklearn.datasets.make_moons``); the data are split with ``train_test_split`` exactly as the
experiment says. Validation uses the held-out split, as the experiment evaluates on it while
training; the test split is the same points, evaluated once on the best checkpoint.
"""

from collections.abc import Callable

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder

from src.config.errors import ConfigError, check_choice, check_fraction, check_int
from src.datamodules.batches import InMemoryDataModule

MODES = ("batch", "stochastic")


class ToyDataModule(InMemoryDataModule):
    """``generator() -> (X, y)``; labels are re-coded to ``0..K-1`` (hastie's -1/+1 -> 0/1)."""

    def __init__(
        self,
        generator: Callable[[], tuple[np.ndarray, np.ndarray]],
        input_dim: int,
        num_classes: int,
        test_size: float = 0.2,
        split_seed: int = 42,
        mode: str = "batch",
        batch_size: int = 32,
        seed: int = 0,
    ):
        super().__init__()
        if not callable(generator):
            raise ConfigError("generator", f"must be a callable returning (X, y), got {generator!r}")
        self.generator = generator
        self.input_dim = check_int("input_dim", input_dim)
        self.num_classes = check_int("num_classes", num_classes, minimum=2)
        self.test_size = check_fraction("test_size", test_size)
        self.split_seed = split_seed
        self.mode = check_choice("mode", mode, MODES)
        self.batch_size = check_int("batch_size", batch_size)
        self.seed = seed

    def make_splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        x, y = self.generator()
        y = LabelEncoder().fit_transform(y)
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ConfigError("input_dim", f"is {self.input_dim} but the generator makes {x.shape[1:]} features")
        if len(np.unique(y)) != self.num_classes:
            raise ConfigError("num_classes", f"is {self.num_classes} but the generator makes {len(np.unique(y))}")
        x_train, x_test, y_train, y_test = train_test_split(
            x, y, test_size=self.test_size, random_state=self.split_seed
        )

        def as_tensors(a, b):
            return (torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.long))

        test = as_tensors(x_test, y_test)
        return {"train": as_tensors(x_train, y_train), "val": test, "test": test}

    def batch_size_for(self, split: str) -> int:
        return len(self.splits[split][1]) if self.mode == "batch" else self.batch_size
