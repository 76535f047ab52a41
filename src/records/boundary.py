"""The decision boundary of a run on points in a plane, beside its checkpoints: what the report draws.

Computed by the run itself after its final test (the weights that test used, on a grid around
its test points) and saved as plain arrays, so the report draws it without rebuilding a network
from a file: a report never imports what a run folder names. Written for any datamodule whose
``splits["test"]`` holds inputs with two features (the toy sets); other data get none.
"""

from pathlib import Path

import numpy as np
import torch

BOUNDARY_FILE = "decision_boundary.npz"
GRID = 200  # grid points per axis
ARRAYS = ("xs", "ys", "classes", "points", "labels")


def planar_test_split(datamodule) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The datamodule's test inputs and labels (``src.capabilities.KeepsSplits``), if they lie in a plane."""
    split = (datamodule.splits or {}).get("test")
    if not isinstance(split, (tuple, list)) or len(split) != 2:
        return None
    inputs, labels = split
    planar = isinstance(inputs, torch.Tensor) and inputs.ndim == 2 and inputs.shape[1] == 2
    return (inputs, labels) if planar else None


@torch.no_grad()
def predicted(module: torch.nn.Module, inputs: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    device = next(module.parameters(), torch.zeros(0)).device
    return torch.cat(
        [module(inputs[i : i + batch_size].to(device)).argmax(-1).cpu() for i in range(0, len(inputs), batch_size)]
    )


def boundary(module: torch.nn.Module, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The classes the network predicts on a grid around ``points``: (xs, ys, classes[GRID, GRID])."""
    low, high = points.min(0) - 0.5, points.max(0) + 0.5
    xs, ys = np.linspace(low[0], high[0], GRID), np.linspace(low[1], high[1], GRID)
    grid = torch.tensor(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), dtype=torch.float32)
    was_training = module.training
    module.eval()
    try:
        classes = predicted(module, grid).reshape(GRID, GRID).numpy()
    finally:
        module.train(was_training)
    return xs, ys, classes


def agreement(xs: np.ndarray, ys: np.ndarray, classes: np.ndarray, points: np.ndarray, labels) -> float:
    """The share of data points whose nearest grid point is predicted as their own label."""
    col = np.abs(xs[None, :] - points[:, :1]).argmin(1)
    row = np.abs(ys[None, :] - points[:, 1:]).argmin(1)
    return float((classes[row, col] == np.asarray(labels)).mean())


def write_boundary(run_dir: str | Path, module: torch.nn.Module, datamodule) -> Path | None:
    """Save the module's decision boundary over the datamodule's test points (None: not planar data)."""
    split = planar_test_split(datamodule)
    if split is None:
        return None
    points, labels = (t.detach().cpu().numpy() for t in split)
    xs, ys, classes = boundary(module, points)
    path = Path(run_dir) / BOUNDARY_FILE
    with open(path, "wb") as file:
        np.savez_compressed(file, xs=xs, ys=ys, classes=classes, points=points, labels=labels)
    return path


def read_boundary(run_dir: str | Path) -> dict[str, np.ndarray] | None:
    """A run's saved boundary as plain numeric arrays (never pickled objects); None if it has none or
    the file is not one."""
    path = Path(run_dir) / BOUNDARY_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {name: np.asarray(saved[name]) for name in ARRAYS}
    except (OSError, ValueError, KeyError):
        return None
    numeric = all(a.dtype.kind in "iufb" for a in arrays.values())
    shapes_fit = (
        arrays["classes"].shape == (len(arrays["ys"]), len(arrays["xs"]))
        and arrays["points"].ndim == 2
        and arrays["points"].shape[1] == 2
        and len(arrays["labels"]) == len(arrays["points"])
    )
    return arrays if numeric and shapes_fit else None
