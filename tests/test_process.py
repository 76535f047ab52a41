"""Process settings: a training step re-uses the memory the previous one freed, without page faults,
and asks no GPU library whether a GPU is there on a machine without one."""

import platform
import subprocess
import sys

import pytest
import torch

from src import process
from src.config.compose import ROOT_DIR
from src.config.errors import ConfigError
from src.process import configure_process, keep_freed_blocks
from src.trainer import devices

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def python_snippet(code: str, *args: str) -> str:
    """What ``python -c CODE ARGS`` prints, run from the project's root (two minutes at most)."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT_DIR, capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout


# A step that allocates, fills and frees a 40 MiB tensor. glibc's defaults hand such a block back to
# the system when it is freed (it is over the 32 MiB that glibc's adaptive threshold can reach), so
# every step faults each of its pages in anew; the settings keep it for the next step. (A real step's
# ~1.2 MiB blocks suffer the same whenever the adaptive thresholds trim them, which depends on the
# order of allocations: measured in benchmarks/palindrome.py, not here.)
FAULTS_PER_STEP = """
import resource, sys, torch
from src.process import keep_freed_blocks
if sys.argv[1] == "keep":
    assert keep_freed_blocks()
torch.set_num_threads(1)
def step():
    torch.ones(10 << 20).sum()
for _ in range(12):  # (the heap settles within the first ~7)
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def faults_per_step(mode: str) -> float:
    out = python_snippet(FAULTS_PER_STEP, mode)
    return float(out.split()[-1])


@pytest.mark.slow
@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_a_step_stops_page_faulting_on_memory_the_last_step_freed():
    default, kept = faults_per_step("default"), faults_per_step("keep")
    assert default > 4 * max(kept, 1), (default, kept)  # the defaults fault in every page of the block each step


def test_a_user_setting_of_the_threshold_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert keep_freed_blocks() is False


NVML_LOADS_PER_STEP = """
import torch
import pytorch_lightning  # sets PYTORCH_NVML_BASED_CUDA_CHECK=1
from src.process import configure_process
loads = []
original = torch.cuda._raw_device_count_nvml
torch.cuda._raw_device_count_nvml = lambda: loads.append(1) or original()
net = torch.nn.Linear(4, 2)
optimizer = torch.optim.RMSprop(net.parameters())
def loads_per_step():
    loads.clear()
    for _ in range(10):
        net(torch.ones(3, 4)).sum().backward()
        optimizer.step()
    return len(loads) / 10
as_lightning_leaves_it = loads_per_step()
configure_process()
print(as_lightning_leaves_it, loads_per_step(), torch.cuda.is_available())
"""


@pytest.mark.slow
@pytest.mark.skipif(devices.has_nvidia_devices(), reason="a machine with NVIDIA devices keeps the NVML check")
def test_without_a_gpu_an_optimizer_step_loads_no_gpu_library():
    import torch

    out = python_snippet(NVML_LOADS_PER_STEP)
    before, after, available = out.split()[-3:]
    assert (float(after), available) == (0.0, "False")
    if torch.cuda._is_compiled():  # a CUDA build loads NVML at every step as Lightning leaves it (a CPU build never)
        assert float(before) >= 1  # what the setting saves


def test_gpu_probes_stay_where_there_are_nvidia_devices(monkeypatch):
    monkeypatch.setenv(process.NVML_CHECK, "1")
    monkeypatch.setattr(process, "has_nvidia_devices", lambda: True)
    assert process.skip_gpu_probes() is False
    assert process.NVML_CHECK in process.os.environ
    monkeypatch.setattr(process, "has_nvidia_devices", lambda: False)
    assert process.skip_gpu_probes() is True
    assert process.NVML_CHECK not in process.os.environ


def test_each_process_setting_has_an_off_switch_and_build_run_changes_nothing_process_wide(tmp_path, monkeypatch):
    from src.config.compose import compose_config
    from src.run.build import build_run

    monkeypatch.setenv(process.NVML_CHECK, "1")
    monkeypatch.setattr(process, "has_nvidia_devices", lambda: False)
    build_run(compose_config(["data.data_size=200", "trainer=cpu"], tmp_path))
    assert process.NVML_CHECK in process.os.environ  # the builder is a library function: it leaves the process be
    off = configure_process(keep_freed_memory=False, skip_nvml_probe=False, quiet=False, quick_exit=False, tf32=False)
    assert off == {"keep_freed_memory": False, "skip_nvml_probe": False, "quiet": False, "quick_exit": False,
                   "tf32": False, "threads": None}  # fmt: skip
    threads = torch.get_num_threads()
    try:
        assert configure_process(skip_nvml_probe=False, threads=2)["threads"] == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert process.NVML_CHECK in process.os.environ
    assert configure_process()["skip_nvml_probe"] is True and process.NVML_CHECK not in process.os.environ
    with pytest.raises(ConfigError, match="process.quiet: must be true or false"):
        configure_process(quiet="yes")


# Prints, as the process ends, whether its objects were frozen by then: registered first, it runs last.
FROZEN_AT_EXIT = """
import atexit, gc, sys
atexit.register(lambda: print("frozen:", gc.get_freeze_count() > 0))
from src.process import configure_process
configure_process(keep_freed_memory=False, skip_nvml_probe=False, quick_exit=sys.argv[1] == "on")
print("running:", gc.get_freeze_count() > 0)
"""


@pytest.mark.parametrize("switch, frozen", [("on", "True"), ("off", "False")])
def test_quick_exit_freezes_the_objects_left_as_the_process_ends_and_only_then(switch, frozen):
    out = python_snippet(FROZEN_AT_EXIT, switch)
    assert out.split() == ["running:", "False", "frozen:", frozen]  # collections as usual until the end
