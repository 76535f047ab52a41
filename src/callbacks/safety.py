"""Callbacks that keep a run from losing or faking its results: interrupts and numerical failure.

``GracefulInterrupt``: Ctrl-C or SIGTERM (what a cluster scheduler sends at a time limit) lets the
current batch finish, saves ``last.ckpt``, marks the run folder ``INTERRUPTED`` with the command
that resumes it, and stops the run with ``RunInterrupted``; a second Ctrl-C exits at once.
``TimeLimit``: a run that ``trainer.max_time`` stops saves ``last.ckpt`` where it stopped and is
marked ``TIME_LIMIT`` (beside ``COMPLETED``), with the command that trains it further.
``NonFiniteGuard``: a non-finite training loss (or non-finite weights after a validation) stops
the run with ``TrainingDiverged`` instead of training on and reporting NaN as a result.
"""

import logging
import os
import signal
from pathlib import Path

import torch
from hydra.errors import CompactHydraException
from typing_extensions import override

from src.callbacks.slurm import PREEMPTED, REQUEUED, why_slurm_stops_this_job
from src.config.errors import check_int
from src.lightning_package import pl
from src.records.status import INTERRUPTED_MARKER, TIME_LIMIT_MARKER, mark, paste_ready
from src.signals import install, restore

log = logging.getLogger(__name__)
# SIGUSR2: what SLURM sends before a job's time limit or a preemption, through submitit (signal_delay_s)
CLUSTER_SIGNAL = getattr(signal, "SIGUSR2", None)
SIGNALS = (signal.SIGINT, signal.SIGTERM, *([CLUSTER_SIGNAL] if CLUSTER_SIGNAL is not None else []))
REQUEUED_EXIT = 255  # what submitit's own requeue exits with (sys.exit(-1))


