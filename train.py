"""Train and test one model: read the command line once, check it, set the run up, fit, test, finish.

python train.py                              # vanilla RNN on palindromes (the default job)
python train.py model=rnn optimizer=adam optimizer.lr=3e-4
python train.py -m data.input_length=range(3,20)
python train.py --help                       # groups, options and the composed config

The path from here to the first training step (docs/CONTRIBUTING.md, "The path of a run"):
src/app/launch.py reads and composes the command line once and checks it (torch-free); then a
``Run`` (src/run/run.py) is set up (checked by signatures and rules, resumed, built, its folder
claimed) before Hydra's job writes into that folder, and executed: fit, test, finish.
"""

import sys

from omegaconf import DictConfig

import src.config.resolvers  # noqa: F401  (registers ${if:...} and ${pid:} before Hydra composes)


def make_run(cfg: DictConfig, origin=None):
    """The run ``python train.py`` makes of its composed config (in a sweep: of each job's)."""
    from src.run.run import Run

    return Run(cfg, in_sweep=origin.in_sweep, command=origin.command) if origin else Run(cfg)


def train(cfg: DictConfig) -> float | None:
    """Set up, fit, test and finish the run of ``cfg`` in this process (a test's or a benchmark's composed
    config); the value a sweeper optimizes."""
    run = make_run(cfg)
    run.setup()
    return run.execute()


if __name__ == "__main__":
    from src.app.launch import main

    main(sys.argv[1:], "train", make_run)
