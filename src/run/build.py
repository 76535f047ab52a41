"""Build a run from its config: the one place train.py, eval, the benchmarks and the tests get theirs.

The config is checked first (``check_config``: the rules no signature can carry, then every
``_target_`` against its constructor's signature). Then each object is built by its real
constructor, in this order and before any data is loaded or anything is written: the optimizer
(once, on a stand-in parameter), the datamodule, the network, the module, the callbacks, the
loggers, the Trainer, each within the allowlist in force (``src.config.targets``). A constructor's
refusal becomes one ``ConfigError`` naming the key (``src.run.blame``).
"""

import functools
import importlib.util
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from src.callbacks.hparams import LogHyperparameters
from src.callbacks.monitor import MonitorLogged
from src.callbacks.provenance import Provenance
from src.callbacks.run_config import RunConfigInCheckpoint
from src.callbacks.threads import RankThreads
from src.capabilities import (
    ChecksItsScheduler,
    CountsClasses,
    DeclaresLoggedMetrics,
    ForwardsEagerly,
    GivesExampleBatches,
    NeedsCallbacks,
    offers,
)
from src.config.errors import ConfigError, first_line
from src.config.rules import check_monitors, check_rules, check_validation_fits_epoch
from src.config.signatures import check_signatures, takes, target_nodes
from src.config.targets import (
    ALLOWED,
    allowing,
    canonical,
    check_allowed,
    execution_allowlist,
    targets_in,
)
from src.lightning_package import choose, in_package, package_of, pl
from src.run.blame import config_error
from src.run.storage import check_room_for_outputs, check_tracking_uri
from src.trainer.devices import forks_ranks, one_owner_of_cluster_signals, place_processes, threads_per_rank

log = logging.getLogger(__name__)
OPTIONAL_LOGGERS = {".loggers.MLFlowLogger": "mlflow"}  # a logger whose library is an extra: the extra


@dataclass
class RunParts:
    """Everything ``trainer.fit(module, datamodule=datamodule)`` needs, built from one config."""

    cfg: DictConfig
    datamodule: pl.LightningDataModule
    module: pl.LightningModule
    trainer: pl.Trainer
    loggers: list


def check_config(cfg: DictConfig) -> None:
    """The rules no signature can carry, then every ``_target_`` against its signature: nothing is built."""
    if isinstance(cfg.get("module"), DictConfig):
        if problem := choose(package_of(cfg.module.get("_target_"))):
            raise ConfigError("module._target_", problem)
    in_lightning_package(cfg)
    check_rules(cfg)
    without_unmonitored_callbacks(cfg)
    check_signatures(cfg)


def in_lightning_package(cfg: DictConfig) -> None:
    """Every Lightning ``_target_`` of the config as the package this process trains with (``in_package``)."""
    tree = {k: v for k, v in OmegaConf.to_container(cfg, resolve=False).items() if k != "hydra"}
    for path, node in target_nodes(tree):
        if (target := in_package(node["_target_"])) != node["_target_"]:
            OmegaConf.update(cfg, f"{path}._target_", target, merge=False)


def without_unmonitored_callbacks(cfg: DictConfig) -> None:
    """With ``monitor.metric=null`` (a module that validates nothing), the callbacks that watch the metric that
    decides (the best checkpoint, early stopping) are dropped, in one info line: the run keeps ``last.ckpt``."""
    if cfg.monitor.get("metric") is not None:
        return
    callbacks = cfg.get("callbacks") or {}
    raw = OmegaConf.to_container(callbacks, resolve=False) if OmegaConf.is_dict(callbacks) else {}
    watching = [
        name for name, node in raw.items() if isinstance(node, dict) and node.get("monitor") == "${monitor.metric}"
    ]
    for name in watching:
        callbacks[name] = None
    if watching:
        log.info("monitor.metric is null: no %s (nothing decides a best); the run keeps last.ckpt", ", ".join(watching))


