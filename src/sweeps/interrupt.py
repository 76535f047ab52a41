"""Ctrl-C or SIGTERM to a sweep's launching process: its jobs save and stop, and the sweep says how to go on.

Hydra's launchers leave signals to Python's defaults: SIGTERM ends the launching process at once
(a parallel sweep's workers train on until they notice), SIGINT raises KeyboardInterrupt
wherever the launcher waits, and queued jobs start anyway. ``stop_sweep_on_signals`` replaces
both, in the launching process only, by one orderly stop:

1. ``SWEEP/.stopping`` tells the workers to start no further job (a queued job that reaches a
   worker leaves no folder and is listed NOT STARTED);
2. every job that is running (each holds a lock on ``SWEEP/.running/PID.lock`` while it runs)
   gets SIGTERM, which it answers as a scheduler's time limit (``GracefulInterrupt``: finish the
   batch, save ``last.ckpt``, mark the job ``INTERRUPTED``);
3. the launcher waits for those jobs (``grace_seconds`` at most, then ends them outright; a
   second Ctrl-C does that at once), writes the sweep's summary and report (``on_stop``), and
   exits with 130 (SIGINT) or 143 (SIGTERM), without a traceback.

On Windows the launcher passes no signal on (Windows has none that a process can catch and
finish from): Ctrl-C reaches every process of the console, so the jobs save by themselves, and
the launcher waits for them as above.

With a serial launcher the running job is the launching process itself and handles the signal
there (then the summary is written as the process exits); this handler acts between jobs. The
locks are ``filelock``'s OS locks, so a job killed outright never looks like it is running.
"""

import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from src.signals import in_main_thread, install

log = logging.getLogger(__name__)
SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_FILE = ".stopping"
RUNNING_DIR = ".running"
HARD_KILL = getattr(signal, "SIGKILL", signal.SIGTERM)  # Windows: SIGTERM already ends a process outright


@contextmanager
def running_job(sweep_dir: str | Path, job_dir: str | Path) -> Iterator[None]:
    """In a worker: hold this job's running lock while it runs; a stopping sweep's queued job does not start."""
    sweep_dir = Path(sweep_dir)
    (sweep_dir / RUNNING_DIR).mkdir(parents=True, exist_ok=True)
    with FileLock(sweep_dir / RUNNING_DIR / f"{os.getpid()}.lock"):
        if (sweep_dir / STOP_FILE).exists():  # dispatched after the stop: it never started
            logging.shutdown()  # the job's log file is in its folder
            shutil.rmtree(job_dir, ignore_errors=True)
            os._exit(128 + signal.SIGTERM)  # this worker ends; no result goes back to the stopping launcher
        yield


def running_jobs(sweep_dir: Path) -> list[int]:
    """The processes running one of the sweep's jobs now (their running lock is held)."""
    pids = []
    for path in sorted((sweep_dir / RUNNING_DIR).glob("*.lock")):
        lock = FileLock(path)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            pids.append(int(path.stem))
        else:
            lock.release()
    return pids


def stop_running_jobs(sweep_dir: str | Path, grace_seconds: float) -> int:
    """Start no further job, SIGTERM the running ones, wait up to ``grace_seconds`` for them; how many ran."""
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / STOP_FILE).touch()
    pids = running_jobs(sweep_dir)
    if os.name != "nt":  # Windows has no SIGTERM to pass on (os.kill ends a process outright); there Ctrl-C
        for pid in pids:  # reaches every process of the console, and each job saves on it by itself
            _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    left = pids
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        still = set(running_jobs(sweep_dir))  # one look at the locks a poll
        left = [pid for pid in left if pid in still]
    for pid in left:
        log.warning("the job in process %d did not stop within %g s: ending it", pid, grace_seconds)
        _signal(pid, HARD_KILL)
    return len(pids)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):  # ended meanwhile (and its pid perhaps reused)
        pass


def clear_stop(sweep_dir: str | Path) -> None:
    """A sweep (re)started in ``sweep_dir`` runs its jobs, whatever an earlier stop left."""
    (Path(sweep_dir) / STOP_FILE).unlink(missing_ok=True)


def stop_sweep_on_signals(sweep_dir: Path, on_stop: Callable[[int], None], grace_seconds: float = 120.0) -> bool:
    """In the launching process: on SIGINT/SIGTERM stop the running jobs, call ``on_stop(signum)``, exit 128+signum.

    Returns False (and installs nothing) outside the main thread, where Python cannot handle signals.
    """
    if not in_main_thread():
        return False
    stopping: list[int] = []

    def handle(signum, frame) -> None:
        if stopping:  # a second signal while the jobs save: a second Ctrl-C ends them now
            if signum == signal.SIGINT:
                for pid in running_jobs(sweep_dir):
                    _signal(pid, HARD_KILL)
                os._exit(128 + signum)
            return
        stopping.append(signum)
        log.warning(
            "%s received: stopping the sweep; running jobs save last.ckpt (Ctrl-C again to end them at once)",
            signal.strsignal(signum),
        )
        stop_running_jobs(sweep_dir, grace_seconds)
        try:
            on_stop(signum)
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(128 + signum)  # the launcher's own machinery (joblib's pool) is left to end with it

    install(handle, SIGNALS)
    return True
