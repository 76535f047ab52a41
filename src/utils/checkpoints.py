"""Find the checkpoint a run resumes from."""

from pathlib import Path

from src.utils.validation import ConfigError

RUN_ROOTS = ("outputs", "multirun")


def latest_checkpoint(root_dir: str | Path, exclude: str | Path | None = None) -> Path:
    """The newest ``checkpoints/last.ckpt`` under ``outputs/`` and ``multirun/`` of ``root_dir``."""
    found = [
        path
        for run_root in RUN_ROOTS
        for path in (Path(root_dir) / run_root).glob("**/checkpoints/last.ckpt")
        if exclude is None or Path(exclude) not in path.parents
    ]
    if not found:
        raise ConfigError(
            "ckpt_path",
            f"is 'latest' but there is no checkpoints/last.ckpt under {', '.join(RUN_ROOTS)}/ in {root_dir}",
        )
    return max(found, key=lambda path: path.stat().st_mtime)


def resolve_ckpt_path(ckpt_path: str | None, root_dir: str | Path, output_dir: str | Path) -> str | None:
    """``None``, an existing file, or ``latest`` -> the checkpoint to resume from (or None)."""
    if ckpt_path is None:
        return None
    if str(ckpt_path) == "latest":
        return str(latest_checkpoint(root_dir, exclude=output_dir))
    if not Path(ckpt_path).is_file():
        raise ConfigError("ckpt_path", f"{ckpt_path} is not a file; give a checkpoint path or 'latest'")
    return str(ckpt_path)


def run_dir_of(ckpt_path: str | Path) -> Path | None:
    """The run folder a checkpoint was written by (``RUN/checkpoints/x.ckpt`` -> ``RUN``), if any."""
    parent = Path(ckpt_path).resolve().parent
    return parent.parent if parent.name == "checkpoints" else None
