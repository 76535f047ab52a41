"""keep_freed_memory: a training step re-uses the memory the previous one freed, without page faults."""

import platform
import subprocess
import sys

import pytest

from src.utils.compose import ROOT_DIR
from src.utils.memory import keep_freed_memory

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

FAULTS_PER_STEP = """
import resource, sys, torch
from src.networks.rnn import VanillaRNN
from src.utils.memory import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
torch.set_num_threads(1)
torch.manual_seed(0)
net = VanillaRNN(1, 128, 10)
optimizer = torch.optim.RMSprop(net.parameters())
x, y = torch.randint(0, 10, (128, 19, 1)).float(), torch.randint(0, 10, (128,))
def step():
    loss = torch.nn.functional.cross_entropy(net(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
for _ in range(20):  # the heap grows to a step's size
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 40)
"""


def faults_per_step(mode: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", FAULTS_PER_STEP, mode], cwd=ROOT_DIR, capture_output=True, text=True, check=True
    )
    return float(out.stdout.split()[-1])


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_training_steps_stop_page_faulting_on_memory_the_last_step_freed():
    default, kept = faults_per_step("default"), faults_per_step("keep")
    assert default > 4 * max(kept, 1), (default, kept)  # the defaults fault on every step's fresh blocks


def test_a_user_setting_of_the_threshold_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert keep_freed_memory() is False
