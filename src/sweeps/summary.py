"""Hydra callback: the sweep's summary and report come at its end; each failure is said as it happens.

Hydra skips ``on_multirun_end`` when a job failed. Each job writes its own status file
(``COMPLETED`` with its result, or ``FAILED`` with its error: ``src.run.run``), and the
launching process assembles ``summary.tsv`` and ``report/`` from the job folders when it exits,
failures or not. Jobs of the sweep that never started are listed too (``NOT STARTED``), and when
some job did not finish, the launcher prints the one command that continues the whole sweep:
the same command into the same folder with ``ckpt_path=auto`` (completed jobs are not run again,
interrupted ones resume from their ``last.ckpt``, the rest start). Ctrl-C or SIGTERM to the
launching process stops the sweep that way (``src.sweeps.interrupt``).
"""

import atexit
import logging
import os
import shlex
import signal
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from src.config.errors import one_line
from src.config.resolvers import SWEPT_KEYS_ENV
from src.private_api import BASIC_SWEEPER, basic_sweep_jobs, job_error
from src.records.status import (
    COMPLETED_MARKER,
    FAILED_MARKER,
    INTERRUPTED_MARKER,
    PRUNED_MARKER,
    TIME_LIMIT_MARKER,
    command_words,
    paste_ready,
    stopped_early,
)
from src.sweeps.interrupt import clear_stop, stop_sweep_on_signals
from src.sweeps.tracking import log_group_summaries, prepare_mlflow

NOT_STARTED = "NOT STARTED"
NOT_FINISHED = "NOT FINISHED"
TIME_LIMIT = "TIME LIMIT"  # completed when trainer.max_time ran out

log = logging.getLogger(__name__)


def sweep_overrides(config: DictConfig):
    """The multirun's overrides as its sweeper sees them: preset params, then the command line."""
    params = [f"{key}={value}" for key, value in (config.hydra.sweeper.get("params") or {}).items()]
    return OverridesParser.create().parse_overrides(params + list(config.hydra.overrides.task))


def swept_keys(config: DictConfig) -> list[str]:
    """Keys that take several values in this multirun: from the command line or an experiment preset."""
    return sorted({o.key_or_group for o in sweep_overrides(config) if o.is_sweep_override()})


def job_status(job_dir: Path) -> tuple[str, str]:
    """(status, result or error) of a job folder, from the file its job wrote when it ended."""
    for marker in (FAILED_MARKER, INTERRUPTED_MARKER, COMPLETED_MARKER):
        if (job_dir / marker).exists():
            text = " ".join((job_dir / marker).read_text().split("\n")[:1])
            if marker == COMPLETED_MARKER and (early := stopped_early(job_dir)) is not None:
                status = TIME_LIMIT if early[0] == TIME_LIMIT_MARKER else early[0]
                return status, f"{text} ({early[1]})"
            return marker, text
    return NOT_FINISHED, "the job ended without a status (killed, or still running)"


def planned_jobs(config: DictConfig) -> list[list[str]] | int | None:
    """The sweep's jobs before any runs: each job's overrides (basic sweeper), a count (``n_trials``
    of a search), or None where the sweeper does not say."""
    sweeper = config.hydra.sweeper
    if sweeper.get("_target_") == BASIC_SWEEPER:
        return basic_sweep_jobs(sweep_overrides(config))
    trials = sweeper.get("n_trials")
    return trials if isinstance(trials, int) else None


def write_summary(sweep_dir: Path, planned: list[list[str]] | int | None = None) -> list[tuple[str, str, str]]:
    """``summary.tsv``: one row per job of ``sweep_dir`` (overrides, status, result), the jobs that
    never started included where ``planned`` (``planned_jobs``) lists them."""
    rows, started = [], set()
    for overrides_file in sorted(sweep_dir.glob("*/.hydra/overrides.yaml")):
        job_dir = overrides_file.parents[1]
        overrides = [str(o) for o in OmegaConf.to_container(OmegaConf.load(overrides_file), resolve=False)]
        started.add(tuple(overrides))
        rows.append((" ".join(overrides) or "(no overrides)", *job_status(job_dir)))
    if isinstance(planned, list):
        rows += [(" ".join(job), NOT_STARTED, "") for job in planned if tuple(job) not in started]
    elif isinstance(planned, int) and planned > len(rows):
        rows.append((f"({planned - len(rows)} more trials of {planned})", NOT_STARTED, ""))
    lines = ["overrides\tstatus\tresult"] + ["\t".join(row) for row in rows]
    (sweep_dir / "summary.tsv").write_text("\n".join(lines) + "\n")
    return rows


def continue_command(config: DictConfig, sweep_dir: Path) -> str:
    """The command that continues this sweep in ``sweep_dir``: its own command line, its folder, ``ckpt_path=auto``."""
    words = shlex.join(command_words(config.hydra, "train.py", sweep=True, leave_out=("ckpt_path",)))
    return f"{words} {paste_ready('hydra.sweep.dir', sweep_dir)} ckpt_path=auto"


