"""Palindromes of ``input_length + 1`` digits: the input is all but the last digit, the label the last.

A palindrome is fixed by its first ``ceil((L + 1) / 2)`` digits ("half"), so there are only
``10 ** half`` distinct ones. Train, validation and test palindromes are always disjoint; when
the requested sizes exceed the supply, ``sampling`` decides what happens:

- ``replacement`` (default): the distinct palindromes are split between the splits in proportion
  to their sizes and each split is then drawn with replacement to its full size, so every length
  gets the same number of samples (and of steps per epoch).
- ``distinct``: every sample is a different palindrome; the sizes are capped, with a warning.
"""
import math
import warnings

import torch
import torch.nn.functional as F

from src.datamodules.batches import InMemoryDataModule
from src.errors import ConfigError, check_choice, check_fraction, check_int

SAMPLING = ("replacement", "distinct")


def digits_of(numbers: torch.Tensor, width: int) -> torch.Tensor:
    """Decimal digits of each number, most significant first: shape ``(len(numbers), width)``."""
    powers = 10 ** torch.arange(width - 1, -1, -1, dtype=torch.int64)
    return numbers[:, None] // powers % 10


def distinct_halves(count: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """``min(count, 10**width)`` distinct random rows of ``width`` digits, in random order."""
    pool = 10 ** width
    if pool <= max(4 * count, 1_000_000):  # small space: enumerate it
        picks = torch.randperm(pool, generator=generator)[:count]
        return digits_of(picks, width)
    rows = torch.empty(0, width, dtype=torch.int64)
    while len(rows) < count:  # collisions are rare here: one round almost always suffices
        fresh = torch.randint(10, (count + count // 20 + 16, width), generator=generator)
        rows = torch.unique(torch.cat([rows, fresh]), dim=0)
    return rows[torch.randperm(len(rows), generator=generator)[:count]]


def palindromes(halves: torch.Tensor, length: int) -> torch.Tensor:
    """Full palindromes of ``length`` digits from their first ``ceil(length / 2)`` digits."""
    return torch.cat([halves, halves[:, : length - halves.shape[1]].flip(1)], dim=1)


class PalindromeDataModule(InMemoryDataModule):
    """Predict the last digit of a palindrome from the ones before it (it equals the first)."""

    num_classes = 10

    def __init__(
        self,
        input_length: int = 5,
        data_size: int = 100_000,
        train_portion: float = 0.8,
        test_size: int | None = None,
        one_hot: bool = False,
        batch_size: int = 128,
        sampling: str = "replacement",
        seed: int = 0,
        input_dim: int | None = None,
        num_classes: int = 10,
    ):
        super().__init__()
        self.input_length = check_int("input_length", input_length)
        self.data_size = check_int("data_size", data_size, minimum=2)
        self.train_portion = check_fraction("train_portion", train_portion)
        n_train = round(self.data_size * self.train_portion)
        if not 1 <= n_train < self.data_size:
            raise ConfigError("train_portion", f"{train_portion} of data_size={data_size} leaves a split empty")
        self.sizes = {"train": n_train, "val": self.data_size - n_train}
        self.sizes["test"] = self.sizes["val"] if test_size is None else check_int("test_size", test_size)
        if not isinstance(one_hot, bool):
            raise ConfigError("one_hot", f"must be true or false, got {one_hot!r}")
        self.one_hot = one_hot
        self.batch_size = check_int("batch_size", batch_size)
        self.sampling = check_choice("sampling", sampling, SAMPLING)
        self.seed = seed
        self.input_dim = 10 if one_hot else 1
        if input_dim not in (None, self.input_dim):  # declared in the config for models to interpolate
            raise ConfigError("input_dim", f"must be {self.input_dim} with one_hot={one_hot}, got {input_dim!r}")
        if num_classes != self.num_classes:
            raise ConfigError("num_classes", f"must be 10 (the digits), got {num_classes!r}")

    def make_splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Generate disjoint train/val/test sets of ``(inputs, labels)``."""
        generator = torch.Generator().manual_seed(self.seed)
        length = self.input_length + 1
        half = math.ceil(length / 2)
        total = sum(self.sizes.values())
        halves = distinct_halves(total, half, generator)
        if len(halves) == total:
            shares = self.sizes
        else:
            shares = self._shares_of_scarce_pool(len(halves), total)
        splits, start = {}, 0
        for name, share in shares.items():
            rows = halves[start:start + share]
            start += share
            if self.sampling == "replacement" and share < self.sizes[name]:
                rows = rows[torch.randint(share, (self.sizes[name],), generator=generator)]
            digits = palindromes(rows, length)
            splits[name] = (self.encode(digits[:, :-1]), digits[:, -1].clone())
        return splits

    def _shares_of_scarce_pool(self, pool: int, total: int) -> dict[str, int]:
        shares = {name: max(1, round(pool * size / total)) for name, size in self.sizes.items()}
        shares["train"] = pool - shares["val"] - shares["test"]
        if self.sampling == "distinct":
            warnings.warn(
                f"input_length={self.input_length} has only {pool} distinct palindromes: using "
                f"{shares['train']}/{shares['val']}/{shares['test']} distinct train/val/test samples "
                f"instead of {self.sizes['train']}/{self.sizes['val']}/{self.sizes['test']} "
                "(data.sampling=replacement keeps the requested sizes by repeating samples)",
                stacklevel=2,
            )
        return shares

    def encode(self, digits: torch.Tensor) -> torch.Tensor:
        """Model inputs ``(N, L, input_dim)``: digits as scalars, or one-hot vectors."""
        if self.one_hot:
            return F.one_hot(digits, 10).float()
        return digits.float().unsqueeze(-1)
