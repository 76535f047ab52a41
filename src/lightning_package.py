"""The Lightning package this process trains with: ``pytorch_lightning`` (the default), or ``lightning.pytorch``
when the module to train is written against the ``lightning`` package (``import lightning as L``).

Lightning refuses a Trainer, a callback or a plugin of one package with a module of the other, so a
process trains with one of them, and the project imports Lightning through here (``pl``,
``is_overridden``): its Trainer, callbacks and plugins are then of the module's package. The entry
layer chooses (``choose``) before Lightning is first imported through here, which fixes the choice for
the process (a sweep's jobs may share one: one sweep, one package); the config's Lightning targets are
rewritten to the package (``in_package``). Importing this module imports no Lightning.
"""

import importlib
import inspect
import os
from typing import Any

ENV = "TRAIN_LIGHTNING_PACKAGE"  # the choice, inherited by a sweep's workers
FABRIC = {"pytorch_lightning": "lightning_fabric", "lightning.pytorch": "lightning.fabric"}
# Lightning's SLURM environment plugin, which the project adds to a run's config itself in a SLURM job
# (src/trainer/devices.py), so every run's allowlist holds it (src/config/targets.py)
SLURM_ENVIRONMENT = "lightning_fabric.plugins.environments.SLURMEnvironment"
_imported: list[str] = []  # the package this process imported through here, once it has


def name() -> str:
    """The Lightning package of this process: the one imported, else the one chosen."""
    return _imported[0] if _imported else os.environ.get(ENV, "pytorch_lightning")


def package_of(target: Any) -> str:
    """The Lightning package a module (or datamodule) class is written against, by its base classes."""
    if not isinstance(target, str) or target.startswith("src."):
        return "pytorch_lightning"
    from hydra.utils import get_object

    try:
        made = get_object(target)
    except Exception:  # noqa: BLE001 - not importable: the signature check names it
        return name()
    bases = inspect.getmro(made) if inspect.isclass(made) else ()
    return (
        "lightning.pytorch" if any(b.__module__.startswith("lightning.pytorch") for b in bases) else "pytorch_lightning"
    )


def choose(package: str) -> str | None:
    """Train this process with ``package``; why it cannot (it imported the other already), or None."""
    if _imported and _imported[0] != package:
        return (
            f"is written against {package.split('.')[0]}, and this process trains with {_imported[0]}: Lightning "
            "takes no mix; run it apart (one sweep, one Lightning package)"
        )
    os.environ[ENV] = package
    return None


def in_package(target: str) -> str:
    """A ``_target_`` of the other Lightning package as this process's (``pytorch_lightning.callbacks.X`` ->
    ``lightning.pytorch.callbacks.X`` when it trains with ``lightning.pytorch``); any other as it is."""
    mine = name()
    for package, fabric in FABRIC.items():
        if package != mine:
            for theirs, ours in ((package, mine), (fabric, FABRIC[mine])):
                if target.startswith(theirs + "."):
                    return ours + target[len(theirs) :]
    return target


def spellings(target: str) -> set[str]:
    """A target as each Lightning package names it (``pytorch_lightning.Trainer``, ``lightning.pytorch.Trainer``);
    any other as it is. Text only: nothing is imported."""
    found = {target}
    for package, fabric in FABRIC.items():
        for prefix, kind in ((package, "package"), (fabric, "fabric")):
            if target.startswith(prefix + "."):
                for other, other_fabric in FABRIC.items():
                    found.add((other if kind == "package" else other_fabric) + target[len(prefix) :])
    return found


def __getattr__(attribute: str) -> Any:
    """``pl`` (the package) and ``is_overridden`` (its helper), imported on first use, which fixes the choice."""
    if attribute not in ("pl", "is_overridden"):
        raise AttributeError(attribute)
    package = name()
    if package not in FABRIC:
        raise ImportError(f"{ENV}={package}: not a Lightning package this project trains with ({', '.join(FABRIC)})")
    _imported[:] = [package]
    globals()["pl"] = importlib.import_module(package)
    globals()["is_overridden"] = importlib.import_module(f"{package}.utilities.model_helpers").is_overridden
    return globals()[attribute]
