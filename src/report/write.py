"""Write ``DIR/report/report.md`` and its figures for a run or a sweep."""

from collections import defaultdict
from pathlib import Path

from src.metric_tags import RESULT_TAGS
from src.report.figures import plot_curves, plot_length_sweep, plot_overlay, validations_to_best
from src.report.model_figures import model_figures, optuna_figures
from src.report.runs import ReportError, Run, find_runs, label, run_title, split_of, varying_keys
from src.report.seeds import seeds_section

COLUMNS = RESULT_TAGS
LENGTH_KEY = "data.input_length"


def number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def best_first(runs: list[Run]) -> list[Run]:
    """By the best value of each run's monitored metric (selected by validation, max or min as it says);
    failed runs and runs without it last."""

    def key(run: Run):
        best = None if run.failed else run.best()
        if best is None:
            return (1, 0.0)
        return (0, -best if run.monitor[1] == "max" else best)

    return sorted(runs, key=key)


def columns(runs: list[Run]) -> list[tuple[str, str, bool]]:
    """The result columns, as (header, tag, best): each monitored metric's best value (what the summary and a
    sweeper get), this project's result tags that some run logged, and what the runs logged in their test
    (whatever the naming: ``test/acc``, ``test_loss``, ``loss/test``); this project's tags when nothing was."""
    logged = {tag.removesuffix("_epoch") for run in runs for tag in run.scalars}
    monitors = [m for m in dict.fromkeys(run.monitor[0] for run in runs) if m is not None and m in logged]
    found = [(f"{m} (best)", m, True) for m in monitors] + [(t, t, False) for t in COLUMNS if t in logged]
    tested = sorted(t for t in logged if split_of(t)[1] == "test" and not split_of(t)[2] and t not in COLUMNS)
    found += [(t, t, False) for t in tested]
    return found or [(t, t, False) for t in COLUMNS]


def results_table(runs: list[Run], keys: list[str]) -> list[str]:
    shown = columns(runs)
    header = [name for name, _, _ in shown]
    lines = ["| job | status | " + " | ".join(header) + " | commit | device |", "|---" * (len(shown) + 4) + "|"]
    for run in best_first(runs):
        values = [
            None if run.failed else (run.best() if run.monitor[0] == tag else None) if best else run.last(tag)
            for _, tag, best in shown
        ]  # a failed run has no result
        cells = [label(run, keys), run.status, *(number(v) for v in values), run.commit, run.device]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return lines


def numpy_vs_torch(runs: list[Run], out: Path) -> list[str]:
    """Final test loss and accuracy by dataset and implementation, and their curves overlaid."""
    by_data: dict[str, dict[str, Run]] = defaultdict(dict)
    for run in runs:
        by_data[run.setting("data")][run.setting("model")] = run
    lines = [
        "## NumPy vs PyTorch MLP",
        "",
        "| dataset | PyTorch test loss | NumPy test loss | PyTorch test acc | NumPy test acc |",
        "|---|---|---|---|---|",
    ]
    for data, models in sorted(by_data.items()):
        torch_run, numpy_run = models.get("mlp"), models.get("mlp_numpy")
        get = lambda run, tag: number(run.last(tag)) if run else ""  # noqa: E731
        lines.append(
            f"| {data} | {get(torch_run, 'test/loss')} | {get(numpy_run, 'test/loss')} | "
            f"{get(torch_run, 'test/acc')} | {get(numpy_run, 'test/acc')} |"
        )
    lines.append("")
    for data, models in sorted(by_data.items()):
        groups = {("PyTorch" if m == "mlp" else "NumPy"): [r] for m, r in sorted(models.items()) if r.scalars}
        figure = plot_overlay(groups, f"{data}: PyTorch vs NumPy MLP", out / f"numpy_vs_torch_{data}.png")
        lines += [f"![{data}]({figure.name})", ""]
    return lines


def report_folder(root: Path) -> Path:
    """``ROOT/report``, refused if it, or anything in it, is a link: the report never writes through one."""
    return own_folder(root / "report")


def own_folder(out: Path) -> Path:
    """``out``, refused if it, or anything in it, is a link: a report never writes through one."""
    links = [p for p in (out, *(out.rglob("*") if out.is_dir() and not out.is_symlink() else ())) if p.is_symlink()]
    if links:
        raise ReportError(f"{links[0]} is a link: the report writes only into a folder of its own; remove the link")
    return out


def write_report(root: Path, repeat: str = "seed") -> Path:
    """Write the report of the run or sweep ``root``; returns the path of report.md. Jobs that differ in
    ``repeat`` (and possibly other keys) are aggregated across it (``src.report.seeds``)."""
    root = Path(root)
    runs = find_runs(root)
    keys = varying_keys(runs)
    out = report_folder(root)
    lines = [
        f"# Report: {root.name}",
        "",
        f"{len(runs)} job(s); {sum(r.has_results for r in runs)} with results. Best first.",
        "",
    ]
    lines += results_table(runs, keys) + [""]
    if repeat in keys:
        lines += seeds_section(runs, keys, columns([r for r in runs if r.has_results] or runs), out, repeat)
    lines += model_figures(runs, out) + optuna_figures(root, out)
    if LENGTH_KEY in keys:
        figure = plot_length_sweep(runs, LENGTH_KEY, [k for k in keys if k != LENGTH_KEY], out / "length_sweep.png")
        lines += ["## Accuracy against input length", "", f"![length sweep]({figure.name})", ""]
        lines += ["| job | validations until best |", "|---|---|"]
        lines += [f"| {label(r, keys)} | {validations_to_best(r)} |" for r in runs if r.scalars] + [""]
    if "optimizer" in keys:
        groups: dict[str, list[Run]] = defaultdict(list)
        for run in runs:
            if run.scalars:
                groups[run.overrides["optimizer"]].append(run)
        figure = plot_overlay(dict(groups), "optimizers compared", out / "optimizers.png")
        lines += ["## Optimizers", "", f"![optimizers]({figure.name})", ""]
    if "model" in keys and {r.setting("model") for r in runs} <= {"mlp", "mlp_numpy"}:
        lines += numpy_vs_torch(runs, out)
    lines += ["## Curves of every run", ""]
    for run in runs:
        if run.scalars:
            name = label(run, keys)
            figure = plot_curves(run, run_title(run), out / "curves" / f"{name.replace('/', '_')}.png")
            lines += [f"### {name}", "", f"![{name}](curves/{figure.name})", ""]
        else:
            lines += [f"### {label(run, keys)}", "", f"{run.status}", ""]
    out.mkdir(parents=True, exist_ok=True)  # a report of runs without curves draws nothing before this
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return out / "report.md"
