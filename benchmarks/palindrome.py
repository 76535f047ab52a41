"""Training throughput of the framework, eager and compiled, against a plain PyTorch loop.

    python benchmarks/palindrome.py [input_length] [repeats] [--no-compile]

All train the vanilla RNN at input_length 19 (80,000 samples, batch 128, RMSprop, gradient
clipping at 10) on the same tensors, from the same initial weights. The framework paths are the
run train.py builds (``build_run``: datamodule, Classifier, Trainer with the default callbacks
and TensorBoard logger), eagerly and with ``module.compile=true``. The plain loop is the
straightforward eager loop a user would write, over the RNN as a user writes it from the
equations (``StepByStepRNN``: each step indexes and projects its input); a fourth path runs the
plain loop over the framework's own network, so the loop's overhead is printed on its own.
Each path runs in a fresh process of its own, as a user's script would: the plain loop's process
as Python and PyTorch leave it (without ``PYTORCH_NVML_BASED_CUDA_CHECK``, which this script's
import of Lightning sets and a plain PyTorch script does not have), the others with the process
settings train.py applies to its process (``configure_process``). Only training epochs are timed, each after an
untimed one in the same process (imports, first calls; the compiled path's untimed run compiles,
and the extra time of its first epoch is printed as the compile time). One untimed round of
processes warms the disk caches; then the four paths run ``repeats`` times (default 4) in
adjacent rounds. A shared machine drifts between fast and slow spells that last longer than a
round, so each round gives ratios measured under one load; their medians are the figures. The
last line is ``ratio framework(best)/plain: R``, best of eager and compiled.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.nn.utils import clip_grad_norm_

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from src.config.compose import compose_config
from src.process import NVML_CHECK, configure_process
from src.run.build import build, build_run


class EpochTimer(pl.Callback):
    def on_train_epoch_start(self, trainer, module):
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        self.seconds = time.perf_counter() - self.start
        self.first = getattr(self, "first", self.seconds)


def compose_cfg(input_length: int, output_dir: str, *extra: str):
    overrides = [
        f"data.input_length={input_length}",
        "trainer=cpu",
        "trainer.max_epochs=1",
        "trainer.limit_val_batches=0",
        "trainer.num_sanity_val_steps=0",
        "callbacks.progress_bar=null",
        "trainer.enable_progress_bar=false",
        "callbacks.early_stopping=null",
        *extra,
    ]
    return compose_config(overrides, output_dir)


def framework_epoch(cfg) -> tuple[float, int]:
    """Seconds for the last training epoch of the run train.py builds (``build_run``), and samples seen.

    The first epoch's seconds are kept in ``framework_epoch.first`` (with compiling, if any).
    """
    run = build_run(cfg, extra_callbacks=[timer := EpochTimer()])
    run.trainer.fit(run.module, datamodule=run.datamodule)
    framework_epoch.first = timer.first
    return timer.seconds, len(run.datamodule.splits["train"][1])


class StepByStepRNN(torch.nn.Module):
    """The vanilla RNN as a user writes it from the equations: each step indexes its input and
    projects it, ``h = tanh(x_t W_hx^T + h W_hh^T + b_h)``. Same parameters as ``VanillaRNN``."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.W_hx, self.W_hh, self.b_h, self.W_ph, self.b_o = (
            torch.nn.Parameter(p.detach().clone()) for p in (net.W_hx, net.W_hh, net.b_h, net.W_ph, net.b_o)
        )

    def forward(self, x):
        h = torch.zeros(x.shape[0], self.W_hh.shape[0], device=x.device)
        for t in range(x.shape[1]):
            h = torch.tanh(x[:, t] @ self.W_hx.T + h @ self.W_hh.T + self.b_h)
        return h @ self.W_ph.T + self.b_o


def plain_epoch(cfg, network: str = "hand-written") -> tuple[float, int]:
    """The same epoch as a hand-written loop: forward, cross-entropy, backward, clip, step."""
    pl.seed_everything(cfg.seed, verbose=False)
    datamodule = build("data", cfg.data)
    device = torch.device("cuda" if cfg.trainer.accelerator in ("gpu", "cuda") else "cpu")
    net = build("model", cfg.model)
    if network == "hand-written" and hasattr(net, "W_hh"):  # the vanilla RNN: as a user would write it
        net = StepByStepRNN(net)
    net = net.to(device)
    optimizer = build("optimizer", cfg.optimizer)(net.parameters())
    datamodule.setup()
    loader = datamodule.train_dataloader()
    start = time.perf_counter()
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = torch.nn.functional.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(net.parameters(), cfg.trainer.gradient_clip_val)
        optimizer.step()
    torch.cuda.synchronize() if device.type == "cuda" else None
    return time.perf_counter() - start, len(datamodule.splits["train"][1])


