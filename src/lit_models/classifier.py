"""The LightningModule every experiment shares: cross-entropy, loss and accuracy per split, optimizer wiring."""

import functools
import inspect
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MaxMetric
from torchmetrics.classification import MulticlassConfusionMatrix
from typing_extensions import override

from src.config.errors import ConfigError, check_bool, check_choice, first_line
from src.lightning_package import pl
from src.metric_tags import MONITORABLE_TAGS, SPLITS, tag
from src.metrics import LossAccuracy
from src.private_api import FastHookNames


def compile_in_place(net: nn.Module, mode: str, backend: str) -> None:
    """``torch.compile`` the network in place (``nn.Module.compile``): parameter names and state_dict
    keys stay those of the eager network, so checkpoints move freely between compiled and eager runs.

    torch judges ``backend`` and ``mode`` when the compiled wrapper is made (nothing is compiled
    until the first batch); its refusal becomes a ConfigError naming the key.
    """
    try:
        torch.compile(nn.Identity(), backend=backend)
    except Exception as error:  # noqa: BLE001 - torch's InvalidBackend and friends: the value is the problem
        raise ConfigError("compile_backend", f"{backend!r} refused by torch.compile: {first_line(error)}") from None
    try:
        torch.compile(nn.Identity(), backend=backend, mode=mode)
    except Exception as error:  # noqa: BLE001 - torch's RuntimeError for an unknown mode
        raise ConfigError("compile_mode", f"{mode!r} refused by torch.compile: {first_line(error)}") from None
    net.compile(mode=mode, backend=backend, dynamic=None)


