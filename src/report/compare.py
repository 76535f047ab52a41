"""``python -m src.report compare RUN_A RUN_B [...]``: what differs between runs, side by side, on one page.

Any run folder (a single run, a job of a sweep, a run of a user's own module): only the settings that
differ (its config as recorded in ``.hydra/config.yaml``, and what produced it: the commit, the
uncommitted diff, the library versions, the device), its final and best metrics, and its curves
overlaid. Data files only: nothing is built, imported or resolved from a run folder.
"""

from pathlib import Path
from typing import Any

from src.records.provenance import read_provenance
from src.records.settings import flatten
from src.report.runs import ReportError, Run, plain_yaml, read_run


def settings_of(run: Run) -> dict[str, str]:
    """A run's recorded config and provenance as flat ``key: text`` (interpolations kept as text)."""
    config = run.path / ".hydra" / "config.yaml"
    tree: dict[str, Any] = plain_yaml(config) if config.is_file() else {}
    found = {key: str(value) for key, value in flatten(tree or {}).items() if not key.startswith("paths.")}
    record = read_provenance(run.path) or {}
    git = record.get("git") or {}
    found["provenance.commit"] = str(git.get("commit") or "none")
    found["provenance.uncommitted diff"] = "none" if not git.get("dirty") else f"{len(str(git.get('diff', '')))} chars"
    for library, version in (record.get("versions") or {}).items():
        found[f"provenance.{library}"] = str(version)
    found["provenance.device"] = str((record.get("device") or {}).get("name", ""))
    return found


def differing(settings: list[dict[str, str]]) -> list[str]:
    keys = sorted({k for s in settings for k in s})
    return [k for k in keys if len({s.get(k, "(unset)") for s in settings}) > 1]


def metric_tags(runs: list[Run]) -> list[str]:
    """Every tag logged per epoch or once (not the per-step series), in name order."""
    tags = {tag.removesuffix("_epoch") for run in runs for tag in run.scalars if not tag.endswith("_step")}
    return sorted(tags)


def cell(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def write_comparison(folders: list[Path], out: Path) -> Path:
    """Write ``out/report.md`` and its figures for the runs in ``folders``; returns the page's path."""
    from src.report.figures import plot_compared
    from src.report.write import own_folder

    if len(folders) < 2:
        raise ReportError("compare: give two run folders or more")
    for folder in folders:
        if not (Path(folder) / ".hydra" / "config.yaml").is_file() and not any(Path(folder).glob("events.out.*")):
            raise ReportError(f"compare: {folder} is not a run folder (no .hydra/config.yaml, no event file)")
    runs = [read_run(Path(folder)) for folder in folders]
    names = [f"{chr(ord('A') + i)}" if i < 26 else str(i) for i in range(len(runs))]
    settings = [settings_of(run) for run in runs]
    keys = differing(settings)
    lines = ["# Comparison", "", "| run | folder | status |", "|---|---|---|"]
    lines += [f"| {name} | {run.path} | {run.status} |" for name, run in zip(names, runs)] + [""]
    lines += ["## Settings that differ", ""]
    if keys:
        lines += ["| setting | " + " | ".join(names) + " |", "|---" * (len(runs) + 1) + "|"]
        lines += [
            f"| {k} | " + " | ".join(s.get(k, "(unset)").replace("|", "/") for s in settings) + " |" for k in keys
        ]
    else:
        lines.append("None: the same config, commit, libraries and device.")
    lines += ["", "## Metrics", "", "| metric | " + " | ".join(names) + " |", "|---" * (len(runs) + 1) + "|"]
    monitors = {run.monitor[0] for run in runs if run.monitor[0] is not None}
    for monitor in sorted(monitors):
        best = [cell(r.best() if r.monitor[0] == monitor else None) for r in runs]
        lines.append(f"| {monitor} (best) | " + " | ".join(best) + " |")
    for tag in metric_tags(runs):
        lines.append(f"| {tag} (final) | " + " | ".join(cell(run.last(tag)) for run in runs) + " |")
    out = own_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    lines += ["", "## Curves", ""]
    for metric in sorted({m for run in runs for m in run.curves()}):
        figure = plot_compared(runs, names, metric, out / f"{metric.replace('/', '_')}.png")
        if figure is not None:
            lines += [f"![{metric}]({figure.name})", ""]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return out / "report.md"