class SweepSummary(Callback):
    """Marks every job ``COMPLETED`` or ``FAILED`` in its folder; ends a sweep with summary.tsv and report/.

    ``stop_grace_seconds``: after Ctrl-C or SIGTERM, how long running jobs get to save before they are ended.
    """

    def __init__(self, report: bool = True, stop_grace_seconds: float = 120.0) -> None:
        self.report, self.stop_grace_seconds = report, stop_grace_seconds
        self.sweep_dir: Path | None = None
        self.write_report = None
        self.planned: list[list[str]] | int | None = None
        self.continue_with = ""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self.sweep_dir = Path(config.hydra.sweep.dir)
        self.sweep_dir.mkdir(parents=True, exist_ok=True)  # a sweeper may store its study there first
        os.environ[SWEPT_KEYS_ENV] = ",".join(swept_keys(config))  # workers inherit it: job folder names
        if self.report:  # imported now: its libraries register exit handlers, which is refused during exit
            from src.report.write import write_report

            self.write_report = write_report
        atexit.register(self.finish)  # also when a job failed, which makes Hydra skip on_multirun_end
        clear_stop(self.sweep_dir)  # a sweep continued in its folder runs its jobs
        stop_sweep_on_signals(self.sweep_dir, self.stopped, self.stop_grace_seconds)
        # what follows only adds to the summary and the jobs' set-up: a problem is the sweeper's or the
        # jobs' to report, in their words (Hydra would turn an error here into a warning anyway)
        try:
            self.planned = planned_jobs(config)
            if self.planned is None or isinstance(self.planned, list):  # a search's next trials cannot be named
                self.continue_with = continue_command(config, self.sweep_dir)
        except Exception as error:  # noqa: BLE001 - e.g. a sweep syntax the basic sweeper refuses itself
            log.debug("the sweep's jobs cannot be listed in advance: %s", error)
        try:
            prepare_mlflow(config)  # concurrent jobs would race to create its store and experiment
        except Exception as error:  # noqa: BLE001 - a server out of reach: each job says so
            log.warning("could not prepare the MLflow experiment: %s", one_line(error))

    def stopped(self, signum: int) -> None:
        """The launcher got SIGINT/SIGTERM and its workers have stopped: the summary, then the exit."""
        log.warning("sweep stopped by %s", signal.Signals(signum).name)
        self.finish()

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs) -> None:
        """Say that a job failed, as it happens (the job marked its folder itself: ``src.run.run``)."""
        if job_return.status != JobStatus.FAILED or config.hydra.mode != RunMode.MULTIRUN:
            return
        error = one_line(job_error(job_return))
        if error.startswith("RunInterrupted:"):
            log.warning("job INTERRUPTED (%s): %s", " ".join(job_return.overrides or []), error)
        else:
            log.error("job FAILED (%s): %s", " ".join(job_return.overrides or []), error)

    def finish(self) -> None:
        """Write the sweep's summary and report; runs once, in the launching process, as it exits."""
        if self.sweep_dir is None or not self.sweep_dir.is_dir():
            return
        sweep_dir, self.sweep_dir = self.sweep_dir, None
        if not list(sweep_dir.glob("*/.hydra")):  # the sweep failed before its first job: Hydra says why
            return
        rows = write_summary(sweep_dir, self.planned)
        pruned = sum(status == PRUNED_MARKER for _, status, _ in rows)
        failed = sum(status not in (COMPLETED_MARKER, PRUNED_MARKER, TIME_LIMIT) for _, status, _ in rows)
        log.info(
            "%d jobs, %s%d not completed; summary in %s",
            len(rows),
            f"{pruned} pruned by Optuna, " if pruned else "",
            failed,
            sweep_dir / "summary.tsv",
        )
        unfinished = {status for _, status, _ in rows} & {INTERRUPTED_MARKER, NOT_STARTED, NOT_FINISHED}
        if unfinished and self.continue_with:
            log.warning("Continue the sweep with: %s", self.continue_with)
        elif INTERRUPTED_MARKER in unfinished:
            log.warning("Resume each INTERRUPTED job with the command in its INTERRUPTED file")
        try:
            log_group_summaries(sweep_dir)  # the sweep's parent run in MLflow, where it has one
        except Exception as error:  # noqa: BLE001 - a tracking server gone must not hide the sweep's results
            log.warning("Could not log the sweep's summaries to MLflow: %s", one_line(error))
        if self.write_report is None:
            return
        try:
            log.info("Report: %s", self.write_report(sweep_dir))
        except Exception as error:  # noqa: BLE001 - a report problem must not hide the sweep's results
            log.warning("Could not write the report of %s: %s", sweep_dir, error)
