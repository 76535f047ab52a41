"""CIFAR-10 (on a fixture in its real format) and Fashion-MNIST (the real data, from Debian)."""

import pytest
import torch
from torchvision import transforms

from src.config.errors import ConfigError
from src.datamodules.augment import random_crop, random_flip, to_unit_range
from src.datamodules.images import CIFAR10DataModule, FashionMNISTDataModule
from tests.cifar_fixture import PER_BATCH, FixtureCIFAR10, write_cifar10


def cifar(root, **kwargs) -> CIFAR10DataModule:
    return CIFAR10DataModule(dataset=FixtureCIFAR10, root=str(root), val_size=20, **kwargs)


def test_cifar10_loads_through_torchvision_into_train_val_test(tmp_path):
    arrays = write_cifar10(tmp_path)
    dm = cifar(tmp_path)
    dm.prepare_data()
    dm.setup()
    sizes = {name: tuple(split[0].shape) for name, split in dm.splits.items()}
    assert sizes == {"train": (180, 3, 32, 32), "val": (20, 3, 32, 32), "test": (PER_BATCH, 3, 32, 32)}
    assert dm.splits["test"][0].dtype == torch.uint8
    first = arrays["test_batch"][0].reshape(3, 32, 32)  # CIFAR rows are R plane, G plane, B plane
    assert torch.equal(dm.splits["test"][0][0], torch.from_numpy(first))
    train_ids = {bytes(x.numpy()) for x in dm.splits["train"][0]}
    assert not train_ids & {bytes(x.numpy()) for x in dm.splits["val"][0]}


def test_cifar10_archive_alone_is_extracted_and_used(tmp_path):
    write_cifar10(tmp_path, archive=True)
    dm = cifar(tmp_path)
    dm.prepare_data()
    dm.setup()
    assert len(dm.splits["train"][1]) == 180


def test_batches_are_normalised_like_torchvisions_to_tensor_and_normalize(tmp_path):
    write_cifar10(tmp_path)
    dm = cifar(tmp_path)
    dm.setup()
    images, labels = dm.on_after_batch_transfer(next(iter(dm.val_dataloader())), 0)
    usual = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
    raw = dm.splits["val"][0][0].permute(1, 2, 0).numpy()
    torch.testing.assert_close(images[0], usual(raw), rtol=0, atol=1e-6)
    assert images.min() >= -1 and images.max() <= 1 and labels.dtype == torch.int64


def test_missing_cifar10_offline_fails_at_once_saying_where_to_put_it(tmp_path):
    for download in (True, False):
        with pytest.raises(ConfigError) as error:
            cifar(tmp_path / "empty", download=download).prepare_data()
        message = str(error.value)
        assert message.startswith("root: CIFAR-10 is not in") and "cifar-10-python.tar.gz" in message
        assert "cifar-10-batches-py/" in message and "data.root=" in message


def test_corrupt_cifar10_file_fails_its_checksum_with_a_clear_error(tmp_path):
    write_cifar10(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:-100])  # truncated, as by an interrupted copy
    for download in (True, False):
        with pytest.raises(ConfigError, match="failed torchvision's checksums: it is corrupt or incomplete"):
            cifar(tmp_path, download=download).prepare_data()


def test_root_naming_a_file_and_oversized_validation_are_config_errors(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="^root: .* is a file"):
        cifar(tmp_path / "file")
    write_cifar10(tmp_path / "data")
    with pytest.raises(ConfigError, match="^val_size: must be smaller than the 200 training images"):
        CIFAR10DataModule(dataset=FixtureCIFAR10, root=str(tmp_path / "data"), val_size=500).setup()


