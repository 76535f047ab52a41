"""Mini-batches served by slicing in-memory tensors: no per-sample Dataset, no collation.

On a tiny model a per-sample ``Dataset`` + ``DataLoader`` costs several times the model's own
step; slicing whole tensors costs almost nothing. The loader is resumable: its order is a pure
function of (seed, epoch) and it reports how many batches it served, so Lightning can restart
a run mid-epoch on exactly the batch where it stopped.
"""

import math
from abc import abstractmethod
from dataclasses import dataclass

import torch

from src.config.errors import ConfigError
from src.lightning_package import pl


class EpochShuffle:
    """The sample order of one epoch. Lightning calls ``set_epoch`` before every epoch."""

    def __init__(self, num_samples: int, shuffle: bool, seed: int):
        self.num_samples, self.shuffle, self.seed = num_samples, shuffle, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def order(self) -> torch.Tensor | None:
        if not self.shuffle:
            return None
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(self.num_samples, generator=generator)


@dataclass(frozen=True)
class Shard:
    """Which part of each epoch one process of ``world_size`` serves (Lightning's DDP ranks).

    Training (``equal_batches``): each global batch of ``batch_size * world_size`` samples, in the
    one global order of the epoch, is split between the ranks, so every sample is served once per
    epoch, every rank serves the same number of batches (no rank waits for a gradient sync that
    never comes), and the run follows the single-process order with batches ``world_size`` times
    larger. A last global batch of fewer samples than ranks is padded from the epoch's start, as
    ``DistributedSampler`` pads. Evaluation: rank ``r`` serves samples ``r, r + W, ...``, each once
    (no padding, so summed metrics are exact; evaluation has no per-batch sync to wait on).
    """

    rank: int = 0
    world_size: int = 1
    equal_batches: bool = True


class TensorBatches:
    """An iterable of ``tuple(t[i:j] for t in tensors)`` batches over tensors of equal length."""

    batch_sampler = None  # Lightning looks for one (as on a DataLoader); the slicing is the batching

    def __init__(
        self, *tensors: torch.Tensor, batch_size: int, shuffle: bool = False, seed: int = 0, shard: Shard = Shard()
    ):
        if len({len(t) for t in tensors}) != 1:
            raise ValueError("all tensors must have the same number of samples")
        self.tensors, self.batch_size, self.shard = tensors, batch_size, shard
        self.sampler = EpochShuffle(len(tensors[0]), shuffle, seed)
        self._served = 0  # batches handed out in the current epoch
        self._skip = 0  # batches to skip on the next iteration (set when resuming)

    def __len__(self) -> int:
        n, world = self.sampler.num_samples, self.shard.world_size
        if world == 1 or self.shard.equal_batches:
            return math.ceil(n / (self.batch_size * world))
        return math.ceil(len(range(self.shard.rank, n, world)) / self.batch_size)

    def __iter__(self):
        order = self.sampler.order()
        self._served, self._skip = self._skip, 0
        if self.shard.world_size > 1:
            yield from self._sharded(order if order is not None else torch.arange(self.sampler.num_samples))
            return
        tensors = self.tensors if order is None else tuple(t[order] for t in self.tensors)
        for start in range(self._served * self.batch_size, self.sampler.num_samples, self.batch_size):
            self._served += 1
            yield tuple(t[start : start + self.batch_size] for t in tensors)

    def _sharded(self, order: torch.Tensor):
        rank, world = self.shard.rank, self.shard.world_size
        if not self.shard.equal_batches:
            mine = order[rank::world]
            for start in range(self._served * self.batch_size, len(mine), self.batch_size):
                self._served += 1
                yield tuple(t[mine[start : start + self.batch_size]] for t in self.tensors)
            return
        step = self.batch_size * world
        for start in range(self._served * step, len(order), step):
            chunk = order[start : start + step]
            if len(chunk) < world:  # too few to give every rank one: pad from the epoch's start
                chunk = torch.cat([chunk, order[: world - len(chunk)]])
            part = chunk.tensor_split(world)[rank]
            self._served += 1
            yield tuple(t[part] for t in self.tensors)

    def replace(self, *tensors: torch.Tensor) -> None:
        """Serve other tensors from the next epoch on (a curriculum's next stage, say)."""
        self.tensors = tensors
        self.sampler.num_samples = len(tensors[0])

    def state_dict(self) -> dict:
        return {"epoch": self.sampler.epoch, "served": self._served}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.set_epoch(state["epoch"])
        self._skip = state["served"]


class InMemoryDataModule(pl.LightningDataModule):
    """A datamodule whose splits are tensors in memory, served as ``TensorBatches``.

    Subclasses set ``batch_size`` and ``seed`` and implement ``make_splits``; they may override
    ``batch_size_for`` (a full-batch mode, say).
    """

    splits: dict[str, tuple[torch.Tensor, torch.Tensor]]
    batch_size: int
    seed: int

    @abstractmethod
    def make_splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """``{"train" | "val" | "test": (inputs, labels)}``."""

    def setup(self, stage: str | None = None) -> None:
        if not getattr(self, "splits", None):
            self.splits = self.make_splits()

    def batch_size_for(self, split: str) -> int:
        return self.batch_size

    def example_batch(self, size: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``size`` training samples as the model receives them (after per-batch transforms)."""
        self.setup()
        inputs, labels = self.splits["train"]
        return self.on_after_batch_transfer((inputs[:size], labels[:size]), 0)

    def prediction_inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """Inputs as a user gives them (``eval.py predict=...``) -> what the network takes: the split's
        own dtype, then the per-batch transforms a test batch gets."""
        self.setup()
        like = self.splits["test"][0]
        if inputs.shape[1:] != like.shape[1:]:
            raise ConfigError(
                "predict",
                f"each input must have shape {tuple(like.shape[1:])} for this data, got {tuple(inputs.shape[1:])}",
            )
        labels = torch.zeros(len(inputs), dtype=torch.long)
        return self.on_after_batch_transfer((inputs.to(like.dtype), labels), 0)[0]

    def extra_callbacks(self) -> list[pl.Callback]:
        """Callbacks this data needs during training (train.py adds them); none by default."""
        return []

    def shard(self, split: str) -> Shard:
        """This process's part of ``split``: all of it, or one DDP rank's share."""
        if self.trainer is None or self.trainer.world_size == 1:
            return Shard()
        return Shard(self.trainer.global_rank, self.trainer.world_size, equal_batches=split == "train")

    def _loader(self, split: str, shuffle: bool = False) -> TensorBatches:
        self.setup()
        size = self.batch_size_for(split)
        shuffle = shuffle and size < len(self.splits[split][1])
        return TensorBatches(
            *self.splits[split], batch_size=size, shuffle=shuffle, seed=self.seed, shard=self.shard(split)
        )

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        """Batches are tuples of tensors: move each directly, skipping Lightning's generic walk."""
        return tuple(t.to(device, non_blocking=True) for t in batch)

    def train_dataloader(self) -> TensorBatches:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> TensorBatches:
        return self._loader("val")

    def test_dataloader(self) -> TensorBatches:
        return self._loader("test")
