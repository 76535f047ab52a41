"""Figures of what a trained network does, from the data its run saved (nothing is rebuilt or re-trained).

- toy 2-D data: the decision boundary over the test points, one panel per run (per dataset and
  implementation in ``experiment=mlp_numpy_vs_torch``), from ``decision_boundary.npz``;
- image data: the test confusion matrix (torchmetrics, counted during the run's own final test into
  ``test_confusion.json``) and each class's accuracy;
- an Optuna search: its optimisation history and parameter importances (Optuna's own figures).

Each run computed its own figures' data when it ended (``src.records.boundary``, ``src.records.confusion``):
the report never imports a class a run folder names, or opens a checkpoint.
"""

import importlib.util
import shlex
import textwrap
import warnings
from pathlib import Path

import numpy as np

from src.records.boundary import agreement, read_boundary
from src.records.confusion import read_confusion
from src.report.figures import plt, save
from src.report.runs import Run, run_title


def draw_boundary(ax, saved: dict[str, np.ndarray], title: str) -> float:
    """One panel: predicted regions, test points coloured by label; returns the boundary's ``agreement``."""
    xs, ys, classes, points, labels = (saved[k] for k in ("xs", "ys", "classes", "points", "labels"))
    ax.contourf(xs, ys, classes, levels=np.arange(classes.max() + 2) - 0.5, cmap="coolwarm", alpha=0.35)
    ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="coolwarm", s=6, edgecolors="none")
    share = agreement(xs, ys, classes, points, labels)
    ax.set_title(f"{title}\n{share:.0%} of test points on their side", fontsize=8)
    return share


def plot_boundaries(panels: dict[str, dict[str, np.ndarray]], path: Path) -> tuple[Path, dict[str, float]]:
    """Decision boundaries side by side (rows: data sets, columns: models when several); their agreements."""
    rows = sorted({name.split(" | ")[0] for name in panels})
    cols = sorted({name.split(" | ")[-1] for name in panels})
    figure, axes = plt.subplots(len(rows), len(cols), figsize=(3.6 * len(cols), 3.2 * len(rows)), squeeze=False)
    agreements = {}
    for name, saved in panels.items():
        row, col = rows.index(name.split(" | ")[0]), cols.index(name.split(" | ")[-1])
        agreements[name] = draw_boundary(axes[row][col], saved, name)
    for ax in axes.flat:
        if not ax.has_data():
            ax.set_visible(False)
    return save(figure, path), agreements


def plot_confusion(matrix: np.ndarray, class_names: list[str], title: str, path: Path) -> Path:
    """The confusion matrix beside each class's test accuracy."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [1.2, 1]})
    shares = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    left.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    left.set(xlabel="predicted", ylabel="true", xticks=range(len(class_names)), yticks=range(len(class_names)))
    left.set_xticklabels(class_names, rotation=90, fontsize=7)
    left.set_yticklabels(class_names, fontsize=7)
    right.barh(range(len(class_names)), np.diag(shares), color="tab:blue")
    right.set(xlim=(0, 1), xlabel="test accuracy", yticks=range(len(class_names)))
    right.set_yticklabels(class_names, fontsize=7)
    right.invert_yaxis()
    figure.suptitle(textwrap.fill(title, 110), fontsize=8)
    return save(figure, path)


def model_figures(runs: list[Run], out: Path) -> list[str]:
    """The report's section of boundary and confusion figures, for the runs whose data allow them."""
    lines, panels = [], {}
    for run in runs:
        if not run.has_results:
            continue
        try:
            if (counted := read_confusion(run.path)) is not None:  # an image run, counted during its own test
                matrix, names = counted
                figure = plot_confusion(np.array(matrix), names, run_title(run), out / f"confusion_{run.path.name}.png")
                lines += [f"### Test confusion matrix: {run.path.name}", "", f"![confusion]({figure.name})", ""]
            elif (saved := read_boundary(run.path)) is not None:  # points in a plane
                panels[f"{run.setting('data') or run.path.name} | {run.setting('model') or 'model'}"] = saved
        except Exception as error:  # noqa: BLE001 - one run's figure must not stop the report
            lines += [f"(no figure of {run.path.name}: {type(error).__name__}: {str(error).splitlines()[:1]})", ""]
    if panels:
        figure, _ = plot_boundaries(panels, out / "boundaries.png")
        lines = ["### Decision boundaries", "", f"![decision boundaries]({figure.name})", ""] + lines
    return (["## What the networks learned", ""] + lines) if lines else []


