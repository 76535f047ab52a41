"""Progress output: a live bar in a terminal, short log lines anywhere else (CI, nohup, SLURM logs).

A carriage-return progress bar written to a file is kilobytes of frames per epoch; ``LogProgress``
writes one line after each validation instead (at most one every ``min_seconds``, and always the
last), through Python logging, so the lines also land in the run's ``train.log``.
"""

import logging
import sys
import time

from typing_extensions import override

from src.config.errors import check_finite_number, check_int
from src.lightning_package import pl
from src.metric_tags import STEP_TAGS

log = logging.getLogger("progress")


def progress_bar(refresh_rate: int = 1, min_seconds: float = 1.0) -> pl.callbacks.ProgressBar:
    """``RichProgressBar`` when stdout is a terminal, else ``LogProgress``."""
    check_int("refresh_rate", refresh_rate, minimum=0)
    check_finite_number("min_seconds", min_seconds, minimum=0, allow_none=False)
    if sys.stdout.isatty():
        return pl.callbacks.RichProgressBar(refresh_rate=refresh_rate)
    return LogProgress(min_seconds=min_seconds)


def metrics_line(metrics: dict, prefix: str) -> str:
    """``val/acc 0.9800 | val/loss 0.0712``: the metrics whose tag starts with ``prefix``."""
    return " | ".join(f"{tag} {float(value):.4f}" for tag, value in sorted(metrics.items()) if tag.startswith(prefix))


class LogProgress(pl.callbacks.ProgressBar):
    """One log line per validation (throttled to one every ``min_seconds``) and one at each end."""

    def __init__(self, min_seconds: float = 1.0):
        super().__init__()
        self.min_seconds = min_seconds
        self.enabled = True
        self._start = self._last = 0.0

    @override
    def disable(self) -> None:
        self.enabled = False  # Lightning disables the bar off rank 0

    @override
    def enable(self) -> None:
        self.enabled = True

    def emit(self, text: str) -> None:
        if self.enabled:
            self._last = time.perf_counter()
            log.info("%s (%.1f s)", text, self._last - self._start)

    def position(self, trainer) -> str:
        """``epoch 2/10 step 300 (max 500)``: a step is an optimizer step, as Lightning counts them (several a
        batch with several optimizers, so the last can pass ``max_steps``)."""
        epochs = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        steps = f" (max {trainer.max_steps})" if trainer.max_steps and trainer.max_steps > 0 else ""
        return f"epoch {trainer.current_epoch}{epochs} step {trainer.global_step}{steps}"

    @override
    def on_train_start(self, trainer, pl_module) -> None:
        self._start = self._last = time.perf_counter()
        self.emit(f"training: {trainer.num_training_batches} batches an epoch")

    @override
    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or time.perf_counter() - self._last < self.min_seconds:
            return
        metrics = {k: v for k, v in trainer.callback_metrics.items() if k not in STEP_TAGS}
        self.emit(f"{self.position(trainer)} | {metrics_line(metrics, 'val/')}")

    @override
    def on_train_end(self, trainer, pl_module) -> None:
        metrics = {k: v for k, v in trainer.callback_metrics.items() if k not in STEP_TAGS}
        self.emit(
            f"done: {self.position(trainer)} | {metrics_line(metrics, 'train/')} | {metrics_line(metrics, 'val/')}"
        )

    @override
    def on_test_start(self, trainer, pl_module) -> None:
        self._start = self._start or time.perf_counter()  # a test on its own (or in a DDP rank) starts the clock

    @override
    def on_test_end(self, trainer, pl_module) -> None:
        self.emit(f"test: {metrics_line(trainer.callback_metrics, 'test/')}")
