"""Per-batch image normalisation and augmentation on whatever device the batch is on.

Replaces torchvision's per-sample ``RandomCrop -> RandomHorizontalFlip -> ToTensor -> Normalize``
with whole-batch tensor operations: the same values, no PIL, no per-sample Python. Cropping and
flipping the uint8 images, before normalising, pads with black (0) as torchvision pads a PIL image;
padding the normalised images with 0 would add grey borders that no test image has.
"""

import torch
import torch.nn.functional as F


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[0, 255]`` -> float ``[-1, 1]``: ``ToTensor`` then ``Normalize(0.5, 0.5)``."""
    return images.float().div_(127.5).sub_(1.0)


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Pad each image with zeros (black, for uint8 images) by ``padding`` and crop it back at a random offset,
    per image."""
    n, _, height, width = images.shape
    padded = F.pad(images, (padding,) * 4)
    offsets = torch.randint(0, 2 * padding + 1, (2, n), device=images.device, generator=generator)
    rows = offsets[0, :, None] + torch.arange(height, device=images.device)
    cols = offsets[1, :, None] + torch.arange(width, device=images.device)
    batch = torch.arange(n, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def random_flip(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(len(images), device=images.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)
