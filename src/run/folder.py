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


def holds_a_run(run_dir: Path) -> bool:
    """Whether a run has already written into ``run_dir`` (its config, logs or checkpoints)."""
    return run_dir.is_dir() and any(p.name not in (LOCK_NAME, OWNER_NAME) for p in run_dir.iterdir())


def lock_run_folder(run_dir: str | Path, key: str) -> FileLock:
    """Take ``run_dir``'s lock for this process's lifetime, or raise a ConfigError naming ``key`` and the holder."""
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
            key, f"{run_dir} is in use by a run that is still going ({owner}); give this run another folder"
        ) from None
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    (run_dir / OWNER_NAME).write_text(f"pid {os.getpid()}, started {started}\n")
    _HELD[run_dir] = lock
    return lock


def release_run_folder(run_dir: str | Path) -> None:
    if (lock := _HELD.pop(Path(run_dir).resolve(), None)) is not None:
        lock.release()


def claim_new_run_folder(run_dir: str | Path, key: str, overwrite: bool, resuming: bool) -> FileLock:
    """Lock ``run_dir`` for a new run: refused when another run holds it, or when an earlier run's
    results are in it, unless this run resumes (``ckpt_path``) or ``overwrite`` empties it first."""
    run_dir = Path(run_dir)
    lock = lock_run_folder(run_dir, key)
    if holds_a_run(run_dir) and not resuming:
        if not overwrite:
            release_run_folder(run_dir)
            raise ConfigError(
                key,
                f"{run_dir} already holds a run; resume it with ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}, "
                "give another folder, or add overwrite=true to empty it first",
            )
        for path in run_dir.iterdir():
            if path.name not in (LOCK_NAME, OWNER_NAME):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
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
    return claim_new_run_folder(folder, "hydra.run.dir", values.get("overwrite") is True, resuming)