def build(group: str, node: DictConfig, **kwargs: Any) -> Any:
    """``instantiate(node, **kwargs)``; an error becomes a ConfigError naming the key under ``group``. Every
    target in ``node`` must be in the allowlist in force (``src.config.targets.allowing``)."""
    named = []
    if OmegaConf.is_dict(node):
        for where, target in targets_in(OmegaConf.to_container(node, resolve=False)):
            if where and where[-1] == "_target_":
                check_allowed(".".join((group, *where)), target)
                named.append(target)
    try:
        # what the node names (checked above), and where each is defined (torch.nn.Linear: torch.nn.modules.linear)
        with allowing([*named, *filter(None, map(canonical, named))], added=True):
            return plain_partial(instantiate(node, **kwargs))
    except Exception as error:  # noqa: BLE001 - whatever the constructor raises is the value's fault
        raise config_error(group, node, error) from None


def plain_partial(made: Any) -> Any:
    """A ``_partial_: true`` node's factory as a plain ``functools.partial`` of the callable it names.

    Hydra 1.4 returns a partial of its own that re-checks its allowlist at each call and refuses to be
    pickled; a module keeps its optimizer partial among its hyperparameters, which Lightning drops when they
    do not pickle (and a spawned DDP rank pickles the module). The callable was allowed when it was built."""
    if isinstance(made, functools.partial) and type(made) is not functools.partial:
        return functools.partial(made.func, *made.args, **(made.keywords or {}))
    return made


def build_optimizer(node: DictConfig) -> Callable:
    """The optimizer factory (a partial), judged by building the optimizer once on a stand-in parameter."""
    factory = build("optimizer", node)
    try:
        factory([torch.nn.Parameter(torch.zeros(1))])
    except Exception as error:  # noqa: BLE001 - whatever the constructor raises is the value's fault
        raise config_error("optimizer", node, error) from None
    return factory


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def build_logger(name: str, node: DictConfig) -> Any:
    """A logger; one whose library is an optional extra and missing is refused saying how to install it."""
    extra = next((e for suffix, e in OPTIONAL_LOGGERS.items() if str(node.get("_target_")).endswith(suffix)), None)
    if extra is not None and not installed(extra):
        raise ConfigError(
            f"logger.{name}", f"needs {extra}, an optional extra: pip install -e '.[{extra}]' (make install has it)"
        )
    if extra == "mlflow":
        check_tracking_uri(node.get("tracking_uri"), f"logger.{name}.tracking_uri")
    return build(f"logger.{name}", node)


def build_module(cfg: DictConfig) -> pl.LightningModule:
    """The module, given ``net`` (the ``model`` group, built) and ``optimizer`` (the group's partial) where its
    constructor takes them and its own config does not give them."""
    node = cfg.module
    given = {}
    if takes(node._target_, "optimizer") and "optimizer" not in node:
        if cfg.get("optimizer") is None:
            raise ConfigError("optimizer", f"{node._target_} takes an optimizer and none is chosen; add optimizer=adam")
        given["optimizer"] = build_optimizer(cfg.optimizer)
    elif cfg.get("optimizer") is not None and "optimizer" not in node:
        log.info("optimizer: %s takes no optimizer partial, so the optimizer group is not used", node._target_)
    if takes(node._target_, "net") and "net" not in node:
        if cfg.get("model") is None:
            raise ConfigError("model", f"is null, and {node._target_} takes a net; choose a model")
        given["net"] = build("model", cfg.model)
    elif cfg.get("model") is not None and "net" not in node:
        log.info("model: %s takes no net, so the model group is not used (model=null says so)", node._target_)
    for key, child in node.items():  # the module's own factories (a scheduler partial), built as plain partials
        if key not in given and OmegaConf.is_dict(child) and child.get("_partial_") is True:
            given[key] = build(f"module.{key}", child)
    module = build("module", node, **given)
    if not isinstance(module, pl.LightningModule):
        raise ConfigError("module._target_", f"{node._target_} builds a {type(module).__name__}, not a LightningModule")
    if offers(module, ChecksItsScheduler):
        module.check_scheduler()
    return module