def plot_importances(study):
    """Optuna's parameter importances as bars. Optuna 2.x (what Hydra's sweeper allows) draws them with a
    matplotlib function removed in 3.9, and its default evaluator (fANOVA) fails beside NumPy 2; its
    mean-decrease-in-impurity evaluator works, so Optuna computes and this draws."""
    import optuna

    evaluator = optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=0)
    importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
    _, ax = plt.subplots(figsize=(6, 0.5 + 0.35 * len(importances)))
    ax.barh(list(importances)[::-1], list(importances.values())[::-1], color="tab:blue")
    ax.set(xlabel="importance for the objective (mean decrease in impurity)", title="Parameter importances")
    return ax


def optuna_storage(path: Path) -> str:
    """A read-only SQLAlchemy URL of an Optuna study database, after checking (read-only) that it is one; a
    ``ValueError`` saying what it is otherwise. The report never writes into a file it reads."""
    import sqlite3

    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise ValueError(f"not an SQLite database ({error})") from None
    if not {"studies", "trials", "version_info"} <= tables:
        raise ValueError("an SQLite database without an Optuna study in it")
    return f"sqlite:///file:{path.resolve().as_posix()}?mode=ro&uri=true"


def dashboard_command(database: Path) -> str:
    """The command that opens a search's stored study in optuna-dashboard (docs/scaling.md)."""
    return shlex.join(["optuna-dashboard", "sqlite:///" + database.resolve().as_posix()])


def dashboard_line(database: Path) -> str:
    """The report's line naming the dashboard command, and how to install the dashboard where it is missing."""
    line = f"Every trial, live or finished, in optuna-dashboard: `{dashboard_command(database)}`"
    if importlib.util.find_spec("optuna_dashboard") is None:
        line += " (it needs Optuna 3.6 or newer: `make install LINE=hydra-1.4` installs both)"
    return line


def optuna_figures(root: Path, out: Path) -> list[str]:
    """Optuna's optimisation history and parameter importances of the study stored in the sweep folder."""
    if not (root / "optuna.db").exists():
        return []
    import optuna
    from optuna.visualization import matplotlib as optuna_plots

    lines = ["## The search", ""]
    try:
        storage = optuna_storage(root / "optuna.db")
    except ValueError as error:
        return [*lines, f"(no search figures: {root / 'optuna.db'} is {error})", ""]
    lines += [dashboard_line(root / "optuna.db"), ""]
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # loading a study is no news
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # Optuna's plots are "experimental"
            for summary in optuna.study.get_all_study_summaries(storage):
                study = optuna.load_study(study_name=summary.study_name, storage=storage)
                for name, draw in {
                    "history": optuna_plots.plot_optimization_history,
                    "importances": plot_importances,
                }.items():
                    try:
                        path = save(draw(study).figure, out / f"optuna_{name}.png")
                        lines += [f"![{name}]({path.name})", ""]
                    except Exception as error:  # noqa: BLE001 - e.g. importances need two finished trials
                        lines += [f"(no {name} figure: {str(error).splitlines()[:1]})", ""]
    except Exception as error:  # noqa: BLE001 - a study Optuna cannot read (another version's schema)
        lines += [f"(no search figures: Optuna cannot read {root / 'optuna.db'}: {str(error).splitlines()[:1]})", ""]
    finally:
        optuna.logging.set_verbosity(verbosity)
    return lines
