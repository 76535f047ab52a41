"""``python train.py reproduce=RUN``: run a finished run again, from what its folder recorded, into a new folder.

The run's own command is what its folder recorded (``.hydra/overrides.yaml``; for a sweep's job, less what
only placed it: its launcher, a ``ckpt_path``), composed here as any command line is, so conf/ and the
user's ``--config-dir`` give every class: each ``_target_`` and import path of the composed config must be
one a config folder names under the same key (``src.config.targets``), and a recorded value that OmegaConf
would resolve (``${...}``) is refused. Nothing read from the folder becomes code. Other overrides are
refused; ``hydra.run.dir`` chooses the new folder. Before the run, what differs from the original's
``provenance.json`` is said (the commit, uncommitted changes, library versions, the device, torch's
threads); after it, every final metric is compared with the original's: identical, or each difference.
"""

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from src.app.command import Command, read_command
from src.config.errors import ConfigError
from src.config.targets import allowed_targets, targets_in

log = logging.getLogger("train")
KEY = "reproduce"
NOT_RECORDED = ("reproduce", "ckpt_path", "overwrite", "launcher", "hydra/launcher")  # what placed or resumed it
REPRODUCTION_FILE = "reproduction.json"


def recorded_overrides(folder: Path) -> list[str]:
    """The task overrides the run in ``folder`` recorded, as text, less what only placed or resumed it."""
    path = folder / ".hydra" / "overrides.yaml"
    if not (folder / "COMPLETED").is_file() or not path.is_file() or not (folder / ".hydra" / "config.yaml").is_file():
        raise ConfigError(
            KEY, f"{folder} holds no finished run (its COMPLETED, .hydra/overrides.yaml and .hydra/config.yaml)"
        )
    try:
        recorded = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except Exception as error:  # noqa: BLE001 - a file someone else wrote: whatever it holds, one line
        raise ConfigError(KEY, f"{path} is not a list of overrides ({type(error).__name__})") from None
    if not isinstance(recorded, list) or not all(isinstance(o, str) for o in recorded):
        raise ConfigError(KEY, f"{path} is not a list of overrides")
    for override in recorded:
        if "${" in override:
            raise ConfigError(KEY, f"{path} holds {override!r}, an interpolation: refused, since resolving it could "
                              "read this machine's environment or files")  # fmt: skip
    return [o for o in recorded if o.split("=", 1)[0].lstrip("+~") not in NOT_RECORDED]


def reproduce_command(command: Command) -> Command:
    """The command that runs ``reproduce=RUN`` again: its recorded overrides, composed once, checked."""
    cfg = command.cfg
    folder = Path(str(cfg.reproduce)).absolute()
    if command.multirun:
        raise ConfigError(KEY, "runs one finished run again: leave out -m")
    others = [str(o) for o in cfg.hydra.overrides.task if str(o).split("=", 1)[0] != KEY]
    placed = [str(o) for o in cfg.hydra.overrides.hydra if str(o).split("=", 1)[0] == "hydra.run.dir"]
    others += [
        str(o) for o in cfg.hydra.overrides.hydra if str(o) not in placed and not str(o).startswith("hydra.mode=")
    ]
    if others:
        raise ConfigError(
            KEY,
            f"takes the run's own settings, so no other override ({' '.join(others)}); hydra.run.dir=... "
            "chooses the new folder",
        )
    overrides = recorded_overrides(folder)
    flags = ["--config-dir", command.args.config_dir] if command.args.config_dir else []
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()  # the application the first reading made: the recorded command makes its own
    again = read_command([*flags, *overrides, *placed, f"{KEY}={json.dumps(str(folder))}"], command.config_name,
                         command.conf_dir)  # fmt: skip
    check_classes(again, folder)
    return again


def check_classes(command: Command, folder: Path) -> None:
    """Every class the recorded command composes to is one a config folder names under the same key."""
    allowed = allowed_targets(None, command.config_folders())  # the folders' own, not the composed config's
    tree = {k: v for k, v in OmegaConf.to_container(command.cfg, resolve=False).items() if k not in ("hydra", KEY)}
    for where, target in targets_in(tree):
        if where and isinstance(target, str) and target not in allowed.get(where[0], set()):
            raise ConfigError(
                KEY,
                f"{folder}'s recorded settings give {'.'.join(where)}={target!r}, which no config here names under "
                f"{where[0]}: refused, since building it would import and call code the folder chose",
            )


def facts(record: dict[str, Any]) -> dict[str, Any]:
    """What a provenance record says produced a run, by name: commit, uncommitted diff, device, threads, versions."""
    git, device = record.get("git") or {}, record.get("device") or {}
    found = {
        "commit": git.get("commit"),
        "uncommitted diff": git.get("diff") if git.get("dirty") else None,
        "device": device.get("name"),
        "threads": device.get("threads"),
        "platform": record.get("platform"),
    }
    return found | {name: version for name, version in (record.get("versions") or {}).items()}


def differences(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    """What differs between the original's provenance record and this run's, as ``name: then -> now``."""
    if not before:
        return ["the original recorded no provenance.json: what produced it is unknown"]
    then, now = facts(before), facts(after)
    said = []
    for name in dict.fromkeys([*then, *now]):
        if then.get(name) != now.get(name):
            if name == "uncommitted diff":
                said.append("uncommitted diff: " + ("another one" if then[name] and now[name] else
                                                    "none -> some" if now[name] else "some -> none"))  # fmt: skip
            else:
                said.append(f"{name}: {then.get(name)} -> {now.get(name)}")
    return said


def this_machine(cfg) -> dict[str, Any]:
    """This process's provenance record as the new run will write it, as far as it is known before training."""
    import torch

    from src.records.provenance import cpu_name, provenance

    if str(cfg.trainer.get("accelerator")) == "cpu" or not torch.cuda.is_available():
        device = {"name": f"CPU: {cpu_name()}", "threads": cfg.process.get("threads") or torch.get_num_threads()}
    else:
        device = {"name": torch.cuda.get_device_name(0)}
    return provenance(device, started="")


def final_metrics(folder: Path) -> dict[str, float]:
    """Every metric a run logged per epoch or once, at its last value (the report's reader: data files only)."""
    from src.report.runs import read_run

    run = read_run(folder)
    return {tag.removesuffix("_epoch"): points[-1][1] for tag, points in sorted(run.scalars.items())
            if points and not tag.endswith("_step")}  # fmt: skip


def compare_results(original: Path, new: Path, before: list[str]) -> list[str]:
    """The new run's final metrics against the original's, said in lines and kept in the new folder."""
    theirs, mine = final_metrics(original), final_metrics(new)
    names = sorted(set(theirs) | set(mine))
    changed = [n for n in names if theirs.get(n) != mine.get(n)]
    if not changed:
        lines = [f"Reproduced {original}: identical, every final metric ({len(names)}) equal to the original's"]
    else:
        lines = [f"Reproduced {original}: {len(changed)} of {len(names)} final metrics differ from the original's:"]
        for name in changed:
            a, b = theirs.get(name), mine.get(name)
            size = f" ({b - a:+.3g})" if a is not None and b is not None else ""
            lines.append(f"  {name}: {a} -> {b}{size}")
    record = {"original": str(original), "differences before": before, "identical": not changed,
              "metrics": {n: {"original": theirs.get(n), "now": mine.get(n)} for n in names}}  # fmt: skip
    (new / REPRODUCTION_FILE).write_text(json.dumps(record, indent=1) + "\n")
    return lines
