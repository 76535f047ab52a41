"""What runs before the first training step: the project's lines, command-line parses and compositions.

    python benchmarks/first_step.py [OVERRIDES...]     # default: model=cnn data=fashion_mnist optimizer=sgd

Runs ``python train.py OVERRIDES`` in this process (its entry, ``src.app.launch.main``) under
``sys.settrace`` and stops at the first call of a ``training_step``. Prints the distinct lines
executed inside the functions of the project's own files (``src/``, ``train.py``; imports and
definitions, which run once, are left out), split into the experiment (networks,
LightningModules, datamodules, metrics) and the infrastructure (everything else), the functions
they belong to, how often an argparse parser read the command line, and how often Hydra composed
the config. Line counts do not depend on the machine's speed, so they are comparable between
commits. The last line is ``infrastructure lines: N``. tests/test_first_step.py holds the target.
"""

import argparse
import inspect
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ("src/networks/", "src/lit_models/", "src/datamodules/", "src/metrics.py")
DEFAULT = ["model=cnn", "data=fashion_mnist", "optimizer=sgd"]


def trace_to_first_step(overrides: list[str]) -> dict:
    """Run train.py with ``overrides`` until its first ``training_step``; what ran before it."""
    lines: dict[str, set[int]] = defaultdict(set)
    functions: set[tuple[str, str, int]] = set()
    counts = {"parses": 0, "compositions": 0}
    project = str(ROOT) + os.sep
    venv = str(ROOT / ".venv")

    class Reached(BaseException):
        """Raised at the first training step; a BaseException, so no handler of the run's catches it."""

    def local(frame, event, arg):
        if event == "line":
            lines[frame.f_code.co_filename].add(frame.f_lineno)
        return local

    def in_a_function(code) -> bool:
        """A function's body (not a module's or a class's, which run once, at import)."""
        return bool(code.co_flags & inspect.CO_NEWLOCALS)

    def tracer(frame, event, arg):
        code = frame.f_code
        name = code.co_filename
        if event != "call":
            return None
        if name.startswith(project) and not name.startswith(venv):
            if code.co_name == "training_step":
                raise Reached
            if not in_a_function(code):
                return None
            functions.add((name, code.co_name, code.co_firstlineno))
            return local
        if code.co_name == "parse_args" and name.endswith("argparse.py"):
            counts["parses"] += 1
        elif code.co_name == "load_configuration" and name.endswith("config_loader_impl.py"):
            counts["compositions"] += 1
        return None

    sys.path.insert(0, str(ROOT))
    import train
    from src.app.launch import main as launch

    sys.settrace(tracer)
    try:
        launch(overrides, "train", train.make_run)  # what train.py's last line does with its command line
        reached = False
    except Reached:
        reached = True
    except SystemExit as stop:
        reached = False
        counts["exit"] = str(stop.code)
    finally:
        sys.settrace(None)
    by_part = {"experiment": 0, "infrastructure": 0}
    per_file = {}
    for name, numbers in lines.items():
        relative = Path(name).relative_to(ROOT).as_posix()
        part = "experiment" if relative.startswith(EXPERIMENT) else "infrastructure"
        by_part[part] += len(numbers)
        per_file[relative] = len(numbers)
    return {
        "reached_training_step": reached,
        "lines": by_part,
        "functions": len(functions),
        "per_file": dict(sorted(per_file.items(), key=lambda item: -item[1])),
        "executed": {Path(name).relative_to(ROOT).as_posix(): sorted(numbers) for name, numbers in lines.items()},
        **counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the whole record as JSON")
    parser.add_argument("--show", metavar="FILE", help="print the lines of FILE (src/...) that ran")
    known, overrides = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as folder:  # the run's folder and its data cache: thrown away
        os.chdir(folder)
        record = trace_to_first_step(overrides or DEFAULT)
        os.chdir(ROOT)
    if known.json:
        print(json.dumps(record))
        return
    if known.show:
        source = (ROOT / known.show).read_text().splitlines()
        for number in record["executed"].get(known.show, []):
            print(f"{number:5d}  {source[number - 1]}")
        return
    for relative, count in record["per_file"].items():
        print(f"{count:5d}  {relative}")
    print(f"reached the first training_step: {record['reached_training_step']}")
    print(f"functions: {record['functions']}")
    print(f"command-line parses: {record['parses']}, compositions: {record['compositions']}")
    print(f"experiment lines: {record['lines']['experiment']}")
    print(f"infrastructure lines: {record['lines']['infrastructure']}")


if __name__ == "__main__":
    main()
