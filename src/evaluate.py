"""What ``eval.py`` does: test a trained model on a split, or classify given inputs, from its checkpoint alone.

The checkpoint carries its run's resolved settings (``TREE_KEY``): the model, the data, the
module, the seed. The run is rebuilt from them, so nothing needs re-typing; data settings given
on the command line change the data on purpose (a longer palindrome, another copy of a data set),
while a model, optimizer or module setting that contradicts the checkpoint is refused. The weights
are read with torch's weights-only loader and loaded strictly. Everything eval writes goes to its
own folder (``outputs/eval/...``): ``eval.json`` and the loggers' files.
"""

import json
import logging
import os
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from src.config.compose import CONF_DIR
from src.config.errors import ConfigError
from src.config.rules import check_seed
from src.config.targets import allowed_targets, check_tree
from src.records.provenance import now, provenance
from src.records.settings import RESUME_FREE, TREE_KEY, differences, flatten, is_plain_tree
from src.run.resume import RUN_ROOTS, check_weights_fit, latest_checkpoint, read_checkpoint

log = logging.getLogger("eval")
FROM_CHECKPOINT = ("seed", "model", "optimizer", "module")  # as the checkpoint has them; data may change
SPLITS = ("test", "val")


def run_checkpoint(run_dir: Path) -> Path:
    """A run folder's best checkpoint (what its final test used), else its ``last.ckpt``."""
    folder = run_dir / "checkpoints"
    best = sorted(folder.glob("epoch*.ckpt"), key=lambda p: p.stat().st_mtime)
    if best:
        return best[-1]
    if (folder / "last.ckpt").is_file():
        return folder / "last.ckpt"
    jobs = sorted(p.parent.name for p in run_dir.glob("*/checkpoints"))
    hint = f"; it looks like a sweep: give one of its jobs ({', '.join(jobs[:3])}, ...)" if jobs else ""
    raise ConfigError("ckpt_path", f"{run_dir} holds no checkpoints/ with a checkpoint{hint}")


def find_checkpoint(ckpt_path: Any, root_dir: str | Path) -> Path:
    """``ckpt_path`` as eval takes it: a checkpoint file, a run folder, or ``latest`` (the newest run)."""
    if str(ckpt_path) == "latest":
        return run_checkpoint(latest_checkpoint(root_dir).parents[1])
    if not isinstance(ckpt_path, str) or not ckpt_path:
        raise ConfigError("ckpt_path", f"must be a checkpoint file, a run folder or 'latest', got {ckpt_path!r}")
    path = Path(ckpt_path)
    if path.is_dir():
        return run_checkpoint(path)
    if not path.is_file():
        raise ConfigError("ckpt_path", f"{path} is neither a file nor a folder; runs are under {', '.join(RUN_ROOTS)}/")
    return path


def saved_settings(path: Path, cfg: DictConfig, config_folders: tuple[Path, ...]) -> dict[str, Any]:
    """The settings tree a checkpoint of this project carries, checked: every group eval rebuilds is there,
    and every class it names is one the config composed here (``cfg``) names in the same place
    (``src.config.targets``). Anything else is refused in one line, before anything is imported."""
    checkpoint = read_checkpoint(path)
    tree = checkpoint.get(TREE_KEY)
    if not isinstance(tree, dict):
        raise ConfigError(
            "ckpt_path",
            f"{path} carries no run settings: it was not written by this project's train.py "
            "(or by a version before eval.py); eval rebuilds the run from them",
        )
    if not is_plain_tree(tree):
        raise ConfigError(
            "ckpt_path", f"{path} holds run settings that are not this project's (text keys, plain values)"
        )
    try:
        check_seed("seed", tree.get("seed"))
    except ConfigError as refused:
        raise ConfigError("ckpt_path", f"{path} holds seed {tree.get('seed')!r}, which {refused.problem}") from None
    missing = [key for key in (*FROM_CHECKPOINT, "data") if key not in tree]
    groups = not missing and (
        all(isinstance(tree[key], dict) for key in ("data", "module"))
        and all(tree[key] is None or isinstance(tree[key], dict) for key in ("model", "optimizer"))
    )  # a module that builds its own network (or optimizer) was trained with model (optimizer) null
    if missing or not groups:
        raise ConfigError(
            "ckpt_path",
            f"{path} carries incomplete run settings (missing or not a group: "
            f"{', '.join(missing) or 'model, data, optimizer or module'}); eval rebuilds the run from them",
        )
    check_tree(tree, allowed_targets(cfg, config_folders), str(path))
    return tree