def check_model_takes_data(module: pl.LightningModule, datamodule) -> None:
    """One forward pass on two training samples, where the datamodule offers ``example_batch(n)``, so a network
    that cannot take this data fails here; the output's shape checked where it also offers ``num_classes``."""
    if not offers(datamodule, GivesExampleBatches):
        return
    inputs, labels = datamodule.example_batch(2)
    try:
        with torch.no_grad():  # eager: a compiled network would compile for this one batch
            logits = module.eager_forward(inputs) if offers(module, ForwardsEagerly) else module(inputs)
    except Exception as error:  # noqa: BLE001 - whatever the network raises, the pairing is the problem
        raise ConfigError(
            "model",
            f"cannot take this data's batches (inputs {tuple(inputs.shape)}, {inputs.dtype}): {first_line(error)}; "
            "pick a model for this data (model=rnn for palindromes, mlp or cnn for vectors and images)",
        ) from None
    classes = datamodule.num_classes if offers(datamodule, CountsClasses) else None
    if classes is not None and tuple(logits.shape) != (len(labels), classes):
        raise ConfigError(
            "model",
            f"gives outputs of shape {tuple(logits.shape)} for this data's {classes} classes; expected (2, {classes})",
        )


def build_run(cfg: DictConfig, extra_callbacks: Sequence[pl.Callback] = (), checked: bool = False) -> RunParts:
    """Check (unless ``checked``) and build everything a run needs, then load its data. Seeds torch, NumPy and
    Python's random. ``extra_callbacks`` come after the config's (the run's stop callbacks, a benchmark's timer).
    Builds within the allowlist in force, else within what ``cfg`` and conf/ name."""
    with allowing(ALLOWED.get() or execution_allowlist(cfg)):  # entered again: Hydra's job runs in a context of its own
        return built_run(cfg, extra_callbacks, checked)


def built_run(cfg: DictConfig, extra_callbacks: Sequence[pl.Callback], checked: bool) -> RunParts:
    if not checked:
        check_config(cfg)
    place_processes(cfg.trainer)
    one_owner_of_cluster_signals(cfg.trainer)
    if forks_ranks(cfg.trainer):  # no thread pool in this process before its ranks are forked (RankThreads)
        extra_callbacks = [*extra_callbacks, RankThreads(threads_per_rank(cfg.trainer))]
        torch.set_num_threads(1)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build("data", cfg.data)
    if not isinstance(datamodule, pl.LightningDataModule):
        raise ConfigError(
            "data._target_", f"{cfg.data._target_} builds a {type(datamodule).__name__}, not a LightningDataModule"
        )
    module = build_module(cfg)
    check_monitors(cfg, module.logged_metrics if offers(module, DeclaresLoggedMetrics) else None)
    check_room_for_outputs(module, cfg.paths.output_dir)
    provenance = Provenance(cfg.paths.output_dir)
    callbacks = [build(f"callbacks.{name}", node) for name, node in (cfg.get("callbacks") or {}).items() if node]
    if offers(datamodule, NeedsCallbacks):
        callbacks += datamodule.extra_callbacks()
    callbacks += [MonitorLogged(cfg.monitor.metric)] if cfg.monitor.metric is not None else []
    callbacks += [RunConfigInCheckpoint(cfg), provenance]
    callbacks += [LogHyperparameters(cfg, provenance), *extra_callbacks]
    loggers = [build_logger(name, node) for name, node in (cfg.get("logger") or {}).items() if node]
    trainer = build("trainer", cfg.trainer, callbacks=callbacks, logger=loggers or False)
    try:
        datamodule.prepare_data()
        datamodule.setup("fit")
    except ConfigError as error:
        raise error.with_group("data") from None
    check_validation_fits_epoch(cfg.trainer, datamodule)
    check_model_takes_data(module, datamodule)
    return RunParts(cfg, datamodule, module, trainer, loggers)
