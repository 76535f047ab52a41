"""Matplotlib figures of runs: curves, overlays, the length sweep, a dataset's scatter plot."""

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from src.report.runs import Run, label

PANELS = (("loss", "loss"), ("acc", "accuracy"))


def legend_outside(ax, **kwargs) -> None:
    """The legend below the axes, where it cannot hide a line."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, fontsize=7, frameon=False, **kwargs)


def save(figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


SPLIT_STYLES = {"train": ("-", "tab:blue"), "val": ("--", "tab:orange"), "": ("-", "tab:green")}


def plot_curves(run: Run, title: str, path: Path) -> Path:
    """Every metric the run logged against step, one panel each, a line per split (the training batches'
    values faint), whatever the metrics' names; the test result marked at the end."""
    curves = run.curves()
    columns = min(3, max(1, len(curves)))
    rows = -(-max(1, len(curves)) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 3.6 * rows), squeeze=False)
    for ax, (metric, tags) in zip(axes.flat, sorted(curves.items())):
        for (split, step), tag in sorted(tags.items()):
            steps, values = run.series(tag)
            if split == "test":
                ax.plot(steps, values, "r*", markersize=12, label=f"test {values[-1]:.3f}")
                continue
            style, colour = SPLIT_STYLES.get(split, SPLIT_STYLES[""])
            if step:
                ax.plot(steps, values, "-", color=colour, alpha=0.35, linewidth=1, label=f"{split or metric} (batch)")
            else:
                ax.plot(steps, values, style, color=colour, marker=".", label=split or metric)
        ax.set(xlabel="step", ylabel=metric)
        legend_outside(ax)
    for ax in list(axes.flat)[len(curves) :]:
        ax.set_visible(False)
    figure.suptitle(title, fontsize=9)
    return save(figure, path)


def plot_overlay(groups: dict[str, list[Run]], title: str, path: Path) -> Path:
    """Curves of several runs overlaid, one colour per group (an optimizer, an implementation)."""
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (colour, (name, runs)) in enumerate(zip(colours * 4, groups.items())):
        width = 3.0 if index == 0 and len(groups) > 1 else 1.3  # the first stays visible under equal curves
        for run in runs:
            for ax, (metric, axis_name) in zip(axes, PANELS):
                for split, style in (("train", "-"), ("val", "--")):
                    steps, values = run.series(f"{split}/{metric}")
                    ax.plot(steps, values, style, color=colour, linewidth=width, label=f"{name} {split}", alpha=0.8)
                ax.set(xlabel="step", ylabel=axis_name)
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        legend_outside(ax, handles=list(unique.values()), labels=list(unique.keys()))
    figure.suptitle(title, fontsize=9)
    return save(figure, path)


def plot_mean_band(groups: dict[str, list[Run]], tag: str, title: str, path: Path) -> Path:
    """One metric per group of seeds: the mean at each step every run of the group logged, and a band of one
    standard deviation either side (none for a group of one seed)."""
    import numpy as np

    figure, ax = plt.subplots(figsize=(6.5, 3.2))
    for name, runs in groups.items():
        series = [dict(run.points(tag)) for run in runs]
        steps = sorted(set.intersection(*(set(s) for s in series))) if series else []
        if not steps:
            continue
        values = np.array([[s[step] for step in steps] for s in series])
        mean = values.mean(axis=0)
        (line,) = ax.plot(steps, mean, label=f"{name} (n={len(runs)})")
        if len(runs) > 1:
            spread = values.std(axis=0, ddof=1)
            ax.fill_between(steps, mean - spread, mean + spread, color=line.get_color(), alpha=0.2)
    ax.set(xlabel="step", ylabel=tag)
    legend_outside(ax)
    figure.suptitle(title, fontsize=9)
    return save(figure, path)


def plot_compared(runs: list[Run], names: list[str], metric: str, path: Path) -> Path | None:
    """One metric of several runs overlaid, a colour per run, a line style per split; None if none logged it."""
    figure, ax = plt.subplots(figsize=(6.5, 3.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    drawn = False
    for colour, name, run in zip(colours * 4, names, runs):
        for (split, per_step), tag in sorted(run.curves().get(metric, {}).items()):
            if per_step and (split or "", False) in run.curves().get(metric, {}):
                continue  # the per-epoch series of the same split says it more plainly
            steps, values = run.series(tag)
            if steps:
                style = {"train": "-", "val": "--", "test": "o"}.get(split, "-.")
                ax.plot(steps, values, style, color=colour, label=f"{name} {split or tag}".strip(), alpha=0.85)
                drawn = True
    if not drawn:
        plt.close(figure)
        return None
    ax.set(xlabel="step", ylabel=metric)
    legend_outside(ax)
    return save(figure, path)


def validations_to_best(run: Run) -> int | None:
    """How many validations it took to reach the best validation accuracy."""
    _, values = run.series("val/acc")
    return values.index(max(values)) + 1 if values else None


def plot_length_sweep(runs: list[Run], length_key: str, line_keys: list[str], path: Path) -> Path:
    """Final validation and test accuracy, and validations until the best, against input length."""
    lines: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        lines[label(run, line_keys) if line_keys else "runs"].append(run)
    figure, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    for index, (name, members) in enumerate(sorted(lines.items())):
        members = sorted((r for r in members if r.scalars), key=lambda r: int(r.overrides[length_key]))
        lengths = [int(r.overrides[length_key]) for r in members]
        # each line's markers a size smaller than the last one's: lines that coincide stay visible
        style = dict(marker="sodv^<>"[index % 7], markersize=max(3, 8 - 1.5 * index), label=name)
        for ax, metric in zip(axes, ("val/acc_best", "test/acc")):
            ax.plot(lengths, [r.last(metric) for r in members], "-", **style)
        axes[2].plot(lengths, [validations_to_best(r) for r in members], "-", **style)
    all_lengths = [int(r.overrides[length_key]) for r in runs if r.scalars]
    wide = bool(all_lengths) and max(all_lengths) >= 20 * min(all_lengths)  # e.g. 20..1000: a log axis
    for ax, ylabel in zip(axes, ("best validation accuracy", "test accuracy", "validations until best")):
        ax.set(xlabel="input length", ylabel=ylabel)
        if wide:
            ax.set_xscale("log")
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # lengths are whole numbers
        legend_outside(ax)
    for ax in axes[:2]:  # accuracies on their whole scale: a 0.02% dip is not drawn as a cliff
        ax.set_ylim(0, 1.02)
    return save(figure, path)


def plot_dataset(name: str, splits: dict, path: Path) -> Path:
    """Scatter plot of a 2-D (or first two features of an N-D) dataset: train and test, by class."""
    figure, ax = plt.subplots(figsize=(5, 4.5))
    for split, marker, alpha in (("train", "o", 0.5), ("test", "x", 0.9)):
        x, y = splits[split]
        for cls, colour in zip(sorted(set(y.tolist())), ("tab:blue", "tab:orange", "tab:green", "tab:red")):
            mask = y == cls
            ax.scatter(x[mask, 0], x[mask, 1], s=12, marker=marker, c=colour, alpha=alpha, label=f"{split} class {cls}")
    ax.set(title=f"{name}: train (o) and test (x)", xlabel="feature 0", ylabel="feature 1")
    legend_outside(ax)
    return save(figure, path)
