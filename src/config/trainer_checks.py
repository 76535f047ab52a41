"""Checks of what the Trainer is given that Lightning only reports once fitting has started (or never):
a number given as text, a validation interval longer than an epoch, a disk without room for the run.
Each raises a ``ConfigError`` naming the key; ``src/build.py`` runs them before anything trains."""

import os
import shutil
import typing
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig

from src.config.errors import ConfigError


def accepts_text(annotation: Any) -> bool:
    """Whether a type annotation admits a string (``str``, a Literal of strings, a Union holding either)."""
    if annotation is str or annotation is Any:
        return True
    if typing.get_origin(annotation) is typing.Literal:
        return any(isinstance(value, str) for value in typing.get_args(annotation))
    return any(accepts_text(arg) for arg in typing.get_args(annotation))


def type_words(annotation: Any) -> str:
    """``Optional[int]`` -> ``an integer or null``: a Trainer argument's declared type, for a message."""
    words = {int: "an integer", float: "a number", bool: "true or false", type(None): "null"}
    found = [words.get(a, getattr(a, "__name__", str(a))) for a in typing.get_args(annotation) or (annotation,)]
    return " or ".join(dict.fromkeys(found))


def is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_trainer_types(trainer: DictConfig) -> None:
    """A number given as text (``trainer.max_epochs='"2"'``): the Trainer takes it, then asserts mid-run.
    Judged by the types the Trainer's own signature declares (other text it refuses itself, in its words)."""
    hints = typing.get_type_hints(pl.Trainer.__init__)
    for key, value in trainer.items():
        if isinstance(value, str) and is_number_text(value) and key in hints and not accepts_text(hints[key]):
            raise ConfigError(
                f"trainer.{key}", f"must be {type_words(hints[key])}, not the text {value!r}; give it without quotes"
            )


def check_validation_fits_epoch(trainer: DictConfig, datamodule) -> None:
    """An integer ``val_check_interval`` counts batches within an epoch (``check_val_every_n_epoch`` set):
    more than an epoch holds, and Lightning refuses it once fitting starts."""
    interval = trainer.get("val_check_interval")
    if not isinstance(interval, int) or isinstance(interval, bool) or trainer.get("check_val_every_n_epoch") is None:
        return
    try:
        batches = len(datamodule.train_dataloader())
    except TypeError:  # a loader without a length: Lightning cannot check it either
        return
    limit = trainer.get("limit_train_batches")
    if isinstance(limit, int) and not isinstance(limit, bool):
        batches = min(batches, limit)
    elif isinstance(limit, float):
        batches = int(batches * limit)
    if interval > batches:
        raise ConfigError(
            "trainer.val_check_interval",
            f"is {interval} batches, more than an epoch of this data holds ({batches}); give at most {batches}, "
            "or trainer.check_val_every_n_epoch=null to count batches across epochs",
        )


LOG_ROOM = 16 * 2**20  # what a run's logs and small files take at most, besides its checkpoints


def check_room_for_outputs(module: pl.LightningModule, output_dir: str | Path) -> None:
    """A disk already (nearly) full: refused before training rather than at the first checkpoint. A
    checkpoint holds the weights and up to two optimizer states for each; a run keeps two (best, last)."""
    weights = sum(p.numel() * p.element_size() for p in module.parameters())
    needed = 2 * 3 * weights + LOG_ROOM
    folder = Path(output_dir).resolve()
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None:
        return
    free = shutil.disk_usage(existing).free
    if free < needed:
        raise ConfigError(
            "hydra.run.dir",
            f"{folder}: {free / 2**20:.1f} MiB free on its disk, and this run's checkpoints and logs need about "
            f"{needed / 2**20:.0f} MiB; free space there or give the run another folder",
            full_key=True,
        )


def check_tracking_uri(uri: Any, key: str) -> None:
    """An MLflow store that cannot be used, found before training rather than after minutes of retries:
    a server that does not answer within seconds, a local store (SQLite file, folder) that cannot be written."""
    import urllib.error
    import urllib.parse
    import urllib.request

    if not isinstance(uri, str) or not uri:
        return
    scheme = urllib.parse.urlparse(uri).scheme
    if scheme in ("http", "https"):
        try:
            urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5).close()
        except urllib.error.HTTPError:  # it answers (with an error for this page): a server is there
            return
        except (OSError, ValueError) as error:  # refused, unreachable, timed out, or not a URL
            reason = getattr(error, "reason", None) or error
            raise ConfigError(
                key,
                f"{uri} does not answer ({reason}); start the tracking server, or leave {key.rsplit('.', 1)[-1]} "
                "unset for a local store (mlflow.db)",
            ) from None
        return
    if scheme == "sqlite":
        from sqlalchemy.engine import make_url

        database = make_url(uri).database
        if not database or database == ":memory:":
            return
        path = Path(database)
    elif scheme in ("", "file"):
        path = Path(urllib.parse.urlparse(uri).path if scheme == "file" else uri)
    else:  # a database server or another store: MLflow reaches it when the run starts
        return
    path = path if path.is_absolute() else Path.cwd() / path
    existing = next(p for p in (path, *path.parents) if p.exists())
    folder = existing.parent if existing == path and not existing.is_dir() else existing
    writable = folder.is_dir() and os.access(folder, os.W_OK | os.X_OK) and os.access(existing, os.W_OK)
    if not writable:
        what = "is not a folder" if not folder.is_dir() else "is not writable"
        raise ConfigError(
            key, f"{uri}: {folder if not folder.is_dir() else existing} {what}; give a store this run can write"
        )
