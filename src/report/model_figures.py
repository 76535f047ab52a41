"""Figures of what a trained network does, from its saved checkpoint and its data (nothing is re-trained).

- toy 2-D data: the decision boundary over the data, one panel per run (per dataset and
  implementation in ``experiment=mlp_numpy_vs_torch``);
- image data: the test confusion matrix (torchmetrics, counted during the run's own final test into
  ``test_confusion.json``) and each class's accuracy;
- an Optuna search: its optimisation history and parameter importances (Optuna's own figures).

The network is rebuilt from the settings its checkpoint carries and loaded weights-only and
strictly; a run whose figure cannot be drawn gets one line in the report saying why.
"""

import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from src.report.figures import plt, save
from src.report.runs import Run, run_title
from src.run.confusion import read_confusion

GRID = 200  # decision-boundary grid points per axis


def load_trained(run_path: Path) -> tuple[torch.nn.Module, Any]:
    """The run's best network (in eval mode) and its datamodule, set up, both rebuilt from the checkpoint."""
    from src.evaluate import run_checkpoint, saved_settings

    ckpt = run_checkpoint(run_path)
    return rebuild(ckpt, saved_settings(ckpt))


def rebuild(ckpt: Path, tree: dict[str, Any]) -> tuple[torch.nn.Module, Any]:
    """Network and datamodule from the settings ``tree`` a checkpoint carries, with its weights (strictly)."""
    from hydra.utils import instantiate

    from src.run.resume import check_weights_fit

    datamodule = instantiate(tree["data"])
    datamodule.setup()
    optimizer = instantiate(tree["optimizer"])  # a partial, never called: the NumPy MLP's module reads its lr
    module = instantiate(tree["module"], net=instantiate(tree["model"]), optimizer=optimizer)
    check_weights_fit(module, ckpt)  # weights-only and strict, as eval.py loads them
    return module.eval(), datamodule


@torch.no_grad()
def predicted(module: torch.nn.Module, inputs: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    return torch.cat([module(inputs[i : i + batch_size]).argmax(-1) for i in range(0, len(inputs), batch_size)])


def boundary(module: torch.nn.Module, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The classes the network predicts on a grid around ``points``: (xs, ys, classes[GRID, GRID])."""
    low, high = points.min(0) - 0.5, points.max(0) + 0.5
    xs, ys = np.linspace(low[0], high[0], GRID), np.linspace(low[1], high[1], GRID)
    grid = torch.tensor(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), dtype=torch.float32)
    return xs, ys, predicted(module, grid).reshape(GRID, GRID).numpy()


def boundary_agreement(xs: np.ndarray, ys: np.ndarray, classes: np.ndarray, points: np.ndarray, labels) -> float:
    """The share of data points whose nearest grid point is predicted as their own label."""
    col = np.abs(xs[None, :] - points[:, :1]).argmin(1)
    row = np.abs(ys[None, :] - points[:, 1:]).argmin(1)
    return float((classes[row, col] == np.asarray(labels)).mean())


def draw_boundary(ax, module: torch.nn.Module, datamodule, title: str) -> float:
    """One panel: predicted regions, test points coloured by label; returns ``boundary_agreement``."""
    inputs, labels = (t.numpy() for t in datamodule.splits["test"])
    xs, ys, classes = boundary(module, inputs)
    ax.contourf(xs, ys, classes, levels=np.arange(classes.max() + 2) - 0.5, cmap="coolwarm", alpha=0.35)
    ax.scatter(inputs[:, 0], inputs[:, 1], c=labels, cmap="coolwarm", s=6, edgecolors="none")
    agreement = boundary_agreement(xs, ys, classes, inputs, labels)
    ax.set_title(f"{title}\n{agreement:.0%} of test points on their side", fontsize=8)
    return agreement


def plot_boundaries(panels: dict[str, tuple[torch.nn.Module, Any]], path: Path) -> tuple[Path, dict[str, float]]:
    """Decision boundaries side by side (rows: data sets, columns: models when several); their agreements."""
    rows = sorted({name.split(" | ")[0] for name in panels})
    cols = sorted({name.split(" | ")[-1] for name in panels})
    figure, axes = plt.subplots(len(rows), len(cols), figsize=(3.6 * len(cols), 3.2 * len(rows)), squeeze=False)
    agreements = {}
    for name, (module, datamodule) in panels.items():
        row, col = rows.index(name.split(" | ")[0]), cols.index(name.split(" | ")[-1])
        agreements[name] = draw_boundary(axes[row][col], module, datamodule, name)
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
    from src.evaluate import run_checkpoint, saved_settings

    lines, panels = [], {}
    for run in runs:
        if not run.has_results:
            continue
        try:
            if (counted := read_confusion(run.path)) is not None:  # an image run, counted during its own test
                matrix, names = counted
                figure = plot_confusion(np.array(matrix), names, run_title(run), out / f"confusion_{run.path.name}.png")
                lines += [f"### Test confusion matrix: {run.path.name}", "", f"![confusion]({figure.name})", ""]
            elif (ckpt := run_checkpoint(run.path)) and (tree := saved_settings(ckpt))["data"].get("input_dim") == 2:
                name = f"{run.setting('data') or run.path.name} | {run.setting('model') or 'model'}"
                panels[name] = rebuild(ckpt, tree)  # points in a plane: a small network on 1,000 of them
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


def optuna_figures(root: Path, out: Path) -> list[str]:
    """Optuna's optimisation history and parameter importances of the study stored in the sweep folder."""
    if not (root / "optuna.db").exists():
        return []
    import optuna
    from optuna.visualization import matplotlib as optuna_plots

    storage = f"sqlite:///{root / 'optuna.db'}"
    lines = ["## The search", ""]
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
    finally:
        optuna.logging.set_verbosity(verbosity)
    return lines