def test_augmentation_crops_shifted_windows_and_mirrors():
    n, padding = 64, 2
    images = torch.arange(n * 3 * 8 * 8, dtype=torch.float32).view(n, 3, 8, 8)  # every pixel distinct
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    cropped = random_crop(images, padding, torch.Generator().manual_seed(0))
    offsets = set()
    for i in range(n):  # each crop is the window of the padded image at one offset
        (offset,) = [
            (r, c) for r in range(5) for c in range(5) if torch.equal(cropped[i], padded[i, :, r : r + 8, c : c + 8])
        ]
        offsets.add(offset)
    assert len(offsets) >= 10  # offsets vary per image: not the centre (the input) every time
    flipped = random_flip(images, torch.Generator().manual_seed(1))
    mirrored = [torch.equal(f, x.flip(-1)) for f, x in zip(flipped, images)]
    kept = [torch.equal(f, x) for f, x in zip(flipped, images)]
    assert all(m or k for m, k in zip(mirrored, kept))
    assert 16 <= sum(mirrored) <= 48  # about half of them, and never all or none
    assert torch.equal(to_unit_range(torch.tensor([0, 255], dtype=torch.uint8)), torch.tensor([-1.0, 1.0]))


def test_augmented_training_batches_are_padded_black_as_torchvisions_crop_pads_an_image(tmp_path):
    """A crop's border is black (-1 once normalised), the colour of Fashion-MNIST's own padding, as torchvision's
    RandomCrop pads an image before ToTensor and Normalize; grey (0) borders would be a kind of image no test
    batch holds, and would shift BatchNorm's statistics between training and test."""
    import pytorch_lightning as pl

    write_cifar10(tmp_path)
    dm = cifar(tmp_path, augment=True, batch_size=64)
    dm.trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False)
    dm.setup()
    images, labels = dm.splits["train"]
    dm.splits["train"] = (torch.full_like(images, 255), labels)  # white images: a border shows
    dm.trainer.training = True
    torch.manual_seed(0)  # the crops' offsets
    x, _ = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert set(x.unique().tolist()) == {-1.0, 1.0} and (x == -1).any(dim=(1, 2, 3)).sum() > 32
    dm.trainer.training = False  # validation and test batches are never cropped
    x, _ = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert x.unique().tolist() == [1.0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="compares GPU-resident data with host data")
def test_data_kept_on_the_device_gives_the_same_batches(tmp_path):
    import pytorch_lightning as pl

    write_cifar10(tmp_path)
    batches = {}
    for on_device, accelerator in (("never", "cpu"), ("always", "gpu")):
        dm = cifar(tmp_path, on_device=on_device)
        dm.trainer = pl.Trainer(accelerator=accelerator, devices=1, logger=False)
        dm.setup()
        batches[on_device] = [dm.on_after_batch_transfer(b, 0) for b in dm.train_dataloader()]
    assert all(x.device.type == "cuda" for x, _ in batches["always"])  # the data really stayed on the GPU
    for (x1, y1), (x2, y2) in zip(batches["never"], batches["always"]):
        # the same images, normalized on the host or on the GPU: equal to float rounding, and a wrong mean
        # or std (an error of 1e-3 of a channel's range at least) is far outside this tolerance
        torch.testing.assert_close(x1, x2.cpu(), rtol=0, atol=1e-5)
        assert torch.equal(y1, y2.cpu())


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    dm = FashionMNISTDataModule(root=str(tmp_path_factory.mktemp("data")), download=False)
    dm.prepare_data()
    dm.setup()
    return dm


def test_fashion_mnist_is_padded_to_32x32_with_one_channel_and_balanced(fashion):
    assert fashion.splits["train"][0].shape == (55_000, 1, 32, 32)
    assert fashion.splits["test"][0].shape == (10_000, 1, 32, 32)
    images = fashion.splits["test"][0]
    assert images[:, :, :2].max() == 0 and images[:, :, :, -2:].max() == 0  # the padding
    assert torch.bincount(fashion.splits["test"][1]).tolist() == [1000] * 10
    counts = torch.bincount(torch.cat([fashion.splits["train"][1], fashion.splits["val"][1]]))
    assert counts.tolist() == [6000] * 10
    x, _ = fashion.on_after_batch_transfer(next(iter(fashion.val_dataloader())), 0)
    assert x.min() == -1 and x.max() == 1 and x.dtype == torch.float32
