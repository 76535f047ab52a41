"""Every signal handler this project installs, installed here (and only here), and what each is for:

- a run in training (``src.callbacks.safety.GracefulInterrupt``): SIGINT, SIGTERM and the cluster's
  SIGUSR2 finish the batch, save, mark the folder and stop; a second Ctrl-C exits at once;
- the process that forked a run's ranks (``forked_ranks_stop_together``, below): waits for its ranks
  on Ctrl-C, passes SIGTERM on to them;
- a sweep's launching process (``src.sweeps.interrupt``): stops the running jobs, writes the summary;
- a parallel sweep's worker (``src.sweeps.placement``): leaves Ctrl-C to the job in training and the
  launcher;
- asking SLURM about a SIGTERM (``src.callbacks.slurm``): ignores SIGTERM while ``scontrol`` runs.

Python handles signals only in the main thread: elsewhere nothing is installed.
"""

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from omegaconf import DictConfig

from src.trainer.devices import forks_ranks

Handler = Callable[[int, object], None] | int


def in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def install(handler: Handler, signums: Iterable[int]) -> dict[int, Handler]:
    """Install ``handler`` for each of ``signums``; the handlers it replaced (none outside the main thread)."""
    if not in_main_thread():
        return {}
    return {signum: signal.signal(signum, handler) for signum in signums}


def restore(previous: dict[int, Handler]) -> None:
    """Put back the handlers ``install`` replaced."""
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@contextmanager
def handling(handler: Handler, signums: Iterable[int]) -> Iterator[None]:
    previous = install(handler, signums)
    try:
        yield
    finally:
        restore(previous)


@contextmanager
def forked_ranks_stop_together(trainer_cfg: DictConfig) -> Iterator[None]:
    """While a run's ranks are forked processes (``ddp_fork``), what this process, their parent, does on a
    signal. Ctrl-C reaches every process of the terminal's job: the ranks save and stop together
    (``GracefulInterrupt``) and this process waits for them, rather than ending first (a second Ctrl-C
    ends it at once). SIGTERM, sent to this process alone (``kill PID``, a scheduler), is passed on to
    the ranks. Elsewhere (one process, or ranks that are not this process's children) nothing changes."""
    if not forks_ranks(trainer_cfg):
        yield
        return
    interrupts = 0

    def handle(signum, frame) -> None:
        nonlocal interrupts
        interrupts += signum == signal.SIGINT
        if interrupts > 1:
            raise KeyboardInterrupt  # the second Ctrl-C: the ranks have ended themselves already
        if signum == signal.SIGTERM:
            for rank in multiprocessing.active_children():
                os.kill(rank.pid, signal.SIGTERM)

    with handling(handle, (signal.SIGINT, signal.SIGTERM)):
        yield
