"""Image datasets held in memory as uint8, normalised and augmented per batch on the device.

On a GPU the whole dataset is moved there once; each batch is then sliced, (for training, if
``augment``) randomly cropped and flipped as uint8, and normalised to ``[-1, 1]`` there: no PIL, no
per-sample DataLoader. On the CPU the same code runs on the CPU.
"""

import shutil
from abc import abstractmethod
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra.utils import get_class
from torchvision.datasets import CIFAR10, FashionMNIST
from torchvision.datasets.utils import check_integrity, extract_archive

from src.config.errors import ConfigError, check_choice, check_declared, check_int
from src.datamodules.augment import random_crop, random_flip, to_unit_range
from src.datamodules.batches import InMemoryDataModule

ON_DEVICE = ("auto", "always", "never")


class ImageDataModule(InMemoryDataModule):
    """Train/val (a fixed-seed split of the training images)/test images as uint8 ``(N, C, 32, 32)``."""

    channels: int
    num_classes = 10

    def __init__(
        self,
        root: str,
        download: bool = True,
        val_size: int = 5000,
        batch_size: int = 128,
        augment: bool = False,
        crop_padding: int = 4,
        on_device: str = "auto",
        split_seed: int = 42,
        seed: int = 0,
        channels: int | None = None,
        input_dim: int | None = None,
        num_classes: int = 10,
    ):
        super().__init__()
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError("root", f"{root} is a file; give the folder that holds (or will hold) the dataset")
        self.download = download
        self.val_size = check_int("val_size", val_size, minimum=0)
        self.batch_size = check_int("batch_size", batch_size)
        self.augment, self.crop_padding = augment, check_int("crop_padding", crop_padding, minimum=0)
        self.on_device = check_choice("on_device", on_device, ON_DEVICE)
        self.split_seed, self.seed = split_seed, seed
        self.input_dim = self.channels * 32 * 32
        for key, given, actual in (
            ("channels", channels, self.channels),
            ("input_dim", input_dim, self.input_dim),
            ("num_classes", num_classes, self.num_classes),
        ):
            check_declared(key, given, actual, "for this dataset")

    @abstractmethod
    def load(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images ``(N, C, 32, 32)`` and int64 labels of the training or the test set."""

    def make_splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        images, labels = self.load(train=True)
        if self.val_size >= len(labels):
            raise ConfigError(
                "val_size", f"must be smaller than the {len(labels)} training images, got {self.val_size}"
            )
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(self.split_seed))
        val, train = order[: self.val_size], order[self.val_size :]
        return {
            "train": (images[train], labels[train]),
            "val": (images[val], labels[val]),
            "test": self.load(train=False),
        }

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        if self.on_device == "always" or (self.on_device == "auto" and device.type == "cuda"):
            self.splits = {name: tuple(t.to(device) for t in split) for name, split in self.splits.items()}

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        images, labels = batch
        if self.augment and self.trainer is not None and self.trainer.training:  # on uint8: pads are black, as
            images = random_flip(random_crop(images, self.crop_padding))  # torchvision's crop of an image pads
        return to_unit_range(images), labels


class CIFAR10DataModule(ImageDataModule):
    """CIFAR-10 through torchvision (its download, files and checksums), 32x32 RGB."""

    class_names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

    channels = 3

    def __init__(self, dataset: str | type[CIFAR10] = CIFAR10, **kwargs):
        super().__init__(**kwargs)
        self.dataset = get_class(dataset) if isinstance(dataset, str) else dataset  # a dotted path in configs
        self.verified = False

    def prepare_data(self) -> None:
        """Verify every file's checksum; if that fails, download (or extract the archive) when asked.

        Only checksums: the arrays are parsed in ``load``. Runs once per datamodule: train.py calls
        it before the Trainer exists (to fail early) and Lightning calls it again in ``fit``.
        """
        if self.verified:
            return
        if not self.files_verified():
            try:
                if self.download:
                    self.dataset(str(self.root), download=True)  # torchvision's download, extraction, checks
            except (OSError, RuntimeError) as error:
                raise self.unavailable(error) from error
            if not self.files_verified():
                raise self.unavailable(RuntimeError("checksums"))
        self.verified = True

    def files_verified(self) -> bool:
        """Every batch file of the extracted copy is there with torchvision's MD5 (no arrays loaded)."""
        folder = self.root / self.dataset.base_folder
        return all(
            check_integrity(str(folder / name), md5) for name, md5 in self.dataset.train_list + self.dataset.test_list
        )

    def unavailable(self, error: Exception) -> ConfigError:
        folder, archive = self.root / self.dataset.base_folder, self.root / self.dataset.filename
        if folder.exists() or archive.exists():
            return ConfigError(
                "root",
                f"the CIFAR-10 copy in {self.root} failed torchvision's checksums: it is corrupt "
                f"or incomplete. Replace {archive.name} or {folder.name}/ there with a good copy "
                f"(or delete them{' to download again' if self.download else ''})",
            )
        reason = f"download failed: {error}" if self.download else "data.download=false"
        return ConfigError(
            "root",
            f"CIFAR-10 is not in {self.root} ({reason}). Put {archive.name} or the extracted "
            f"{folder.name}/ folder there, or point data.root=... at a folder that has one",
        )

    def load(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            dataset = self.dataset(str(self.root), train=train)
        except RuntimeError as error:
            raise self.unavailable(error) from error
        return torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(dataset.targets)


class FashionMNISTDataModule(ImageDataModule):
    """Fashion-MNIST, zero-padded from 28x28 to 32x32, one channel.

    Read from ``source_dir`` (where Debian's ``dataset-fashion-mnist`` puts the four idx .gz
    files) when it has them, else downloaded by torchvision into ``root``.
    """

    class_names = ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")

    channels = 1
    files = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

    def __init__(self, source_dir: str | None = "/usr/share/datasets/fashion-mnist", **kwargs):
        super().__init__(**kwargs)
        self.source_dir = Path(source_dir) if source_dir else None

    @property
    def raw_dir(self) -> Path:
        return self.root / "FashionMNIST" / "raw"

    def prepare_data(self) -> None:
        if all((self.raw_dir / name).exists() for name in self.files):
            return
        if self.source_dir and all((self.source_dir / f"{name}.gz").exists() for name in self.files):
            self.raw_dir.mkdir(parents=True, exist_ok=True)
            for name in self.files:
                shutil.copyfile(self.source_dir / f"{name}.gz", self.raw_dir / f"{name}.gz")
                extract_archive(str(self.raw_dir / f"{name}.gz"), str(self.raw_dir), remove_finished=True)
            return
        try:
            FashionMNIST(str(self.root), download=self.download)
        except (OSError, RuntimeError) as error:
            raise ConfigError(
                "root",
                f"Fashion-MNIST is not in {self.raw_dir} nor {self.source_dir} and could not be "
                f"downloaded ({error}). Install Debian's dataset-fashion-mnist (make install does) or "
                "point data.root=... at a folder holding FashionMNIST/raw/",
            ) from error

    def load(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        dataset = FashionMNIST(str(self.root), train=train)
        return F.pad(dataset.data, (2, 2, 2, 2)).unsqueeze(1).contiguous(), dataset.targets.clone()
