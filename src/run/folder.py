"""One run, one folder: a run holds an exclusive lock on the folder it resolved for its lifetime, and
never writes into a folder that holds anything it cannot prove is its own.

The lock is an OS file lock (``filelock``: released when the process ends, however it ends) on
``RUN/.lock``; ``RUN/.lock.owner`` says who holds it, for the message a second process gets.
A folder that holds files is written into only by the run those files are (a resume of its own
checkpoint, a sweep job its sweep identified), or after ``overwrite=true`` removed what a run
writes from a folder that is recognizably a run's. Nothing the run writes there may be a link
that leads out of it. The current folder, its parents, a home folder and a git checkout are
never a run's folder. Torch-free.
"""

import os
import shutil
import time
from pathlib import Path

from filelock import FileLock, Timeout

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


def holds_anything(folder: Path) -> bool:
    """Whether anything but the lock is in ``folder``."""
    return folder.is_dir() and any(p.name not in (LOCK_NAME, OWNER_NAME) for p in folder.iterdir())


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` is recognizably a run's: Hydra's record of a run's config and overrides, or the
    provenance record every run of this project writes when fitting starts."""
    hydra = (folder / ".hydra" / "config.yaml").is_file() and (folder / ".hydra" / "overrides.yaml").is_file()
    return hydra or (folder / "provenance.json").is_file()


def protected(folder: Path, cwd: Path | None = None) -> str | None:
    """Why ``folder`` is never a run's (the current folder, a parent of it, a home folder or a parent of
    one, a git checkout), or None."""
    folder, cwd, home = folder.resolve(), (cwd or Path.cwd()).resolve(), Path.home().resolve()
    if folder == cwd or folder in cwd.parents:
        return "is the current folder or a parent of it"
    if folder == home or folder in home.parents:
        return "is a home folder or a parent of one"
    if (folder / ".git").exists():
        return "is a git checkout"
    return None


def written_by_a_run(path: Path) -> bool:
    return path.name in RUN_NAMES or any(path.match(pattern) for pattern in RUN_PATTERNS)


def check_no_links(folder: Path, key: str) -> None:
    """Refuse a folder in which what a run writes is a link (a planted ``train.log -> ~/.bashrc``)."""
    inside = [folder / "checkpoints", folder / ".hydra"]
    for path in [*folder.iterdir(), *(p for d in inside if d.is_dir() and not d.is_symlink() for p in d.iterdir())]:
        if path.is_symlink() and (written_by_a_run(path) or path.parent != folder):
            raise ConfigError(
                key, f"{path} is a link: a run writes there, and never through a link; nothing was touched"
            )


def empty_run_folder(folder: Path) -> None:
    """Remove what a run wrote into ``folder`` (``RUN_NAMES``, ``RUN_PATTERNS``); the rest stays. Links are
    removed, never followed."""
    for path in folder.iterdir():
        if written_by_a_run(path):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def lock_folder(folder: str | Path, key: str, what: str = "run") -> FileLock:
    """Take ``folder``'s lock for this process's lifetime, or raise a ConfigError naming ``key`` and the holder
    (``what`` holds such a folder: a run, or a sweep)."""
    folder = Path(folder).absolute()
    if folder in _HELD:
        return _HELD[folder]
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise in_use(folder, key, what) from None
    (folder / OWNER_NAME).write_text(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    _HELD[folder] = lock
    return lock


def check_not_in_use(folder: Path, key: str, what: str = "run") -> None:
    """Refuse, before anything is built, a folder another process holds (its claim comes later, under the lock)."""
    if not (folder / LOCK_NAME).is_file() or folder.absolute() in _HELD:
        return
    lock = FileLock(folder / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise in_use(folder, key, what) from None
    lock.release()


def in_use(folder: Path, key: str, what: str) -> ConfigError:
    owner = (folder / OWNER_NAME).read_text().strip() if (folder / OWNER_NAME).exists() else "another process"
    return ConfigError(
        key, f"{folder} is in use by a {what} that is still going ({owner}); give this {what} another folder"
    )


def release_folder(folder: str | Path) -> None:
    if (lock := _HELD.pop(Path(folder).absolute(), None)) is not None:
        lock.release()


def check_claimable(folder: Path, overwrite: bool, own_run: bool, key: str) -> None:
    """Why a run may not write into ``folder`` (see ``claim_run_folder``), as a ConfigError; nothing is written."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(key, f"{folder} is a file, not a folder; give a folder for the run's outputs")
    if not holds_anything(folder):
        return
    if (reason := protected(folder)) is not None:
        what = "overwrite=true empties only an earlier run's folder" if overwrite else "it is not empty"
        raise ConfigError(key, f"{folder} {reason}, and {what}: nothing was touched; give a new or empty folder")
    check_not_in_use(folder, key)
    check_no_links(folder, key)
    if own_run:
        return
    if not overwrite:
        raise ConfigError(
            key,
            f"{folder} already holds a run; resume it with ckpt_path={folder / 'checkpoints' / 'last.ckpt'}, "
            "give another folder, or add overwrite=true to empty it first",
        )
    if not is_run_folder(folder):
        raise ConfigError(
            key,
            f"{folder} is not a run's folder (it has neither .hydra/ nor provenance.json), and overwrite=true "
            "empties only an earlier run's folder: nothing was touched; give a new or empty folder",
        )


def claim_run_folder(folder: Path, overwrite: bool, own_run: bool, key: str = "hydra.run.dir") -> FileLock:
    """Lock ``folder`` for a run, before anything is written into it. A folder that holds files is taken only
    for the run they are (``own_run``: it resumes its own checkpoint, or its sweep identified it), or emptied
    first with ``overwrite`` when it is recognizably a run's. Refused in one line otherwise, untouched."""
    check_claimable(folder, overwrite, own_run, key)  # before the lock, which writes its owner's name
    lock = lock_folder(folder, key)
    try:
        check_claimable(folder, overwrite, own_run, key)  # again under the lock: nobody changed it meanwhile
    except ConfigError:
        release_folder(folder)
        raise
    if holds_anything(folder) and not own_run:
        empty_run_folder(folder)
    return lock
