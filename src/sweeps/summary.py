"""Hydra callback: each job records its status in its folder; the sweep's summary and report come at its end.

With a parallel or cluster launcher Hydra runs ``on_job_end`` where the job ran (a worker
process, a cluster node), and it skips ``on_multirun_end`` when a job failed. So a job writes
its own status file (``COMPLETED`` with its result, or ``FAILED`` with its error), and the
launching process assembles ``summary.tsv`` and ``report/`` from the job folders when it exits,
failures or not.
"""

import atexit
import logging
import os
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from src.config.errors import one_line
from src.config.resolvers import SWEPT_KEYS_ENV
from src.private_api import job_error
from src.run.status import COMPLETED_MARKER, FAILED_MARKER, INTERRUPTED_MARKER, PRUNED_MARKER, mark

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
            if marker == COMPLETED_MARKER and (job_dir / PRUNED_MARKER).exists():  # completed, stopped early
                return PRUNED_MARKER, f"{text} ({(job_dir / PRUNED_MARKER).read_text().strip()})"
            return marker, text
    return "NOT FINISHED", "the job ended without a status (killed, or still running)"


def write_summary(sweep_dir: Path) -> list[tuple[str, str, str]]:
    """``summary.tsv``: one row per job folder of ``sweep_dir`` (overrides, status, result)."""
    rows = []
    for overrides_file in sorted(sweep_dir.glob("*/.hydra/overrides.yaml")):
        job_dir = overrides_file.parents[1]
        overrides = " ".join(OmegaConf.load(overrides_file)) or "(no overrides)"
        rows.append((overrides, *job_status(job_dir)))
    lines = ["overrides\tstatus\tresult"] + ["\t".join(row) for row in rows]
    (sweep_dir / "summary.tsv").write_text("\n".join(lines) + "\n")
    return rows


class SweepSummary(Callback):
    """Marks every job ``COMPLETED`` or ``FAILED`` in its folder; ends a sweep with summary.tsv and report/."""

    def __init__(self, report: bool = True) -> None:
        self.report = report
        self.sweep_dir: Path | None = None
        self.write_report = None

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self.sweep_dir = Path(config.hydra.sweep.dir)
        self.sweep_dir.mkdir(parents=True, exist_ok=True)  # a sweeper may store its study there first
        os.environ[SWEPT_KEYS_ENV] = ",".join(swept_keys(config))  # workers inherit it: job folder names
        if self.report:  # imported now: its libraries register exit handlers, which is refused during exit
            from src.report.write import write_report

            self.write_report = write_report
        atexit.register(self.finish)  # also when a job failed, which makes Hydra skip on_multirun_end

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs) -> None:
        job_dir = Path(config.hydra.runtime.output_dir)
        if job_return.status == JobStatus.FAILED:
            error = one_line(job_error(job_return))
            mark(job_dir, FAILED_MARKER, error)
            if config.hydra.mode == RunMode.MULTIRUN:  # a single run's error is printed by Hydra
                log.error("job FAILED (%s): %s", " ".join(job_return.overrides or []), error)
        else:
            mark(job_dir, COMPLETED_MARKER, str(job_return.return_value))

    def finish(self) -> None:
        """Write the sweep's summary and report; runs once, in the launching process, as it exits."""
        if self.sweep_dir is None or not self.sweep_dir.is_dir():
            return
        sweep_dir, self.sweep_dir = self.sweep_dir, None
        rows = write_summary(sweep_dir)
        pruned = sum(status == PRUNED_MARKER for _, status, _ in rows)
        failed = sum(status not in (COMPLETED_MARKER, PRUNED_MARKER) for _, status, _ in rows)
        log.info(
            "%d jobs, %s%d not completed; summary in %s",
            len(rows),
            f"{pruned} pruned by Optuna, " if pruned else "",
            failed,
            sweep_dir / "summary.tsv",
        )
        if self.write_report is None:
            return
        try:
            log.info("Report: %s", self.write_report(sweep_dir))
        except Exception as error:  # noqa: BLE001 - a report problem must not hide the sweep's results
            log.warning("Could not write the report of %s: %s", sweep_dir, error)