class Classifier(FastHookNames, pl.LightningModule):
    """Trains any network that maps a batch of inputs to class logits.

    Logs ``{split}/loss`` and ``{split}/acc`` once per epoch, ``val/acc_best``, and the training
    batch's ``train/loss_step`` and ``train/acc_step`` every ``trainer.log_every_n_steps`` steps.
    Each step adds to the split's torchmetrics accumulator (``LossAccuracy``); epoch values are
    logged at epoch end and per-step values only on logging steps, which keeps Lightning's logging
    machinery (and a device sync) off every other step. Metric states are persistent, so a run
    resumed mid-epoch from a checkpoint ends with the same metrics as one never interrupted.
    The optimizer (and optional LR scheduler) arrive as Hydra partials and are called with the
    parameters. ``compile`` compiles the network with ``torch.compile`` (``compile_mode``: default,
    reduce-overhead = CUDA graphs, max-autotune, ...; ``compile_backend``: inductor, or aot_eager and
    eager to debug a compile problem); shapes that vary (a last short batch, a growing
    curriculum length) are marked dynamic after their first change instead of recompiling each.
    An experiment with behaviour of its own overrides ``step`` (see ``ImageClassifier``,
    ``NumpyMLPClassifier``).

    ``scheduler_interval`` is when the scheduler steps: each ``epoch``, or each optimizer ``step``
    (a warm-up, ``OneCycleLR``). A per-step scheduler that takes ``total_steps`` and is given no
    length (no ``total_steps``, ``epochs`` or ``steps_per_epoch``) gets the run's number of optimizer
    steps (Lightning's ``estimated_stepping_batches``).
    """

    logged_metrics = MONITORABLE_TAGS  # what it logs, so a watched name is checked before training
    gives_class_logits = True  # eval.py predict= shows classes and their probabilities (src/capabilities.py)

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable | None = None,
        compile: bool = False,
        compile_mode: str = "default",
        label_smoothing: float = 0.0,
        compile_backend: str = "inductor",
        scheduler_interval: str = "epoch",
    ):
        super().__init__()
        if (
            not isinstance(label_smoothing, (int, float))
            or isinstance(label_smoothing, bool)
            or not (0.0 <= label_smoothing < 1.0)
        ):
            raise ConfigError("label_smoothing", f"must be a number in [0.0, 1.0), got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.net = net
        if check_bool(
            "compile", compile
        ):  # mode and backend are judged by torch then (importing its compiler costs seconds)
            compile_in_place(self.net, compile_mode, compile_backend)
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.scheduler_interval = check_choice("scheduler_interval", scheduler_interval, SCHEDULER_INTERVALS)
        # keyed "train_" etc.: a ModuleDict key may not shadow nn.Module.train
        self.metrics = nn.ModuleDict({s + "_": LossAccuracy() for s in SPLITS})
        self.val_acc_best = MaxMetric()
        self.test_confusion: MulticlassConfusionMatrix | None = None  # made at the first test batch (its classes)
        self.test_confusion_matrix: torch.Tensor | None = None  # the last test's, rows the true class
        self.val_acc_best.persistent(True)
        self._log_this_step = False

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def eager_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The forward pass, never compiled: a check on one batch should not compile the network for it."""
        return self.net.forward(x)

    def step(self, batch, split: str) -> torch.Tensor:
        """Loss of one batch of ``split``, recorded in its metrics; the one step every hook calls."""
        x, y = batch
        logits = self.net(x)
        smoothing = self.label_smoothing if split == "train" else 0.0  # evaluation reports the plain loss
        loss = F.cross_entropy(logits, y, label_smoothing=smoothing)
        self.record(split, loss, logits, y)
        return loss

    def record(self, split: str, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        """Add a batch to the split's epoch metrics; on a logging step, also log the training batch's."""
        self.metrics[split + "_"].update(loss, logits, y)
        if split == "test":
            if self.test_confusion is None:
                self.test_confusion = MulticlassConfusionMatrix(num_classes=logits.shape[-1]).to(logits.device)
            self.test_confusion.update(logits.argmax(-1), y)
        if split == "train" and self._log_this_step:
            accuracy = (logits.argmax(-1) == y).float().mean()
            values = {tag("train", "loss_step"): loss.detach(), tag("train", "acc_step"): accuracy}
            self.log_dict(values, sync_dist=True)  # the mean over DDP ranks; nothing to sync in one process

    def log_epoch(self, split: str) -> torch.Tensor:
        """Log the split's epoch loss and accuracy, reset the accumulators, return the accuracy."""
        metrics = self.metrics[split + "_"]
        loss, accuracy = metrics.compute()
        # computed over every rank already (torchmetrics syncs the sums): sync_dist only averages equal values
        self.log_dict({tag(split, "loss"): loss, tag(split, "acc"): accuracy}, prog_bar=split == "val", sync_dist=True)
        metrics.reset()
        return accuracy

    @override
    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        # Lightning writes step values when (steps so far + 1) is a multiple of log_every_n_steps
        self._log_this_step = (self.trainer.global_step + 1) % self.trainer.log_every_n_steps == 0
        return self.step(batch, "train")

    @override
    def validation_step(self, batch, batch_idx: int) -> None:
        self.step(batch, "val")

    @override
    def test_step(self, batch, batch_idx: int) -> None:
        self.step(batch, "test")

    @override
    def on_train_epoch_end(self) -> None:
        self.log_epoch("train")

    @override
    def on_validation_epoch_end(self) -> None:
        accuracy = self.log_epoch("val")
        if self.trainer.sanity_checking:  # a partial pass over untrained weights is no record
            return
        self.val_acc_best.update(accuracy)
        self.log(tag("val", "acc_best"), self.val_acc_best.compute(), prog_bar=True, sync_dist=True)

    @override
    def on_test_epoch_end(self) -> None:
        self.log_epoch("test")
        if self.test_confusion is not None:  # summed over every rank by torchmetrics
            self.test_confusion_matrix = self.test_confusion.compute().cpu()
            self.test_confusion.reset()

    def make_scheduler(self, optimizer: torch.optim.Optimizer, total_steps: int):
        """The scheduler partial called with ``optimizer``; a per-step one that takes ``total_steps`` and is given
        no length is also given ``total_steps``."""
        factory, extra = self.scheduler_factory, {}
        if self.scheduler_interval == "step" and takes_run_length(factory):
            extra["total_steps"] = total_steps
        return factory(optimizer, **extra)

    def check_scheduler(self) -> None:
        """Build the scheduler once, on the real optimizer over a stand-in parameter, so that its arguments are
        judged before training: torch would refuse them only when fit configures the optimizers."""
        if self.scheduler_factory is None:
            return
        optimizer = self.optimizer_factory([nn.Parameter(torch.zeros(1))])
        try:
            self.make_scheduler(optimizer, total_steps=100)
        except Exception as error:  # noqa: BLE001 - whatever the constructor raises is the value's fault
            name = getattr(self.scheduler_factory, "func", self.scheduler_factory)
            raise ConfigError(
                "module.scheduler", f"refused by {getattr(name, '__name__', name)}: {first_line(error)}"
            ) from None

    @override
    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.make_scheduler(optimizer, total_steps=int(self.trainer.estimated_stepping_batches))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": self.scheduler_interval}}


SCHEDULER_INTERVALS = ("epoch", "step")
RUN_LENGTH_ARGUMENTS = ("total_steps", "epochs", "steps_per_epoch")


def takes_run_length(factory: Callable) -> bool:
    """Whether a scheduler partial's constructor takes ``total_steps`` and the partial gives none of the
    arguments that set its length (``OneCycleLR(max_lr=...)``, say)."""
    func = factory.func if isinstance(factory, functools.partial) else factory
    given = factory.keywords if isinstance(factory, functools.partial) else {}
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return "total_steps" in parameters and not any(given.get(name) is not None for name in RUN_LENGTH_ARGUMENTS)
