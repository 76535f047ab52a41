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
import os
import warnings
from typing import NamedTuple

import torch
import torch.nn.functional as F

from src.callbacks.curriculum import LengthCurriculum
from src.config.errors import (
    ConfigError,
    check_bool,
    check_choice,
    check_declared,
    check_finite_number,
    check_fraction,
    check_int,
)
from src.datamodules.batches import InMemoryDataModule, TensorBatches

SAMPLING = ("replacement", "distinct")


def digits_of(numbers: torch.Tensor, width: int) -> torch.Tensor:
    """Decimal digits of each number, most significant first: shape ``(len(numbers), width)``."""
    powers = 10 ** torch.arange(width - 1, -1, -1, dtype=torch.int64)
    return numbers[:, None] // powers % 10


def distinct_halves(count: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """``min(count, 10**width)`` distinct random rows of ``width`` digits, in random order."""
    pool = 10**width
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


class Stage(NamedTuple):
    """A curriculum stage's data: palindromes with ``input_length`` inputs, split like the target's."""

    input_length: int
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]]


def available_memory() -> int:
    """Bytes of memory available to new allocations (MemAvailable; free pages where that is unknown)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_fits_in_memory(samples: int, input_length: int, input_dim: int) -> None:
    """Refuse sizes whose generation would not fit in memory, before generating anything.

    Per sample the peak holds the int64 digits twice (rows and the full palindrome) and the
    float32 inputs: about ``(input_length + 1) * (16 + 4 * input_dim)`` bytes.
    """
    needed = samples * (input_length + 1) * (16 + 4 * input_dim)
    available = available_memory()
    if needed > 0.8 * available:
        raise ConfigError(
            "input_length",
            f"{samples:,} palindromes of input_length={input_length} need about {needed / 2**30:.1f} GiB of memory, "
            f"more than the {available / 2**30:.1f} GiB available; lower data.data_size or data.input_length",
        )


def check_rescale(offset, scale, one_hot: bool) -> tuple[float, float]:
    """``input_offset`` and ``input_scale``: numbers, the scale not 0, and only for scalar digits."""
    check_finite_number("input_offset", offset, allow_none=False)
    check_finite_number("input_scale", scale, allow_none=False)
    if scale == 0:
        raise ConfigError("input_scale", "must not be 0: every digit would read the same")
    if one_hot and (offset, scale) != (0, 1):
        raise ConfigError(
            "input_scale" if scale != 1 else "input_offset",
            "rescales scalar digits only; with one_hot=true leave input_offset=0 and input_scale=1",
        )
    return float(offset), float(scale)


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
        curriculum: bool = False,
        curriculum_start: int = 2,
        curriculum_step: int = 1,
        curriculum_threshold: float = 0.99,
        curriculum_max_epochs: int = 10,
        input_offset: float = 0.0,
        input_scale: float = 1.0,
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
        self.input_offset, self.input_scale = check_rescale(input_offset, input_scale, one_hot)
        check_declared("input_dim", input_dim, self.input_dim, f"with one_hot={one_hot}")
        check_declared("num_classes", num_classes, self.num_classes, "(the digits)")
        # checked whether or not the curriculum is on: a wrong value should not wait for the day it is switched on
        self.curriculum = check_bool("curriculum", curriculum)
        self.curriculum_args = dict(
            start=check_int("curriculum_start", curriculum_start),
            step=check_int("curriculum_step", curriculum_step),
            threshold=check_fraction("curriculum_threshold", curriculum_threshold, high_inclusive=True),
            max_epochs=check_int("curriculum_max_epochs", curriculum_max_epochs),
        )
        if curriculum and curriculum_start > self.input_length:
            raise ConfigError(
                "curriculum_start", f"must be <= input_length ({self.input_length}), got {curriculum_start}"
            )
        check_fits_in_memory(sum(self.sizes.values()), self.input_length, self.input_dim)
        self.train_length = self.input_length
        self._stage: Stage | None = None  # the curriculum's current stage
        self._train_batches: TensorBatches | None = None

    def make_splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        return self.generate(self.input_length)

    def generate(self, input_length: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Disjoint train/val/test sets of ``(inputs, labels)`` for inputs of ``input_length`` digits."""
        seed = self.seed if input_length == self.input_length else self.seed * 1009 + input_length
        generator = torch.Generator().manual_seed(seed)
        length = input_length + 1
        half = math.ceil(length / 2)
        total = sum(self.sizes.values())
        halves = distinct_halves(total, half, generator)
        if len(halves) == total:
            shares = self.sizes
        else:
            shares = self._shares_of_scarce_pool(len(halves), total, input_length)
        splits, start = {}, 0
        for name, share in shares.items():
            rows = halves[start : start + share]
            start += share
            if self.sampling == "replacement" and share < self.sizes[name]:
                rows = rows[torch.randint(share, (self.sizes[name],), generator=generator)]
            digits = palindromes(rows, length)
            splits[name] = (self.encode(digits[:, :-1]), digits[:, -1].clone())
        return splits

    def _shares_of_scarce_pool(self, pool: int, total: int, input_length: int) -> dict[str, int]:
        shares = {name: max(1, round(pool * size / total)) for name, size in self.sizes.items()}
        shares["train"] = pool - shares["val"] - shares["test"]
        if self.sampling == "distinct":
            warnings.warn(
                f"input_length={input_length} has only {pool} distinct palindromes: using "
                f"{shares['train']}/{shares['val']}/{shares['test']} distinct train/val/test samples "
                f"instead of {self.sizes['train']}/{self.sizes['val']}/{self.sizes['test']} "
                "(data.sampling=replacement keeps the requested sizes by repeating samples)",
                stacklevel=2,
            )
        return shares

    def encode(self, digits: torch.Tensor) -> torch.Tensor:
        """Model inputs ``(N, L, input_dim)``: one-hot vectors, or scalars ``(digit - input_offset) * input_scale``."""
        if self.one_hot:
            return F.one_hot(digits, 10).float()
        return ((digits.float() - self.input_offset) * self.input_scale).unsqueeze(-1)

    def prediction_inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """Palindromes without their last digit, of any length (``[[1,2,3,4,3,2]]``), encoded as in training."""
        if inputs.ndim != 2 or inputs.is_floating_point() or bool(((inputs < 0) | (inputs > 9)).any()):
            raise ConfigError(
                "predict",
                f"must be rows of digits 0 to 9 (a palindrome without its last digit), got shape "
                f"{tuple(inputs.shape)} of {inputs.dtype}",
            )
        return self.encode(inputs.long())

    def split_at_length(self, input_length: int, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """A split at another input length (the curriculum's current stage); the target's are ``splits``."""
        if input_length == self.input_length:
            self.setup()
            return self.splits[split]
        if self._stage is None or self._stage.input_length != input_length:
            self._stage = Stage(input_length, self.generate(input_length))
        return self._stage.splits[split]

    def set_train_length(self, input_length: int) -> None:
        """Train on palindromes with ``input_length`` inputs from the next epoch on."""
        self.train_length = input_length
        if self._train_batches is not None:
            self._train_batches.replace(*self.split_at_length(input_length, "train"))

    def train_dataloader(self) -> TensorBatches:
        self.setup()
        train = self.split_at_length(self.train_length, "train")
        self._train_batches = TensorBatches(
            *train, batch_size=self.batch_size, shuffle=True, seed=self.seed, shard=self.shard("train")
        )
        return self._train_batches

    def extra_callbacks(self) -> list:
        return [LengthCurriculum(self, **self.curriculum_args)] if self.curriculum else []
