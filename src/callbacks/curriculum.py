"""A length curriculum for the palindrome task: train on short palindromes, then lengthen them.

Training starts at ``start`` digits and moves up by ``step`` once the validation accuracy at
the current length reaches ``threshold`` (or after ``max_epochs`` epochs at that length), until
it trains at the target ``input_length``. ``val/acc`` keeps meaning the accuracy at the target
length; the current length's accuracy is logged as ``val/stage_acc`` and the length itself as
``curriculum/length``. Early stopping is held off until the curriculum has reached the target.
"""

from typing import Protocol

import torch
from torchmetrics.functional.classification import multiclass_accuracy

from src.lightning_package import pl
from src.metric_tags import CURRICULUM_TAGS


class StagedData(Protocol):
    input_length: int

    def set_train_length(self, length: int) -> None: ...

    def split_at_length(self, length: int, split: str) -> tuple[torch.Tensor, torch.Tensor]: ...


class LengthCurriculum(pl.Callback):
    """Moves a ``StagedData`` datamodule's training length from ``start`` up to its target."""

    def __init__(self, data: StagedData, start: int, step: int, threshold: float, max_epochs: int):
        self.data, self.step, self.threshold, self.max_epochs = data, step, threshold, max_epochs
        self.length, self.epochs_at_length = start, 0

    @property
    def done(self) -> bool:
        return self.length >= self.data.input_length

    def on_train_start(self, trainer, pl_module) -> None:
        self.data.set_train_length(self.length)  # also after a resume, from the restored state

    @torch.no_grad()
    def stage_accuracy(self, pl_module) -> torch.Tensor:
        x, y = self.data.split_at_length(self.length, "val")
        logits = torch.cat([pl_module(x[i : i + 4096].to(pl_module.device)) for i in range(0, len(y), 4096)])
        return multiclass_accuracy(logits, y.to(logits.device), num_classes=logits.shape[-1], average="micro")

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        accuracy = self.stage_accuracy(pl_module)
        length_tag, accuracy_tag = CURRICULUM_TAGS
        pl_module.log_dict({length_tag: float(self.length), accuracy_tag: accuracy}, prog_bar=True)
        if self.done:
            return
        self.epochs_at_length += 1
        if accuracy >= self.threshold or self.epochs_at_length >= self.max_epochs:
            self.length = min(self.length + self.step, self.data.input_length)
            self.epochs_at_length = 0
            self.data.set_train_length(self.length)
        for callback in trainer.callbacks:  # target accuracy cannot improve before the target length
            if isinstance(callback, pl.callbacks.EarlyStopping):
                callback.wait_count = 0

    def state_dict(self) -> dict:
        return {"length": self.length, "epochs_at_length": self.epochs_at_length}

    def load_state_dict(self, state_dict: dict) -> None:
        self.length, self.epochs_at_length = state_dict["length"], state_dict["epochs_at_length"]
