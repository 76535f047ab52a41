"""The GPU check: compiled training, the image fast path, and a fast Fashion-MNIST recipe, in one script.

    python benchmarks/gpu.py            # on one GPU: under 5 minutes
    python benchmarks/gpu.py --tiny     # tiny sizes on the CPU, so the script cannot rot (a test runs it);
                                        # its compiled paths use the aot_eager backend (traced, not code-generated)

    python benchmarks/gpu.py --extra trainer.precision=32-true   # an override for every section's runs
    make gpu-check                      # the same, with the project's environment

Every section runs even when another fails: a failure is one line (``SECTION: failed: ...``) and
the script exits 1 at the end. Prints, each measured in this run:
1. Palindrome RNN samples/s: the framework eager, compiled (``module.compile=true``) and compiled
   with CUDA graphs (``module.compile_mode=reduce-overhead``) against the plain eager loop, as
   ratios; a path that fails is one line and the others still run.
2. Reduced-VGG training images/s on 50,000 CIFAR-shaped uint8 images made in memory (CIFAR-10
   itself cannot be downloaded here): fp32, bf16 + channels_last, bf16 + channels_last + compile,
   with the seconds a 50k-image epoch takes and the ratios to fp32, and the framework against a
   plain PyTorch loop over the same network, data placement and precision (benchmarks/images.py).
3. ``experiment=fashion_fast`` (the reduced VGG on Fashion-MNIST: augmentation, batch 512,
   Nesterov SGD, a one-cycle schedule, label smoothing, bf16 + channels_last) for seeds 0, 1 and
   2: wall seconds and test accuracy of each, and the mean accuracy (target: >= 94% in under 60 s).
   Fashion-MNIST is read from data/ or from Debian's dataset-fashion-mnist; a machine with neither
   needs a copy under data/FashionMNIST/raw.
4. ``experiment=cnn_recipe`` (the CIFAR-10 recipe): seconds per 50k-image epoch on CIFAR-shaped data.
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
from images import plain as plain_images_per_second
from palindrome import compose_cfg, framework_epoch, plain_epoch

from src.config.compose import ROOT_DIR, compose_config
from src.config.errors import one_line
from src.process import configure_process
from src.run.build import build_run

GPU = torch.cuda.is_available()
DEVICE = ["trainer=gpu"] if GPU else ["trainer=cpu"]
EXTRA: list[str] = []  # --extra KEY=VALUE: added to every section's runs


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
    """The framework eager, compiled (default mode) and compiled with CUDA graphs (reduce-overhead), and the plain
    loop. A compiled path trains two epochs and times the second (compiling falls in the first); each starts
    from fresh compiler state (``torch.compiler.reset``), so no path runs on another's compiled code or CUDA
    graphs. A path that fails says so in one line and the others still run."""
    length, extra = (5, ["data.data_size=2000"]) if tiny else (19, [])
    with tempfile.TemporaryDirectory() as out:
        paths = {
            "eager": (framework_epoch, compose_cfg(length, out, *DEVICE, *extra, *EXTRA)),
            "plain": (plain_epoch, compose_cfg(length, out, *DEVICE, *extra, *EXTRA)),
        }
        for name, mode in (("compiled", "default"), ("cuda-graphs", "reduce-overhead")):
            overrides = [*compiled(tiny), f"module.compile_mode={mode}", "trainer.max_epochs=2"]
            paths[name] = (framework_epoch, compose_cfg(length, out, *DEVICE, *extra, *overrides, *EXTRA))
        rates, failed = {}, []
        for name, (run, cfg) in paths.items():
            compiles = name in ("compiled", "cuda-graphs")
            try:
                if compiles:
                    torch.compiler.reset()
                elif not tiny:  # a tiny run only shows that each path works: its rates are not compared
                    run(cfg)  # warm-up
                seconds, samples = run(cfg)
                rates[name] = samples / seconds
            except Exception as error:  # noqa: BLE001 - one path's failure must not hide the others' figures
                failed.append(error)
                print(f"palindrome {name}: failed: {one_line(error)}", flush=True)
    if rates:
        plain = rates.get("plain")
        figures = [f"{name} {rate:.0f}" for name, rate in rates.items()]
        ratios = [f"{name}/plain {rate / plain:.2f}" for name, rate in rates.items() if plain and name != "plain"]
        graphs = "" if GPU else " (no CUDA graphs on a CPU: reduce-overhead compiles as default there)"
        ratios = f"; {', '.join(ratios)}" if ratios else ""
        print(f"palindrome (length {length}): {', '.join(figures)} samples/s{ratios}{graphs}", flush=True)
    if failed:
        raise failed[0]  # the section failed: its line names the first path's cause


def vgg_images_per_second(tiny: bool, *overrides: str, batch: int | None = None) -> float:
    count, steps = (16, 4) if tiny else (50_000, 120)
    batch = batch or (2 if tiny else 256)
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
                *EXTRA,
            ],
            out,
        )
        data = OmegaConf.to_container(cfg.data, resolve=True)  # the recipe's data settings, on made images
        for key in ("_target_", "dataset", "root", "download", "val_size", "source_dir"):
            data.pop(key, None)
        cfg.data = OmegaConf.create({**data, "_target_": "images.RandomImages", "count": count, "batch_size": batch})
        skip = 1 if tiny else 3  # steps before the clock starts (the first compiles)
        run = build_run(cfg, extra_callbacks=[timer := StepTimer(skip=skip)])
        run.trainer.fit(run.module, datamodule=run.datamodule)
    return (steps - skip) * batch / timer.seconds


def vgg(tiny: bool) -> None:
    bf16 = ["trainer.precision=bf16-mixed", "module.channels_last=true"]
    variants = {"fp32": [], "bf16+channels_last": bf16, "bf16+channels_last+compile": [*bf16, *compiled(tiny)]}
    rates = {}
    for name, overrides in variants.items():
        rates[name] = rate = vgg_images_per_second(tiny, *overrides)
        print(
            f"reduced VGG {name:28s} {rate:9.0f} images/s, {50_000 / rate:6.1f} s a 50k-image epoch, "
            f"x{rate / rates['fp32']:.2f} of fp32",
            flush=True,
        )
    steps, batch = (4, 2) if tiny else (120, 256)
    precisions = {"fp32": ("32-true", False), "bf16+channels_last": ("bf16-mixed", True)}
    for name, (precision, channels_last) in precisions.items():
        if precision == "bf16-mixed" and not GPU:  # bf16 autocast of this network on a CPU: not what is compared
            continue
        plain = plain_images_per_second(steps, batch, precision, channels_last)
        print(f"reduced VGG {name}: plain loop {plain:.0f} images/s, framework/plain {rates[name] / plain:.2f}")


def recipe(tiny: bool) -> None:
    """Seconds per 50k-image epoch of experiment=cnn_recipe (its batch, augmentation and precision)."""
    overrides = ["experiment=cnn_recipe", *(["trainer.precision=32-true"] if tiny else [])]
    batch = 2 if tiny else compose_config(["experiment=cnn_recipe"], ".").data.batch_size
    rate = vgg_images_per_second(tiny, *overrides, batch=batch)
    print(f"cnn_recipe: {rate:.0f} images/s, {50_000 / rate:.1f} s a 50k-image epoch (CIFAR-shaped data)")


def fashion(tiny: bool) -> None:
    """experiment=fashion_fast for seeds 0, 1 and 2 (its target is their mean; --tiny: seed 0, a few steps)."""
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
    accuracies, seconds = [], []
    for seed in (0,) if tiny else (0, 1, 2):
        with tempfile.TemporaryDirectory() as out:
            cfg = compose_config(
                [
                    "experiment=fashion_fast",
                    f"seed={seed}",
                    *DEVICE,
                    "callbacks.progress_bar=null",
                    "trainer.enable_progress_bar=false",
                    f"data.root={ROOT_DIR / 'data'}",
                    *extra,
                    *EXTRA,
                ],
                out,
            )
            start = time.perf_counter()
            run = build_run(cfg)
            run.trainer.fit(run.module, datamodule=run.datamodule)
            run.trainer.test(run.module, datamodule=run.datamodule, verbose=False)
            seconds.append(time.perf_counter() - start)
        accuracies.append(float(run.trainer.callback_metrics["test/acc"]))
        print(f"fashion_fast seed {seed}: test accuracy {accuracies[-1]:.4f} in {seconds[-1]:.1f} s", flush=True)
    print(
        f"fashion_fast: test accuracy {sum(accuracies) / len(accuracies):.4f} (mean of {len(accuracies)} seeds), "
        f"{max(seconds):.1f} s at most (target >= 0.94 in < 60 s)",
        flush=True,
    )


SECTIONS = {"palindrome": palindrome, "vgg": vgg, "fashion_fast": fashion, "cnn_recipe": recipe}


def main(tiny: bool) -> int:
    """Every section, each in turn whatever the others did; 1 if any failed."""
    configure_process()  # as train.py sets up its own process
    name = torch.cuda.get_device_name() if GPU else "CPU"
    print(f"device: {name}{' (tiny sizes)' if tiny else ''}; torch {torch.__version__}; pytorch-lightning "
          f"{pl.__version__}", flush=True)  # fmt: skip
    failed = []
    for section, run in SECTIONS.items():
        try:
            run(tiny)
        except Exception as error:  # noqa: BLE001 - one section's failure must not hide the others' figures
            failed.append(section)
            print(f"{section}: failed: {one_line(error)}", flush=True)
    print(f"sections failed: {', '.join(failed)}" if failed else "all sections ran", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    EXTRA += [args[i + 1] for i, a in enumerate(args) if a == "--extra" and i + 1 < len(args)]
    sys.exit(main(tiny="--tiny" in args))
