"""One sweep, one folder: a sweep's launching process holds a lock on its folder for its lifetime, and
a new sweep never starts into a folder that holds an earlier sweep, unless it continues that sweep.

Continuing means ``ckpt_path=auto`` (the command a stopped sweep prints: completed jobs are not run
again, the rest resume or start, and each job refuses a checkpoint or result written with other
settings), or a search into the folder of a search whose study is stored there (``optuna.db``: the
same command adds trials, each in a folder of its own). ``overwrite=true`` empties an earlier sweep's folder of
what sweeps write; a folder that is no sweep's (the current folder, a checkout) is never emptied.
Torch-free: ``train.py`` takes the lock before Hydra writes anything.
"""

import shutil
from pathlib import Path
from typing import Any

from filelock import FileLock

from src.config.command_line import only_prints, parse
from src.config.errors import ConfigError
from src.run.folder import (
    LOCK_NAME,
    OWNER_NAME,
    empty_run_folder,
    is_run_folder,
    lock_run_folder,
    protected,
    release_run_folder,
)

KEY = "hydra.sweep.dir"
RECORD = "multirun.yaml"  # Hydra's record of a sweep's config and command line (the basic sweeper's)
# What a sweep writes beside its job folders (Hydra, the summary, the report, Optuna, the stop machinery)
SWEEP_NAMES = ("multirun.yaml", "summary.tsv", "report", "optuna.db", "optimization_results.yaml", ".running",
               ".stopping")  # fmt: skip


def holds_a_sweep(sweep_dir: Path) -> bool:
    """Whether ``sweep_dir`` holds an earlier sweep: Hydra's record of one, a stored study, or job folders."""
    if (sweep_dir / RECORD).is_file() or (sweep_dir / "optuna.db").is_file():
        return True
    return any(is_run_folder(job) for job in sweep_dir.iterdir() if job.is_dir())


def continues(sweep_dir: Path, overrides: list[str], auto: bool) -> bool:
    """Whether a sweep with ``overrides`` (and ``ckpt_path=auto`` when ``auto``) continues the one in ``sweep_dir``."""
    search = any(word.split("=", 1)[0] in ("hparams_search", "hydra/sweeper") for word in overrides)
    return auto or (search and (sweep_dir / "optuna.db").is_file())


def empty_sweep_folder(sweep_dir: Path) -> None:
    """Remove what a sweep wrote: its own files, and what each job wrote into its folder (then the folder
    itself if nothing else is in it). Anything else stays."""
    for path in sweep_dir.iterdir():
        if path.name in SWEEP_NAMES:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        elif path.is_dir() and not path.is_symlink() and is_run_folder(path):
            empty_run_folder(path)
            leftovers = [p for p in path.iterdir() if p.name not in (LOCK_NAME, OWNER_NAME)]
            if not leftovers:
                shutil.rmtree(path)


def claim_sweep_folder(argv: list[str], cwd: Path) -> FileLock | None:
    """Lock the folder a sweep names with ``hydra.sweep.dir`` for this process's lifetime; refuse it, in one
    line and before anything is written, if another sweep holds it, or it holds an earlier sweep that this
    command does not continue (``overwrite=true``: empty it first), or it holds files that are no sweep's."""
    parsed = parse(argv)
    if parsed is None:
        return None
    args, overrides = parsed
    if not args.multirun or only_prints(args):
        return None
    values = {o.key_or_group: o.value() for o in overrides if not o.is_sweep_override()}
    named = values.get(KEY)
    if not isinstance(named, str) or "${" in named:  # Hydra's own name for it (time stamp and pid): a new folder
        return None
    sweep_dir = Path(named) if Path(named).is_absolute() else cwd / named
    if sweep_dir.exists() and not sweep_dir.is_dir():
        raise ConfigError(KEY, f"{sweep_dir} is a file, not a folder; give a folder for the sweep")
    lock = lock_run_folder(sweep_dir, KEY, what="sweep")
    try:
        check_earlier_sweep(sweep_dir, cwd, args.overrides, values)
    except ConfigError:
        release_run_folder(sweep_dir)
        raise
    return lock


def check_earlier_sweep(sweep_dir: Path, cwd: Path, words: list[str], values: dict[str, Any]) -> None:
    """Refuse (or, with overwrite=true, empty) a folder holding anything but a sweep this command continues."""
    contents = [p for p in sweep_dir.iterdir() if p.name not in (LOCK_NAME, OWNER_NAME)]
    if not contents:
        return
    overwrite = values.get("overwrite") is True
    if not holds_a_sweep(sweep_dir) or protected(sweep_dir, cwd):
        reason = protected(sweep_dir, cwd) or "holds files but no sweep"
        raise ConfigError(KEY, f"{sweep_dir} {reason}: nothing was touched; give a new or empty folder")
    if continues(sweep_dir, words, values.get("ckpt_path") == "auto"):
        return
    if not overwrite:
        raise ConfigError(
            KEY,
            f"{sweep_dir} holds an earlier sweep; continue it with ckpt_path=auto (its 'Continue the sweep with' "
            "command), give another folder, or add overwrite=true to empty it first",
        )
    empty_sweep_folder(sweep_dir)
