"""Image throughput: the framework's CNN step vs a plain loop, and the fast data path vs torchvision's.

    python benchmarks/images.py [steps] [batch_size]

1. Training: the reduced VGG on CIFAR-10-shaped data (random uint8 images in memory, as the
   datamodule holds them) through the framework (datamodule + Classifier + Trainer, as train.py
   builds them) and through a plain PyTorch loop doing the same work (normalise, forward,
   cross-entropy, backward, Adam step) over the same tensors. Prints images/s and the ratio.
2. Data: augmented, normalised batches from the in-memory uint8 fast path (slice, then crop and
   flip the uint8 batch and normalise it, on the device) against torchvision's usual per-sample
   ``Dataset`` + ``DataLoader`` with ``RandomCrop``/``RandomHorizontalFlip``/``ToTensor``/``Normalize``.
Runs on the GPU when there is one, else on the CPU; each measurement is the best of two.
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from src.datamodules.augment import random_crop, random_flip, to_unit_range
from src.datamodules.batches import TensorBatches
from src.datamodules.images import ImageDataModule
from src.lit_models.classifier import Classifier
from src.networks.cnn import ReducedVGG

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class RandomImages(ImageDataModule):
    """CIFAR-10-shaped random uint8 images: the datamodule's own code path without the files."""

    channels = 3

    def __init__(self, count: int, **kwargs):
        super().__init__(root=tempfile.gettempdir(), val_size=1, **kwargs)
        generator = torch.Generator().manual_seed(0)
        self.images = torch.randint(0, 256, (count + 1, 3, 32, 32), dtype=torch.uint8, generator=generator)
        self.labels = torch.randint(0, 10, (count + 1,), generator=generator)

    def load(self, train: bool):
        return self.images, self.labels


class Timer(pl.Callback):
    def on_train_batch_start(self, trainer, *args):
        if trainer.global_step == 2:  # after warm-up (cuDNN autotuning, allocator)
            self.start = time.perf_counter()

    def on_train_end(self, trainer, *args):
        self.seconds = time.perf_counter() - self.start


def framework(steps: int, batch: int, precision: str) -> float:
    torch.manual_seed(0)
    dm = RandomImages(steps * batch, batch_size=batch)
    module = Classifier(ReducedVGG(3, 10), lambda p: torch.optim.Adam(p, lr=1e-4))
    trainer = pl.Trainer(
        max_steps=steps,
        accelerator="auto",
        devices=1,
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[timer := Timer()],
    )
    trainer.fit(module, datamodule=dm)
    return (steps - 2) * batch / timer.seconds


def plain(steps: int, batch: int, precision: str, channels_last: bool = False) -> float:
    """Training images/s of a plain PyTorch loop over the same network, data placement and precision."""
    torch.manual_seed(0)
    dm = RandomImages(steps * batch, batch_size=batch)
    dm.setup()
    images, labels = (t.to(DEVICE) for t in dm.splits["train"])
    layout = torch.channels_last if channels_last else torch.contiguous_format
    images = images.contiguous(memory_format=layout)
    net = ReducedVGG(3, 10).to(DEVICE, memory_format=layout)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    autocast = torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=precision == "bf16-mixed")
    for step in range(steps):
        if step == 2:
            torch.cuda.synchronize() if DEVICE.type == "cuda" else None
            start = time.perf_counter()
        x, y = to_unit_range(images[step * batch : (step + 1) * batch]), labels[step * batch : (step + 1) * batch]
        with autocast:
            loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.cuda.synchronize() if DEVICE.type == "cuda" else None
    return (steps - 2) * batch / (time.perf_counter() - start)


class PerSampleImages(Dataset):
    """torchvision's usual way: HWC uint8 arrays, a transform per sample, collated by DataLoader."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = images, labels
        self.transform = transforms.Compose(
            [
                transforms.ToPILImage(),
                transforms.RandomCrop(32, padding=4),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
                transforms.Normalize((0.5,) * 3, (0.5,) * 3),
            ]
        )

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(self.images[i]), int(self.labels[i])


def data_fast(images, labels, batch: int) -> float:
    images, labels = images.to(DEVICE), labels.to(DEVICE)  # once, as the datamodule does on a GPU
    start = time.perf_counter()
    for x, _y in TensorBatches(images, labels, batch_size=batch, shuffle=True):
        x = to_unit_range(random_flip(random_crop(x, 4)))
    torch.cuda.synchronize() if DEVICE.type == "cuda" else None
    return len(labels) / (time.perf_counter() - start)


def data_usual(images, labels, batch: int, workers: int) -> float:
    dataset = PerSampleImages(images.permute(0, 2, 3, 1).numpy(), labels.numpy())
    start = time.perf_counter()
    for x, y in DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers):
        x, y = x.to(DEVICE, non_blocking=True), y.to(DEVICE, non_blocking=True)
    torch.cuda.synchronize() if DEVICE.type == "cuda" else None
    return len(labels) / (time.perf_counter() - start)


def best_of_two(fn, *args) -> float:
    return max(fn(*args), fn(*args))


def main(steps: int = 20, batch: int = 32) -> None:
    print(f"device: {DEVICE} ({torch.cuda.get_device_name() if DEVICE.type == 'cuda' else 'CPU'}), batch {batch}")
    precisions = ["32-true"] + (["bf16-mixed"] if DEVICE.type == "cuda" else [])
    for precision in precisions:
        fw, pl_ = best_of_two(framework, steps, batch, precision), best_of_two(plain, steps, batch, precision)
        print(f"CNN training {precision}: framework {fw:.0f} images/s, plain {pl_:.0f} images/s")
        print(f"ratio framework/plain ({precision}): {fw / pl_:.3f}")
    count = 10_000
    images = torch.randint(0, 256, (count, 3, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 10, (count,))
    fast = best_of_two(data_fast, images, labels, 128)
    usual = {w: best_of_two(data_usual, images, labels, 128, w) for w in (0, 2)}
    for workers, rate in usual.items():
        print(
            f"augmented batches: fast path {fast:.0f} images/s, per-sample DataLoader "
            f"(num_workers={workers}) {rate:.0f} images/s"
        )
    print(f"ratio fast/per-sample data path: {fast / max(usual.values()):.2f}")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
