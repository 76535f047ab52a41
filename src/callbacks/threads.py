"""Ranks forked from the run's process start their thread pool afresh.

A process that has run a multi-threaded torch operation holds an OpenMP thread pool, and a child
forked from it inherits the pool's state but not its threads: the child's first parallel
operation waits forever (``trainer=ddp_cpu trainer.devices=1`` hung in its first validation). So
a run whose strategy forks its ranks keeps its own process at one thread until the fork
(``src/run/build.py``), and each rank sets its threads when it starts, here.
"""

import torch
from typing_extensions import override

from src.lightning_package import pl


class RankThreads(pl.Callback):
    """Sets ``threads`` intra-op threads in each rank, as it starts (after the fork)."""

    def __init__(self, threads: int):
        self.threads = threads

    @override
    def setup(self, trainer, pl_module, stage: str) -> None:
        torch.set_num_threads(self.threads)
