"""The test confusion matrix of an image run, beside its checkpoints: what the report draws.

Counted during the run's own final test (the best checkpoint on the test split, with the test
limits the run used), so the report draws it without a second pass over the test set.
"""

import json
from pathlib import Path

CONFUSION_FILE = "test_confusion.json"


def write_confusion(run_dir: str | Path, matrix: list[list[int]], class_names: list[str]) -> Path:
    path = Path(run_dir) / CONFUSION_FILE
    path.write_text(json.dumps({"class_names": list(class_names), "matrix": matrix}) + "\n")
    return path


def read_confusion(run_dir: str | Path) -> tuple[list[list[int]], list[str]] | None:
    try:
        record = json.loads((Path(run_dir) / CONFUSION_FILE).read_text())
        return record["matrix"], record["class_names"]
    except (OSError, ValueError, KeyError):
        return None
