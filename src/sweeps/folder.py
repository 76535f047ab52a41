"""One sweep, one folder: a sweep's launching process holds a lock on the folder it resolved for its
lifetime, and a new sweep never starts into a folder that holds an earlier sweep, unless it continues
that sweep, by the sweep's own record.

The record is ``multirun.yaml``: the sweep's composed config, command line included, written when the
sweep claims its folder. Continuing means ``ckpt_path=auto`` (the command a stopped sweep prints:
completed jobs are not run again, the rest resume or start), or the same search again into the folder
of a search whose study is stored there (``optuna.db``); either way the stored overrides and search
space must be this command's. ``overwrite=true`` empties only what it can prove is this sweep's: its
own files, and the job folders whose Hydra record says they were a sweep's jobs in this very folder.
Single runs inside, folders it does not recognise and the user's files make it refuse, untouched.
"""

import re
import shutil
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from src.config.errors import ConfigError
from src.run.folder import LOCK_NAME, OWNER_NAME, empty_run_folder, lock_folder, protected, release_folder

KEY = "hydra.sweep.dir"
RECORD = "multirun.yaml"
# What a sweep writes beside its job folders (Hydra, the summary, the report, Optuna, the stop machinery)
SWEEP_NAMES = ("multirun.yaml", "summary.tsv", "report", "optuna.db", "optimization_results.yaml", ".running",
               ".stopping", ".gpu_locks")  # fmt: skip
# What continuing a sweep may change in its command: how long and how its jobs train, log and run (as a resume
# may), not what they are (the model, the data, the optimizer, the module, the seed, a preset of those)
UNCOMPARED = ("ckpt_path", "overwrite", "trainer", "callbacks", "logger", "launcher", "process")


def read_yaml(path: Path) -> dict:
    """A YAML file of a sweep folder as plain values (never resolved); {} if it is not a mapping."""
    try:
        content = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return content if isinstance(content, dict) else {}


def is_job_of(job: Path, sweep_dir: Path) -> bool:
    """Whether Hydra's record of ``job`` says it was a job of a sweep, in this very folder."""
    hydra = read_yaml(job / ".hydra" / "hydra.yaml").get("hydra") or {}
    output = str((hydra.get("runtime") or {}).get("output_dir", ""))
    return hydra.get("mode") == "MULTIRUN" and bool(output) and Path(output) == job.absolute()


def sweep_settings(cfg: dict) -> tuple[list[str], dict]:
    """What identifies a sweep: its command line's overrides (less ``UNCOMPARED``) and its search space."""
    hydra = cfg.get("hydra") or {}
    overrides = [str(o) for o in (hydra.get("overrides") or {}).get("task") or []]
    kept = sorted(o for o in overrides if re.split(r"[./=]", o.lstrip("~+"), maxsplit=1)[0] not in UNCOMPARED)
    return kept, dict((hydra.get("sweeper") or {}).get("params") or {})


def check_continues(sweep_dir: Path, cfg: DictConfig) -> None:
    """Refuse to continue a sweep whose record is missing, or holds other overrides or another search space."""
    stored = read_yaml(sweep_dir / RECORD)
    if not stored:
        raise ConfigError(
            KEY, f"{sweep_dir} holds no readable {RECORD}: cannot tell which sweep this is; give another folder"
        )
    theirs, mine = sweep_settings(stored), sweep_settings(OmegaConf.to_container(cfg, resolve=False))
    if theirs[0] != mine[0]:
        raise ConfigError(
            KEY,
            f"{sweep_dir} holds a sweep of other settings ({' '.join(theirs[0]) or 'no overrides'}, now "
            f"{' '.join(mine[0]) or 'none'}): nothing was touched; continue it with its own command, "
            "or give another folder",
        )
    if theirs[1] != mine[1]:
        raise ConfigError(KEY, f"{sweep_dir} holds a search over another space ({theirs[1]}): give another folder")


