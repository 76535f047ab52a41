"""Where a run's outputs go: room on the disk for them and a tracking store that answers, found before
training (rather than at the first checkpoint, or after minutes of retries), and what a storage error
mid-run says in one line."""

import errno
import os
import shutil
from pathlib import Path
from typing import Any

from src.config.errors import ConfigError

# what the machine's storage refuses mid-run: no space, no quota, no permission, read-only
STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def storage_problem(error: OSError) -> str | None:
    """``no space left on device writing PATH; ...``: an OSError of the storage in one line; None for another."""
    if error.errno not in STORAGE_ERRORS:
        return None
    what = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}.get(
        error.errno, "not allowed to write"
    )
    path = error.filename or "the run's folder"
    return f"{what} writing {path}; free space there or give the run another folder (hydra.run.dir=...)"


LOG_ROOM = 16 * 2**20  # what a run's logs and small files take at most, besides its checkpoints


def check_room_for_outputs(module, output_dir: str | Path) -> None:
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


def check_tracking_server(uri: str, key: str) -> None:
    """A tracking server answers MLflow's REST API: a JSON reply to looking an experiment up by name (found or not)."""
    import json
    import urllib.error
    import urllib.request

    unset = f"leave {key.rsplit('.', 1)[-1]} unset for a local store (mlflow.db)"
    probe = uri.rstrip("/") + "/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default"
    try:
        with urllib.request.urlopen(probe, timeout=5) as reply:
            body = reply.read(65536)
    except urllib.error.HTTPError as error:  # MLflow answers a missing experiment with a JSON error
        body = error.read(65536)
    except (OSError, ValueError) as error:  # refused, unreachable, timed out, or not a URL
        reason = getattr(error, "reason", None) or error
        raise ConfigError(key, f"{uri} does not answer ({reason}); start the tracking server, or {unset}") from None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not {"experiment", "error_code"} & set(answer):
        raise ConfigError(key, f"{uri} answers, but not as an MLflow tracking server; give its address, or {unset}")


def check_tracking_uri(uri: Any, key: str) -> None:
    """An MLflow store that cannot be used, found before training rather than after minutes of retries:
    a server that does not answer within seconds, or answers but not as MLflow's REST API, a local store
    (SQLite file, folder) that cannot be written."""
    import urllib.parse

    if not isinstance(uri, str) or not uri:
        return
    scheme = urllib.parse.urlparse(uri).scheme
    if scheme in ("http", "https"):
        check_tracking_server(uri, key)
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
