"""The metric tags every run logs, and one cheap accumulator per split for its loss and accuracy."""

import torch
from torchmetrics import Metric

SPLITS = ("train", "val", "test")
# What a run's results are: the HPARAMS columns, the report's table, in this order.
RESULT_TAGS = ("val/acc_best", "val/acc", "val/loss", "test/acc", "test/loss")
# Every scalar a run logs (the curriculum adds curriculum/length and val/stage_acc).
EPOCH_TAGS = ("train/loss", "train/acc", "val/loss", "val/acc", "val/acc_best", "test/loss", "test/acc")
STEP_TAGS = ("train/loss_step", "train/acc_step")
CURRICULUM_TAGS = ("curriculum/length", "val/stage_acc")  # logged by the palindrome length curriculum
MONITORABLE_TAGS = EPOCH_TAGS + CURRICULUM_TAGS  # what early stopping, checkpoints and sweepers may watch


def tag(split: str, name: str) -> str:
    """``tag("val", "acc")`` -> ``"val/acc"``: the TensorBoard tag of a split's metric."""
    return f"{split}/{name}"


class LossAccuracy(Metric):
    """Sample-weighted mean loss and top-1 accuracy over everything seen since the last reset.

    Equal to ``MeanMetric`` (weighted by batch size) plus ``MulticlassAccuracy(average="micro")``,
    in one update of in-place sums: those two cost ~2.5x as much per step (argument checks, input
    formatting, a confusion count per class), which on a small model is a visible share of each
    training step. The states are plain sums, so distributed sync and checkpoints are exact, and
    they are persistent: a run resumed mid-epoch ends with the same epoch metrics.
    """

    full_state_update = False
    is_differentiable = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("loss_sum", torch.zeros(()), dist_reduce_fx="sum", persistent=True)
        self.add_state("correct", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum", persistent=True)
        self.add_state("total", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum", persistent=True)

    def update(self, loss: torch.Tensor, logits: torch.Tensor, target: torch.Tensor) -> None:
        """``loss``: the batch's mean loss; ``logits``: (batch, classes); ``target``: class indices.

        torchmetrics runs ``update`` with gradients off, so no graph is kept and nothing to detach.
        """
        self.loss_sum.add_(loss, alpha=len(target))
        self.correct.add_((logits.argmax(-1) == target).sum())
        self.total.add_(len(target))

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean loss, accuracy); NaN for both when nothing was seen."""
        return self.loss_sum / self.total, self.correct / self.total
