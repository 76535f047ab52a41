"""Read what a run or a sweep left behind: each job's overrides, config, status and scalars."""

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

from src.records.provenance import read_provenance, summary
from src.records.status import COMPLETED_MARKER, FAILED_MARKER, INTERRUPTED_MARKER, stopped_early

DEFAULT_MONITOR = ("val/acc", "max")  # what runs written before monitor: existed were judged by
MODES = ("max", "min")
logging.getLogger("tensorboard").setLevel(logging.WARNING)  # its reader logs every file it skips


class ReportError(Exception):
    """A folder that cannot be reported on; the message is one line for the user."""


@dataclass
class Run:
    """One job: where it is, how it was configured, and every scalar it logged as (step, value)."""

    path: Path
    overrides: dict[str, str]
    choices: dict[str, str]
    scalars: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    error: str | None = None
    interrupted: str | None = None
    stopped_early: str | None = None  # completed, but stopped before its end: pruned by Optuna, or out of max_time
    completed: bool = False
    commit: str = ""  # from provenance.json: the git commit (``+``: with uncommitted changes)
    device: str = ""
    monitor: tuple[str | None, str] = DEFAULT_MONITOR  # (metric, max|min): what decides, from the run's config

    @property
    def status(self) -> str:
        if self.error is not None:
            return f"FAILED: {self.error}"
        if self.interrupted is not None:
            return f"INTERRUPTED: {self.interrupted}"
        if not self.completed:  # killed before it could say, or still running: its last values are no result
            return "NOT FINISHED: no status file (killed, or still running)"
        if not self.scalars:
            return "no events"
        return f"ok, {self.stopped_early}" if self.stopped_early else "ok"

    @property
    def has_results(self) -> bool:
        """Completed with logged metrics (an Optuna-pruned trial too: it stopped early, its figures are real)."""
        return self.error is None and self.interrupted is None and self.completed and bool(self.scalars)

    @property
    def failed(self) -> bool:
        return self.error is not None

    def points(self, tag: str) -> list[tuple[int, float]]:
        """A tag's points; a metric logged per step and per epoch is read from its ``_epoch`` series."""
        return self.scalars.get(tag) or self.scalars.get(f"{tag}_epoch") or []

    def last(self, tag: str) -> float | None:
        points = self.points(tag)
        return points[-1][1] if points else None

    def best(self) -> float | None:
        """The best value of the monitored metric over the run (max or min, as its config says); None without one."""
        if self.monitor[0] is None:
            return None
        values = [v for _, v in self.points(self.monitor[0]) if v == v]  # NaN is no result
        if not values:
            return None
        return max(values) if self.monitor[1] == "max" else min(values)

    def curves(self) -> dict[str, dict[tuple[str, bool], str]]:
        """Every logged scalar by metric and (split, per step): ``{"loss": {("val", False): "val_loss", ...}}``."""
        found: dict[str, dict[tuple[str, bool], str]] = {}
        for tag in sorted(self.scalars):
            metric, split, step = split_of(tag)
            if tag.endswith("_epoch") and tag.removesuffix("_epoch") in self.scalars:
                continue
            found.setdefault(metric, {})[(split, step)] = tag
        return found

    def series(self, tag: str) -> tuple[list[int], list[float]]:
        points = self.points(tag)
        return [s for s, _ in points], [v for _, v in points]

    def setting(self, key: str) -> str | None:
        """A key's value as overridden, else the config group choice (``model`` -> ``mlp``)."""
        return self.overrides.get(key, self.choices.get(key))


SPLITS = ("train", "val", "test")


def split_of(tag: str) -> tuple[str, str, bool]:
    """(metric, split, per step) of a logged tag, whatever its naming: ``val/loss``, ``val_loss``, ``loss/val``,
    ``train/loss_step`` -> (``loss``, ``val``|``train``, ...); a tag without a split is its own metric (split '')."""
    step = tag.endswith("_step")
    name = tag.removesuffix("_step").removesuffix("_epoch")
    words = re.split(r"([/_])", name)
    for index in range(0, len(words), 2):
        if words[index] in SPLITS:
            rest = words[: max(index - 1, 0)] + words[index + 2 :] if index else words[2:]
            return "".join(rest).strip("/_") or name, words[index], step
    return name, "", step


def plain_yaml(path: Path):
    """A YAML file of a run folder as plain values: an interpolation in it (``${oc.env:...}``) stays text."""
    return OmegaConf.to_container(OmegaConf.load(path), resolve=False)


