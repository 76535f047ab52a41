"""The one LightningModule every experiment uses: cross-entropy, accuracy per split, optimizer wiring."""
from typing import Callable

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MaxMetric

from src.lit_models.metrics import LossAccuracy

SPLITS = ("train", "val", "test")


class Classifier(pl.LightningModule):
    """Trains any network that maps a batch of inputs to class logits.

    Logs ``{split}/loss`` and ``{split}/acc`` once per epoch, and ``val/acc_best``. Each step only
    adds to the split's torchmetrics accumulator (``LossAccuracy``); the values are logged at epoch
    end, which keeps Lightning's logging machinery off the training hot path. Metric states are
    persistent, so a run resumed mid-epoch from a checkpoint ends with the same metrics as one never
    interrupted. The optimizer (and optional LR scheduler) arrive as Hydra partials and are called
    with the parameters.
    ``channels_last`` stores image weights and batches NHWC (pair it with bf16 on a GPU).
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable | None = None,
        channels_last: bool = False,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.net = net
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.channels_last = channels_last
        if channels_last:  # NHWC weights and inputs: faster convolutions on tensor cores
            self.net.to(memory_format=torch.channels_last)
        # keyed "train_" etc.: a ModuleDict key may not shadow nn.Module.train
        self.metrics = nn.ModuleDict({s + "_": LossAccuracy() for s in SPLITS})
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)

    def __setattr__(self, name: str, value) -> None:
        # Lightning sets `_current_fx_name` (a str) around each of the ~40 hooks of a step, and
        # nn.Module.__setattr__ spends ~1 us each looking for parameters, modules and buffers.
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def step(self, batch, split: str) -> torch.Tensor:
        x, y = batch
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)  # after the datamodule's per-batch transforms
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        self.metrics[split + "_"].update(loss, logits, y)
        return loss

    def log_epoch(self, split: str) -> torch.Tensor:
        """Log the split's epoch loss and accuracy, reset the accumulators, return the accuracy."""
        metrics = self.metrics[split + "_"]
        loss, accuracy = metrics.compute()
        self.log_dict({f"{split}/loss": loss, f"{split}/acc": accuracy}, prog_bar=split == "val")
        metrics.reset()
        return accuracy

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self.step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self.step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self.step(batch, "test")

    def on_train_epoch_end(self) -> None:
        self.log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        accuracy = self.log_epoch("val")
        if self.trainer.sanity_checking:  # a partial pass over untrained weights is no record
            return
        self.val_acc_best.update(accuracy)
        self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True)

    def on_test_epoch_end(self) -> None:
        self.log_epoch("test")

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.scheduler_factory(optimizer)}
