"""Train and test one model: compose the config, instantiate, fit, test the best checkpoint.

python train.py                              # vanilla RNN on palindromes (the default job)
python train.py model=rnn optimizer=adam optimizer.lr=3e-4
python train.py -m data.input_length=range(3,20)
python train.py --help                       # groups, options and the composed config
"""

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

import src.utils.resolvers  # noqa: F401  (registers ${if:...} and ${pid:} before Hydra composes)
from src.metrics import STEP_TAGS
from src.utils.build import build_run
from src.utils.checkpoints import resolve_ckpt_path, run_dir_of
from src.utils.cli import exit_on_unknown_group_option

log = logging.getLogger("train")


def train(cfg: DictConfig) -> float | None:
    """Fit and test as ``cfg`` says; return ``cfg.optimized_metric`` for sweepers."""
    ckpt_path = resolve_ckpt_path(cfg.ckpt_path, cfg.paths.root_dir, cfg.paths.output_dir)
    if ckpt_path and (resumed_dir := run_dir_of(ckpt_path)):  # a resumed run goes on in its own
        cfg.paths.output_dir = str(resumed_dir)  # folder: one TB run, and its best checkpoint is known
    run = build_run(cfg)
    trainer = run.trainer
    if ckpt_path:
        log.info("Resuming from %s, writing to %s", ckpt_path, cfg.paths.output_dir)
    trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=ckpt_path)
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    if cfg.test_after_fit:
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        test_ckpt = best if cfg.test_ckpt == "best" and best else None  # None: the weights in hand
        trainer.test(run.module, datamodule=run.datamodule, ckpt_path=test_ckpt, verbose=False)
        metrics.update({name: float(value) for name, value in trainer.callback_metrics.items()})
    output_dir = Path(cfg.paths.output_dir)
    final = {k: v for k, v in sorted(metrics.items()) if k not in STEP_TAGS}
    log.info("Final metrics: %s", ", ".join(f"{k}={v:.4f}" for k, v in final.items()))
    log.info("Logs and checkpoints: %s", output_dir)
    log.info("View them with: tensorboard --logdir %s", output_dir)
    return metrics.get(cfg.optimized_metric)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return train(cfg)


if __name__ == "__main__":
    exit_on_unknown_group_option()
    main()