def check_provable(sweep_dir: Path) -> None:
    """Refuse an overwrite of a folder holding anything that cannot be proved the sweep's own."""
    entries = [p for p in sweep_dir.iterdir() if p.name not in (LOCK_NAME, OWNER_NAME)]
    foreign = [
        p
        for p in entries
        if p.name not in SWEEP_NAMES and not (p.is_dir() and not p.is_symlink() and is_job_of(p, sweep_dir))
    ]
    if foreign:
        raise ConfigError(
            KEY,
            f"{sweep_dir} holds {foreign[0].name}, which is not this sweep's (a single run, another folder, a file "
            "of yours): overwrite=true empties only what it can prove is the sweep's; nothing was touched",
        )


def empty_sweep_folder(sweep_dir: Path) -> None:
    """Remove what a sweep wrote, after proving every entry is the sweep's: its own files, its job folders."""
    check_provable(sweep_dir)
    for path in [p for p in sweep_dir.iterdir() if p.name not in (LOCK_NAME, OWNER_NAME)]:
        if path.name in SWEEP_NAMES:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        else:
            empty_run_folder(path)
            if not [p for p in path.iterdir() if p.name not in (LOCK_NAME, OWNER_NAME)]:
                shutil.rmtree(path)


def claim_sweep_folder(sweep_dir: Path, cfg: DictConfig) -> bool:
    """Lock the sweep's resolved folder for this process's lifetime; refuse it, in one line and before anything
    is written, if another sweep holds it, or it holds anything but a sweep this command continues (or, with
    ``overwrite=true``, one it can prove and empty). Then store this sweep's record there. Whether this sweep
    made the folder."""
    if sweep_dir.exists() and not sweep_dir.is_dir():
        raise ConfigError(KEY, f"{sweep_dir} is a file, not a folder; give a folder for the sweep")
    created = not sweep_dir.exists()
    if not created:
        check_earlier_sweep(sweep_dir, cfg, act=False)  # before the lock, which writes its owner's name
    lock_folder(sweep_dir, KEY, what="sweep")
    try:
        check_earlier_sweep(sweep_dir, cfg, act=True)
    except ConfigError:
        release_folder(sweep_dir)
        raise
    OmegaConf.save(cfg, sweep_dir / RECORD)
    return created


def withdraw_sweep(sweep_dir: Path, created: bool) -> None:
    """A sweep whose jobs never started (its cluster refused them) leaves nothing: its record and its launcher's
    files go, and its folder too if it made it."""
    for name in (RECORD, ".submitit"):
        path = sweep_dir / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    release_folder(sweep_dir)
    if created and not [p for p in sweep_dir.iterdir() if p.name not in (LOCK_NAME, OWNER_NAME)]:
        shutil.rmtree(sweep_dir)


def check_earlier_sweep(sweep_dir: Path, cfg: DictConfig, act: bool) -> None:
    """Refuse a folder holding anything but a sweep this command continues; with ``overwrite=true`` (and ``act``),
    empty one it can prove is an earlier sweep's."""
    contents = [p for p in sweep_dir.iterdir() if p.name not in (LOCK_NAME, OWNER_NAME)]
    if not contents:
        return
    if (reason := protected(sweep_dir)) is not None:
        raise ConfigError(KEY, f"{sweep_dir} {reason}: nothing was touched; give a new or empty folder")
    if (
        not (sweep_dir / RECORD).is_file()
        and not (sweep_dir / "optuna.db").is_file()
        and not any(p.is_dir() and is_job_of(p, sweep_dir) for p in contents)
    ):
        raise ConfigError(KEY, f"{sweep_dir} holds files but no sweep: nothing was touched; give a new or empty folder")
    search = (sweep_dir / "optuna.db").is_file() and "optuna" in str(cfg.hydra.sweeper.get("_target_", ""))
    if cfg.get("ckpt_path") == "auto" or search:
        check_continues(sweep_dir, cfg)
        return
    if not cfg.get("overwrite"):
        raise ConfigError(
            KEY,
            f"{sweep_dir} holds an earlier sweep; continue it with ckpt_path=auto (its 'Continue the sweep with' "
            "command), give another folder, or add overwrite=true to empty it first",
        )
    empty_sweep_folder(sweep_dir) if act else check_provable(sweep_dir)
