"""One run, one folder: a run holds an exclusive lock on its folder for its lifetime, and a new run
never writes into a folder that already holds another run's results.

The lock is an OS file lock (``filelock``: released when the process ends, however it ends) on
``RUN/.lock``; ``RUN/.lock.owner`` says who holds it, for the message a second process gets.
Torch-free: ``train.py`` takes it before Hydra writes anything into the folder.
"""

import os
import shutil
import time
from pathlib import Path

from filelock import FileLock, Timeout

from src.config.command_line import only_prints, parse
from src.config.errors import ConfigError

LOCK_NAME = ".lock"
OWNER_NAME = ".lock.owner"
_HELD: dict[Path, FileLock] = {}  # the folders this process holds: a lock is taken once per process
# What a run (train.py, eval.py, its loggers and the report) writes into its folder: all that
# overwrite=true removes. Anything else in the folder is the user's and stays.
RUN_NAMES = (
    ".hydra", "checkpoints", "report", "train.log", "eval.log", "hparams.yaml", "metrics.csv", "provenance.json",
    "eval.json", "test_confusion.json", "decision_boundary.npz", "COMPLETED", "FAILED", "INTERRUPTED", "PRUNED",
    "TIME_LIMIT",
)  # fmt: skip
RUN_PATTERNS = ("events.out.tfevents.*",)


def holds_a_run(run_dir: Path) -> bool:
    """Whether anything but the lock is in ``run_dir`` (a run's config, logs or checkpoints, or other files)."""
    return run_dir.is_dir() and any(p.name not in (LOCK_NAME, OWNER_NAME) for p in run_dir.iterdir())


def is_run_folder(run_dir: Path) -> bool:
    """Whether ``run_dir`` is recognizably a run's folder: Hydra's record of a run's config and overrides,
    or the provenance record every run of this project writes when fitting starts."""
    hydra = (run_dir / ".hydra" / "config.yaml").is_file() and (run_dir / ".hydra" / "overrides.yaml").is_file()
    return hydra or (run_dir / "provenance.json").is_file()


def protected(folder: Path, cwd: Path) -> str | None:
    """Why ``folder`` is never emptied, whatever it holds (the current folder, a parent of it, a home
    folder, a git checkout), or None."""
    folder, cwd, home = folder.resolve(), cwd.resolve(), Path.home().resolve()
    if folder == cwd or folder in cwd.parents:
        return "is the current folder or a parent of it"
    if folder == home or folder in home.parents:
        return "is a home folder or a parent of one"
    if (folder / ".git").exists():
        return "is a git checkout"
    return None


def not_to_empty(run_dir: Path, cwd: Path) -> str | None:
    """Why ``run_dir`` must never be emptied (``protected``, or a folder that is no run's), or None."""
    if (reason := protected(run_dir, cwd)) is not None:
        return reason
    if not is_run_folder(run_dir):
        return "is not a run's folder (it has neither .hydra/ nor provenance.json)"
    return None


def written_by_a_run(path: Path) -> bool:
    return path.name in RUN_NAMES or any(path.match(pattern) for pattern in RUN_PATTERNS)


def empty_run_folder(run_dir: Path) -> None:
    """Remove what a run wrote into ``run_dir`` (``RUN_NAMES``, ``RUN_PATTERNS``); the rest stays."""
    for path in run_dir.iterdir():
        if written_by_a_run(path):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def lock_run_folder(run_dir: str | Path, key: str, what: str = "run") -> FileLock:
    """Take ``run_dir``'s lock for this process's lifetime, or raise a ConfigError naming ``key`` and the holder
    (``what`` holds such a folder: a run, or a sweep)."""
    run_dir = Path(run_dir).resolve()
    if run_dir in _HELD:
        return _HELD[run_dir]
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(run_dir / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        owner = (run_dir / OWNER_NAME).read_text().strip() if (run_dir / OWNER_NAME).exists() else "another process"
        raise ConfigError(
            key, f"{run_dir} is in use by a {what} that is still going ({owner}); give this {what} another folder"
        ) from None
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    (run_dir / OWNER_NAME).write_text(f"pid {os.getpid()}, started {started}\n")
    _HELD[run_dir] = lock
    return lock


def release_run_folder(run_dir: str | Path) -> None:
    if (lock := _HELD.pop(Path(run_dir).resolve(), None)) is not None:
        lock.release()


def claim_new_run_folder(
    run_dir: str | Path, key: str, overwrite: bool, resuming: bool, cwd: str | Path | None = None
) -> FileLock:
    """Lock ``run_dir`` for a new run: refused when another run holds it, or when anything is in it,
    unless this run resumes (``ckpt_path``) or ``overwrite`` empties an earlier run's folder first.

    ``overwrite`` removes only what a run writes, and only from a folder that is recognizably a run's:
    never the current folder, a parent of it, a home folder or a git checkout (refused, untouched).
    """
    run_dir, cwd = Path(run_dir), Path.cwd() if cwd is None else Path(cwd)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(key, f"{run_dir} is a file, not a folder; give a folder for the run's outputs")
    if holds_a_run(run_dir) and not resuming and (reason := not_to_empty(run_dir, cwd)) is not None:
        what = "overwrite=true empties only an earlier run's folder" if overwrite else "it is not empty"
        raise ConfigError(key, f"{run_dir} {reason}, and {what}: nothing was touched; give a new or empty folder")
    lock = lock_run_folder(run_dir, key)
    if holds_a_run(run_dir) and not resuming:
        if not overwrite:
            release_run_folder(run_dir)
            raise ConfigError(
                key,
                f"{run_dir} already holds a run; resume it with ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}, "
                "give another folder, or add overwrite=true to empty it first",
            )
        empty_run_folder(run_dir)
    return lock


def claim_run_folder(argv: list[str], cwd: Path):
    """Lock the folder a single run names with ``hydra.run.dir``, before Hydra writes into it (the lock
    is held until the process ends); refuse it if another run holds it or left results in it.

    The default folder has the time and the process id in its name, so only a named folder can be
    shared. Returns the lock, or None where there is nothing to claim.
    """
    parsed = parse(argv)
    if parsed is None:
        return None
    args, overrides = parsed
    if args.multirun or only_prints(args):
        return None
    values = {o.key_or_group: o.value() for o in overrides if not o.is_sweep_override()}
    run_dir = values.get("hydra.run.dir")
    if not isinstance(run_dir, str) or "${" in run_dir:  # Hydra's own name for it (time stamp and pid)
        return None
    folder = Path(run_dir) if Path(run_dir).is_absolute() else cwd / run_dir
    resuming = values.get("ckpt_path") is not None
    return claim_new_run_folder(folder, "hydra.run.dir", values.get("overwrite") is True, resuming, cwd)
