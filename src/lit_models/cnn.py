"""The image experiments' LightningModule: the Classifier, optionally in NHWC (channels_last) layout."""

import torch
from torch import nn
from typing_extensions import override

from src.lit_models.classifier import Classifier


class ImageClassifier(Classifier):
    """Trains an image network; ``channels_last`` stores its weights and batches NHWC.

    NHWC makes convolutions faster on tensor cores (pair it with ``trainer.precision=bf16-mixed``
    on a GPU). Batches are converted in the step, after the datamodule's per-batch normalisation
    and augmentation, which do not keep the layout.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer,
        scheduler=None,
        channels_last: bool = False,
        compile: bool = False,
        compile_mode: str = "default",
        label_smoothing: float = 0.0,
        compile_backend: str = "inductor",
        scheduler_interval: str = "epoch",
    ):
        super().__init__(
            net, optimizer, scheduler, compile, compile_mode, label_smoothing, compile_backend, scheduler_interval
        )
        self.channels_last = channels_last
        if channels_last:
            self.net.to(memory_format=torch.channels_last)

    @override
    def step(self, batch, split: str) -> torch.Tensor:
        x, y = batch
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)  # (B, C, H, W), strides of (B, H, W, C)
        return super().step((x, y), split)
