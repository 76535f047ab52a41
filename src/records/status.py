"""The status files a run (or a sweep job) leaves in its folder when it ends.

Written by the run's own code (train.py, its callbacks, the sweep's Hydra callback) and read by
``summary.tsv`` and the report. One file per outcome; its first line says what happened.
"""

import shlex
from pathlib import Path

COMPLETED_MARKER = "COMPLETED"  # the run completed; it holds the value train.py returned
FAILED_MARKER = "FAILED"  # the run failed; it holds the error
INTERRUPTED_MARKER = "INTERRUPTED"  # stopped by a signal; it holds the command that resumes it
PRUNED_MARKER = "PRUNED"  # stopped early by an Optuna pruner (and completed); it holds when and why
TIME_LIMIT_MARKER = "TIME_LIMIT"  # stopped by trainer.max_time (and completed); it holds when, and how to go on


# What each status replaces when a run (resumed, say) ends again in the same folder. A failure
# keeps INTERRUPTED: the interrupt is why it failed, and that file says how to resume.
SUPERSEDES = {
    COMPLETED_MARKER: (FAILED_MARKER, INTERRUPTED_MARKER),
    INTERRUPTED_MARKER: (COMPLETED_MARKER, FAILED_MARKER),
    FAILED_MARKER: (COMPLETED_MARKER,),
    PRUNED_MARKER: (),
    TIME_LIMIT_MARKER: (),
}


def mark(run_dir: str | Path, marker: str, text: str) -> Path:
    """Write ``marker`` into ``run_dir``, removing the stale statuses it supersedes."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)  # a run that wrote nothing else (fast_dev_run) still says how it ended
    for stale in SUPERSEDES[marker]:
        (run_dir / stale).unlink(missing_ok=True)
    path = run_dir / marker
    path.write_text(text if text.endswith("\n") else text + "\n")
    return path


def hydra_quoted(key: str, value: str | Path) -> str:
    """``key='value'``, an override Hydra reads back as ``value`` whatever it holds (spaces, quotes, ``=``)."""
    text = str(value).replace("'", "\\'")  # Hydra reads a backslash as an escape only before a quote
    return f"{key}='{text}'"


def command_words(hydra_cfg, script: str, sweep: bool = False, leave_out: tuple[str, ...] = ()) -> list[str]:
    """``python SCRIPT [-m] [--config-dir DIR] [HYDRA OVERRIDES] OVERRIDES``: the command line Hydra recorded
    (``hydra_cfg`` is the ``hydra`` node), with what composes it (the user's config folder, search paths) so
    that it pastes, less the task overrides ``leave_out`` names. A sweep keeps its other Hydra settings (its
    launcher's, its sweeper's) but for its folder, which the caller adds."""

    def key(override) -> str:
        return str(override).split("=", 1)[0].lstrip("~+")

    sources = hydra_cfg.runtime.config_sources
    given = [s.path for s in sources if s.provider == "command-line" and s.schema == "file"]
    hydra = [
        str(o) for o in hydra_cfg.overrides.hydra if key(o) not in ("hydra.sweep.dir", "hydra.run.dir", "hydra.mode")
    ]
    hydra = hydra if sweep else [o for o in hydra if key(o) == "hydra.searchpath"]
    task = [str(o) for o in hydra_cfg.overrides.task if key(o) not in leave_out]
    return ["python", script, *(["-m"] if sweep else []), *(["--config-dir", given[0]] if given else []), *hydra, *task]


def paste_ready(key: str, value: str | Path) -> str:
    """``key=value`` as one shell word that Hydra reads back as ``value``, whatever the path holds
    (spaces, quotes, non-ASCII letters): quoted for Hydra inside, then for the shell."""
    return shlex.quote(hydra_quoted(key, value))


def completed_result(run_dir: str | Path) -> str | None:
    """The result a run that completed in ``run_dir`` stored (``'None'`` if it returned none); None if it did not."""
    path = Path(run_dir) / COMPLETED_MARKER
    return path.read_text().split("\n", 1)[0].strip() if path.is_file() else None


def stopped_early(run_dir: str | Path) -> tuple[str, str] | None:
    """(PRUNED or TIME_LIMIT, its first line) for a run that completed before its end; None otherwise."""
    for marker in (PRUNED_MARKER, TIME_LIMIT_MARKER):
        path = Path(run_dir) / marker
        if path.is_file():
            return marker, (path.read_text().strip().splitlines() or [marker.lower()])[0]
    return None
