"""Hydra callback: mark failed jobs and end every multirun with a one-line-per-failure summary."""
import logging
import os
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import RunMode
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from src.utils.build import root_cause
from src.utils.resolvers import SWEPT_KEYS_ENV

log = logging.getLogger(__name__)
FAILED_MARKER = "FAILED"


def one_line(error: BaseException) -> str:
    cause = root_cause(error)
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0]}" if text else type(cause).__name__


def swept_keys(config: DictConfig) -> list[str]:
    """Keys that take several values in this multirun: from the command line or an experiment preset."""
    params = config.hydra.sweeper.get("params") or {}
    overrides = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    return sorted({*params, *(o.key_or_group for o in overrides if o.is_sweep_override())})


class SweepSummary(Callback):
    """Writes ``FAILED`` (the error) into a failed job's folder and ``summary.tsv`` into the sweep.

    Hydra runs every job of a sweep even when one fails, then raises the first failure; this
    callback makes each failure visible as it happens and lists all of them in ``summary.tsv``.
    """

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []
        self.sweep_dir: Path | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self.rows, self.sweep_dir = [], Path(config.hydra.sweep.dir)
        os.environ[SWEPT_KEYS_ENV] = ",".join(swept_keys(config))

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

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        log.info("%d jobs completed; summary in %s", len(self.rows), self.sweep_dir / "summary.tsv")
