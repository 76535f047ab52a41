"""Checkpoints written so that a killed process never leaves a torn one (``trainer.plugins``)."""

import os
from pathlib import Path
from typing import Any

import torch
from typing_extensions import override

from src.lightning_package import pl


class AtomicCheckpointIO(pl.plugins.io.TorchCheckpointIO):
    """Writes each checkpoint to a temporary file beside it, then renames it into place.

    A process killed during a save (``kill -9``, a node lost) leaves the previous checkpoint
    whole: ``os.replace`` within one folder is atomic. Lightning's own save goes through an
    fsspec transaction whose temporary file lives in the system temp folder, and a move across
    filesystems is a copy that can be cut short. A write the disk refuses (full, quota, read-only)
    raises the OSError naming the checkpoint, as any other write would (torch wraps it in a
    RuntimeError).
    """

    @override
    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
        try:
            with open(partial, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, path)
        except RuntimeError as error:  # torch's writer reports a failed write as RuntimeError; the OSError is behind it
            cause = error.__cause__ or error.__context__
            if isinstance(cause, OSError):
                raise OSError(cause.errno, cause.strerror, str(path)) from None
            raise
        finally:
            partial.unlink(missing_ok=True)