def eval_config(cfg: DictConfig, saved: dict[str, Any], overrides: list[str]) -> DictConfig:
    """``cfg`` with the checkpoint's model, optimizer, module and seed, and its data unless the command
    line chose other data; the command line's ``data.*`` values go on top. Refuses any command-line
    value under the checkpoint's keys that differs from it."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    for override in parsed:
        top = override.key_or_group.split(".", 1)[0].split("/", 1)[0]
        if top in FROM_CHECKPOINT:
            check_agrees(cfg, saved, override.key_or_group)
    cfg = cfg.copy()
    OmegaConf.set_struct(cfg, False)
    for key in FROM_CHECKPOINT:
        cfg[key] = saved[key]
    if not any(o.key_or_group == "data" for o in parsed):  # the checkpoint's data, where it lives here
        here = OmegaConf.to_container(cfg.data, resolve=True)
        data = OmegaConf.create(saved["data"])
        for key in (k.split(".", 1)[1] for k in RESUME_FREE if k.startswith("data.")):
            if key in here:
                data[key] = here[key]
        for override in parsed:
            if override.key_or_group.startswith("data."):
                OmegaConf.update(data, override.key_or_group[len("data.") :], override.value(), force_add=True)
        cfg.data = data
    return cfg


def check_agrees(cfg: DictConfig, saved: dict[str, Any], key: str) -> None:
    """Refuse ``key`` (``model``, ``model.hidden_dim``, ...) if the command line gives it another value."""
    mine = OmegaConf.select(cfg, key)
    mine = OmegaConf.to_container(mine, resolve=True) if OmegaConf.is_config(mine) else mine
    theirs: Any = saved
    for part in key.split("."):
        theirs = theirs.get(part) if isinstance(theirs, dict) else None
    changed = differences(flatten({key: theirs}) if isinstance(theirs, dict) else {key: theirs},
                          flatten({key: mine}) if isinstance(mine, dict) else {key: mine})  # fmt: skip
    if changed:
        raise ConfigError(
            key,
            f"contradicts the checkpoint: {changed[0].replace(' now)', ' given)')}; eval takes the model, optimizer "
            "and module from the checkpoint, so leave it out (data settings may change)",
        )


def check_evaluates(module, split: str) -> None:
    """A module evaluates a split only with the step for it (``test_step``, ``validation_step``)."""
    from src.lightning_package import is_overridden

    step = {"test": "test_step", "val": "validation_step"}[split]
    if not is_overridden(step, module):
        other = "validation_step" if split == "test" else "test_step"
        hint = f"; give split={'val' if split == 'test' else 'test'}" if is_overridden(other, module) else ""
        raise ConfigError("split", f"{split}: {type(module).__name__} has no {step}{hint}, or ask for predict=...")


class Evaluation:
    """``python eval.py``: ``setup`` finds and checks the checkpoint and builds its run (into eval's own new
    folder, claimed), ``execute`` tests or predicts and writes ``eval.json``. Nothing is written before the
    claim; the checkpoint's folder is never written."""

    def __init__(self, cfg: DictConfig, overrides: list[str] = (), config_folders: tuple[Path, ...] = ()):
        self.cfg, self.overrides, self.config_folders = cfg, list(overrides), config_folders or (CONF_DIR,)
        self.folder = Path(os.path.abspath(str(cfg.paths.output_dir)))
        self.ckpt: Path | None = None
        self.parts = None

    def setup(self) -> None:
        from src.config.errors import check_choice, check_int
        from src.run.folder import claim_run_folder

        cfg = self.cfg
        check_choice("split", cfg.split, SPLITS)
        check_int("top_k", cfg.top_k)
        self.ckpt = find_checkpoint(cfg.ckpt_path, cfg.paths.root_dir)
        cfg = self.cfg = eval_config(cfg, saved_settings(self.ckpt, cfg, self.config_folders), self.overrides)
        cfg.ckpt_path = None  # eval loads the weights itself; nothing resumes
        cfg.paths.output_dir = str(self.folder)
        from src.lightning_package import choose, package_of

        if problem := choose(package_of(cfg.module.get("_target_"))):  # the checkpoint's module: its package
            raise ConfigError("ckpt_path", f"its module {problem}")
        from src.config.targets import allowing, execution_allowlist
        from src.run.build import build_run  # Lightning, once the checkpoint is known good: a typo is refused at once

        with allowing(execution_allowlist(cfg)):  # the checkpoint's classes, each checked above, and eval's own
            self.parts = build_run(cfg)
        check_weights_fit(self.parts.module, self.ckpt)
        if cfg.predict is None:
            check_evaluates(self.parts.module, cfg.split)  # weights-only, strict: the module holds the checkpoint's
        claim_run_folder(self.folder, overwrite=False, own_run=False)

    def execute(self) -> dict[str, Any]:
        """Test (or predict with) the checkpoint; writes and returns what ``eval.json`` holds."""
        from src.callbacks.provenance import device_of
        from src.predict import describe, predict

        cfg, run = self.cfg, self.parts
        started = now()
        result: dict[str, Any] = {"checkpoint": str(self.ckpt.resolve()), "split": cfg.split}
        if cfg.predict is not None:
            result["predictions"] = predict(run, cfg.predict, cfg.top_k)
        else:
            loop = run.trainer.test if cfg.split == "test" else run.trainer.validate
            loop(run.module, datamodule=run.datamodule, verbose=False)
            prefixes = (f"{cfg.split}/", f"{cfg.split}_")  # test/acc, or a module's own test_acc
            result["metrics"] = {
                k: float(v) for k, v in sorted(run.trainer.callback_metrics.items()) if k.startswith(prefixes)
            }
        result["data"] = OmegaConf.to_container(cfg.data, resolve=True)
        result["provenance"] = provenance(device_of(run.trainer), started=started, ended=now())
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "eval.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
        for line in describe(result):
            print(line)
        log.info("Written to %s", self.folder / "eval.json")
        return result


def run_eval(cfg: DictConfig, overrides: list[str], config_folders: tuple[Path, ...] = ()) -> dict[str, Any]:
    """``python eval.py OVERRIDES`` in this process, on its composed ``cfg`` (from ``config_folders``, conf/
    by default): what ``eval.json`` holds."""
    evaluation = Evaluation(cfg, overrides, config_folders)
    evaluation.setup()
    return evaluation.execute()
