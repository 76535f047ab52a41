"""Command-line checks that run before Hydra composes anything, each ending in one line."""

import difflib
import os
import sys
from pathlib import Path

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from src.config.compose import CONF_DIR, compose_config, config_options
from src.config.errors import ConfigError, is_int
from src.private_api import hydra_args_parser

_MISSING = object()
OUTPUT_KEYS = ("hydra.run.dir", "hydra.sweep.dir")  # where a run or a sweep writes
SWEEP_ONLY = {  # groups that only mean something in a multirun
    "hparams_search": "a search runs many jobs",
    "launcher": "chooses where a sweep's jobs run, and a single run has none",
    "hydra/launcher": "chooses where a sweep's jobs run, and a single run has none",
    "hydra/sweeper": "chooses how a sweep's jobs are chosen, and a single run has none",
}


def parse(argv: list[str]) -> tuple[object, list[Override]] | None:
    """Hydra's own reading of the command line, or None where Hydra's message would be better."""
    try:
        args = hydra_args_parser().parse_args(argv)
        return args, OverridesParser.create().parse_overrides(args.overrides)
    except (Exception, SystemExit):  # noqa: BLE001 - malformed input: Hydra's own message is better
        return None


def is_group(override: Override, conf_dir: Path, user_dirs: tuple[Path, ...] = ()) -> bool:
    return any((folder / override.key_or_group).is_dir() for folder in (conf_dir, *user_dirs))


def user_config_dirs(args, overrides: list[Override], cwd: Path) -> tuple[tuple[Path, ...], str | None]:
    """A user's own config folders (``--config-dir DIR``, ``hydra.searchpath=[file://DIR]``), and the one
    ``hydra.searchpath`` override that composes with all of them (None when there are none)."""
    entries: list[str] = []
    for override in overrides:
        if override.key_or_group == "hydra.searchpath" and isinstance(override.value(), list):
            entries += [str(entry) for entry in override.value()]
    if getattr(args, "config_dir", None):
        entries.append(f"file://{(cwd / args.config_dir).resolve().as_posix()}")
    folders = tuple(cwd / Path(e[len("file://") :]) for e in entries if e.startswith("file://"))
    return folders, (f"hydra.searchpath=[{','.join(entries)}]" if entries else None)


def values_of(override: Override) -> list[str] | None:
    try:
        if override.is_sweep_override():
            return list(override.sweep_string_iterator())
        return [override.get_value_element_as_str()]
    except Exception:  # noqa: BLE001 - range() or glob() on a group: let Hydra expand it
        return None


def unknown_group_option(
    overrides: list[Override], conf_dir: Path = CONF_DIR, user_dirs: tuple[Path, ...] = ()
) -> str | None:
    """One line naming the first ``group=option`` whose option has no YAML file, or None.

    Hydra reports this too, but over a dozen lines with its search path; this names the key and
    what is allowed.
    """
    for override in overrides:
        if override.is_delete() or override.package or not is_group(override, conf_dir, user_dirs):
            continue
        options = sorted({o for d in (conf_dir, *user_dirs) for o in config_options(override.key_or_group, d)})
        for value in values_of(override) or []:
            if value not in options and value != "null":
                return f"{override.key_or_group}={value}: unknown option; choose one of: {', '.join(options)}"
    return None


def config_keys(node: dict, prefix: str = "") -> list[str]:
    """Every key of a (nested) config as dotted paths: ``data``, ``data.input_length``, ..."""
    keys = []
    for key, value in node.items():
        keys.append(f"{prefix}{key}")
        if isinstance(value, dict):
            keys += config_keys(value, f"{prefix}{key}.")
    return keys


def composed(
    overrides: list[Override],
    conf_dir: Path,
    config_name: str = "train",
    extra: tuple[str, ...] = (),
    search: str | None = None,
    user_dirs: tuple[Path, ...] = (),
):
    """The config the command line's group choices (and hydra settings, and ``extra`` overrides) compose to,
    hydra node included.

    For a sweep, the first value of each swept group: one job's config shows which keys there are.
    """
    groups = []
    for override in overrides:
        of_hydra = override.key_or_group.startswith(("hydra/", "hydra.")) and not override.is_add()
        if search is not None and override.key_or_group == "hydra.searchpath":
            continue  # given once, with --config-dir's folder, below
        if (is_group(override, conf_dir, user_dirs) or of_hydra) and (values := values_of(override)):
            groups.append(f"{override.key_or_group}={values[0]}")
    groups += [search] if search is not None else []
    return compose_config([*groups, *extra], ".", with_hydra=True, config_name=config_name, conf_dir=conf_dir)


