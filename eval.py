"""Test a trained model, or classify inputs with it, from its checkpoint alone.

python eval.py ckpt_path=outputs/2026-12-01/10-00-00_4242          # a run folder: its best checkpoint
python eval.py ckpt_path=latest split=val                           # the newest run, on its validation split
python eval.py ckpt_path=RUN data.input_length=50                   # the same model on longer palindromes
python eval.py ckpt_path=RUN predict='[[1,2,3,4,3,2]]'              # the last digit of each palindrome
"""

import logging
import os

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import src.config.resolvers  # noqa: F401  (registers ${pid:} and the rest before Hydra composes)
from src.config.command_line import exit_on_bad_command_line, refuse
from src.config.errors import ConfigError

log = logging.getLogger("eval")


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    from src.evaluate import run_eval
    from src.process import configure_process

    configure_process(**cfg.process)
    try:
        result = run_eval(cfg, list(HydraConfig.get().overrides.task))
    except ConfigError as error:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        from src.run.status import mark_refused

        mark_refused(cfg.paths.output_dir, error, "evaluating")  # its folder holds no result: it says why
        refuse(str(error))
    log.info("Checkpoint: %s", result["checkpoint"])
    for line in describe(cfg, result):
        print(line)
    log.info("Written to %s", os.path.join(cfg.paths.output_dir, "eval.json"))


def describe(cfg: DictConfig, result: dict) -> list[str]:
    """What eval prints: the split's metrics, or one line per input with its most probable classes."""
    if "metrics" in result:
        return [" ".join(f"{name}={value:.4f}" for name, value in result["metrics"].items())]
    return [
        f"input {i}: class {p['class']} ({', '.join(f'{c}: {q:.3f}' for c, q in p['top'].items())})"
        for i, p in enumerate(result["predictions"])
    ]


if __name__ == "__main__":
    exit_on_bad_command_line(config_name="eval")  # before Hydra composes: no torch, well under a second
    main()
