"""A small CIFAR-10 in the real on-disk format (pickled batches, batches.meta, the .tar.gz).

``FixtureCIFAR10`` is torchvision's ``CIFAR10`` with the fixture's file checksums in place of the
real ones, so loading runs torchvision's own code, checksum verification included; users keep
the real checksums. ``url`` points at a closed local port, so a "download" fails at once.
"""

import hashlib
import pickle
import tarfile
from pathlib import Path

import numpy as np
from torchvision.datasets import CIFAR10

PER_BATCH = 40  # 5 training batches -> 200 training images; 40 test images


class FixtureCIFAR10(CIFAR10):
    url = "http://127.0.0.1:9/cifar-10-python.tar.gz"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_cifar10(root: Path, archive: bool = False) -> dict[str, np.ndarray]:
    """Write the fixture under ``root`` (as the .tar.gz alone if ``archive``); returns the arrays."""
    rng = np.random.default_rng(0)
    folder = root / CIFAR10.base_folder
    folder.mkdir(parents=True)
    arrays, train_list = {}, []
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        data = rng.integers(0, 256, size=(PER_BATCH, 3072), dtype=np.uint8)
        labels = [int(i % 10) for i in range(PER_BATCH)]
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "labels": labels, "data": data, "filenames": []}, f)
        arrays[name] = data
        train_list.append([name, md5(folder / name)])
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)], "num_vis": 3072}, f)
    FixtureCIFAR10.train_list, FixtureCIFAR10.test_list = train_list[:5], train_list[5:]
    FixtureCIFAR10.meta = {**CIFAR10.meta, "md5": md5(folder / "batches.meta")}
    with tarfile.open(root / CIFAR10.filename, "w:gz") as tar:
        tar.add(folder, arcname=CIFAR10.base_folder)
    FixtureCIFAR10.tgz_md5 = md5(root / CIFAR10.filename)
    if archive:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    else:
        (root / CIFAR10.filename).unlink()
    return arrays