def misspelled_key(
    overrides: list[Override], cfg, conf_dir: Path = CONF_DIR, user_dirs: tuple[Path, ...] = ()
) -> str | None:
    """One line for the first ``key=value`` whose key the config does not have, naming the closest one.

    Hydra's own message advises appending the key with ``+``, which turns a typo into a silently
    ignored setting. Keys under ``hydra.`` and ``+key``/``~key`` overrides are left to Hydra.
    The same for the keys a sweep preset searches (``hydra.sweeper.params``).
    """
    plain = [o.key_or_group for o in overrides if not o.is_add() and not o.is_delete() and not o.is_force_add()]
    searched = list(OmegaConf.select(cfg, "hydra.sweeper.params", default=None) or {})
    typed = "{key}: no such key; {hint} (+{key}=... adds a new key on purpose)"
    in_search = "hydra.sweeper.params.{key}: no such key in the config; {hint}"
    for key, message in [(k, typed) for k in plain] + [(k, in_search) for k in searched]:
        if any((d / key).is_dir() for d in (conf_dir, *user_dirs)) or key.startswith("hydra"):
            continue  # a config group, or Hydra's own settings
        if (hint := missing_key_hint(cfg, key)) is not None:
            return message.format(key=key, hint=hint)
    return None


def bad_sweep_settings(args, overrides: list[Override], cfg) -> str | None:
    """A sweep-only group without ``-m``; a launcher's ``n_jobs`` that is no number of jobs."""
    if not args.multirun:
        for group, what in SWEEP_ONLY.items():
            if any(o.key_or_group == group and not o.is_delete() for o in overrides):
                return f"{group}: {what}; add -m (python train.py -m {group}=...)"
    n_jobs = OmegaConf.select(cfg, "hydra.launcher.n_jobs", default=None)
    if n_jobs is not None and not (is_int(n_jobs) and (n_jobs >= 1 or n_jobs == -1)):
        return f"hydra.launcher.n_jobs: must be an integer >= 1 (or -1: one job per core), got {n_jobs!r}"
    return None


def missing_key_hint(cfg, key: str) -> str | None:
    """None if ``cfg`` has ``key``; else a hint naming the closest key it has."""
    if OmegaConf.select(cfg, key, default=_MISSING, throw_on_missing=False) is not _MISSING:
        return None
    candidates = [k for k in config_keys(OmegaConf.to_container(cfg, resolve=False)) if not k.startswith("hydra")]
    name, group = key.rsplit(".", 1)[-1], key.split(".", 1)[0]
    # the same name one level deeper or higher (data.noise -> data.generator.noise), in the key's group first
    same_name = sorted((k for k in candidates if k.rsplit(".", 1)[-1] == name), key=lambda k: not k.startswith(group))
    close = same_name[:1] or difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else "see `python train.py --cfg job` for the keys"


def unwritable_output(overrides: list[Override], cwd: Path, multirun: bool = False) -> str | None:
    """One line if the run's or sweep's output folder cannot be created and written: its nearest existing
    folder is not writable, or a folder cannot be made there (a path under a file, ``/proc``, ...).

    Without ``hydra.run.dir``/``hydra.sweep.dir``, the folder is Hydra's default, under ``outputs/`` or
    ``multirun/`` of the current folder. Probing makes and removes one folder: nothing is left behind.
    """
    folders = {o.key_or_group: o.get_value_element_as_str() for o in overrides if o.key_or_group in OUTPUT_KEYS}
    default = ("hydra.sweep.dir", "multirun") if multirun else ("hydra.run.dir", "outputs")
    targets = [(key, Path(folder)) for key, folder in folders.items()] or [default]
    for key, folder in targets:
        folder = Path(folder) if Path(folder).is_absolute() else cwd / folder
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            reason = "is not a folder" if not existing.is_dir() else "is not writable"
            return f"{key}: cannot write the run's outputs under {folder}: {existing} {reason}"
        if existing != folder:
            probe = existing / folder.relative_to(existing).parts[0]
            try:
                probe.mkdir()
            except FileExistsError:  # made meanwhile (another run): it can be made
                continue
            except OSError as error:
                problem = f"{existing} holds no new folder ({error.strerror})"
                return f"{key}: cannot write the run's outputs under {folder}: {problem}"
            try:
                probe.rmdir()
            except OSError:  # another run wrote into it meanwhile: it stays theirs
                pass
    return None


