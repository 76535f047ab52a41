"""Hydra callback: mark failed jobs and end every multirun with a one-line-per-failure summary."""
import logging
import os
from pathlib import Path

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import RunMode
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from src.report.runs import FAILED_MARKER
from src.utils.build import root_cause
from src.utils.resolvers import SWEPT_KEYS_ENV

log = logging.getLogger(__name__)


def one_line(error: BaseException) -> str:
    cause = root_cause(error)
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0]}" if text else type(cause).__name__


def sweep_overrides(config: DictConfig):
    """The multirun's overrides as its sweeper sees them: preset params, then the command line."""
    params = [f"{key}={value}" for key, value in (config.hydra.sweeper.get("params") or {}).items()]
    return OverridesParser.create().parse_overrides(params + list(config.hydra.overrides.task))


def swept_keys(config: DictConfig) -> list[str]:
    """Keys that take several values in this multirun: from the command line or an experiment preset."""
    return sorted({o.key_or_group for o in sweep_overrides(config) if o.is_sweep_override()})


class SweepSummary(Callback):
    """Marks failed jobs, keeps ``summary.tsv`` of a sweep, and writes its report when it ends.

    Hydra runs every job of a sweep even when one fails, then raises the first failure without
    calling ``on_multirun_end``. So this callback writes ``FAILED`` (the error) into a failed
    job's folder as it happens, lists every job in ``summary.tsv``, and writes the sweep's report
    (``report/report.md``) when its last job ends, failures or not.
    """

    def __init__(self, report: bool = True) -> None:
        self.report = report
        self.rows: list[tuple[str, str, str]] = []
        self.sweep_dir: Path | None = None
        self.total_jobs = 0

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self.rows, self.sweep_dir = [], Path(config.hydra.sweep.dir)
        os.environ[SWEPT_KEYS_ENV] = ",".join(swept_keys(config))
        batches = BasicSweeper.split_arguments(sweep_overrides(config), None)
        self.total_jobs = sum(len(batch) for batch in batches)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs) -> None:
        job_dir = Path(config.hydra.runtime.output_dir)
        overrides = " ".join(job_return.overrides or []) or "(no overrides)"
        if job_return.status == JobStatus.FAILED:
            error = one_line(job_return._return_value)
            (job_dir / FAILED_MARKER).write_text(error + "\n")
            if config.hydra.mode == RunMode.MULTIRUN:  # a single run's error is printed by Hydra
                log.error("job FAILED (%s): %s", overrides, error)
            self.rows.append((overrides, "FAILED", error))
        else:
            self.rows.append((overrides, "COMPLETED", str(job_return._return_value)))
        if self.sweep_dir is not None:
            lines = ["overrides\tstatus\tresult"] + ["\t".join(row) for row in self.rows]
            (self.sweep_dir / "summary.tsv").write_text("\n".join(lines) + "\n")
            if len(self.rows) == self.total_jobs:
                self.write_report()

    def write_report(self) -> None:
        failed = sum(status == "FAILED" for _, status, _ in self.rows)
        log.info("%d jobs, %d failed; summary in %s", len(self.rows), failed, self.sweep_dir / "summary.tsv")
        if not self.report:
            return
        from src.report.write import write_report  # matplotlib only when a sweep ends

        try:
            log.info("Report: %s", write_report(self.sweep_dir))
        except Exception as error:  # noqa: BLE001 - a report problem must not hide the sweep's results
            log.warning("Could not write the report of %s: %s", self.sweep_dir, error)
