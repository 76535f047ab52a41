"""The command line, read once: Hydra's own parser reads it and Hydra's own loader composes it, once.

Every later step (the checks, the folder's claim, the run) takes that ``Command``. What Hydra
cannot compose (an unknown option, a misspelled key, a config file that does not parse, a value a
typed node refuses) ends here, in one line naming the key. Torch-free: a refused command line
never loads torch or Lightning.
"""

import difflib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from src import private_api
from src.config.compose import CONF_DIR
from src.config.errors import ConfigError, first_line

_MISSING = object()


@dataclass
class Command:
    """A command line as Hydra reads it (``args``: flags and overrides) and composes it (``cfg``, with its
    hydra node; None for a command that only prints: ``--help``, ``--cfg``, ...)."""

    args: Any
    parser: Any
    config_name: str
    conf_dir: Path
    app: Any
    cfg: DictConfig | None

    @property
    def multirun(self) -> bool:
        return bool(self.args.multirun)

    def config_folders(self) -> tuple[Path, ...]:
        """conf/, and a user's own config folders (``--config-dir``, ``hydra.searchpath``), as Hydra found them."""
        sources = self.cfg.hydra.runtime.config_sources if self.cfg is not None else []
        found = [Path(s.path) for s in sources if s.schema == "file" and Path(s.path).is_dir()]
        return tuple(found) or (self.conf_dir,)

    def allowlist(self) -> frozenset[str]:
        """What any ``instantiate`` of this command may call: what its composed config names."""
        from src.config.targets import execution_allowlist

        return execution_allowlist(self.cfg)


def only_prints(args) -> bool:
    """Whether the command line asks Hydra to print something (help, the config, ...) and run nothing."""
    return bool(args.help or args.hydra_help or args.cfg or args.info or args.shell_completion)


def read_command(argv: list[str], config_name: str = "train", conf_dir: Path = CONF_DIR) -> Command:
    """Parse ``argv`` and compose its config, each once; a ConfigError in one line where Hydra cannot."""
    parser = private_api.hydra_args_parser()
    args = parser.parse_args(argv)
    try:
        app = private_api.hydra_app(conf_dir, config_name, args.config_dir)
    except HydraException as error:
        raise ConfigError("--config-dir", first_line(error).split(": ", 1)[-1]) from None
    command = Command(args, parser, config_name, conf_dir, app, None)
    if only_prints(args):
        return command
    overrides = list(args.overrides)
    try:
        command.cfg = private_api.compose(app, config_name, overrides, args.multirun)
    except Exception as error:  # noqa: BLE001 - whatever Hydra refuses while composing: said in one line below
        raise composition_error(error, command, overrides) from None
    return command


def composition_error(error: BaseException, command: Command, overrides: list[str]) -> ConfigError:
    """What Hydra refused while composing, as one line naming the key."""
    if isinstance(error, MissingConfigException) and "/" in str(error.missing_cfg_file or ""):
        group, option = str(error.missing_cfg_file).rsplit("/", 1)
        choices = ", ".join(sorted(error.options or []))
        return ConfigError(f"{group}={option}", f"unknown option; choose one of: {choices}")
    if (located := yaml_error(error)) is not None:
        return located
    cause = error.__cause__
    key = getattr(cause, "full_key", None)
    if key and str(error).startswith("Could not override"):
        rest = [o for o in overrides if o.split("=", 1)[0].lstrip("~+") != key]
        try:
            cfg = private_api.compose(command.app, command.config_name, rest, command.multirun)
        except Exception:  # noqa: BLE001 - another problem too: the key alone is named
            cfg = OmegaConf.create()
        return ConfigError(key, f"no such key; {missing_key_hint(cfg, key)} (+{key}=... adds a new key on purpose)")
    if key and isinstance(cause, OmegaConfBaseException):  # a typed node (a plugin's settings) refused a value
        return ConfigError(key, str(cause.msg).strip().splitlines()[0])
    return ConfigError("command line", " ".join(line.strip() for line in str(error).splitlines() if line.strip()))


def yaml_error(error: BaseException | None) -> ConfigError | None:
    """``conf/experiment/mine.yaml:3:17: not valid YAML: ...``: a config file that does not parse, by its file,
    line and column (relative to the current folder where it lies inside it); None for anything else."""
    while error is not None:
        if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
            mark = error.problem_mark
            name, cwd = Path(mark.name), Path.cwd()
            shown = name.relative_to(cwd) if name.is_absolute() and cwd in name.parents else name
            what = "; ".join(str(p).strip() for p in (error.context, error.problem) if p)
            return ConfigError(f"{shown.as_posix()}:{mark.line + 1}:{mark.column + 1}", f"not valid YAML: {what}")
        error = error.__cause__ or error.__context__
    return None


def config_keys(node: dict, prefix: str = "") -> list[str]:
    """Every key of a (nested) config as dotted paths: ``data``, ``data.input_length``, ..."""
    keys = []
    for key, value in node.items():
        keys.append(f"{prefix}{key}")
        if isinstance(value, dict):
            keys += config_keys(value, f"{prefix}{key}.")
    return keys


def missing_key_hint(cfg: DictConfig, key: str) -> str:
    """A hint for a key ``cfg`` does not have: the same name elsewhere in its group (``data.noise`` ->
    ``data.generator.noise``), a close key beside it, what the class of its node takes, a close key anywhere."""
    tree = OmegaConf.to_container(cfg, resolve=False) if OmegaConf.is_config(cfg) else {}
    candidates = [k for k in config_keys(tree) if not k.startswith("hydra")]
    parent, name, group = key.rpartition(".")[0], key.rsplit(".", 1)[-1], key.split(".", 1)[0]
    same_name = sorted((k for k in candidates if k.rsplit(".", 1)[-1] == name), key=lambda k: not k.startswith(group))
    beside = [k for k in candidates if k.rpartition(".")[0] == parent]
    close = same_name[:1] or difflib.get_close_matches(key, beside, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]}?"
    node = OmegaConf.select(cfg, parent, default=None) if parent else None
    if OmegaConf.is_dict(node) and isinstance(node.get("_target_"), str):
        if (takes := constructor_parameters(node._target_)) is not None:
            return f"{node._target_.rsplit('.', 1)[-1]} takes: {', '.join(takes) or 'no settings'}"
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else "see `python train.py --cfg job` for the keys"


def constructor_parameters(target: str) -> list[str] | None:
    """The keyword arguments a class's constructor names (None: not importable, or it takes any)."""
    from hydra.utils import get_object

    try:
        parameters = inspect.signature(get_object(target)).parameters.values()
    except Exception:  # noqa: BLE001 - not importable, no signature: no hint from it
        return None
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return None
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def has_key(cfg: DictConfig, key: str) -> bool:
    return OmegaConf.select(cfg, key, default=_MISSING, throw_on_missing=False) is not _MISSING
