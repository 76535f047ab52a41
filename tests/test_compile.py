"""module.compile=true: torch.compile on the network, checkpoints interchangeable with eager runs."""

import re
import subprocess
import sys

import pytest
import torch

from src.config.compose import ROOT_DIR
from src.run.build import build_run
from tests.conftest import TINY_RNN, subprocess_env
from tests.helpers import read_scalars
from train import train


@pytest.mark.slow
def test_a_compiled_run_trains_and_its_checkpoints_load_into_an_eager_network(make_cfg, tmp_path):
    train(make_cfg(*TINY_RNN, "trainer.max_epochs=2", "module.compile=true", name="compiled"))
    assert read_scalars(tmp_path / "compiled")["val/acc_best"][-1] > 0.2  # chance is 0.1
    compiled = torch.load(tmp_path / "compiled" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    eager = build_run(make_cfg(*TINY_RNN, name="eager")).module
    assert set(compiled) == set(eager.state_dict())  # no _orig_mod. prefixes
    eager.load_state_dict(compiled)  # strict: every key fits
    again = build_run(make_cfg(*TINY_RNN, "module.compile=true", name="again")).module
    again.load_state_dict(eager.state_dict())  # and back


@pytest.mark.slow
def test_the_gpu_benchmark_runs_on_the_cpu_with_tiny_sizes():
    result = subprocess.run(
        [sys.executable, str(ROOT_DIR / "benchmarks" / "gpu.py"), "--tiny"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT_DIR,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "eager/plain" in out and "compiled/plain" in out and "cuda-graphs/plain" in out
    for variant in ("fp32", "bf16+channels_last", "bf16+channels_last+compile"):
        assert f"reduced VGG {variant}" in out
    assert "fashion_fast: test accuracy" in out
    assert "reduced VGG fp32: plain loop" in out and "cnn_recipe: " in out and "all sections ran" in out


@pytest.mark.slow
def test_the_gpu_check_runs_every_section_when_each_fails_and_says_so_in_one_line():
    result = subprocess.run(
        [sys.executable, str(ROOT_DIR / "benchmarks" / "gpu.py"), "--tiny", "--extra", "trainer.precision=15"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT_DIR,
    )
    lines = result.stdout.splitlines()
    sections = [line for line in lines if re.match(r"\w+: failed: ", line)]  # "vgg: failed: ..."
    paths = [line for line in lines if re.match(r"palindrome [\w-]+: failed: ", line)]  # each palindrome path too
    assert result.returncode == 1 and [line.split(":")[0] for line in sections] == [
        "palindrome", "vgg", "fashion_fast", "cnn_recipe"
    ]  # fmt: skip
    assert [line.split(":")[0].split()[1] for line in paths] == [
        "eager",
        "compiled",
        "cuda-graphs",
    ]  # not the plain loop
    assert all("trainer.precision: 15 refused by Trainer" in line for line in sections + paths), lines
    assert "sections failed: palindrome, vgg, fashion_fast, cnn_recipe" in result.stdout


def tiny_networks():
    from src.networks.cnn import ReducedVGG
    from src.networks.mlp import MLP
    from src.networks.rnn import VanillaRNN

    return {
        "rnn": (VanillaRNN(10, 16, 10), (4, 5, 10)),
        "mlp": (MLP(2, [8, 8], 2), (4, 2)),
        "cnn": (ReducedVGG(3, 10), (2, 3, 32, 32)),
    }


@pytest.mark.parametrize("name", ["rnn", "mlp", "cnn"])
def test_every_tensor_a_compiled_network_computes_with_moves_with_the_network(name):
    """The network and its input on the meta device: a tensor it holds outside its parameters and
    buffers, or makes on a fixed device, stays behind on the CPU, and tracing the compiled forward
    and backward fails on the mix of devices. On a GPU that tensor is a CPU operand inside a captured
    CUDA graph, which fails only there, mid-run."""
    from functorch.compile import make_boxed_func
    from torch._dynamo.backends.common import aot_autograd

    traced = []

    def keep(graph, example_inputs):
        traced.append(graph)
        return make_boxed_func(graph.forward)

    net, shape = tiny_networks()[name]
    net = net.to("meta")
    net.compile(backend=aot_autograd(fw_compiler=keep, bw_compiler=keep))  # as module.compile=true does
    torch._dynamo.reset()
    net(torch.randn(shape, device="meta")).sum().backward()
    assert len(traced) >= 2  # a forward and a backward graph were traced
    assert all(p.grad is not None and p.grad.device.type == "meta" for p in net.parameters())
