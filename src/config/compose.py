"""Compose ``train.py``'s config without running it: for the tests, benchmarks and the report CLI."""

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import src.config.resolvers  # noqa: F401  (registers the resolvers the configs use)

ROOT_DIR = Path(__file__).resolve().parents[2]
CONF_DIR = ROOT_DIR / "conf"


def compose_config(
    overrides: list[str],
    output_dir: str | Path,
    with_hydra: bool = False,
    config_name: str = "train",
    conf_dir: Path = CONF_DIR,
) -> DictConfig:
    """The config ``python train.py OVERRIDES`` would get, writing its outputs into ``output_dir``, run from the
    folder above it (``paths.root_dir``: where ``data/`` is, and where ``ckpt_path=latest`` looks).

    ``with_hydra`` keeps the ``hydra`` node (launcher, sweeper) in it; ``config_name="eval"`` is eval.py's.
    """
    root_dir = Path(output_dir).absolute().parent
    version = {"version_base": "1.3"} if hydra_before_1_4() else {}  # Hydra 1.4 deprecates it (1.3 is its default)
    with initialize_config_dir(str(conf_dir), **version):
        return compose(
            config_name,
            overrides=[f"paths.root_dir='{root_dir}'", f"paths.output_dir='{output_dir}'", *overrides],
            return_hydra_config=with_hydra,
        )


def hydra_before_1_4() -> bool:
    """Whether the Hydra installed is the stable line's (1.3), whose defaults ``version_base`` chooses."""
    from hydra import __version__

    return tuple(int(part) for part in __version__.split(".")[:2]) < (1, 4)


def config_options(group: str, conf_dir: Path = CONF_DIR) -> list[str]:
    """The options of a config group, by file name: ``config_options("optimizer")`` -> adam, rmsprop, sgd."""
    return sorted(path.stem for path in (conf_dir / group).glob("*.yaml"))
