"""The per-split accumulator equals torchmetrics' own mean and accuracy, and survives a checkpoint."""

import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from src.metrics import LossAccuracy


def batches(sizes=(7, 32, 1, 19), num_classes=5):
    generator = torch.Generator().manual_seed(0)
    for size in sizes:  # uneven batch sizes: the mean must weight each batch by its size
        logits = torch.randn(size, num_classes, generator=generator)
        target = torch.randint(0, num_classes, (size,), generator=generator)
        yield F.cross_entropy(logits, target), logits, target


def test_equals_torchmetrics_mean_loss_and_micro_accuracy():
    ours, mean, accuracy = LossAccuracy(), MeanMetric(), MulticlassAccuracy(5, average="micro")
    for loss, logits, target in batches():
        ours.update(loss, logits, target)
        mean.update(loss, len(target))
        accuracy.update(logits, target)
    loss, acc = ours.compute()
    torch.testing.assert_close(loss, mean.compute())
    torch.testing.assert_close(acc, accuracy.compute())
    assert 0 < acc < 1


def test_reset_starts_over_and_states_travel_in_the_state_dict():
    metric = LossAccuracy()
    first, second = list(batches(sizes=(8, 8)))
    metric.update(*first)
    restored = LossAccuracy()
    restored.load_state_dict(metric.state_dict())  # persistent: a mid-epoch checkpoint keeps the sums
    for m in (metric, restored):
        m.update(*second)
    torch.testing.assert_close(restored.compute(), metric.compute())
    metric.reset()
    metric.update(*second)
    torch.testing.assert_close(metric.compute()[0], second[0])


def test_inputs_that_need_grad_are_not_kept_in_the_graph():
    metric = LossAccuracy()
    logits = torch.randn(4, 3, requires_grad=True)
    target = torch.tensor([0, 1, 2, 0])
    metric.update(F.cross_entropy(logits, target), logits, target)
    assert not metric.loss_sum.requires_grad
