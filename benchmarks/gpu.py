"""The GPU check: compiled training, the image fast path, and a fast Fashion-MNIST recipe, in one script.

    python benchmarks/gpu.py            # on one GPU: under 5 minutes
    python benchmarks/gpu.py --tiny     # tiny sizes on the CPU, so the script cannot rot (a test runs it);
                                        # its compiled paths use the aot_eager backend (traced, not code-generated)

Prints, each measured in this run:
1. Palindrome RNN samples/s: the framework eager and compiled (``module.compile=true``, mode
   ``reduce-overhead`` = CUDA graphs on a GPU) against the plain eager loop, as ratios.
2. Reduced-VGG training images/s on 50,000 CIFAR-shaped uint8 images made in memory (CIFAR-10
   itself cannot be downloaded here): fp32, bf16 + channels_last, bf16 + channels_last + compile,
   with the seconds a 50k-image epoch takes and the ratios to fp32.
3. ``experiment=fashion_fast`` (the reduced VGG on Fashion-MNIST: augmentation, batch 512,
   Nesterov SGD, cosine schedule, label smoothing, bf16 + channels_last): wall seconds and test
   accuracy (target: >= 94% in under 60 s). Fashion-MNIST is read from data/ or from Debian's
   dataset-fashion-mnist; a machine with neither needs a copy under data/FashionMNIST/raw.
"""

import sys
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from palindrome import compose_cfg, framework_epoch, plain_epoch

from src.build import build_run
from src.config.compose import ROOT_DIR, compose_config
from src.process import configure_process

GPU = torch.cuda.is_available()
DEVICE = ["trainer=gpu"] if GPU else ["trainer=cpu"]


def compiled(tiny: bool) -> list[str]:
    """Compile the network; in a tiny run with aot_eager, which traces as inductor does but generates no code."""
    return ["module.compile=true", *(["module.compile_backend=aot_eager"] if tiny else [])]


class StepTimer(pl.Callback):
    """Seconds from training step ``skip`` (after warm-up and compiling) to the end of training."""

    def __init__(self, skip: int):
        self.skip, self.start = skip, None

    def on_train_batch_start(self, trainer, *args):
        if trainer.global_step == self.skip:
            torch.cuda.synchronize() if GPU else None
            self.start = time.perf_counter()

    def on_train_end(self, trainer, *args):
        torch.cuda.synchronize() if GPU else None
        self.seconds = time.perf_counter() - self.start


def palindrome(tiny: bool) -> None:
    length, extra = (5, ["data.data_size=2000"]) if tiny else (19, [])
    mode = "reduce-overhead" if GPU else "default"
    with tempfile.TemporaryDirectory() as out:
        runs = {
            "eager": (framework_epoch, compose_cfg(length, out, *DEVICE, *extra)),
            "compiled": (
                framework_epoch,
                compose_cfg(
                    length,
                    out,
                    *DEVICE,
                    *extra,
                    *compiled(tiny),
                    f"module.compile_mode={mode}",
                    "trainer.max_epochs=2",
                ),
            ),
            "plain": (plain_epoch, compose_cfg(length, out, *DEVICE, *extra)),
        }
        rates = {}
        for name, (run, cfg) in runs.items():
            if not tiny:  # a tiny run only shows that each path works: its rates are not compared
                run(cfg)  # warm-up (and compiling)
            seconds, samples = run(cfg)
            rates[name] = samples / seconds
    print(
        f"palindrome (length {length}): eager {rates['eager']:.0f}, compiled ({mode}) {rates['compiled']:.0f}, "
        f"plain {rates['plain']:.0f} samples/s; eager/plain {rates['eager'] / rates['plain']:.2f}, "
        f"compiled/plain {rates['compiled'] / rates['plain']:.2f}",
        flush=True,
    )


def vgg_images_per_second(tiny: bool, *overrides: str) -> float:
    count, batch, steps = (16, 2, 4) if tiny else (50_000, 256, 120)
    with tempfile.TemporaryDirectory() as out:
        cfg = compose_config(
            [
                "model=cnn",
                *DEVICE,
                "trainer.max_steps=" + str(steps),
                "trainer.max_epochs=-1",
                "trainer.limit_val_batches=0",
                "trainer.num_sanity_val_steps=0",
                "callbacks.progress_bar=null",
                "trainer.enable_progress_bar=false",
                "callbacks.model_checkpoint=null",
                "callbacks.last_checkpoint=null",
                *overrides,
            ],
            out,
        )
        cfg.data = OmegaConf.create(
            {
                "_target_": "images.RandomImages",
                "count": count,
                "batch_size": batch,
                "channels": 3,
                "num_classes": 10,
                "input_dim": 3072,
            }
        )
        skip = 1 if tiny else 3  # steps before the clock starts (the first compiles)
        run = build_run(cfg, extra_callbacks=[timer := StepTimer(skip=skip)])
        run.trainer.fit(run.module, datamodule=run.datamodule)
    return (steps - skip) * batch / timer.seconds


def vgg(tiny: bool) -> None:
    bf16 = ["trainer.precision=bf16-mixed", "module.channels_last=true"]
    variants = {"fp32": [], "bf16+channels_last": bf16, "bf16+channels_last+compile": [*bf16, *compiled(tiny)]}
    rates = {name: vgg_images_per_second(tiny, *overrides) for name, overrides in variants.items()}
    for name, rate in rates.items():
        print(
            f"reduced VGG {name:28s} {rate:9.0f} images/s, {50_000 / rate:6.1f} s a 50k-image epoch, "
            f"x{rate / rates['fp32']:.2f} of fp32",
            flush=True,
        )


def fashion(tiny: bool) -> None:
    extra = (
        [
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=2",
            "trainer.limit_val_batches=1",
            "trainer.limit_test_batches=1",
            "trainer.precision=32-true",
            "data.batch_size=16",
        ]
        if tiny
        else []
    )
    with tempfile.TemporaryDirectory() as out:
        cfg = compose_config(
            [
                "experiment=fashion_fast",
                *DEVICE,
                "callbacks.progress_bar=null",
                "trainer.enable_progress_bar=false",
                f"data.root={ROOT_DIR / 'data'}",
                *extra,
            ],
            out,
        )
        start = time.perf_counter()
        run = build_run(cfg)
        run.trainer.fit(run.module, datamodule=run.datamodule)
        run.trainer.test(run.module, datamodule=run.datamodule, verbose=False)
        seconds = time.perf_counter() - start
    accuracy = float(run.trainer.callback_metrics["test/acc"])
    print(f"fashion_fast: test accuracy {accuracy:.4f} in {seconds:.1f} s (target >= 0.94 in < 60 s)", flush=True)


def main(tiny: bool) -> None:
    configure_process()  # as train.py sets up its own process
    name = torch.cuda.get_device_name() if GPU else "CPU"
    print(f"device: {name}{' (tiny sizes)' if tiny else ''}; torch {torch.__version__}", flush=True)
    palindrome(tiny)
    vgg(tiny)
    fashion(tiny)


if __name__ == "__main__":
    main(tiny="--tiny" in sys.argv)
