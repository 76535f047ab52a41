"""Test a trained model, or classify inputs with it, from its checkpoint alone.

python eval.py ckpt_path=outputs/2026-12-01/10-00-00_4242          # a run folder: its best checkpoint
python eval.py ckpt_path=latest split=val                           # the newest run, on its validation split
python eval.py ckpt_path=RUN data.input_length=50                   # the same model on longer palindromes
python eval.py ckpt_path=RUN predict='[[1,2,3,4,3,2]]'              # the last digit of each palindrome
"""

import sys

from omegaconf import DictConfig

import src.config.resolvers  # noqa: F401  (registers ${pid:} and the rest before Hydra composes)


def make_evaluation(cfg: DictConfig, origin):
    """What ``python eval.py`` makes of its composed config."""
    from src.evaluate import Evaluation

    return Evaluation(cfg, list(origin.overrides), origin.config_folders)


if __name__ == "__main__":
    from src.app.launch import main

    main(sys.argv[1:], "eval", make_evaluation)