def only_prints(args) -> bool:
    """Whether the command line asks Hydra to print something (help, the config, ...) and run nothing."""
    return bool(args.help or args.hydra_help or args.cfg or args.info or args.shell_completion)


def bad_command_line(argv: list[str], cwd: Path, conf_dir: Path = CONF_DIR, config_name: str = "train") -> str | None:
    parsed = parse(argv)
    if parsed is None:
        return None
    args, overrides = parsed
    user_dirs, search = user_config_dirs(args, overrides, cwd)
    if message := unknown_group_option(overrides, conf_dir, user_dirs):
        return message
    if only_prints(args):
        return None
    try:
        cfg = composed(overrides, conf_dir, config_name, search=search, user_dirs=user_dirs)
    except Exception as error:  # noqa: BLE001 - a composition problem: Hydra reports it with its own words
        return typed_value_error(error) or yaml_error(error, cwd)
    return (
        misspelled_key(overrides, cfg, conf_dir, user_dirs)
        or unresolvable_value(overrides, conf_dir, config_name, search, user_dirs)
        or bad_sweep_settings(args, overrides, cfg)
        or unwritable_output(overrides, cwd, args.multirun)
        or (bad_plugin_settings(cfg) if args.multirun else None)
    )


def typed_value_error(error: BaseException) -> str | None:
    """``KEY: Value 'abc' of type 'str' could not be converted to Integer``: a value a typed config node
    (a plugin's settings) refused while composing, in one line; None for any other composition problem."""
    while error is not None:
        if isinstance(error, OmegaConfBaseException) and getattr(error, "full_key", None):
            return f"{error.full_key}: {str(error.msg).strip().splitlines()[0]}"
        error = error.__cause__ or error.__context__
    return None


def yaml_error(error: BaseException, cwd: Path) -> str | None:
    """``conf/experiment/mine.yaml:3:17: not valid YAML: expected ',' or ']', but got ':'``: a config file
    that does not parse, by its file, line and column (Hydra prints a long traceback); None otherwise."""
    while error is not None:
        if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
            mark = error.problem_mark
            name = Path(mark.name)
            shown = name.relative_to(cwd) if name.is_absolute() and cwd in name.parents else name
            what = "; ".join(str(p).strip() for p in (error.context, error.problem) if p)
            return f"{shown}:{mark.line + 1}:{mark.column + 1}: not valid YAML: {what}"
        error = error.__cause__ or error.__context__
    return None


def unresolvable_value(
    overrides: list[Override], conf_dir: Path, config_name: str, search: str | None, user_dirs: tuple[Path, ...]
) -> str | None:
    """A command-line value whose interpolation cannot resolve (``a=${a}``: recursive; ``${nowhere}``), in one
    line; those that need a running Hydra (``${hydra:...}``) are left to it."""
    for override in overrides:
        if override.is_delete() or override.is_sweep_override() or "${" not in str(override.value()):
            continue
        try:
            cfg = composed(overrides, conf_dir, config_name, (override.input_line,), search, user_dirs)
        except Exception:  # noqa: BLE001 - a value Hydra refuses while composing: its own message says why
            continue
        try:
            OmegaConf.select(cfg, override.key_or_group, throw_on_resolution_failure=True)
        except OmegaConfBaseException as error:
            message = str(error).strip().splitlines()[0]
            if "HydraConfig" not in message:
                return f"{override.key_or_group}: {override.value()} cannot be resolved: {message}"
    return None


def bad_plugin_settings(cfg) -> str | None:
    """The sweeper's and the launcher's settings, by the objects their plugins build (``src.config.plugins``)."""
    from src.config.plugins import check_sweep_plugins

    try:
        check_sweep_plugins(cfg)
    except ConfigError as error:
        return str(error)
    return None


def exit_on_bad_command_line(conf_dir: Path = CONF_DIR, config_name: str = "train") -> None:
    message = bad_command_line(sys.argv[1:], Path.cwd(), conf_dir, config_name)
    if message:
        refuse(message)


def refuse(message: str, exit_code: int = 2) -> None:
    """End the process with ``message`` alone on stderr."""
    sys.stderr.write(f"{message}\n")
    sys.exit(exit_code)
