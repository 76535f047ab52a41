"""What produced a run: the code (git commit, dirty tree and its diff), the command, the libraries, the device.

Written as ``provenance.json`` into the run's folder when fitting starts, and again with the end
time when the run ends; the same facts go into the run's hyperparameters (``provenance.*``) and
the report's rows. Torch-free apart from the device, which a caller passes in. A run started
outside a git checkout (or without git) says so instead of failing.
"""

import json
import platform
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

PROVENANCE_FILE = "provenance.json"
CODE_DIR = Path(__file__).resolve().parents[2]  # the checkout train.py runs from
LIBRARIES = ("torch", "pytorch-lightning", "hydra-core", "omegaconf", "torchmetrics", "optuna")
MAX_DIFF_CHARS = 20_000  # a larger diff is summarised by its size: a provenance file stays small


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(CODE_DIR), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):  # no git on this machine
        return None
    return done.stdout if done.returncode == 0 else None


def git_state() -> dict[str, Any]:
    """The checkout's commit, whether its tree differs from it, and the difference if it is small.

    Only a repository whose top folder is this project's own (``CODE_DIR``) counts: a copy of the
    project without ``.git`` that lies inside another repository records no commit, not that one's.
    """
    top = _git("rev-parse", "--show-toplevel")
    if top is None or Path(top.strip()).resolve() != CODE_DIR:
        return {"commit": None, "note": "not run from a git checkout of this project (or git is not installed)"}
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "note": "a git checkout without a commit"}
    status = _git("status", "--porcelain", "--untracked-files=no") or ""
    state: dict[str, Any] = {"commit": commit.strip(), "dirty": bool(status.strip())}
    if state["dirty"]:
        diff = _git("diff", "HEAD") or ""
        state["diff"] = diff if len(diff) <= MAX_DIFF_CHARS else f"({len(diff):,} characters of diff, not kept)"
    return state


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def cpu_name() -> str:
    """The CPU's model name where the platform says it, else its architecture."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def provenance(device: dict[str, Any], started: str, ended: str | None = None) -> dict[str, Any]:
    return {
        "git": git_state(),
        "command": shlex.join(["python", Path(sys.argv[0]).name, *sys.argv[1:]]),
        "versions": versions(),
        "device": device,
        "platform": platform.platform(),
        "started": started,
        "ended": ended,
    }


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def write_provenance(run_dir: str | Path, record: dict[str, Any]) -> Path:
    path = Path(run_dir) / PROVENANCE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def read_provenance(run_dir: str | Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(run_dir) / PROVENANCE_FILE).read_text())
    except (OSError, ValueError):
        return None


def summary(record: dict[str, Any] | None) -> tuple[str, str]:
    """(commit, device) for a report row: ``1a2b3c4d+`` (``+``: uncommitted changes), ``CPU: name``."""
    if not record:
        return "", ""
    git = record.get("git") or {}
    commit = (git.get("commit") or "no git")[:8] + ("+" if git.get("dirty") else "")
    device = record.get("device") or {}
    return commit, str(device.get("name", ""))


def hparams_of(record: dict[str, Any]) -> dict[str, Any]:
    """The facts worth a column beside the hyperparameters (``provenance.git_commit``, ...; not the diff)."""
    git = record.get("git") or {}
    return {
        "git_commit": git.get("commit") or "none",
        "git_dirty": bool(git.get("dirty")),
        "command": record.get("command", ""),
        "device": (record.get("device") or {}).get("name", ""),
        "versions": dict(record.get("versions", {})),
    }