class RunInterrupted(CompactHydraException):
    """The run stopped on a signal after saving its state; the message says how to resume it."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM

    def __reduce__(self):  # picklable, so a parallel launcher's worker can hand it back
        return RunInterrupted, (str(self), self.signum)


class TrainingDiverged(CompactHydraException):
    """The loss or the weights stopped being finite numbers."""


def save_last(trainer, run_dir: Path, resume_command: str) -> tuple[Path, str]:
    """Save ``last.ckpt`` where the run stands (every rank takes part; rank zero writes); the command that
    continues from it."""
    path = run_dir / "checkpoints" / "last.ckpt"
    trainer.save_checkpoint(path)
    return path, f"{resume_command} {paste_ready('ckpt_path', path)}"


class GracefulInterrupt(pl.Callback):
    """Turns SIGINT/SIGTERM during training into a saved, marked, resumable stop at a batch boundary."""

    def __init__(self, run_dir: str | Path, resume_command: str):
        self.run_dir, self.resume_command = Path(run_dir), resume_command
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _request(self, signum, frame) -> None:
        if self.received is not None:
            if signum == signal.SIGINT:
                os._exit(128 + signum)  # the second Ctrl-C: now, whatever is running
            return  # a sweep's launcher passing on the stop the job already saw: one stop, named by the first signal
        self.received = signum
        log.warning(
            "%s received: saving last.ckpt after this batch (Ctrl-C again to exit at once)", signal.strsignal(signum)
        )

    @override
    def on_train_start(self, trainer, pl_module) -> None:
        self._previous = install(self._request, SIGNALS)  # every rank: SLURM signals each task

    @override
    def teardown(self, trainer, pl_module, stage: str) -> None:
        restore(self._previous)
        self._previous = {}

    @override
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self.agreed(trainer) is not None:
            self.stop(trainer)

    @override
    def on_train_end(self, trainer, pl_module) -> None:
        if self.agreed(trainer) is not None:  # arrived during the last validation
            self.stop(trainer)

    def agreed(self, trainer) -> int | None:
        """The signal to stop on. In a run of several processes every rank takes the same decision at the
        same batch (the largest signal number any rank received; one all-reduce a step), since saving is
        collective: a rank that stopped alone would wait for the others forever."""
        if trainer.world_size > 1:
            flag = torch.tensor(self.received or 0, device=trainer.strategy.root_device)
            self.received = int(trainer.strategy.reduce(flag, reduce_op="max")) or None
        return self.received

    def stop(self, trainer) -> None:
        path, command = save_last(trainer, self.run_dir, self.resume_command)
        name = signal.Signals(self.received).name
        zero = trainer.is_global_zero  # one rank marks the folder and talks to the cluster; every rank stops
        if zero:
            mark(self.run_dir, INTERRUPTED_MARKER, f"{name} at step {trainer.global_step}\n{command}\n")
        trainer.strategy.barrier("interrupt marked")  # before any rank ends: forked ranks' parent reads the mark
        reason = ""
        slurm = self.why_slurm_stops()
        if slurm == REQUEUED:  # SLURM starts the job again: it resumes this save, and its launcher waits for it
            log.warning("%s at step %d: SLURM requeued this job (a preemption); saved %s, which it resumes",
                        name, trainer.global_step, path)  # fmt: skip
            raise SystemExit(REQUEUED_EXIT)  # no result for the launcher, as submitit's own requeue ends a job
        if zero and (self.received == CLUSTER_SIGNAL or slurm == PREEMPTED):  # saved: the signal goes on to submitit
            reason = self.hand_on_cluster_signal()
            mark(self.run_dir, INTERRUPTED_MARKER, f"{name} at step {trainer.global_step}{reason}\n{command}\n")
        raise interrupted(f"{name} at step {trainer.global_step}{reason}", path, command)

    def why_slurm_stops(self) -> str | None:
        """For a SIGTERM in a SLURM job that submitit started: a preemption, a requeue by SLURM, or None
        (``scancel`` and the rest: the job ends here). See ``src.callbacks.slurm``."""
        if self.received != signal.SIGTERM or not callable(self._previous.get(CLUSTER_SIGNAL)):
            return None
        return why_slurm_stops_this_job()

    def hand_on_cluster_signal(self) -> str:
        """Call the handler the cluster signal had before training (submitit's checkpoint-and-requeue): it
        requeues the job and ends the process, or says why it cannot (returned, for the user)."""
        previous = self._previous.get(CLUSTER_SIGNAL)
        if not callable(previous):  # not a submitit job: stopped as on SIGTERM
            return ""
        try:
            previous(self.received, None)  # requeued: SLURM starts the job again, which resumes this save
        except Exception as error:  # noqa: BLE001 - submitit's UncompletedJobError: no requeue left
            return f": the time limit or a preemption, and the job was not requeued ({str(error).strip()})"
        return ""


def stopped_ranks(run_dir: str | Path, since: float) -> RunInterrupted | None:
    """In the process that forked a run's ranks (``ddp_fork``): their stop on a signal, read from the
    ``INTERRUPTED`` mark rank zero wrote during this fit (a rank's exception reaches this process only
    as text); None if there is none."""
    marker = Path(run_dir) / INTERRUPTED_MARKER
    try:
        if marker.stat().st_mtime < since:
            return None
        reason, command = marker.read_text().splitlines()[:2]
    except (OSError, ValueError):
        return None
    if not isinstance(getattr(signal, reason.split(" ", 1)[0], None), int):
        return None
    return interrupted(reason, Path(run_dir) / "checkpoints" / "last.ckpt", command)


def interrupted(reason: str, path: str | Path, command: str) -> RunInterrupted:
    """The stop the user sees, from the mark's first line (``SIGINT at step 50...``): the signal, where it
    saved, and the command that resumes."""
    name, _, rest = reason.partition(" ")
    return RunInterrupted(f"Interrupted ({name}) {rest}; saved {path}. Resume with: {command}", getattr(signal, name))


def timer_of(trainer) -> pl.callbacks.Timer | None:
    """The Timer Lightning adds for ``max_time``, if the run has one."""
    return next((c for c in trainer.callbacks if isinstance(c, pl.callbacks.Timer)), None)


class TimeLimit(pl.Callback):
    """Where ``trainer.max_time`` ends training: ``last.ckpt`` saved at that step, and a ``TIME_LIMIT`` file.

    Lightning's Timer only stops the loop; the last checkpoint would be the one before, and
    nothing would tell the run's results apart from those of a run that trained to the end.
    """

    def __init__(self, run_dir: str | Path, resume_command: str):
        self.run_dir, self.resume_command = Path(run_dir), resume_command

    @override
    def on_train_start(self, trainer, pl_module) -> None:
        (self.run_dir / TIME_LIMIT_MARKER).unlink(missing_ok=True)  # a resumed run's status is its own

    @override
    def on_train_end(self, trainer, pl_module) -> None:
        timer = timer_of(trainer)
        if timer is None or timer.time_remaining("train") > 0:
            return
        path, command = save_last(trainer, self.run_dir, self.resume_command)
        if not trainer.is_global_zero:
            return
        where = f"at step {trainer.global_step}"
        log.warning("trainer.max_time ran out %s; saved %s. Train further with a larger trainer.max_time: %s",
                    where, path, command)  # fmt: skip
        mark(self.run_dir, TIME_LIMIT_MARKER, f"stopped by trainer.max_time {where}\n{command}\n")


class NonFiniteGuard(pl.Callback):
    """Stops training at a non-finite loss, checked every ``check_every_n_steps`` steps.

    A diverged run stays diverged (its weights are NaN), so looking at every N-th step's loss
    catches it within N steps, and the other steps pay nothing (no device sync, no extra op).
    Weights are checked after each validation.
    """

    def __init__(self, check_every_n_steps: int = 10, lr: float | None = None):
        self.every, self.lr = check_int("check_every_n_steps", check_every_n_steps, minimum=1), lr

    def advice(self) -> str:
        lower = f" (now {self.lr:g})" if self.lr is not None else ""
        return f"try a smaller optimizer.lr{lower}, or gradient clipping (trainer.gradient_clip_val=1)"

    @override
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if trainer.global_step % self.every and not trainer.is_last_batch:
            return
        loss = (
            outputs.get("loss") if isinstance(outputs, dict) else outputs
        )  # None: manual optimization may return none
        if isinstance(loss, torch.Tensor) and not bool(torch.isfinite(loss.detach()).all()):
            raise TrainingDiverged(
                f"train/loss is not finite (nan or inf) at step {trainer.global_step}: training diverged; "
                + self.advice()
            )

    @override
    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        for name, parameter in pl_module.named_parameters():
            if not torch.isfinite(parameter).all():
                raise TrainingDiverged(
                    f"weight {name} is not finite at step {trainer.global_step}: training diverged; " + self.advice()
                )
