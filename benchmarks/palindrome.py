"""Training throughput of the framework against a plain PyTorch loop, on the same tensors and network.

    python benchmarks/palindrome.py [input_length] [repeats]

Both train the vanilla RNN for one epoch at input_length 19 (80,000 samples, batch 128,
RMSprop, gradient clipping at 10). The framework path is the one train.py builds (datamodule,
Classifier, Trainer with the default callbacks and TensorBoard logger); only its training epoch
is timed, as is the plain loop's. One untimed epoch of each warms the process up; then the two
run ``repeats`` times (default 5) in adjacent pairs. A shared machine drifts between fast and
slow spells that last longer than a pair, so each pair gives a ratio measured under one load;
their median is the figure. The last line is ``ratio framework/plain: R`` (that median).
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.nn.utils import clip_grad_norm_

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from src.utils.build import build, build_run
from src.utils.compose import compose_config


class EpochTimer(pl.Callback):
    def on_train_epoch_start(self, trainer, module):
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        self.seconds = time.perf_counter() - self.start


def compose_cfg(input_length: int, output_dir: str):
    overrides = [
        f"data.input_length={input_length}",
        "trainer=cpu",
        "trainer.max_epochs=1",
        "trainer.limit_val_batches=0",
        "trainer.num_sanity_val_steps=0",
        "callbacks.progress_bar=null",
        "trainer.enable_progress_bar=false",
        "callbacks.early_stopping=null",
    ]
    return compose_config(overrides, output_dir)


def framework_epoch(cfg) -> tuple[float, int]:
    """Seconds for one training epoch of the run train.py builds (``build_run``), and samples seen."""
    run = build_run(cfg, extra_callbacks=[timer := EpochTimer()])
    run.trainer.fit(run.module, datamodule=run.datamodule)
    return timer.seconds, len(run.datamodule.splits["train"][1])


def plain_epoch(cfg) -> tuple[float, int]:
    """The same epoch as a hand-written loop: forward, cross-entropy, backward, clip, step."""
    pl.seed_everything(cfg.seed, verbose=False)
    datamodule = build("data", cfg.data)
    net = build("model", cfg.model)
    optimizer = build("optimizer", cfg.optimizer)(net.parameters())
    datamodule.setup()
    loader = datamodule.train_dataloader()
    start = time.perf_counter()
    for x, y in loader:
        loss = torch.nn.functional.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(net.parameters(), cfg.trainer.gradient_clip_val)
        optimizer.step()
    return time.perf_counter() - start, len(datamodule.splits["train"][1])


def main(input_length: int = 19, repeats: int = 5) -> None:
    rates = {"framework": [], "plain": []}
    with tempfile.TemporaryDirectory() as output_dir:
        cfg = compose_cfg(input_length, output_dir)
        framework_epoch(cfg), plain_epoch(cfg)  # warm-up: lazy imports and first-call set-up
        for _ in range(repeats):
            for name, run in (("framework", framework_epoch), ("plain", plain_epoch)):
                seconds, samples = run(cfg)
                rates[name].append(samples / seconds)
                print(f"{name:9s} {samples / seconds:10.0f} samples/s ({seconds:.2f} s)", flush=True)
    ratios = [f / p for f, p in zip(rates["framework"], rates["plain"])]
    print(
        f"best: framework {max(rates['framework']):.0f} samples/s, plain {max(rates['plain']):.0f} samples/s, "
        f"ratio of bests {max(rates['framework']) / max(rates['plain']):.3f}"
    )
    print("ratio per pair: " + " ".join(f"{r:.3f}" for r in ratios))
    print(f"ratio framework/plain: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