def same_network_epoch(cfg) -> tuple[float, int]:
    """The plain loop over the framework's own ``VanillaRNN``: what the framework's loop costs."""
    return plain_epoch(cfg, network="framework")


PATHS = {"eager": framework_epoch, "compiled": framework_epoch, "plain": plain_epoch, "plain-same": same_network_epoch}


def child(name: str, input_length: int) -> None:
    """One path in this fresh process: an untimed epoch (imports, first calls, compiling), then a timed one.

    Prints ``RESULT seconds samples first_epoch_seconds``. The plain loop's process is left as a
    user's script leaves it; the others get the process settings train.py applies.
    """
    if name == "plain":  # as a script that never imported Lightning (which sets it) runs
        os.environ.pop(NVML_CHECK, None)
    else:  # what train.py does: the bare loop over the same network runs set up alike
        configure_process()
    with tempfile.TemporaryDirectory() as output_dir:
        extra = ("module.compile=true", "trainer.max_epochs=2") if name == "compiled" else ()
        cfg = compose_cfg(input_length, output_dir, *extra)
        PATHS[name](cfg)
        first = getattr(framework_epoch, "first", 0.0)
        seconds, samples = PATHS[name](cfg)
    print(f"RESULT {seconds} {samples} {first}", flush=True)


def run_child(name: str, input_length: int) -> tuple[float, int, float]:
    """``child`` in a subprocess: (seconds, samples, first epoch's seconds)."""
    script = str(Path(__file__).resolve())
    output = subprocess.run(
        [sys.executable, script, str(input_length), "--child", name], capture_output=True, text=True, check=False
    )
    lines = [line for line in output.stdout.splitlines() if line.startswith("RESULT ")]
    if output.returncode or not lines:
        sys.exit(f"the {name} path failed:\n{output.stdout[-2000:]}{output.stderr[-4000:]}")
    seconds, samples, first = lines[-1].split()[1:]
    return float(seconds), int(samples), float(first)


def main(input_length: int = 19, repeats: int = 4, compiled: bool = True) -> None:
    names = [n for n in PATHS if compiled or n != "compiled"]
    rates: dict[str, list[float]] = {name: [] for name in PATHS}
    for name in names:  # a first process of each: the disk caches (compiled code) warm up, untimed
        seconds, _, first = run_child(name, input_length)
        if name == "compiled":
            compile_seconds = first - seconds
            first_seconds = first
    for _ in range(repeats):
        for name in names:
            seconds, samples, _ = run_child(name, input_length)
            rates[name].append(samples / seconds)
            print(f"{name:9s} {samples / seconds:10.0f} samples/s ({seconds:.2f} s an epoch)", flush=True)
    if compiled:
        print(
            f"compile time: {compile_seconds:.1f} s (first epoch {first_seconds:.1f} s of a process whose "
            f"compile cache was cold or warm as it found it; a later process of the same shapes reads the cache)"
        )
    overhead = [e / p for e, p in zip(rates["eager"], rates["plain-same"])]
    print(
        "framework eager / plain loop with the framework's own network, per round (the loop's overhead): "
        + " ".join(f"{r:.3f}" for r in overhead)
        + f"; median {statistics.median(overhead):.3f}"
    )
    ratios = {name: [r / p for r, p in zip(rates[name], rates["plain"])] for name in ("eager", "compiled")}
    for name, values in ratios.items():
        if values:
            print(f"{name}/plain per round: " + " ".join(f"{r:.3f}" for r in values))
    best = max(statistics.median(values) for values in ratios.values() if values)
    print(f"ratio framework(best)/plain: {best:.3f}")


if __name__ == "__main__":
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    if "--child" in sys.argv:
        child(sys.argv[sys.argv.index("--child") + 1], *numbers[:1])
    else:
        main(*numbers, compiled="--no-compile" not in sys.argv)
