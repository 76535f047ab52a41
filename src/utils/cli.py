"""Command-line checks that run before Hydra composes anything."""

import sys
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser

from src.utils.compose import CONF_DIR
from src.utils.internals import hydra_args_parser


def unknown_group_option(argv: list[str], conf_dir: Path = CONF_DIR) -> str | None:
    """One line naming the first ``group=option`` in ``argv`` whose option has no YAML file, or None.

    Hydra reports this too, but over a dozen lines with its search path; this names the key and
    what is allowed. Anything this cannot parse is left for Hydra to report.
    """
    try:
        overrides = OverridesParser.create().parse_overrides(hydra_args_parser().parse_args(argv).overrides)
    except (Exception, SystemExit):  # noqa: BLE001 - malformed input: Hydra's own message is better
        return None
    for override in overrides:
        group_dir = conf_dir / override.key_or_group
        if override.is_delete() or override.package or not group_dir.is_dir():
            continue
        try:
            values = (
                list(override.sweep_string_iterator())
                if override.is_sweep_override()
                else [override.get_value_element_as_str()]
            )
        except Exception:  # noqa: BLE001 - range() or glob() on a group: let Hydra expand it
            continue
        options = sorted(path.stem for path in group_dir.glob("*.yaml"))
        for value in values:
            if value not in options and value != "null":
                return f"{override.key_or_group}={value}: unknown option; choose one of: {', '.join(options)}"
    return None


def exit_on_unknown_group_option(conf_dir: Path = CONF_DIR) -> None:
    message = unknown_group_option(sys.argv[1:], conf_dir)
    if message:
        sys.stderr.write(message + "\n")
        sys.exit(2)