def read_scalars(path: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar the run's TensorBoard event files hold, per tag, in the order the files were written.

    TensorBoard's own folder reader goes through files in name order, and a name ends in a counter
    of the process (``...99`` sorts after ``...100``): a resumed run's or a test phase's file can be
    read first. So each file is read alone, ordered by the time of its first event.
    """
    files = []
    for file in path.glob("events.out.tfevents.*"):
        events = EventAccumulator(str(file), size_guidance={SCALARS: 0})
        events.Reload()
        series = {tag: events.Scalars(tag) for tag in events.Tags()[SCALARS]}
        try:
            first = events.FirstEventTimestamp()  # the file's own first record: when it was created
        except ValueError:  # an empty file
            first = file.stat().st_mtime
        files.append((first, file.name, series))
    scalars: dict[str, list[tuple[int, float]]] = {}
    for _, _, series in sorted(files, key=lambda item: item[:2]):
        for tag, points in series.items():
            scalars.setdefault(tag, []).extend((e.step, e.value) for e in points)
    return scalars


def read_run(path: Path) -> Run:
    """A run folder as far as it can be read: an unreadable part makes the run FAILED, never an error."""
    run = Run(path, {}, {})
    try:
        overrides = plain_yaml(path / ".hydra" / "overrides.yaml")
        run.overrides = dict(str(o).split("=", 1) for o in overrides or [] if "=" in str(o))
        config = path / ".hydra" / "config.yaml"
        if config.exists():
            monitor = (plain_yaml(config) or {}).get("monitor")
            metric = monitor.get("metric") if isinstance(monitor, dict) else ""
            if (metric is None or isinstance(metric, str)) and monitor.get("mode") in MODES:  # null: none decides
                run.monitor = (metric, monitor["mode"])
        hydra = path / ".hydra" / "hydra.yaml"
        if hydra.exists():
            choices = plain_yaml(hydra)["hydra"]["runtime"]["choices"]
            run.choices = {str(k): str(v) for k, v in choices.items()}
        if (path / FAILED_MARKER).exists():
            run.error = (path / FAILED_MARKER).read_text().strip() or "failed"
        if (path / INTERRUPTED_MARKER).exists():
            run.interrupted = ((path / INTERRUPTED_MARKER).read_text().strip().splitlines() or ["interrupted"])[0]
        run.completed = (path / COMPLETED_MARKER).exists()
        if (early := stopped_early(path)) is not None:
            run.stopped_early = early[1]
        run.commit, run.device = summary(read_provenance(path))
        if any(path.glob("events.out.tfevents.*")):
            run.scalars = read_scalars(path)
    except Exception as error:  # noqa: BLE001 - one broken run must not stop the report of the others
        run.error = f"unreadable run folder: {type(error).__name__}: {str(error).strip().splitlines()[:1]}"
    return run


def find_runs(root: Path) -> list[Run]:
    """The run ``root`` is, or the jobs of the sweep ``root`` is, in name order."""
    root = Path(root)
    if not root.is_dir():
        raise ReportError(f"{root}: no such folder; give a run (outputs/...) or a sweep (multirun/<date>/<time>)")
    if (root / ".hydra" / "overrides.yaml").exists():
        return [read_run(root)]
    jobs = sorted(p.parents[1] for p in root.glob("*/.hydra/overrides.yaml"))
    if not jobs:
        raise ReportError(f"{root}: not a run or sweep folder (no .hydra/ in it or in its subfolders)")
    return [read_run(job) for job in jobs]


def varying_keys(runs: list[Run]) -> list[str]:
    """Override keys whose value is not the same in every job (the sweep's axes)."""
    keys = sorted({k for run in runs for k in run.overrides})
    return [k for k in keys if len({run.overrides.get(k) for run in runs}) > 1]


def label(run: Run, keys: list[str]) -> str:
    return ",".join(f"{k}={run.overrides.get(k)}" for k in keys) or run.path.name


def run_title(run: Run) -> str:
    """What distinguishes a run, for a figure's title: its choices and overrides, not its folder's time stamp."""
    choices = [f"{group}={run.choices[group]}" for group in ("model", "data", "optimizer") if run.choices.get(group)]
    overrides = [f"{k}={v}" for k, v in sorted(run.overrides.items()) if k not in ("model", "data", "optimizer")]
    return " ".join(choices + overrides) or run.path.name
