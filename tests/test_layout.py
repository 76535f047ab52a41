"""The tree keeps its shape: imports go one way between folders, report/ builds nothing, no library
function is replaced at run time, and every module imports on a platform without POSIX-only modules."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from src.config.compose import ROOT_DIR
from tests.conftest import subprocess_env

SRC = ROOT_DIR / "src"
# what a run is built from: report/ may not import any of it (it reads run folders)
BUILDS_RUNS = ("src.run", "src.lit_models", "src.callbacks", "src.sweeps", "src.datamodules", "src.trainer")


def unit(module: str) -> str:
    """``src.config.rules`` -> ``config``; ``src.process`` -> ``process``: a folder or a top-level module."""
    return module.split(".")[1]


def imports_of(path: Path) -> set[str]:
    """Every ``src.*`` module a file imports, at its top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("src."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("src.")}
    return found


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT_DIR).with_suffix("").parts)


def src_imports() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in SRC.rglob("*.py")}


def test_imports_between_folders_form_no_cycle():
    edges: dict[str, set[str]] = {}
    for module, imported in src_imports().items():
        for other in imported:
            if unit(other) != unit(module):
                edges.setdefault(unit(module), set()).add(unit(other))

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in edges.get(start, ()))

    cycles = sorted(f"{a} -> {b} -> ... -> {a}" for a, targets in edges.items() for b in targets if reaches(b, a, {b}))
    assert not cycles, cycles


def test_the_report_reads_run_folders_and_builds_no_run():
    for module, imported in src_imports().items():
        if module.startswith("src.report"):
            assert not {i for i in imported if i.startswith(BUILDS_RUNS)}, module


def test_no_module_assigns_into_a_library():
    """A library function replaced at run time breaks on its next release, or silently drifts from it."""
    for path in [
        *SRC.rglob("*.py"),
        ROOT_DIR / "train.py",
        ROOT_DIR / "eval.py",
        *(ROOT_DIR / "benchmarks").glob("*.py"),
    ]:
        tree = ast.parse(path.read_text())
        libraries = {
            alias.asname or alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
            if not (getattr(node, "module", None) or alias.name).startswith(("src", "tests"))
        }
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets:
                if isinstance(target, ast.Attribute):
                    root = target
                    while isinstance(root, ast.Attribute):
                        root = root.value
                    assert not (isinstance(root, ast.Name) and root.id in libraries and root.id != "os"), (
                        f"{path.name}:{node.lineno} assigns into {ast.unparse(target)}"
                    )


HIDE_POSIX = """
import importlib, pathlib, sys
for name in ("fcntl", "resource", "termios", "pwd", "grp"):
    sys.modules[name] = None  # as on Windows: importing them fails
for path in sorted(pathlib.Path("src").rglob("*.py")):
    importlib.import_module(".".join(path.with_suffix("").parts).removesuffix(".__init__"))
from src.run.build import build_run
from src.config.compose import compose_config
run = build_run(compose_config(["data.data_size=200", "trainer=cpu"], sys.argv[1]))
print("built", type(run.trainer).__name__)
"""


@pytest.mark.slow
def test_every_module_imports_and_the_default_run_builds_without_posix_only_modules(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", HIDE_POSIX, str(tmp_path)],
        cwd=ROOT_DIR,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "built Trainer" in result.stdout, result.stderr[-2000:]


def test_several_devices_get_a_strategy_the_platform_has():
    from src.trainer.devices import several_devices_strategy

    assert several_devices_strategy(["fork", "spawn", "forkserver"]) == "ddp_fork"  # Linux
    assert several_devices_strategy(["spawn", "fork", "forkserver"]) == "ddp_fork"  # macOS
    assert several_devices_strategy(["spawn"]) == "ddp_spawn"  # Windows


def test_each_capability_a_module_may_offer_is_a_row_of_the_bring_your_own_table():
    from src.capabilities import CAPABILITIES

    page = (ROOT_DIR / "docs" / "bring-your-own.md").read_text()
    table = page[page.index("| optional capability | what it adds |") :].split("\n\n", 1)[0].splitlines()[2:]
    rows = []
    for capability in CAPABILITIES:
        offered, adds = capability.__doc__.split(":\n", 1)
        rows.append(f"| {offered.strip()} | {' '.join(adds.split())} |")
    assert table == rows


PRIVATE = re.compile(
    r"\b(hydra|pytorch_lightning|lightning_fabric|lightning|optuna|torch|omegaconf|submitit)(\.\w+)*\._\w+"
)


def test_every_private_api_name_of_a_library_is_in_private_api_py():
    """A library's private name (``hydra._internal...``, ``._return_value``), in code or in a string, appears in
    src/private_api.py only: an upgrade that moves it breaks there, in one obvious place."""
    private_attributes = ("_return_value", "_current_fx_name", "_run_hydra", "_internal")
    for path in [*SRC.rglob("*.py"), ROOT_DIR / "train.py", ROOT_DIR / "eval.py"]:
        if path.name == "private_api.py":
            continue
        text = path.read_text()
        assert not PRIVATE.search(text), f"{path.relative_to(ROOT_DIR)}: {PRIVATE.search(text).group(0)}"
        assert not [name for name in private_attributes if name in text], path.relative_to(ROOT_DIR)
